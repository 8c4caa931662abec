#include "consort/psi/internal/size_only_psi.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "consort/common/bytes.h"
#include "consort/common/files.h"
#include "consort/common/json.h"
#include "consort/common/logging.h"
#include "consort/common/parallel.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/scratch_files.h"
#include "consort/psi/internal/size_only_psi_wire.h"

namespace consort::psi::internal {
namespace {

using crypto::X25519Point;
// A truncated doubly-masked value, zero-padded (T <= 16: 40 + 41 + 41 bits for 2^40 keys each).
using Key = std::array<uint8_t, 16>;

constexpr size_t kPoint = 32;
constexpr size_t kMaxBatch = (net::kMaxMessageBytes - kSizeBatchHeader) / kPoint;
constexpr uint64_t kMaxKeys = uint64_t{1} << 40;
constexpr uint32_t kMaxPartitions = uint32_t{1} << 16;
constexpr size_t kMinBudgetMb = 64, kMaxBudgetMb = size_t{1} << 20;  // as bucketed_psi.h
constexpr char kStateFile[] = "size_only.state";
constexpr char kStateFormat[] = "consort-size-only-psi-state-v1";
// The same hash-to-curve suite as psi/ecdh_psi.h, in a domain of its own.
constexpr std::string_view kDstPrefix = "CONSORT-V01-ECDH-PSI-with-";
using so::MaskId;
using so::Hello;
using so::BatchView;
using so::EncodeHello;
using so::DecodeHello;
using so::EncodeBatch;
using so::DecodeBatch;

std::string MaskedFile(uint32_t p) { return "masked." + std::to_string(p); }
std::string DoubledFile(uint32_t p) { return "doubled." + std::to_string(p); }

bool Receives(PsiOutput o) { return o != PsiOutput::kNone; }

// The partition of a (pseudorandom) value by its first bytes.
uint32_t PartOf(const uint8_t* v, size_t len, uint32_t parts) {
  uint8_t b[8] = {0};
  std::memcpy(b, v, std::min<size_t>(len, 8));
  return static_cast<uint32_t>((static_cast<unsigned __int128>(ReadU64(b)) * parts) >> 64);
}

Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(path, errno);
  Status st = ::fsync(fd) == 0 ? OkStatus() : IoError(path, errno);
  ::close(fd);
  return st;
}

Status TruncateFile(const std::string& path, uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(path, errno);
  Status st = ::ftruncate(fd, static_cast<off_t>(size)) == 0 ? OkStatus() : IoError(path, errno);
  ::close(fd);
  return st;
}

StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return IoError(path, errno);
  return static_cast<uint64_t>(st.st_size);
}

// Reads a whole partition file of `count` records of `width` bytes into Keys / points.
template <typename T>
StatusOr<std::vector<T>> LoadRecords(const std::string& path, uint64_t count, size_t width) {
  std::vector<T> out(count, T{});
  FileReader in;
  CONSORT_RETURN_IF_ERROR(in.Open(path));
  for (uint64_t i = 0; i < count; ++i) {
    CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(out[i].data(), width));
    if (!more) return absl::DataLossError(path + ": fewer records than recorded");
  }
  uint8_t extra;
  CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(&extra, 1));
  if (more) return absl::DataLossError(path + ": more records than recorded");
  return out;
}

// ---- state (the checkpoint of this flow) ---------------------------------------------------

struct State {
  crypto::SecretBytes scalar;  // 32 bytes
  MaskId mask_id{};
  uint32_t pm = 0;
  std::vector<uint64_t> masked_counts;
  // Progress on the peer's masked stream, valid for the peer's mask id and (pd, t).
  MaskId peer_mask_id{};
  uint32_t peer_done = 0;
  uint32_t pd = 0, t = 0;
  std::vector<uint64_t> doubled_bytes;
};

Json U64Array(const std::vector<uint64_t>& v) {
  Json a = Json::array();
  for (uint64_t x : v) a.push_back(x);
  return a;
}

std::optional<std::vector<uint64_t>> ReadU64Array(const Json& j, size_t size) {
  if (!j.is_array() || j.size() != size) return std::nullopt;
  std::vector<uint64_t> out;
  for (const Json& x : j) {
    if (!x.is_number_unsigned()) return std::nullopt;
    out.push_back(x.get<uint64_t>());
  }
  return out;
}

std::optional<MaskId> ReadMaskId(const Json& j) {
  if (!j.is_string()) return std::nullopt;
  StatusOr<Bytes> b = HexDecode(j.get<std::string>());
  if (!b.ok() || b->size() != 16) return std::nullopt;
  MaskId id;
  std::memcpy(id.data(), b->data(), 16);
  return id;
}

// Overwrites the string at j[key] in place before it is freed.
void WipeJsonString(Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return;
  std::string& v = j[key].get_ref<std::string&>();
  crypto::SecureWipe(v.data(), v.size());
}

Status WriteState(const std::string& path, const std::string& binding, const State& s) {
  std::string scalar_hex = HexEncode(ByteSpan(s.scalar.data(), s.scalar.size()));
  Json body = {{"format", kStateFormat},
               {"binding", binding},
               {"scalar", scalar_hex},
               {"mask_id", HexEncode(ByteSpan(s.mask_id.data(), 16))},
               {"pm", s.pm},
               {"masked", U64Array(s.masked_counts)},
               {"peer_mask_id", HexEncode(ByteSpan(s.peer_mask_id.data(), 16))},
               {"peer_done", s.peer_done},
               {"pd", s.pd},
               {"t", s.t},
               {"doubled", U64Array(s.doubled_bytes)}};
  crypto::SecureWipe(scalar_hex.data(), scalar_hex.size());
  CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(body));
  body["digest"] = crypto::Sha256Hex(canonical);
  crypto::SecureWipe(canonical.data(), canonical.size());
  std::string text = body.dump();
  WipeJsonString(body, "scalar");
  Status st = WriteFileAtomic(path, text, 0600);
  crypto::SecureWipe(text.data(), text.size());
  return st;
}

// The state at `path` if intact, bound to `binding` and consistent with the masked files;
// nullopt otherwise (logged without values).
std::optional<State> ReadState(const std::string& dir, const std::string& binding) {
  const std::string path = JoinPath(dir, kStateFile);
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  auto ignore = [](const char* why) -> std::optional<State> {
    CONSORT_LOG(INFO) << "size-only PSI: ignoring the state in the scratch directory: " << why;
    return std::nullopt;
  };
  StatusOr<Json> j = ParseJson(*text, "size-only PSI state");
  crypto::SecureWipe(text->data(), text->size());
  if (!j.ok() || !j->is_object() || !j->contains("digest") || !(*j)["digest"].is_string()) {
    if (j.ok()) WipeJsonString(*j, "scalar");
    return ignore("corrupt");
  }
  Json body = *std::move(j);
  // Whatever path this function leaves by, the parsed scalar does not linger in freed memory.
  struct Wiper {
    Json& j;
    ~Wiper() { WipeJsonString(j, "scalar"); }
  } wiper{body};
  const std::string digest = body["digest"].get<std::string>();
  body.erase("digest");
  StatusOr<std::string> canonical = CanonicalJson(body);
  const bool intact = canonical.ok() && crypto::Sha256Hex(*canonical) == digest;
  if (canonical.ok()) crypto::SecureWipe(canonical->data(), canonical->size());
  if (!intact) return ignore("corrupt");
  if (body.value("format", std::string()) != kStateFormat) return ignore("unknown format");
  if (body.value("binding", std::string()) != binding) return ignore("another job or input");
  State s;
  auto u32 = [&](const char* k, uint32_t* out) {
    if (!body.contains(k) || !body[k].is_number_unsigned() ||
        body[k].get<uint64_t>() > UINT32_MAX) {
      return false;
    }
    *out = static_cast<uint32_t>(body[k].get<uint64_t>());
    return true;
  };
  if (!u32("pm", &s.pm) || !u32("pd", &s.pd) || !u32("t", &s.t) ||
      !u32("peer_done", &s.peer_done) || s.pm < 1 || s.pm > kMaxPartitions ||
      s.pd > kMaxPartitions || s.t > 16) {
    return ignore("inconsistent");
  }
  auto masked = ReadU64Array(body.value("masked", Json()), s.pm);
  auto doubled = ReadU64Array(body.value("doubled", Json()), s.pd);
  auto mask_id = ReadMaskId(body.value("mask_id", Json()));
  auto peer_mask_id = ReadMaskId(body.value("peer_mask_id", Json()));
  if (!masked || !doubled || !mask_id || !peer_mask_id || !body["scalar"].is_string()) {
    return ignore("inconsistent");
  }
  std::string scalar_hex = body["scalar"].get<std::string>();
  StatusOr<Bytes> scalar = HexDecode(scalar_hex);
  crypto::SecureWipe(scalar_hex.data(), scalar_hex.size());
  if (!scalar.ok() || scalar->size() != 32) return ignore("inconsistent");
  s.scalar = crypto::SecretBytes(scalar->data(), 32);
  crypto::SecureWipe(scalar->data(), scalar->size());
  s.masked_counts = *masked;
  s.doubled_bytes = *doubled;
  s.mask_id = *mask_id;
  s.peer_mask_id = *peer_mask_id;
  for (uint32_t p = 0; p < s.pm; ++p) {
    StatusOr<uint64_t> size = FileSize(JoinPath(dir, MaskedFile(p)));
    if (!size.ok() || *size != s.masked_counts[p] * kPoint) return ignore("masked files changed");
  }
  for (uint32_t p = 0; p < s.pd; ++p) {
    StatusOr<uint64_t> size = FileSize(JoinPath(dir, DoubledFile(p)));
    if (!size.ok() || *size < s.doubled_bytes[p]) {
      s.peer_done = 0;  // the masked stage stands; the exchange starts over
      s.pd = 0;
      s.doubled_bytes.clear();
      break;
    }
  }
  return s;
}

// ---- the run -------------------------------------------------------------------------------

class SizeOnlyRun {
 public:
  SizeOnlyRun(net::Link& link, const SizeOnlyOptions& opts) : link_(link), opts_(opts) {}
  ~SizeOnlyRun() { StopSender(); }

  StatusOr<SizeOnlyResult> Run() {
    Status st = RunInternal();
    if (!st.ok()) {
      link_.Close();
      StopSender();
      // The sender's own failure (I/O, cancel) closed the link: report it, not the symptom.
      if ((absl::IsUnavailable(st) || absl::IsCancelled(st)) && !sender_status_.ok() &&
          !absl::IsCancelled(sender_status_)) {
        return sender_status_;
      }
      return st;
    }
    StopSender();
    CONSORT_RETURN_IF_ERROR(sender_status_);
    RemoveFiles();
    return result_;
  }

 private:
  std::string Path(const std::string& name) const { return JoinPath(opts_.scratch_dir, name); }

  Status CheckCancelled() const {
    if (opts_.cancelled != nullptr && opts_.cancelled->load()) {
      return absl::CancelledError("size-only PSI cancelled");
    }
    return OkStatus();
  }
  void Progress(double f, const std::string& stage) const {
    if (opts_.progress) opts_.progress(f, stage);
  }
  size_t BufferCap(uint32_t parts) const {
    return std::clamp<size_t>((opts_.memory_budget_mb << 20) / 4 / parts, 1024, kIoBytes);
  }

  Status ValidateOptions() const {
    auto ok = [](PsiOutput o) { return o == PsiOutput::kNone || o == PsiOutput::kSize; };
    if (!ok(opts_.my_output) || !ok(opts_.peer_output) ||
        (!Receives(opts_.my_output) && !Receives(opts_.peer_output))) {
      return absl::InvalidArgumentError("size-only PSI: outputs must be \"size\" or none, and "
                                        "at least one party must receive");
    }
    if (opts_.batch_size < 1 || opts_.batch_size > kMaxBatch) {
      return absl::InvalidArgumentError("size-only PSI: batch size must be in [1, " +
                                        std::to_string(kMaxBatch) + "]");
    }
    if (opts_.memory_budget_mb < kMinBudgetMb || opts_.memory_budget_mb > kMaxBudgetMb) {
      return absl::InvalidArgumentError("size-only PSI: memory budget out of range");
    }
    if (opts_.threads < 1 || opts_.threads > 256 || opts_.buckets < 1 ||
        opts_.force_partitions > kMaxPartitions ||
        opts_.my_keys > kMaxKeys || !opts_.load_bucket) {
      return absl::InvalidArgumentError("size-only PSI: bad options");
    }
    return OkStatus();
  }

  Status RunInternal() {
    CONSORT_RETURN_IF_ERROR(ValidateOptions());
    std::optional<State> saved = ReadState(opts_.scratch_dir, opts_.binding);
    if (saved && std::accumulate(saved->masked_counts.begin(), saved->masked_counts.end(),
                                 uint64_t{0}) != opts_.my_keys) {
      CONSORT_LOG(INFO) << "size-only PSI: ignoring the state in the scratch directory: it "
                           "masked another number of keys";
      saved.reset();
    }
    Hello peer;
    {
      LocalPhase phase(link_);
      if (saved) {
        state_ = std::move(*saved);
        result_.masking_resumed = true;
        CONSORT_LOG(INFO) << "size-only PSI: resuming with the masked set of an earlier run";
      } else {
        CONSORT_RETURN_IF_ERROR(Mask());
      }
      Hello mine;
      mine.version = kSizeOnlyVersion;
      mine.keys = opts_.my_keys;
      mine.budget_mb = static_cast<uint32_t>(opts_.memory_budget_mb);
      mine.mask_id = state_.mask_id;
      mine.peer_mask_id = state_.peer_mask_id;
      mine.peer_done = state_.peer_done;
      mine.pd = state_.pd;
      mine.t = static_cast<uint8_t>(state_.t);
      mine.pm = state_.pm;
      CONSORT_ASSIGN_OR_RETURN(Bytes raw, phase.Exchange(EncodeHello(mine)));
      CONSORT_ASSIGN_OR_RETURN(peer, DecodeHello(raw));
    }
    CONSORT_RETURN_IF_ERROR(Agree(peer));
    StartSender();
    CONSORT_RETURN_IF_ERROR(ReceiveMasked());
    CONSORT_RETURN_IF_ERROR(Count());
    Progress(1.0, "done");
    return OkStatus();
  }

  // S1: H(k)^a for every distinct key, into the masked partitions by value.
  Status Mask() {
    crypto::SecretBytes secret(32);
    crypto::RandomBytes(secret.data(), 32);
    CONSORT_ASSIGN_OR_RETURN(scalar_, crypto::X25519Scalar::FromBytes(
                                          ByteSpan(secret.data(), secret.size())));
    Progress(0.05, "masking keys");
    state_ = State{};
    state_.scalar = std::move(secret);
    crypto::RandomBytes(state_.mask_id.data(), state_.mask_id.size());
    state_.pm = opts_.force_partitions != 0
                    ? opts_.force_partitions
                    : SizeOnlyPartitions(opts_.my_keys, kPoint, opts_.memory_budget_mb);
    state_.masked_counts.assign(state_.pm, 0);
    ::unlink(Path(kStateFile).c_str());
    RemoveFiles();  // what an earlier run left, with its own partition counts
    for (uint32_t p = 0; p < state_.pm; ++p) {
      CONSORT_RETURN_IF_ERROR(TruncateFile(Path(MaskedFile(p)), 0));
    }

    std::string dst(kDstPrefix);
    dst += crypto::kCurve25519NuSuite;
    dst += ":";
    dst += opts_.domain;
    dst += "/size-only";
    std::vector<crypto::Curve25519Encoder> encoders;
    for (int w = 0; w < opts_.threads; ++w) {
      CONSORT_ASSIGN_OR_RETURN(auto enc, crypto::Curve25519Encoder::Create(AsBytes(dst)));
      encoders.push_back(std::move(enc));
    }
    const size_t cap = BufferCap(state_.pm);
    std::vector<std::string> bufs(state_.pm);
    auto flush = [&](uint32_t p) -> Status {
      CONSORT_RETURN_IF_ERROR(AppendToFile(Path(MaskedFile(p)), bufs[p]));
      bufs[p].clear();
      return OkStatus();
    };
    uint64_t done = 0;
    std::vector<X25519Point> points;
    for (uint32_t b = 0; b < opts_.buckets; ++b) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      CONSORT_ASSIGN_OR_RETURN(std::vector<std::string> keys, opts_.load_bucket(b));
      for (size_t begin = 0; begin < keys.size(); begin += opts_.batch_size) {
        CONSORT_RETURN_IF_ERROR(CheckCancelled());
        const size_t count = std::min(opts_.batch_size, keys.size() - begin);
        points.resize(count);
        CONSORT_RETURN_IF_ERROR(ParallelFor(count, opts_.threads, [&](size_t s, size_t e, int w) {
          auto m = std::span<const std::string>(keys).subspan(begin + s, e - s);
          auto pts = std::span<X25519Point>(points).subspan(s, e - s);
          encoders[w].Encode(m, pts);
          Status st = scalar_->Multiply(pts, pts);
          if (!st.ok()) return absl::InternalError("size-only PSI: masking: " +
                                                   std::string(st.message()));
          return OkStatus();
        }));
        for (const X25519Point& pt : points) {
          const uint32_t p = PartOf(pt.data(), kPoint, state_.pm);
          bufs[p].append(reinterpret_cast<const char*>(pt.data()), kPoint);
          ++state_.masked_counts[p];
          if (bufs[p].size() >= cap) CONSORT_RETURN_IF_ERROR(flush(p));
        }
        done += count;
        Progress(0.05 + 0.45 * static_cast<double>(done) /
                            static_cast<double>(std::max<uint64_t>(opts_.my_keys, 1)),
                 "masking keys");
      }
    }
    if (done != opts_.my_keys) {
      return absl::InternalError("size-only PSI: masked " + std::to_string(done) +
                                 " keys, expected " + std::to_string(opts_.my_keys));
    }
    for (uint32_t p = 0; p < state_.pm; ++p) {
      if (!bufs[p].empty()) CONSORT_RETURN_IF_ERROR(flush(p));
      CONSORT_RETURN_IF_ERROR(SyncFile(Path(MaskedFile(p))));
    }
    return WriteState(Path(kStateFile), opts_.binding, state_);
  }

  // After the hello: sizes, partitions and where each direction resumes.
  Status Agree(const Hello& peer) {
    if (peer.version != kSizeOnlyVersion) {
      return absl::FailedPreconditionError("size-only PSI: protocol version mismatch (mine " +
                                           std::to_string(kSizeOnlyVersion) + ", peer's " +
                                           std::to_string(peer.version) + ")");
    }
    if (peer.keys > kMaxKeys) {
      return absl::InvalidArgumentError("size-only PSI: the peer announced " +
                                        std::to_string(peer.keys) + " keys, above 2^40");
    }
    if (peer.budget_mb < kMinBudgetMb || peer.budget_mb > kMaxBudgetMb) {
      return absl::InvalidArgumentError("size-only PSI: the peer announced a memory budget of " +
                                        std::to_string(peer.budget_mb) + " MiB, out of range");
    }
    // Forced partitions must agree (the plan checked that both force the same count);
    // otherwise no more than the smallest budget would need.
    const uint32_t max_pm = opts_.force_partitions != 0
                                ? opts_.force_partitions
                                : SizeOnlyPartitions(peer.keys, kPoint, kMinBudgetMb);
    if (peer.pm < 1 || peer.pm > max_pm) {
      return absl::InvalidArgumentError("size-only PSI: the peer announced " +
                                        std::to_string(peer.pm) + " masked partitions for " +
                                        std::to_string(peer.keys) + " keys, at most " +
                                        std::to_string(max_pm));
    }
    if (peer.keys > opts_.peer_rows) {
      return absl::InvalidArgumentError("size-only PSI: the peer announced " +
                                        std::to_string(peer.keys) + " distinct keys in " +
                                        std::to_string(opts_.peer_rows) + " rows");
    }
    if (!scalar_) {
      CONSORT_ASSIGN_OR_RETURN(scalar_, crypto::X25519Scalar::FromBytes(ByteSpan(
                                            state_.scalar.data(), state_.scalar.size())));
    }
    peer_keys_ = peer.keys;
    peer_pm_ = peer.pm;
    result_.peer_keys = peer.keys;
    t_ = EcdhPsiReturnBytes(opts_.my_keys, peer.keys);
    const size_t budget = std::min<size_t>(opts_.memory_budget_mb, peer.budget_mb);
    pd_ = opts_.force_partitions != 0
              ? opts_.force_partitions
              : SizeOnlyPartitions(std::max(opts_.my_keys, peer.keys), sizeof(Key), budget);
    result_.masked_partitions = state_.pm;
    result_.doubled_partitions = pd_;
    // Each side keeps its progress on the other's stream iff the other kept the same mask and
    // both computed the same (pd, t); both evaluate the same condition.
    const bool keep_mine = state_.peer_mask_id == peer.mask_id && state_.pd == pd_ &&
                           state_.t == t_ && state_.peer_done <= peer.pm;
    const bool peer_keeps = peer.peer_mask_id == state_.mask_id && peer.pd == pd_ &&
                            peer.t == t_ && peer.peer_done <= state_.pm;
    send_from_ = peer_keeps ? peer.peer_done : 0;
    if (!keep_mine) {
      state_.peer_mask_id = peer.mask_id;
      state_.peer_done = 0;
      state_.pd = pd_;
      state_.t = static_cast<uint32_t>(t_);
      state_.doubled_bytes.assign(pd_, 0);
    }
    result_.peer_partitions_resumed = state_.peer_done;
    for (uint32_t p = 0; p < pd_; ++p) {
      CONSORT_RETURN_IF_ERROR(TruncateFile(Path(DoubledFile(p)), state_.doubled_bytes[p]));
    }
    return WriteState(Path(kStateFile), opts_.binding, state_);
  }

  // ---- the sender thread: masked partitions, then (once S2 is done here) doubled ones,
  // keepalives whenever it has nothing to send.

  void StartSender() {
    const auto interval = std::clamp<std::chrono::milliseconds>(
        link_.timeout() / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(30'000));
    sender_ = std::thread([this, interval] {
      Status st = SendPartitions(kMsgSizeMasked, send_from_, state_.pm, kPoint);
      // A peer that receives waits for our doubled batches until our own S2 is done: keep it
      // alive meanwhile. Nobody waits on us otherwise, so nothing more is sent.
      if (st.ok() && Receives(opts_.peer_output)) {
        PingUntil([this] { return stage_ >= 1; }, interval);
        if (!Stopping()) st = SendPartitions(kMsgSizeDoubled, 0, pd_, t_);
      }
      // A local failure closes the link so that the main thread's Recv returns at once. A peer
      // that is gone (Unavailable) needs nothing: the main thread first processes what the peer
      // sent before it went (its checkpoint keeps that), then sees the same error.
      if (!st.ok() && !Stopping() && !absl::IsUnavailable(st)) link_.Close();
      std::lock_guard lock(mu_);
      sender_status_ = st;
      sender_done_ = true;
      cv_.notify_all();
    });
  }

  // Keepalives every `interval` until `done()` (under mu_) or a stop. A failed keepalive only
  // ends the keepalives: the main thread's Recv reports a real failure of the link.
  template <typename Pred>
  void PingUntil(Pred done, std::chrono::milliseconds interval) {
    std::unique_lock lock(mu_);
    bool ping = true;
    while (!cv_.wait_for(lock, interval, [&] { return done() || stage_ >= 3; })) {
      if (!ping) continue;
      lock.unlock();
      const uint8_t k = kMsgBucketKeepalive;
      ping = link_.Send(ByteSpan(&k, 1)).ok();
      lock.lock();
    }
  }

  void SetStage(int s) {
    std::lock_guard lock(mu_);
    stage_ = std::max(stage_, s);
    cv_.notify_all();
  }

  // Stage 3: stop now (error paths). Waits for the thread.
  void StopSender() {
    SetStage(3);
    if (sender_.joinable()) sender_.join();
  }

  bool Stopping() {
    std::lock_guard lock(mu_);
    return stage_ >= 3;
  }

  // Sends partitions [from, to) of type `type`, each sorted, in batches built from the sorted
  // records (memory: one partition and one batch).
  Status SendPartitions(uint8_t type, uint32_t from, uint32_t to, size_t width) {
    for (uint32_t p = from; p < to; ++p) {
      if (Stopping()) return absl::CancelledError("size-only PSI: stopped");
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      if (type == kMsgSizeMasked) {
        CONSORT_ASSIGN_OR_RETURN(auto pts, LoadRecords<X25519Point>(Path(MaskedFile(p)),
                                                                    state_.masked_counts[p],
                                                                    kPoint));
        std::sort(pts.begin(), pts.end());
        CONSORT_RETURN_IF_ERROR(SendSorted(type, p, pts, width));
      } else {
        CONSORT_ASSIGN_OR_RETURN(auto keys, LoadDoubled(p));
        CONSORT_RETURN_IF_ERROR(SendSorted(type, p, keys, width));
      }
    }
    return OkStatus();
  }

  template <typename T>
  Status SendSorted(uint8_t type, uint32_t part, const std::vector<T>& sorted, size_t width) {
    const uint64_t count = sorted.size();
    const uint64_t batch = std::min<uint64_t>(opts_.batch_size, kMaxBatch);
    Bytes payload;
    uint64_t i = 0;
    do {
      const uint64_t n = std::min<uint64_t>(batch, count - i);
      payload.resize(n * width);
      for (uint64_t k = 0; k < n; ++k) std::memcpy(&payload[k * width], sorted[i + k].data(), width);
      CONSORT_RETURN_IF_ERROR(link_.Send(EncodeBatch(type, part, static_cast<uint32_t>(n),
                                                     i + n == count, payload.data(), n * width)));
      i += n;
    } while (i < count);
    return OkStatus();
  }

  // This party's doubled partition p (the peer's keys, doubly masked), sorted.
  StatusOr<std::vector<Key>> LoadDoubled(uint32_t p) {
    const uint64_t bytes = state_.doubled_bytes[p];
    if (bytes % t_ != 0) return absl::DataLossError(Path(DoubledFile(p)) + ": bad length");
    CONSORT_ASSIGN_OR_RETURN(auto keys, LoadRecords<Key>(Path(DoubledFile(p)), bytes / t_, t_));
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // Next message that is not a keepalive.
  StatusOr<Bytes> RecvReal() {
    while (true) {
      CONSORT_ASSIGN_OR_RETURN(Bytes m, link_.Recv());
      if (m.size() == 1 && m[0] == kMsgBucketKeepalive) continue;
      return m;
    }
  }

  // S2: the peer's masked partitions, raised to our scalar, into the doubled partitions.
  Status ReceiveMasked() {
    uint64_t received = 0;
    Progress(0.5, "exchanging");
    for (uint64_t b : state_.doubled_bytes) received += b / t_;
    const size_t cap = BufferCap(pd_);
    std::vector<std::string> bufs(pd_);
    std::vector<X25519Point> points;
    std::vector<bool> dirty(pd_, false);
    for (uint32_t part = state_.peer_done; part < peer_pm_; ++part) {
      X25519Point prev{};
      bool have_prev = false;
      while (true) {
        CONSORT_RETURN_IF_ERROR(CheckCancelled());
        CONSORT_ASSIGN_OR_RETURN(Bytes m, RecvReal());
        CONSORT_ASSIGN_OR_RETURN(BatchView b, DecodeBatch(m, kMsgSizeMasked, part, kPoint));
        if (b.count > kMaxBatch || received + b.count > peer_keys_) {
          return absl::InvalidArgumentError("size-only PSI: the peer sent more masked values "
                                            "than the " + std::to_string(peer_keys_) +
                                            " keys it announced");
        }
        points.resize(b.count);
        if (b.count > 0) std::memcpy(points.data(), b.data, b.count * kPoint);
        // Sorted and distinct within the partition, and in it: a peer cannot pile its values
        // (or one value many times) into one of our doubled partitions.
        for (const X25519Point& pt : points) {
          if ((have_prev && !(prev < pt)) || PartOf(pt.data(), kPoint, peer_pm_) != part) {
            return absl::InvalidArgumentError("size-only PSI: masked partition " +
                                              std::to_string(part) +
                                              " is not sorted, distinct and in its range");
          }
          prev = pt;
          have_prev = true;
        }
        CONSORT_RETURN_IF_ERROR(ParallelFor(b.count, opts_.threads, [&](size_t s, size_t e, int) {
          auto pts = std::span<X25519Point>(points).subspan(s, e - s);
          Status st = scalar_->Multiply(pts, pts);
          if (!st.ok()) {
            return absl::InvalidArgumentError("size-only PSI: masked partition " +
                                              std::to_string(part) + ": " +
                                              std::string(st.message()));
          }
          return OkStatus();
        }));
        for (const X25519Point& pt : points) {
          const uint32_t q = PartOf(pt.data(), t_, pd_);
          bufs[q].append(reinterpret_cast<const char*>(pt.data()), t_);
          dirty[q] = true;
          if (bufs[q].size() >= cap) {
            CONSORT_RETURN_IF_ERROR(AppendToFile(Path(DoubledFile(q)), bufs[q]));
            state_.doubled_bytes[q] += bufs[q].size();
            bufs[q].clear();
          }
        }
        received += b.count;
        Progress(0.5 + 0.45 * static_cast<double>(received) /
                           static_cast<double>(std::max<uint64_t>(peer_keys_, 1)),
                 "exchanging");
        if (b.last) break;
      }
      // The partition is in: its values are durable before the checkpoint says so.
      for (uint32_t q = 0; q < pd_; ++q) {
        if (!dirty[q]) continue;
        if (!bufs[q].empty()) {
          CONSORT_RETURN_IF_ERROR(AppendToFile(Path(DoubledFile(q)), bufs[q]));
          state_.doubled_bytes[q] += bufs[q].size();
          bufs[q].clear();
        }
        CONSORT_RETURN_IF_ERROR(SyncFile(Path(DoubledFile(q))));
        dirty[q] = false;
      }
      state_.peer_done = part + 1;
      CONSORT_RETURN_IF_ERROR(WriteState(Path(kStateFile), opts_.binding, state_));
    }
    if (received != peer_keys_) {
      return absl::InvalidArgumentError("size-only PSI: the peer sent " +
                                        std::to_string(received) + " masked values, announced " +
                                        std::to_string(peer_keys_) + " keys");
    }
    SetStage(1);  // the doubled partitions are complete: the sender may send them
    return OkStatus();
  }

  // S3: merge each of our doubled partitions with the peer's of the same index.
  Status Count() {
    if (!Receives(opts_.my_output)) {
      SetStage(2);
      return WaitForSender();
    }
    Progress(0.95, "counting");
    uint64_t received = 0, matches = 0;
    for (uint32_t part = 0; part < pd_; ++part) {
      CONSORT_ASSIGN_OR_RETURN(std::vector<Key> mine, LoadDoubled(part));
      size_t i = 0;
      Key prev{};
      bool first = true;
      while (true) {
        CONSORT_RETURN_IF_ERROR(CheckCancelled());
        CONSORT_ASSIGN_OR_RETURN(Bytes m, RecvReal());
        CONSORT_ASSIGN_OR_RETURN(BatchView b, DecodeBatch(m, kMsgSizeDoubled, part, t_));
        if (received + b.count > opts_.my_keys) {
          return absl::InvalidArgumentError("size-only PSI: the peer returned more values than "
                                            "the " + std::to_string(opts_.my_keys) +
                                            " keys this party sent");
        }
        for (uint32_t k = 0; k < b.count; ++k) {
          Key v{};
          std::memcpy(v.data(), b.data + size_t{k} * t_, t_);
          if (!first && v < prev) {
            return absl::InvalidArgumentError("size-only PSI: doubled partition " +
                                              std::to_string(part) + " is not sorted");
          }
          first = false;
          prev = v;
          while (i < mine.size() && mine[i] < v) ++i;
          if (i < mine.size() && mine[i] == v) ++matches;
        }
        received += b.count;
        if (b.last) break;
      }
    }
    if (received != opts_.my_keys) {
      return absl::InvalidArgumentError("size-only PSI: the peer returned " +
                                        std::to_string(received) + " values for the " +
                                        std::to_string(opts_.my_keys) + " keys this party sent");
    }
    result_.intersection = matches;
    SetStage(2);
    return WaitForSender();
  }

  Status WaitForSender() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return sender_done_; });
    return sender_status_;
  }

  // Every file of this flow in the scratch directory, whatever partition counts made them.
  void RemoveFiles() {
    std::error_code ec;
    std::vector<std::filesystem::path> doomed;
    for (const auto& e : std::filesystem::directory_iterator(opts_.scratch_dir, ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("masked.", 0) == 0 || name.rfind("doubled.", 0) == 0 || name == kStateFile) {
        doomed.push_back(e.path());
      }
    }
    for (const auto& path : doomed) std::filesystem::remove(path, ec);
  }

  net::Link& link_;
  const SizeOnlyOptions& opts_;
  State state_;
  std::optional<crypto::X25519Scalar> scalar_;
  uint64_t peer_keys_ = 0;
  uint32_t peer_pm_ = 0, pd_ = 1, send_from_ = 0;
  size_t t_ = 16;
  SizeOnlyResult result_;

  std::mutex mu_;
  std::condition_variable cv_;
  int stage_ = 0;  // 1: doubled partitions complete, 2: done here, 3: stop
  bool sender_done_ = false;
  Status sender_status_;
  std::thread sender_;
};

}  // namespace

uint32_t SizeOnlyPartitions(uint64_t values, size_t bytes, size_t budget_mb) {
  const unsigned __int128 total = static_cast<unsigned __int128>(values) * bytes;
  const unsigned __int128 per = std::max<unsigned __int128>(
      (static_cast<unsigned __int128>(budget_mb) << 20) / 8, 1);
  return static_cast<uint32_t>(
      std::clamp<unsigned __int128>((total + per - 1) / per, 1, kMaxPartitions));
}

StatusOr<SizeOnlyResult> RunSizeOnlyPsi(net::Link& link, const SizeOnlyOptions& opts) {
  SizeOnlyRun run(link, opts);
  return run.Run();
}

}  // namespace consort::psi::internal
