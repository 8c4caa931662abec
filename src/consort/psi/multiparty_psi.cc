#include "consort/psi/multiparty_psi.h"

#include <algorithm>
#include <chrono>
#include <array>
#include <bit>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "consort/common/parallel.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/psi/internal/multiparty_psi_wire.h"

namespace consort::psi {
namespace {

using crypto::X25519Point;
namespace w = internal::mp;

constexpr size_t kPointBytes = 32;
constexpr size_t kMaxBatch = (net::kMaxMessageBytes - w::kBatchHeaderBytes) / kPointBytes;
constexpr int kMaxThreads = 256;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr std::string_view kDstPrefix = "CONSORT-V01-MP-PSI-with-";

using Key = std::array<uint8_t, 16>;

uint64_t NumBatches(uint64_t n, uint64_t batch) { return (n + batch - 1) / batch; }
uint64_t BatchCount(uint64_t n, uint64_t batch, uint64_t index) {
  return std::min<uint64_t>(batch, n - index * batch);
}

std::string Name(size_t i) { return "party " + std::to_string(i); }

crypto::Digest256 ConfigDigest(const MultipartyPsiOptions& o) {
  crypto::Sha256Hasher h;
  Bytes b;
  AppendU32(b, kMultipartyPsiVersion);
  AppendU32(b, static_cast<uint32_t>(o.outputs.size()));
  AppendU32(b, static_cast<uint32_t>(o.leader));
  AppendU32(b, static_cast<uint32_t>(o.batch_size));
  for (PsiOutput out : o.outputs) b.push_back(static_cast<uint8_t>(out));
  AppendU64(b, o.domain.size());
  h.Update(b);
  h.Update(std::string_view(o.domain));
  return h.Finish();
}

class MultipartyParty {
 public:
  MultipartyParty(const std::vector<net::Link*>& links, const std::vector<std::string>& items,
                  const MultipartyPsiOptions& opts)
      : links_(links), items_(items), opts_(opts), n_(opts.outputs.size()) {}

  ~MultipartyParty() { Stop(/*close=*/true); }

  StatusOr<MultipartyPsiResult> Run() {
    Status st = RunInternal();
    if (!st.ok()) {
      Stop(/*close=*/true);
      return st;
    }
    Stop(/*close=*/false);
    if (opts_.progress) opts_.progress(1.0);
    return std::move(result_);
  }

 private:
  // ---- set-up

  Status ValidateOptions() {
    if (n_ < kMultipartyPsiMinParties || n_ > kMultipartyPsiMaxParties) {
      return absl::InvalidArgumentError("multi-party PSI: needs 3 to 16 parties, got " +
                                        std::to_string(n_));
    }
    if (links_.size() != n_) {
      return absl::InvalidArgumentError("multi-party PSI: " + std::to_string(links_.size()) +
                                        " links for " + std::to_string(n_) + " parties");
    }
    if (opts_.self >= n_ || opts_.leader >= n_) {
      return absl::InvalidArgumentError("multi-party PSI: self or leader out of range");
    }
    for (PsiOutput o : opts_.outputs) {
      if (o != PsiOutput::kNone && o != PsiOutput::kSize && o != PsiOutput::kIntersection) {
        return absl::InvalidArgumentError("multi-party PSI: invalid output option");
      }
    }
    if (opts_.batch_size < 1 || opts_.batch_size > kMaxBatch) {
      return absl::InvalidArgumentError("multi-party PSI: batch_size must be in [1, " +
                                        std::to_string(kMaxBatch) + "]");
    }
    if (opts_.threads < 1 || opts_.threads > kMaxThreads) {
      return absl::InvalidArgumentError("multi-party PSI: threads must be in [1, 256]");
    }
    if (items_.size() > kMultipartyPsiMaxSetSize) {
      return absl::InvalidArgumentError("multi-party PSI: more than 2^32 items");
    }
    peers_ = MultipartyPsiPeers(n_, opts_.self, opts_.leader);
    for (size_t p : peers_) {
      if (links_[p] == nullptr) {
        return absl::InvalidArgumentError("multi-party PSI: no link to " + Name(p));
      }
    }
    std::unordered_map<std::string_view, size_t> seen;
    seen.reserve(items_.size());
    for (size_t i = 0; i < items_.size(); ++i) {
      auto [it, inserted] = seen.emplace(items_[i], i);
      if (!inserted) {
        return absl::InvalidArgumentError("multi-party PSI: items " + std::to_string(it->second) +
                                          " and " + std::to_string(i) +
                                          " are equal; PSI input must be distinct");
      }
    }
    return OkStatus();
  }

  bool IsLeader() const { return opts_.self == opts_.leader; }
  size_t Prev() const { return (opts_.self + n_ - 1) % n_; }
  size_t Next() const { return (opts_.self + 1) % n_; }

  // Hello to the leader, sizes back: synchronous, before the I/O threads start.
  Status Hello() {
    w::Hello mine;
    mine.version = kMultipartyPsiVersion;
    mine.parties = static_cast<uint32_t>(n_);
    mine.sender = static_cast<uint32_t>(opts_.self);
    mine.leader = static_cast<uint32_t>(opts_.leader);
    mine.set_size = items_.size();
    mine.batch_size = static_cast<uint32_t>(opts_.batch_size);
    mine.config = ConfigDigest(opts_);
    sizes_.assign(n_, 0);
    sizes_[opts_.self] = items_.size();
    if (!IsLeader()) {
      net::Link& l = *links_[opts_.leader];
      CONSORT_RETURN_IF_ERROR(l.Send(w::EncodeHello(mine)));
      CONSORT_ASSIGN_OR_RETURN(Bytes raw, l.Recv());
      CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> sizes, w::DecodeSizes(raw));
      if (sizes.size() != n_) {
        return absl::InvalidArgumentError("multi-party PSI: the leader announced " +
                                          std::to_string(sizes.size()) + " set sizes for " +
                                          std::to_string(n_) + " parties");
      }
      if (sizes[opts_.self] != items_.size()) {
        return absl::InvalidArgumentError(
            "multi-party PSI: the leader announced a wrong size for this party's set");
      }
      for (uint64_t s : sizes) {
        if (s > kMultipartyPsiMaxSetSize) {
          return absl::InvalidArgumentError("multi-party PSI: announced set size above 2^32");
        }
      }
      sizes_ = std::move(sizes);
      return OkStatus();
    }
    for (size_t p = 0; p < n_; ++p) {
      if (p == opts_.self) continue;
      CONSORT_ASSIGN_OR_RETURN(Bytes raw, links_[p]->Recv());
      CONSORT_ASSIGN_OR_RETURN(w::Hello h, w::DecodeHello(raw));
      CONSORT_RETURN_IF_ERROR(CheckHello(h, p, mine));
      sizes_[p] = h.set_size;
    }
    Bytes sizes_msg = w::EncodeSizes(sizes_);
    for (size_t p = 0; p < n_; ++p) {
      if (p != opts_.self) CONSORT_RETURN_IF_ERROR(links_[p]->Send(sizes_msg));
    }
    return OkStatus();
  }

  Status CheckHello(const w::Hello& h, size_t p, const w::Hello& mine) const {
    const std::string who = Name(p);
    if (h.version != kMultipartyPsiVersion) {
      return absl::FailedPreconditionError("multi-party PSI hello: " + who +
                                           " runs protocol version " + std::to_string(h.version) +
                                           ", mine is " + std::to_string(kMultipartyPsiVersion));
    }
    if (h.parties != mine.parties || h.sender != p || h.leader != mine.leader) {
      return absl::FailedPreconditionError(
          "multi-party PSI hello: " + who + " sees " + std::to_string(h.parties) +
          " parties, itself at " + std::to_string(h.sender) + " and leader " +
          std::to_string(h.leader) + "; expected " + std::to_string(mine.parties) + ", " +
          std::to_string(p) + " and " + std::to_string(mine.leader));
    }
    if (h.batch_size != mine.batch_size) {
      return absl::FailedPreconditionError("multi-party PSI hello: " + who + " uses batch size " +
                                           std::to_string(h.batch_size) + ", mine is " +
                                           std::to_string(mine.batch_size));
    }
    if (h.config != mine.config) {
      return absl::FailedPreconditionError("multi-party PSI hello: " + who +
                                           " runs a different domain (job) or outputs");
    }
    if (h.set_size > kMultipartyPsiMaxSetSize) {
      return absl::InvalidArgumentError("multi-party PSI hello: " + who + " announced " +
                                        std::to_string(h.set_size) +
                                        " items, above the 2^32 limit");
    }
    return OkStatus();
  }

  Status Setup() {
    uint64_t total = 0;
    for (uint64_t s : sizes_) total += s;
    total_work_ = total;
    trunc_ = MultipartyPsiTruncBytes(sizes_);
    std::string dst(kDstPrefix);
    dst += crypto::kCurve25519NuSuite;
    dst += ":";
    dst += opts_.domain;
    for (int t = 0; t < opts_.threads; ++t) {
      CONSORT_ASSIGN_OR_RETURN(auto enc, crypto::Curve25519Encoder::Create(AsBytes(dst)));
      encoders_.push_back(std::move(enc));
    }
    scalar_.emplace(crypto::X25519Scalar::Generate());
    perm_ = crypto::RandomPermutation(items_.size());
    next_index_.assign(n_, 0);
    if (IsLeader()) {
      final_.assign(n_, Bytes());
      final_next_.assign(n_, 0);
      final_done_.assign(n_, false);
      for (size_t o = 0; o < n_; ++o) {
        final_[o].reserve(std::min<uint64_t>(sizes_[o], uint64_t{1} << 20) * trunc_);
        if (sizes_[o] == 0) final_done_[o] = true;
      }
    }
    // Lists this party must relay (every other owner); empty ones are done already.
    for (size_t o = 0; o < n_; ++o) {
      if (o != opts_.self && sizes_[o] > 0) ++lists_pending_;
    }
    end_pending_ = peers_.size();
    result_pending_ = !IsLeader();
    // The final hop for the leader's list shuffles it unless the leader receives rows.
    shuffle_leader_list_ = (opts_.leader + n_ - 1) % n_ == opts_.self &&
                           opts_.outputs[opts_.leader] != PsiOutput::kIntersection;

    channels_.resize(n_);
    for (size_t p : peers_) {
      channels_[p] = std::make_unique<Channel>();
      Channel* c = channels_[p].get();
      c->receiver = std::thread([this, p] { ReceiverLoop(p); });
      c->sender = std::thread([this, p, c] { SenderLoop(p, c); });
    }
    return OkStatus();
  }

  // ---- I/O threads: pumps between the links and local queues (the protocol thread never
  // blocks on a Send, so the ring cannot deadlock).

  struct Channel {
    std::deque<Bytes> outbox;
    bool sending = false;
    std::thread receiver, sender;
  };

  void ReceiverLoop(size_t p) {
    while (true) {
      StatusOr<Bytes> m = links_[p]->Recv();
      std::lock_guard lock(mu_);
      if (!m.ok()) {
        if (!stop_ && io_status_.ok()) io_status_ = m.status();
        cv_.notify_all();
        return;
      }
      if (m->size() == 1 && (*m)[0] == w::kKeepalive) continue;
      const bool end = !m->empty() && (*m)[0] == w::kEnd;
      inbox_.emplace_back(p, *std::move(m));
      cv_.notify_all();
      if (end) return;
    }
  }

  // Sends the outbox of link p; when it stays empty for a quarter of the link timeout, a
  // keepalive, so that a peer waiting on this link (e.g. for the result, during the whole
  // ring) does not time out.
  void SenderLoop(size_t p, Channel* c) {
    const auto interval = std::clamp<std::chrono::milliseconds>(
        links_[p]->timeout() / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(30'000));
    std::unique_lock lock(mu_);
    while (true) {
      const bool ready =
          cv_.wait_for(lock, interval, [&] { return stop_ || !c->outbox.empty(); });
      if (stop_) return;
      Bytes msg = ready ? std::move(c->outbox.front()) : Bytes{w::kKeepalive};
      if (ready) c->outbox.pop_front();
      c->sending = true;
      lock.unlock();
      const bool end = !msg.empty() && msg[0] == w::kEnd;
      Status st = links_[p]->Send(msg);
      lock.lock();
      c->sending = false;
      cv_.notify_all();
      if (!st.ok()) {
        if (io_status_.ok()) io_status_ = st;
        return;
      }
      if (end) return;
    }
  }

  void Push(size_t p, Bytes msg) {
    std::lock_guard lock(mu_);
    channels_[p]->outbox.push_back(std::move(msg));
    cv_.notify_all();
  }

  void Stop(bool close) {
    if (stopped_) return;
    stopped_ = true;
    if (close) {
      for (size_t p : peers_) links_[p]->Close();
    }
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    for (auto& c : channels_) {
      if (!c) continue;
      if (c->receiver.joinable()) c->receiver.join();
      if (c->sender.joinable()) c->sender.join();
    }
  }

  Status CheckCancelled() const {
    if (opts_.cancelled != nullptr && opts_.cancelled->load()) {
      return absl::CancelledError("multi-party PSI cancelled");
    }
    return OkStatus();
  }

  void Progress(uint64_t count) {
    work_done_ += count;
    if (opts_.progress && total_work_ > 0) {
      opts_.progress(0.95 * static_cast<double>(work_done_) / static_cast<double>(total_work_));
    }
  }

  // ---- the protocol thread

  Status RunInternal() {
    crypto::InitCrypto();
    CONSORT_RETURN_IF_ERROR(ValidateOptions());
    CONSORT_RETURN_IF_ERROR(Hello());
    result_.set_sizes = sizes_;
    CONSORT_RETURN_IF_ERROR(Setup());
    if (lists_pending_ == 0 && IsLeader()) CONSORT_RETURN_IF_ERROR(MaybeCompare());

    const uint64_t own_batches = NumBatches(items_.size(), opts_.batch_size);
    uint64_t own_next = 0;
    bool ended = false;
    while (true) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      if (!ended && own_next == own_batches && lists_pending_ == 0 && !result_pending_ &&
          (!IsLeader() || compared_)) {
        // Everything of ours is queued: close each link's traffic with an end marker.
        for (size_t p : peers_) Push(p, Bytes{w::kEnd});
        ended = true;
      }
      if (ended && end_pending_ == 0) break;
      std::optional<std::pair<size_t, Bytes>> msg;
      {
        std::unique_lock lock(mu_);
        if (!inbox_.empty()) {
          msg = std::move(inbox_.front());
          inbox_.pop_front();
        } else if (!io_status_.ok()) {
          return io_status_;
        } else if (own_next == own_batches) {
          cv_.wait_for(lock, kPollInterval);
          continue;
        }
      }
      if (msg) {
        CONSORT_RETURN_IF_ERROR(Process(msg->first, msg->second));
      } else {
        CONSORT_RETURN_IF_ERROR(ProduceOwnBatch(own_next++));
      }
    }
    // Wait until every queued message has been handed to its link.
    std::unique_lock lock(mu_);
    while (true) {
      bool busy = false;
      for (size_t p : peers_) busy |= !channels_[p]->outbox.empty() || channels_[p]->sending;
      if (!busy) break;
      if (!io_status_.ok()) return io_status_;
      cv_.wait_for(lock, kPollInterval);
    }
    return io_status_;
  }

  Status ProduceOwnBatch(uint64_t index) {
    const size_t begin = index * opts_.batch_size;
    const size_t count = BatchCount(items_.size(), opts_.batch_size, index);
    std::vector<std::string_view> msgs(count);
    for (size_t k = 0; k < count; ++k) msgs[k] = items_[perm_[begin + k]];
    std::vector<X25519Point> points(count);
    CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t b, size_t e, int t) {
      auto m = std::span<const std::string_view>(msgs).subspan(b, e - b);
      auto p = std::span<X25519Point>(points).subspan(b, e - b);
      encoders_[t].Encode(m, p);
      Status st = scalar_->Multiply(p, p);
      if (!st.ok()) {
        return absl::InternalError("multi-party PSI: masking own batch: " +
                                   std::string(st.message()));
      }
      return OkStatus();
    }));
    Push(Next(), w::EncodeBatch(w::kRing, static_cast<uint32_t>(opts_.self),
                                static_cast<uint32_t>(index), static_cast<uint32_t>(count),
                                ByteSpan(points[0].data(), count * kPointBytes)));
    Progress(count);
    return OkStatus();
  }

  Status Process(size_t from, const Bytes& raw) {
    if (raw.empty()) {
      return absl::InvalidArgumentError("multi-party PSI: empty message from " + Name(from));
    }
    switch (raw[0]) {
      case w::kRing:
        if (from != Prev()) break;
        return ProcessRing(raw);
      case w::kFinal:
        if (!IsLeader()) break;
        return ProcessFinal(from, raw);
      case w::kResult:
        if (IsLeader() || from != opts_.leader) break;
        return ProcessResult(raw);
      case w::kEnd:
        if (raw.size() != 1) break;
        if (end_pending_ == 0) break;
        --end_pending_;
        return OkStatus();
      default:
        break;
    }
    return absl::InvalidArgumentError("multi-party PSI: unexpected message type " +
                                      std::to_string(raw[0]) + " (" + std::to_string(raw.size()) +
                                      " bytes) from " + Name(from));
  }

  Status CheckBatch(const w::BatchView& b, const char* what, uint64_t next, size_t elem) const {
    const uint64_t size = sizes_[b.owner];
    const uint64_t batches = NumBatches(size, opts_.batch_size);
    if (next >= batches) {
      return absl::InvalidArgumentError(std::string("multi-party PSI: more ") + what +
                                        " batches for " + Name(b.owner) + "'s list than its " +
                                        std::to_string(size) + " elements allow");
    }
    if (b.index != next) {
      return absl::InvalidArgumentError(std::string("multi-party PSI: ") + what + " batch " +
                                        std::to_string(b.index) + " of " + Name(b.owner) +
                                        "'s list out of order, expected " + std::to_string(next));
    }
    const uint64_t want = BatchCount(size, opts_.batch_size, next);
    if (b.count != want || b.payload.size() != want * elem) {
      return absl::InvalidArgumentError(std::string("multi-party PSI: ") + what + " batch " +
                                        std::to_string(next) + " of " + Name(b.owner) +
                                        "'s list has " + std::to_string(b.count) + " elements in " +
                                        std::to_string(b.payload.size()) + " bytes, expected " +
                                        std::to_string(want) + " x " + std::to_string(elem));
    }
    return OkStatus();
  }

  Status ProcessRing(const Bytes& raw) {
    CONSORT_ASSIGN_OR_RETURN(w::BatchView b, w::DecodeBatch(raw));
    if (b.owner >= n_ || b.owner == opts_.self) {
      return absl::InvalidArgumentError("multi-party PSI: ring batch for owner " +
                                        std::to_string(b.owner) + " from " + Name(Prev()));
    }
    CONSORT_RETURN_IF_ERROR(CheckBatch(b, "ring", next_index_[b.owner], kPointBytes));
    ++next_index_[b.owner];
    const size_t count = b.count;
    std::vector<X25519Point> points(count);
    if (count > 0) std::memcpy(points[0].data(), b.payload.data(), b.payload.size());
    CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t s, size_t e, int) {
      auto p = std::span<X25519Point>(points).subspan(s, e - s);
      Status st = scalar_->Multiply(p, p);
      if (!st.ok()) {
        return absl::InvalidArgumentError("multi-party PSI: " + Name(Prev()) + " sent " +
                                          Name(b.owner) +
                                          "'s list with a bad point: " + std::string(st.message()));
      }
      return OkStatus();
    }));
    Progress(count);
    const bool last_batch = next_index_[b.owner] == NumBatches(sizes_[b.owner], opts_.batch_size);
    const bool final_hop = (b.owner + n_ - 1) % n_ == opts_.self;
    if (!final_hop) {
      Push(Next(), w::EncodeBatch(w::kRing, b.owner, b.index, b.count,
                                  ByteSpan(points[0].data(), count * kPointBytes)));
    } else {
      Bytes trunc(count * trunc_);
      for (size_t k = 0; k < count; ++k) std::memcpy(&trunc[k * trunc_], points[k].data(), trunc_);
      if (b.owner == opts_.leader && shuffle_leader_list_) {
        held_.insert(held_.end(), trunc.begin(), trunc.end());
        if (last_batch) CONSORT_RETURN_IF_ERROR(SendShuffledLeaderList());
      } else {
        CONSORT_RETURN_IF_ERROR(DeliverFinal(b.owner, b.index, b.count, std::move(trunc)));
      }
    }
    if (last_batch) --lists_pending_;
    return OkStatus();
  }

  Status SendShuffledLeaderList() {
    const uint64_t size = sizes_[opts_.leader];
    const std::vector<size_t> perm = crypto::RandomPermutation(size);
    for (uint64_t i = 0; i < NumBatches(size, opts_.batch_size); ++i) {
      const size_t begin = i * opts_.batch_size, count = BatchCount(size, opts_.batch_size, i);
      Bytes out(count * trunc_);
      for (size_t k = 0; k < count; ++k) {
        std::memcpy(&out[k * trunc_], &held_[perm[begin + k] * trunc_], trunc_);
      }
      CONSORT_RETURN_IF_ERROR(DeliverFinal(opts_.leader, static_cast<uint32_t>(i),
                                           static_cast<uint32_t>(count), std::move(out)));
    }
    held_.clear();
    held_.shrink_to_fit();
    return OkStatus();
  }

  Status DeliverFinal(uint32_t owner, uint32_t index, uint32_t count, Bytes values) {
    if (!IsLeader()) {
      Push(opts_.leader, w::EncodeBatch(w::kFinal, owner, index, count, values));
      return OkStatus();
    }
    final_[owner].insert(final_[owner].end(), values.begin(), values.end());
    ++final_next_[owner];
    if (final_next_[owner] == NumBatches(sizes_[owner], opts_.batch_size)) {
      final_done_[owner] = true;
      CONSORT_RETURN_IF_ERROR(MaybeCompare());
    }
    return OkStatus();
  }

  Status ProcessFinal(size_t from, const Bytes& raw) {
    CONSORT_ASSIGN_OR_RETURN(w::BatchView b, w::DecodeBatch(raw));
    if (b.owner >= n_ || (b.owner + n_ - 1) % n_ != from) {
      return absl::InvalidArgumentError("multi-party PSI: " + Name(from) +
                                        " sent a final list for owner " + std::to_string(b.owner) +
                                        ", which is not its to deliver");
    }
    CONSORT_RETURN_IF_ERROR(CheckBatch(b, "final", final_next_[b.owner], trunc_));
    return DeliverFinal(b.owner, b.index, b.count, Bytes(b.payload.begin(), b.payload.end()));
  }

  Key ToKey(const uint8_t* p) const {
    Key k{};
    std::memcpy(k.data(), p, trunc_);
    return k;
  }

  // Leader: once every list is in, intersect them and send each party its result.
  Status MaybeCompare() {
    if (compared_) return OkStatus();
    for (bool d : final_done_) {
      if (!d) return OkStatus();
    }
    compared_ = true;
    std::vector<Key> common;
    for (size_t o = 0; o < n_; ++o) {
      std::vector<Key> keys(sizes_[o]);
      for (size_t k = 0; k < keys.size(); ++k) keys[k] = ToKey(&final_[o][k * trunc_]);
      std::sort(keys.begin(), keys.end());
      if (o == 0) {
        common = std::move(keys);
      } else {
        std::vector<Key> next;
        std::set_intersection(common.begin(), common.end(), keys.begin(), keys.end(),
                              std::back_inserter(next));
        common = std::move(next);
      }
    }
    for (size_t o = 0; o < n_; ++o) {
      std::vector<uint32_t> positions;
      if (opts_.outputs[o] == PsiOutput::kIntersection) {
        for (size_t k = 0; k < sizes_[o]; ++k) {
          if (std::binary_search(common.begin(), common.end(), ToKey(&final_[o][k * trunc_]))) {
            positions.push_back(static_cast<uint32_t>(k));
          }
        }
      }
      const uint64_t size = opts_.outputs[o] == PsiOutput::kNone ? 0 : common.size();
      if (o == opts_.self) {
        CONSORT_RETURN_IF_ERROR(ApplyResult(size, positions));
        continue;
      }
      // In chunks of batch_size positions (one message of 2^22 positions is over the limit).
      const std::span<const uint32_t> all(positions);
      const uint64_t chunks = std::max<uint64_t>(1, NumBatches(all.size(), opts_.batch_size));
      for (uint64_t c = 0; c < chunks; ++c) {
        const size_t begin = c * opts_.batch_size;
        Push(o, w::EncodeResult(size, static_cast<uint32_t>(c),
                                all.subspan(begin, BatchCount(all.size(), opts_.batch_size, c))));
      }
    }
    final_.clear();
    return OkStatus();
  }

  // One chunk of the leader's result; applies the whole once the last chunk is in.
  Status ProcessResult(const Bytes& raw) {
    if (!result_pending_) {
      return absl::InvalidArgumentError(
          "multi-party PSI: a result chunk from the leader after the whole result");
    }
    CONSORT_ASSIGN_OR_RETURN(w::ResultView r, w::DecodeResult(raw));
    if (r.chunk != result_chunks_) {
      return absl::InvalidArgumentError("multi-party PSI: result chunk " +
                                        std::to_string(r.chunk) + " out of order, expected " +
                                        std::to_string(result_chunks_));
    }
    if (r.chunk == 0) {
      result_size_ = r.intersection_size;
    } else if (r.intersection_size != result_size_) {
      return absl::InvalidArgumentError("multi-party PSI: result chunk " +
                                        std::to_string(r.chunk) + " announces size " +
                                        std::to_string(r.intersection_size) + ", chunk 0 said " +
                                        std::to_string(result_size_));
    }
    // Positions owed: the intersection for a row receiver (at most its own set), else none.
    const PsiOutput mine = opts_.outputs[opts_.self];
    const uint64_t owed = mine == PsiOutput::kIntersection ? result_size_ : 0;
    if (owed > items_.size()) {
      return absl::InvalidArgumentError(
          "multi-party PSI: the leader's result size " + std::to_string(result_size_) +
          " exceeds this party's " + std::to_string(items_.size()) + " items");
    }
    const uint64_t want = owed == 0 ? 0 : BatchCount(owed, opts_.batch_size, r.chunk);
    if (r.positions.size() != want) {
      return absl::InvalidArgumentError(
          "multi-party PSI: result chunk " + std::to_string(r.chunk) + " has " +
          std::to_string(r.positions.size()) + " positions, expected " + std::to_string(want));
    }
    ++result_chunks_;
    result_positions_.insert(result_positions_.end(), r.positions.begin(), r.positions.end());
    if (result_positions_.size() < owed) return OkStatus();
    result_pending_ = false;
    std::vector<uint32_t> positions = std::move(result_positions_);
    return ApplyResult(result_size_, positions);
  }

  Status ApplyResult(uint64_t size, const std::vector<uint32_t>& positions) {
    const PsiOutput mine = opts_.outputs[opts_.self];
    const uint64_t own = items_.size();
    bool ok = true;
    if (mine == PsiOutput::kNone) ok = size == 0 && positions.empty();
    if (mine == PsiOutput::kSize) ok = size <= own && positions.empty();
    if (mine == PsiOutput::kIntersection) ok = positions.size() == size;
    for (size_t k = 0; ok && k < positions.size(); ++k) {
      ok = positions[k] < own && (k == 0 || positions[k] > positions[k - 1]);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          "multi-party PSI: the leader's result is inconsistent (size " + std::to_string(size) +
          ", " + std::to_string(positions.size()) + " positions, " + std::to_string(own) +
          " own items, output '" + std::string(PsiOutputName(mine)) + "')");
    }
    result_.intersection_size = size;
    for (uint32_t p : positions) result_.matched.push_back(perm_[p]);
    std::sort(result_.matched.begin(), result_.matched.end());
    return OkStatus();
  }

  const std::vector<net::Link*>& links_;
  const std::vector<std::string>& items_;
  const MultipartyPsiOptions& opts_;
  const size_t n_;

  std::vector<size_t> peers_;
  std::vector<uint64_t> sizes_;
  size_t trunc_ = 0;
  uint64_t total_work_ = 0, work_done_ = 0;
  std::vector<crypto::Curve25519Encoder> encoders_;
  std::optional<crypto::X25519Scalar> scalar_;
  std::vector<size_t> perm_;
  std::vector<uint64_t> next_index_;
  size_t lists_pending_ = 0, end_pending_ = 0;
  bool result_pending_ = false, compared_ = false, shuffle_leader_list_ = false;
  uint64_t result_size_ = 0;    // from the leader's result chunk 0
  uint32_t result_chunks_ = 0;  // result chunks received
  std::vector<uint32_t> result_positions_;
  Bytes held_;
  // Leader only.
  std::vector<Bytes> final_;
  std::vector<uint64_t> final_next_;
  std::vector<bool> final_done_;
  MultipartyPsiResult result_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, Bytes>> inbox_;
  std::vector<std::unique_ptr<Channel>> channels_;
  bool stop_ = false, stopped_ = false;
  Status io_status_;
};

}  // namespace

std::vector<size_t> MultipartyPsiPeers(size_t n, size_t self, size_t leader) {
  std::set<size_t> s;
  if (self == leader) {
    for (size_t p = 0; p < n; ++p) s.insert(p);
  } else {
    s.insert((self + n - 1) % n);
    s.insert((self + 1) % n);
    s.insert(leader);
  }
  s.erase(self);
  return std::vector<size_t>(s.begin(), s.end());
}

size_t MultipartyPsiTruncBytes(const std::vector<uint64_t>& set_sizes) {
  uint64_t total = 0;
  for (uint64_t s : set_sizes) total += s;
  // Any two of the `total` values collide with probability below total^2 / 2^(8T) <= 2^-40.
  const size_t bits = 40 + 2 * std::bit_width(total);
  return std::min<size_t>(16, (bits + 7) / 8);
}

uint64_t MultipartyPsiResultBytes(uint64_t positions, size_t batch_size) {
  const uint64_t chunks = std::max<uint64_t>(1, NumBatches(positions, batch_size));
  return chunks * w::kResultHeaderBytes + 4 * positions;
}

uint64_t MultipartyPsiBytesSent(const std::vector<uint64_t>& set_sizes, size_t self, size_t leader,
                                size_t batch_size) {
  const size_t n = set_sizes.size();
  const size_t t = MultipartyPsiTruncBytes(set_sizes);
  uint64_t bytes = MultipartyPsiPeers(n, self, leader).size();  // one end marker per link
  bytes += self == leader ? (n - 1) * (5 + 8 * n) : w::kHelloBytes;
  for (size_t o = 0; o < n; ++o) {
    const uint64_t headers = NumBatches(set_sizes[o], batch_size) * w::kBatchHeaderBytes;
    if (o == (self + 1) % n) {
      // The final hop: to the leader, unless this party is the leader.
      if (self != leader) bytes += headers + set_sizes[o] * t;
    } else {
      bytes += headers + set_sizes[o] * kPointBytes;
    }
  }
  return bytes;
}

StatusOr<MultipartyPsiResult> RunMultipartyPsi(const std::vector<net::Link*>& links,
                                               const std::vector<std::string>& items,
                                               const MultipartyPsiOptions& opts) {
  MultipartyParty party(links, items, opts);
  return party.Run();
}

}  // namespace consort::psi
