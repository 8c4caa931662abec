#include "consort/psi/ecdh_psi.h"

#include <algorithm>
#include <array>
#include <bit>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "consort/common/parallel.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/psi/internal/ecdh_psi_wire.h"

namespace consort::psi {
namespace {

using crypto::X25519Point;
using internal::kBatchHeaderBytes;
using internal::kMsgMasked;
using internal::kMsgReturned;

constexpr size_t kPointBytes = 32;
static_assert(sizeof(X25519Point) == kPointBytes, "points must pack without padding");
constexpr size_t kMaxBatch = (net::kMaxMessageBytes - kBatchHeaderBytes) / kPointBytes;
constexpr int kMaxThreads = 256;
// 40 + 17 + 33 + 33 bits fit the 16-byte Key below.
constexpr int kMaxExtraReturnBits = 17;
// Received messages buffered before the receive thread stops reading (backpressure).
constexpr size_t kInboxLimit = 64;
// Own batches computed ahead of the link before the main thread stops producing them.
constexpr size_t kOwnOutboxLimit = 16;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr std::string_view kDstPrefix = "CONSORT-V01-ECDH-PSI-with-";

// A truncated doubly-masked value, zero-padded (T <= 14 for sets up to 2^32).
using Key = std::array<uint8_t, 16>;

bool Receives(PsiOutput o) { return o != PsiOutput::kNone; }
bool ValidOutput(PsiOutput o) {
  return o == PsiOutput::kNone || o == PsiOutput::kSize || o == PsiOutput::kIntersection;
}

uint64_t NumBatches(uint64_t n, uint64_t batch) { return (n + batch - 1) / batch; }
uint64_t BatchCount(uint64_t n, uint64_t batch, uint64_t index) {
  return std::min<uint64_t>(batch, n - index * batch);
}

std::string OutputName(PsiOutput o) { return std::string(PsiOutputName(o)); }

class EcdhPsiParty {
 public:
  EcdhPsiParty(net::Link& link, const std::vector<std::string>& items, const EcdhPsiOptions& opts)
      : link_(link), items_(items), opts_(opts) {}

  ~EcdhPsiParty() { StopThreads(); }

  StatusOr<PsiResult> Run() {
    Status st = RunInternal();
    if (!st.ok()) {
      // Fail the peer promptly instead of leaving it to a timeout, and unblock our I/O threads.
      link_.Close();
      StopThreads();
      return st;
    }
    StopThreads();
    return Finish();
  }

 private:
  Status RunInternal() {
    CONSORT_RETURN_IF_ERROR(ValidateOptions());
    CONSORT_RETURN_IF_ERROR(CheckDistinct());
    CONSORT_RETURN_IF_ERROR(Handshake());
    if (!Receives(opts_.my_output) && !Receives(opts_.peer_output)) return OkStatus();
    CONSORT_RETURN_IF_ERROR(Setup());
    CONSORT_RETURN_IF_ERROR(Exchange());
    return OkStatus();
  }

  Status ValidateOptions() const {
    if (!ValidOutput(opts_.my_output) || !ValidOutput(opts_.peer_output)) {
      return absl::InvalidArgumentError("ECDH-PSI: invalid output option");
    }
    if (opts_.batch_size < 1 || opts_.batch_size > kMaxBatch) {
      return absl::InvalidArgumentError("ECDH-PSI: batch_size must be in [1, " +
                                        std::to_string(kMaxBatch) + "], got " +
                                        std::to_string(opts_.batch_size));
    }
    if (opts_.threads < 1 || opts_.threads > kMaxThreads) {
      return absl::InvalidArgumentError("ECDH-PSI: threads must be in [1, 256], got " +
                                        std::to_string(opts_.threads));
    }
    if (opts_.extra_return_bits < 0 || opts_.extra_return_bits > kMaxExtraReturnBits) {
      return absl::InvalidArgumentError("ECDH-PSI: extra_return_bits must be in [0, 17], got " +
                                        std::to_string(opts_.extra_return_bits));
    }
    if (items_.size() > kEcdhPsiMaxSetSize) {
      return absl::InvalidArgumentError("ECDH-PSI: more than 2^32 items");
    }
    return OkStatus();
  }

  Status CheckDistinct() const {
    std::unordered_map<std::string_view, size_t> seen;
    seen.reserve(items_.size());
    for (size_t i = 0; i < items_.size(); ++i) {
      auto [it, inserted] = seen.emplace(items_[i], i);
      if (!inserted) {
        // Name the rows, never the value.
        return absl::InvalidArgumentError("ECDH-PSI: items " + std::to_string(it->second) +
                                          " and " + std::to_string(i) +
                                          " are equal; PSI input must be distinct");
      }
    }
    return OkStatus();
  }

  Status Handshake() {
    internal::Handshake mine;
    mine.version = kEcdhPsiVersion;
    mine.set_size = items_.size();
    mine.my_output = opts_.my_output;
    mine.peer_output = opts_.peer_output;
    mine.batch_size = static_cast<uint32_t>(opts_.batch_size);
    mine.domain_hash = crypto::Sha256(std::string_view(opts_.domain));
    CONSORT_RETURN_IF_ERROR(link_.Send(internal::EncodeHandshake(mine)));
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link_.Recv());
    CONSORT_ASSIGN_OR_RETURN(internal::Handshake peer, internal::DecodeHandshake(raw));
    if (peer.version != kEcdhPsiVersion) {
      return absl::FailedPreconditionError(
          "ECDH-PSI handshake: protocol version mismatch (mine " +
          std::to_string(kEcdhPsiVersion) + ", peer's " + std::to_string(peer.version) + ")");
    }
    if (peer.domain_hash != mine.domain_hash) {
      return absl::FailedPreconditionError(
          "ECDH-PSI handshake: the peer runs a different domain (job id)");
    }
    if (peer.peer_output != opts_.my_output) {
      return absl::FailedPreconditionError(
          "ECDH-PSI handshake: output mismatch: I receive '" + OutputName(opts_.my_output) +
          "' but the peer expects me to receive '" + OutputName(peer.peer_output) + "'");
    }
    if (peer.my_output != opts_.peer_output) {
      return absl::FailedPreconditionError(
          "ECDH-PSI handshake: output mismatch: I expect the peer to receive '" +
          OutputName(opts_.peer_output) + "' but the peer says it receives '" +
          OutputName(peer.my_output) + "'");
    }
    if (peer.set_size > kEcdhPsiMaxSetSize) {
      return absl::InvalidArgumentError("ECDH-PSI handshake: peer announced " +
                                        std::to_string(peer.set_size) +
                                        " items, above the 2^32 limit");
    }
    if (peer.batch_size < 1 || peer.batch_size > kMaxBatch) {
      return absl::InvalidArgumentError("ECDH-PSI handshake: peer batch size " +
                                        std::to_string(peer.batch_size) + " out of range");
    }
    peer_size_ = peer.set_size;
    peer_batch_ = peer.batch_size;
    return OkStatus();
  }

  Status Setup() {
    own_size_ = items_.size();
    own_batch_ = opts_.batch_size;
    ret_bytes_ = EcdhPsiReturnBytes(own_size_, peer_size_, opts_.extra_return_bits);
    own_batches_ = NumBatches(own_size_, own_batch_);
    peer_batches_ = NumBatches(peer_size_, peer_batch_);
    ret_batches_ = Receives(opts_.my_output) ? own_batches_ : 0;
    total_work_ = own_size_ + peer_size_;

    std::string dst(kDstPrefix);
    dst += crypto::kCurve25519NuSuite;
    dst += ":";
    dst += opts_.domain;
    for (int w = 0; w < opts_.threads; ++w) {
      CONSORT_ASSIGN_OR_RETURN(auto enc, crypto::Curve25519Encoder::Create(AsBytes(dst)));
      encoders_.push_back(std::move(enc));
    }
    scalar_.emplace(crypto::X25519Scalar::Generate());
    // Our own items go out in a secret random order so that the peer, even when it learns
    // which of its returned values matched, cannot tell which of our rows they were.
    perm_ = crypto::RandomPermutation(own_size_);
    if (Receives(opts_.my_output)) {
      // The peer's announced size is untrusted: cap what we reserve up front.
      peer_keys_.reserve(std::min<uint64_t>(peer_size_, uint64_t{1} << 20));
      own_keys_.reserve(own_size_);
    }

    const uint64_t expected_msgs = peer_batches_ + ret_batches_;
    receiver_ = std::thread([this, expected_msgs] { ReceiverLoop(expected_msgs); });
    sender_ = std::thread([this] { SenderLoop(); });
    return OkStatus();
  }

  // ---- I/O threads: dumb pumps between the link and two local queues, so that the protocol
  // thread never blocks on Send (which could deadlock two parties that both send).

  void ReceiverLoop(uint64_t expected) {
    for (uint64_t i = 0; i < expected; ++i) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || inbox_.size() < kInboxLimit; });
        if (stop_) return;
      }
      StatusOr<Bytes> m = link_.Recv();
      std::lock_guard lock(mu_);
      if (!m.ok()) {
        recv_status_ = m.status();
        cv_.notify_all();
        return;
      }
      inbox_.push_back(*std::move(m));
      cv_.notify_all();
    }
  }

  void SenderLoop() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !outbox_.empty() || flush_; });
      if (stop_ || (outbox_.empty() && flush_)) return;
      auto [msg, own] = std::move(outbox_.front());
      outbox_.pop_front();
      sending_ = true;
      lock.unlock();
      Status st = link_.Send(msg);
      lock.lock();
      sending_ = false;
      if (own) --own_in_outbox_;
      if (!st.ok()) {
        send_status_ = st;
        cv_.notify_all();
        return;
      }
      cv_.notify_all();
    }
  }

  void Push(Bytes msg, bool own) {
    std::lock_guard lock(mu_);
    if (own) ++own_in_outbox_;
    outbox_.emplace_back(std::move(msg), own);
    cv_.notify_all();
  }

  void StopThreads() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (receiver_.joinable()) receiver_.join();
    if (sender_.joinable()) sender_.join();
  }

  Status CheckCancelled() const {
    if (opts_.cancelled != nullptr && opts_.cancelled->load()) {
      return absl::CancelledError("ECDH-PSI cancelled");
    }
    return OkStatus();
  }

  void ReportProgress() {
    if (opts_.progress && total_work_ > 0) {
      opts_.progress(static_cast<double>(work_done_) / static_cast<double>(total_work_));
    }
  }

  // ---- the protocol thread

  Status Exchange() {
    uint64_t own_next = 0;
    while (own_next < own_batches_ || peer_next_ < peer_batches_ || ret_next_ < ret_batches_) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      std::optional<Bytes> msg;
      bool produce = false;
      {
        std::unique_lock lock(mu_);
        if (!send_status_.ok()) return send_status_;
        if (!inbox_.empty()) {
          msg = std::move(inbox_.front());
          inbox_.pop_front();
          cv_.notify_all();
        } else if (!recv_status_.ok()) {
          return recv_status_;
        } else if (own_next < own_batches_ && own_in_outbox_ < kOwnOutboxLimit) {
          produce = true;
        } else {
          cv_.wait_for(lock, kPollInterval);
          continue;
        }
      }
      if (msg) {
        CONSORT_RETURN_IF_ERROR(Process(*msg));
      } else if (produce) {
        CONSORT_RETURN_IF_ERROR(ProduceOwnBatch(own_next++));
      }
      // A kSize peer gets its values once all of them are in (not after our own returns
      // arrive: two kSize parties would wait for each other forever).
      if (!shuffled_sent_ && opts_.peer_output == PsiOutput::kSize &&
          peer_next_ == peer_batches_) {
        CONSORT_RETURN_IF_ERROR(SendShuffledReturns());
      }
    }
    if (!shuffled_sent_ && opts_.peer_output == PsiOutput::kSize) {
      CONSORT_RETURN_IF_ERROR(SendShuffledReturns());
    }
    return Flush();
  }

  Status ProduceOwnBatch(uint64_t index) {
    const size_t begin = index * own_batch_;
    const size_t count = BatchCount(own_size_, own_batch_, index);
    std::vector<std::string_view> msgs(count);
    for (size_t k = 0; k < count; ++k) msgs[k] = items_[perm_[begin + k]];
    std::vector<X25519Point> points(count);
    CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t b, size_t e, int w) {
      auto m = std::span<const std::string_view>(msgs).subspan(b, e - b);
      auto p = std::span<X25519Point>(points).subspan(b, e - b);
      encoders_[w].Encode(m, p);
      Status st = scalar_->Multiply(p, p);
      // Our own hashed points cannot be of low order except with probability ~2^-250.
      if (!st.ok()) return absl::InternalError("ECDH-PSI: masking own batch: " +
                                               std::string(st.message()));
      return OkStatus();
    }));
    Push(internal::EncodeBatch(kMsgMasked, static_cast<uint32_t>(index),
                               static_cast<uint32_t>(count),
                               ByteSpan(points[0].data(), count * kPointBytes)),
         /*own=*/true);
    work_done_ += count;
    ReportProgress();
    return OkStatus();
  }

  Status Process(const Bytes& raw) {
    CONSORT_ASSIGN_OR_RETURN(internal::BatchView b, internal::DecodeBatch(raw));
    if (b.type == kMsgMasked) return ProcessMasked(b);
    if (b.type == kMsgReturned) return ProcessReturned(b);
    return absl::InvalidArgumentError("ECDH-PSI: unexpected message type " +
                                      std::to_string(b.type) + " from the peer");
  }

  Status CheckBatch(const internal::BatchView& b, const char* what, uint64_t next,
                    uint64_t batches, uint64_t total, uint64_t batch_size, size_t elem_bytes) {
    if (next >= batches) {
      return absl::InvalidArgumentError(
          std::string("ECDH-PSI: peer sent more ") + what + " batches than its " +
          std::to_string(total) + " announced elements allow (" + std::to_string(batches) +
          " batches)");
    }
    if (b.index != next) {
      return absl::InvalidArgumentError(std::string("ECDH-PSI: ") + what + " batch " +
                                        std::to_string(b.index) + " out of order, expected " +
                                        std::to_string(next));
    }
    const uint64_t want = BatchCount(total, batch_size, next);
    if (b.count != want) {
      return absl::InvalidArgumentError(
          std::string("ECDH-PSI: ") + what + " batch " + std::to_string(next) + " has " +
          std::to_string(b.count) + " elements, expected " + std::to_string(want) + " (of " +
          std::to_string(total) + " announced)");
    }
    if (b.payload.size() != want * elem_bytes) {
      return absl::InvalidArgumentError(
          std::string("ECDH-PSI: ") + what + " batch " + std::to_string(next) + " carries " +
          std::to_string(b.payload.size()) + " bytes, expected " +
          std::to_string(want * elem_bytes) + " (" + std::to_string(want) + " x " +
          std::to_string(elem_bytes) + ")");
    }
    return OkStatus();
  }

  Status ProcessMasked(const internal::BatchView& b) {
    CONSORT_RETURN_IF_ERROR(CheckBatch(b, "masked", peer_next_, peer_batches_, peer_size_,
                                       peer_batch_, kPointBytes));
    const size_t count = b.count;
    std::vector<X25519Point> points(count);
    if (count > 0) std::memcpy(points.data(), b.payload.data(), count * kPointBytes);
    CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t s, size_t e, int) {
      auto p = std::span<X25519Point>(points).subspan(s, e - s);
      Status st = scalar_->Multiply(p, p);
      if (!st.ok()) {
        return absl::InvalidArgumentError("ECDH-PSI: masked batch " + std::to_string(b.index) +
                                          " at offset " + std::to_string(s) + ": " +
                                          std::string(st.message()));
      }
      return OkStatus();
    }));
    if (Receives(opts_.my_output)) {
      for (const auto& p : points) peer_keys_.push_back(ToKey(p.data()));
    }
    if (Receives(opts_.peer_output)) {
      Bytes truncated(count * ret_bytes_);
      for (size_t k = 0; k < count; ++k) {
        std::memcpy(&truncated[k * ret_bytes_], points[k].data(), ret_bytes_);
      }
      if (opts_.peer_output == PsiOutput::kIntersection) {
        Push(internal::EncodeBatch(kMsgReturned, b.index, b.count, truncated), /*own=*/false);
      } else {
        pending_returns_.insert(pending_returns_.end(), truncated.begin(), truncated.end());
      }
    }
    ++peer_next_;
    work_done_ += count;
    ReportProgress();
    return OkStatus();
  }

  Status ProcessReturned(const internal::BatchView& b) {
    if (!Receives(opts_.my_output)) {
      return absl::InvalidArgumentError(
          "ECDH-PSI: peer sent a returned batch but this party receives no output");
    }
    CONSORT_RETURN_IF_ERROR(CheckBatch(b, "returned", ret_next_, ret_batches_, own_size_,
                                       own_batch_, ret_bytes_));
    for (size_t k = 0; k < b.count; ++k) own_keys_.push_back(ToKey(&b.payload[k * ret_bytes_]));
    ++ret_next_;
    return OkStatus();
  }

  // For a kSize peer: one global shuffle, so that no position (not even the batch) of a match
  // can be tied to the peer's rows; then the peer's own batch layout.
  Status SendShuffledReturns() {
    const auto perm = crypto::RandomPermutation(peer_size_);
    for (uint64_t index = 0; index < peer_batches_; ++index) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      const size_t begin = index * peer_batch_;
      const size_t count = BatchCount(peer_size_, peer_batch_, index);
      Bytes payload(count * ret_bytes_);
      for (size_t k = 0; k < count; ++k) {
        std::memcpy(&payload[k * ret_bytes_], &pending_returns_[perm[begin + k] * ret_bytes_],
                    ret_bytes_);
      }
      Push(internal::EncodeBatch(kMsgReturned, static_cast<uint32_t>(index),
                                 static_cast<uint32_t>(count), payload),
           /*own=*/false);
    }
    pending_returns_.clear();
    pending_returns_.shrink_to_fit();
    shuffled_sent_ = true;
    return OkStatus();
  }

  // Waits until every queued message has been handed to the link.
  Status Flush() {
    std::unique_lock lock(mu_);
    flush_ = true;
    cv_.notify_all();
    while (!outbox_.empty() || sending_) {
      if (!send_status_.ok()) return send_status_;
      lock.unlock();
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      lock.lock();
      cv_.wait_for(lock, kPollInterval);
    }
    return send_status_;
  }

  Key ToKey(const uint8_t* p) const {
    Key k{};
    std::memcpy(k.data(), p, ret_bytes_);
    return k;
  }

  StatusOr<PsiResult> Finish() {
    PsiResult r;
    r.peer_size = peer_size_;
    if (Receives(opts_.my_output) && own_size_ > 0) {
      CONSORT_CHECK(own_keys_.size() == own_size_ && peer_keys_.size() == peer_size_);
      std::sort(peer_keys_.begin(), peer_keys_.end());
      for (size_t j = 0; j < own_keys_.size(); ++j) {
        if (std::binary_search(peer_keys_.begin(), peer_keys_.end(), own_keys_[j])) {
          ++r.intersection_size;
          // With a kSize output own_keys_ came back shuffled: positions mean nothing, and
          // are not reported.
          if (opts_.my_output == PsiOutput::kIntersection) r.matched.push_back(perm_[j]);
        }
      }
      std::sort(r.matched.begin(), r.matched.end());
    }
    if (opts_.progress) opts_.progress(1.0);
    return r;
  }

  net::Link& link_;
  const std::vector<std::string>& items_;
  const EcdhPsiOptions& opts_;

  uint64_t own_size_ = 0, peer_size_ = 0, own_batch_ = 1, peer_batch_ = 1;
  uint64_t own_batches_ = 0, peer_batches_ = 0, ret_batches_ = 0;
  uint64_t peer_next_ = 0, ret_next_ = 0;
  size_t ret_bytes_ = 0;
  bool shuffled_sent_ = false;
  uint64_t total_work_ = 0, work_done_ = 0;

  std::vector<crypto::Curve25519Encoder> encoders_;
  std::optional<crypto::X25519Scalar> scalar_;
  std::vector<size_t> perm_;
  std::vector<Key> peer_keys_, own_keys_;
  Bytes pending_returns_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Bytes> inbox_;
  std::deque<std::pair<Bytes, bool>> outbox_;
  size_t own_in_outbox_ = 0;
  bool stop_ = false, flush_ = false, sending_ = false;
  Status recv_status_, send_status_;
  std::thread receiver_, sender_;
};

}  // namespace

size_t EcdhPsiReturnBytes(uint64_t n_a, uint64_t n_b, int extra_bits) {
  // bits(n) >= log2(n + 1), so 40 + bits(n_a) + bits(n_b) >= 40 + log2(n_a * n_b).
  const size_t bits = 40 + static_cast<size_t>(std::max(extra_bits, 0)) + std::bit_width(n_a) +
                      std::bit_width(n_b);
  return std::min<size_t>(kPointBytes, (bits + 7) / 8);
}

uint64_t EcdhPsiBytesSent(uint64_t my_size, size_t my_batch, uint64_t peer_size,
                          size_t peer_batch, PsiOutput my_output, PsiOutput peer_output,
                          int extra_return_bits) {
  uint64_t bytes = internal::kHandshakeBytes;
  if (!Receives(my_output) && !Receives(peer_output)) return bytes;
  bytes += NumBatches(my_size, my_batch) * kBatchHeaderBytes + my_size * kPointBytes;
  if (Receives(peer_output)) {
    bytes += NumBatches(peer_size, peer_batch) * kBatchHeaderBytes +
             peer_size * EcdhPsiReturnBytes(my_size, peer_size, extra_return_bits);
  }
  return bytes;
}

StatusOr<EcdhPsiResult> RunEcdhPsi(net::Link& link, const std::vector<std::string>& items,
                                   const EcdhPsiOptions& opts) {
  crypto::InitCrypto();
  EcdhPsiParty party(link, items, opts);
  return party.Run();
}

}  // namespace consort::psi
