#include "consort/crypto/random.h"
#include "consort/psi/unbalanced_psi.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>
#include <unordered_map>

#include "consort/common/parallel.h"
#include "consort/common/files.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/hash.h"
#include "consort/psi/internal/ecdh_psi_wire.h"
#include "consort/psi/internal/unbalanced_psi_wire.h"
#include "consort/crypto/x25519_blind.h"

namespace consort::psi {
namespace {

namespace u = internal::upsi;
using crypto::X25519Point;
using Value = std::array<uint8_t, 16>;

constexpr size_t kPointBytes = 32;
constexpr size_t kMaxClientBatch = size_t{1} << 16;
constexpr int kMaxThreads = 256;
constexpr size_t kWindow = 8;  // client batches in flight (below any link's buffer)
constexpr std::string_view kDstPrefix = "CONSORT-V01-UPSI-with-";
constexpr std::string_view kOutLabel = "CONSORT-V01-UPSI-OUT";
constexpr char kMetaFile[] = "meta.json";
constexpr char kKeyFile[] = "key.bin";
constexpr char kSetFile[] = "set.bin";
constexpr char kClientSetFile[] = "encoded_set.bin";
constexpr char kClientMetaFile[] = "encoded_set.json";

uint64_t NumBatches(uint64_t n, uint64_t batch) { return (n + batch - 1) / batch; }
uint64_t BatchCount(uint64_t n, uint64_t batch, uint64_t index) {
  return std::min<uint64_t>(batch, n - index * batch);
}

std::string Dst(const std::string& id_hex) {
  std::string dst(kDstPrefix);
  dst += crypto::kCurve25519NuSuite;
  dst += ":";
  dst += id_hex;
  return dst;
}

// F_k(x) from x and X25519(k, H(x)), truncated to T bytes (zero-padded to 16).
Value OutputValue(std::string_view x, const X25519Point& f, size_t t) {
  crypto::Sha256Hasher h;
  h.Update(kOutLabel);
  Bytes len;
  AppendU32(len, static_cast<uint32_t>(x.size()));
  h.Update(len);
  h.Update(x);
  h.Update(ByteSpan(f.data(), f.size()));
  crypto::Digest256 d = h.Finish();
  Value v{};
  std::memcpy(v.data(), d.data(), t);
  return v;
}

Status CheckCancelled(const std::atomic<bool>* c) {
  if (c != nullptr && c->load()) return absl::CancelledError("unbalanced PSI cancelled");
  return OkStatus();
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& a) {
  return HexEncode(ByteSpan(a.data(), N));
}

template <size_t N>
bool FromHex(const std::string& s, std::array<uint8_t, N>* out) {
  auto b = HexDecode(s);
  if (!b.ok() || b->size() != N) return false;
  std::memcpy(out->data(), b->data(), N);
  return true;
}

// Overwrites a file's contents with zeros and syncs it (best effort; no error if absent).
Status ZeroFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  if (f == nullptr) return OkStatus();
  std::fseek(f, 0, SEEK_END);
  const long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  std::vector<uint8_t> zeros(size > 0 ? static_cast<size_t>(size) : 0, 0);
  const bool ok = std::fwrite(zeros.data(), 1, zeros.size(), f) == zeros.size() &&
                  std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  std::fclose(f);
  if (!ok) return absl::InternalError("cannot overwrite " + path);
  return OkStatus();
}

}  // namespace

size_t UnbalancedPsiValueBytes(uint64_t n_server, uint64_t max_client) {
  const size_t bits = 40 + std::bit_width(n_server) + std::bit_width(max_client);
  return std::min<size_t>(16, (bits + 7) / 8);
}

uint64_t UnbalancedPsiClientBytesSent(uint64_t n_client, size_t batch) {
  return u::kClientHelloBytes + NumBatches(n_client, batch) * internal::kBatchHeaderBytes +
         n_client * kPointBytes;
}

uint64_t UnbalancedPsiServerBytesSent(uint64_t n_client, size_t batch, uint64_t encoded_bytes) {
  const uint64_t chunks = (encoded_bytes + u::kChunkBytes - 1) / u::kChunkBytes;
  return u::kServerHelloBytes + chunks * 5 + encoded_bytes +
         NumBatches(n_client, batch) * internal::kBatchHeaderBytes + n_client * kPointBytes;
}

// ---- server set

struct UnbalancedPsiServerSet::State {
  u::Id id{};
  std::string id_hex;
  crypto::SecretBytes key;
  std::optional<crypto::X25519Scalar> scalar;
  uint64_t n = 0;
  size_t value_bytes = 0;
  uint64_t max_client = 0;
  uint64_t encoded_bytes = 0;
  u::Digest digest{};
  std::optional<Bytes> blob;  // in memory after Prepare
  std::string blob_path;      // on disk after Load
  Json tag;
  double seconds = 0;
};

UnbalancedPsiServerSet::UnbalancedPsiServerSet(std::unique_ptr<State> s) : s_(std::move(s)) {}
UnbalancedPsiServerSet::UnbalancedPsiServerSet(UnbalancedPsiServerSet&&) noexcept = default;
UnbalancedPsiServerSet& UnbalancedPsiServerSet::operator=(UnbalancedPsiServerSet&&) noexcept =
    default;
UnbalancedPsiServerSet::~UnbalancedPsiServerSet() = default;

const std::string& UnbalancedPsiServerSet::id() const { return s_->id_hex; }
uint64_t UnbalancedPsiServerSet::size() const { return s_->n; }
size_t UnbalancedPsiServerSet::value_bytes() const { return s_->value_bytes; }
uint64_t UnbalancedPsiServerSet::max_client_size() const { return s_->max_client; }
uint64_t UnbalancedPsiServerSet::encoded_bytes() const { return s_->encoded_bytes; }
const Json& UnbalancedPsiServerSet::tag() const { return s_->tag; }
double UnbalancedPsiServerSet::prepare_seconds() const { return s_->seconds; }
const std::array<uint8_t, 32>& UnbalancedPsiServerSet::encoded_digest() const { return s_->digest; }

StatusOr<Bytes> UnbalancedPsiServerSet::EncodedSet() const {
  if (s_->blob) return *s_->blob;
  auto text = ReadFile(s_->blob_path);
  if (!text.ok()) {
    return absl::DataLossError("unbalanced PSI: cannot read the encoded set " + s_->blob_path +
                               ": " + std::string(text.status().message()));
  }
  Bytes blob(text->begin(), text->end());
  if (crypto::Sha256(blob) != s_->digest) {
    return absl::DataLossError("unbalanced PSI: " + s_->blob_path +
                               " does not match its recorded SHA-256");
  }
  return blob;
}

Status UnbalancedPsiServerSet::Evaluate(std::span<std::array<uint8_t, 32>> points) const {
  // The key is long-lived and faces every client: accept only points of the curve itself (X25519
  // is twist-secure, but there is no reason to compute on the twist with it).
  for (size_t i = 0; i < points.size(); ++i) {
    if (crypto::IsCanonicalX25519(points[i]) && !crypto::IsOnCurve25519(points[i])) {
      return absl::InvalidArgumentError("point " + std::to_string(i) +
                                        " is not on Curve25519 (twist point)");
    }
  }
  return s_->scalar->Multiply(points, points);
}

struct UnbalancedPsiServerSet::Builder::State {
  UnbalancedPsiPrepareOptions opts;
  std::unique_ptr<UnbalancedPsiServerSet::State> set;
  std::vector<crypto::Curve25519Encoder> encoders;
  std::vector<Value> values;
  std::chrono::steady_clock::time_point start;
  Status init;
};

UnbalancedPsiServerSet::Builder::Builder(const UnbalancedPsiPrepareOptions& opts)
    : s_(std::make_unique<State>()) {
  crypto::InitCrypto();
  s_->opts = opts;
  s_->start = std::chrono::steady_clock::now();
  if (opts.max_client_size < 1 || opts.max_client_size > kUnbalancedPsiMaxClientSize) {
    s_->init = absl::InvalidArgumentError("unbalanced PSI: max_client_size must be in [1, 2^24]");
    return;
  }
  if (opts.threads < 1 || opts.threads > kMaxThreads) {
    s_->init = absl::InvalidArgumentError("unbalanced PSI: threads must be in [1, 256]");
    return;
  }
  auto set = std::make_unique<UnbalancedPsiServerSet::State>();
  crypto::RandomBytes(set->id.data(), set->id.size());
  set->id_hex = Hex(set->id);
  set->key = crypto::SecretBytes(32);
  crypto::RandomBytes(set->key.data(), 32);
  auto scalar = crypto::X25519Scalar::FromBytes(set->key.span());
  if (!scalar.ok()) {
    s_->init = scalar.status();
    return;
  }
  set->scalar.emplace(*std::move(scalar));
  set->max_client = opts.max_client_size;
  const std::string dst = Dst(set->id_hex);
  for (int t = 0; t < opts.threads; ++t) {
    auto enc = crypto::Curve25519Encoder::Create(AsBytes(dst));
    if (!enc.ok()) {
      s_->init = enc.status();
      return;
    }
    s_->encoders.push_back(*std::move(enc));
  }
  if (opts.expected_items > 0) {
    s_->values.reserve(std::min<uint64_t>(opts.expected_items, kUnbalancedPsiMaxServerSize));
  }
  s_->set = std::move(set);
}

UnbalancedPsiServerSet::Builder::~Builder() = default;

Status UnbalancedPsiServerSet::Builder::Add(std::span<const std::string> items) {
  CONSORT_RETURN_IF_ERROR(s_->init);
  CONSORT_RETURN_IF_ERROR(CheckCancelled(s_->opts.cancelled));
  if (s_->values.size() + items.size() > kUnbalancedPsiMaxServerSize) {
    return absl::InvalidArgumentError("unbalanced PSI: the server set exceeds 2^32 - 1 items");
  }
  // Values are truncated to 16 bytes here and to T at Finish (T depends on the final count).
  const size_t base = s_->values.size();
  s_->values.resize(base + items.size());
  constexpr size_t kStep = 1024;  // points per Encode call (one batched inversion each)
  CONSORT_RETURN_IF_ERROR(ParallelFor(
      (items.size() + kStep - 1) / kStep, s_->opts.threads, [&](size_t b, size_t e, int t) {
        std::vector<X25519Point> pts(kStep);
        for (size_t blk = b; blk < e; ++blk) {
          const size_t lo = blk * kStep, hi = std::min(items.size(), lo + kStep);
          auto p = std::span<X25519Point>(pts).first(hi - lo);
          s_->encoders[t].Encode(items.subspan(lo, hi - lo), p);
          Status st = s_->set->scalar->Multiply(p, p);
          if (!st.ok()) return absl::InternalError("unbalanced PSI: " + std::string(st.message()));
          for (size_t k = lo; k < hi; ++k) {
            s_->values[base + k] = OutputValue(items[k], pts[k - lo], 16);
          }
        }
        return OkStatus();
      }));
  if (s_->opts.progress && s_->opts.expected_items > 0) {
    s_->opts.progress(std::min(0.95, 0.95 * static_cast<double>(s_->values.size()) /
                                         static_cast<double>(s_->opts.expected_items)));
  }
  return OkStatus();
}

StatusOr<UnbalancedPsiServerSet> UnbalancedPsiServerSet::Builder::Finish() {
  CONSORT_RETURN_IF_ERROR(s_->init);
  auto& set = *s_->set;
  set.n = s_->values.size();
  set.value_bytes = UnbalancedPsiValueBytes(set.n, set.max_client);
  for (auto& v : s_->values) std::fill(v.begin() + set.value_bytes, v.end(), 0);
  std::sort(s_->values.begin(), s_->values.end());
  if (s_->opts.dedupe) {
    // Equal items give equal values (the rare truncation collision of two distinct items is
    // merged too: the client could not tell them apart anyway).
    s_->values.erase(std::unique(s_->values.begin(), s_->values.end()), s_->values.end());
    set.n = s_->values.size();
    if (set.value_bytes != UnbalancedPsiValueBytes(set.n, set.max_client)) {
      // Fewer items may need fewer bytes: keep the formula exact for Load's check.
      set.value_bytes = UnbalancedPsiValueBytes(set.n, set.max_client);
      for (auto& v : s_->values) std::fill(v.begin() + set.value_bytes, v.end(), 0);
      s_->values.erase(std::unique(s_->values.begin(), s_->values.end()), s_->values.end());
      set.n = s_->values.size();
    }
  } else if (std::adjacent_find(s_->values.begin(), s_->values.end()) != s_->values.end()) {
    return absl::InvalidArgumentError(
        "unbalanced PSI: the server set has duplicate items (across input batches); PSI input "
        "must be distinct");
  }
  Bytes blob = u::SerializeEncodedSet(set.id, set.value_bytes, set.max_client, s_->values);
  s_->values = {};
  set.encoded_bytes = blob.size();
  set.digest = crypto::Sha256(blob);
  set.blob = std::move(blob);
  set.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s_->start).count();
  if (s_->opts.progress) s_->opts.progress(1.0);
  return UnbalancedPsiServerSet(std::move(s_->set));
}

StatusOr<UnbalancedPsiServerSet> UnbalancedPsiServerSet::Prepare(
    const std::vector<std::string>& items, const UnbalancedPsiPrepareOptions& opts) {
  UnbalancedPsiPrepareOptions o = opts;
  if (o.expected_items == 0) o.expected_items = items.size();
  Builder b(o);
  constexpr size_t kChunk = size_t{1} << 16;
  for (size_t i = 0; i < items.size(); i += kChunk) {
    CONSORT_RETURN_IF_ERROR(
        b.Add(std::span<const std::string>(items).subspan(i, std::min(kChunk, items.size() - i))));
  }
  return b.Finish();
}

Status UnbalancedPsiServerSet::Wipe(const std::string& dir) {
  CONSORT_RETURN_IF_ERROR(ZeroFile(JoinPath(dir, kKeyFile)));
  std::error_code ec;
  for (const char* f : {kMetaFile, kKeyFile, kSetFile}) {
    std::filesystem::remove(JoinPath(dir, f), ec);
    if (ec) return absl::InternalError("cannot remove " + JoinPath(dir, f) + ": " + ec.message());
  }
  return OkStatus();
}

Status UnbalancedPsiServerSet::Save(const std::string& dir, const Json& tag) const {
  if (!s_->blob) return absl::FailedPreconditionError("unbalanced PSI: only a fresh set is saved");
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // The old key is wiped and the old meta removed first: a crash midway leaves no valid set.
  CONSORT_RETURN_IF_ERROR(Wipe(dir));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(
      JoinPath(dir, kKeyFile),
      std::string_view(reinterpret_cast<const char*>(s_->key.data()), s_->key.size()), 0600));
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(
      JoinPath(dir, kSetFile),
      std::string_view(reinterpret_cast<const char*>(s_->blob->data()), s_->blob->size()), 0600));
  Json meta = {{"version", kUnbalancedPsiVersion},
               {"id", s_->id_hex},
               {"items", s_->n},
               {"value_bytes", s_->value_bytes},
               {"max_client_size", s_->max_client},
               {"encoded_bytes", s_->encoded_bytes},
               {"encoded_sha256", Hex(s_->digest)},
               {"key_sha256", Hex(crypto::Sha256(s_->key.span()))},
               {"prepare_seconds", s_->seconds},
               {"tag", tag}};
  s_->tag = tag;
  return WriteFileAtomic(JoinPath(dir, kMetaFile), meta.dump(2) + "\n", 0600);
}

StatusOr<UnbalancedPsiServerSet> UnbalancedPsiServerSet::Load(const std::string& dir) {
  crypto::InitCrypto();
  const std::string meta_path = JoinPath(dir, kMetaFile);
  CONSORT_ASSIGN_OR_RETURN(std::string text, ReadFile(meta_path));  // NotFound if none
  auto corrupt = [&](const std::string& what) {
    return absl::DataLossError("unbalanced PSI preprocessing in " + dir + " is corrupt: " + what);
  };
  auto meta = ParseJson(text, meta_path);
  if (!meta.ok() || !meta->is_object()) return corrupt("meta.json does not parse");
  auto s = std::make_unique<State>();
  try {
    if ((*meta)["version"].get<uint32_t>() != kUnbalancedPsiVersion) {
      return corrupt("version");
    }
    s->id_hex = (*meta)["id"].get<std::string>();
    s->n = (*meta)["items"].get<uint64_t>();
    s->value_bytes = (*meta)["value_bytes"].get<size_t>();
    s->max_client = (*meta)["max_client_size"].get<uint64_t>();
    s->encoded_bytes = (*meta)["encoded_bytes"].get<uint64_t>();
    s->seconds = (*meta)["prepare_seconds"].get<double>();
    s->tag = (*meta)["tag"];
    u::Digest key_hash{};
    if (!FromHex(s->id_hex, &s->id) ||
        !FromHex((*meta)["encoded_sha256"].get<std::string>(), &s->digest) ||
        !FromHex((*meta)["key_sha256"].get<std::string>(), &key_hash)) {
      return corrupt("bad hex field");
    }
    if (s->value_bytes != UnbalancedPsiValueBytes(s->n, s->max_client)) {
      return corrupt("value_bytes does not match items and max_client_size");
    }
    auto key = ReadFile(JoinPath(dir, kKeyFile));
    if (!key.ok() || key->size() != 32) return corrupt("key.bin missing or not 32 bytes");
    s->key = crypto::SecretBytes(reinterpret_cast<const uint8_t*>(key->data()), 32);
    crypto::SecureWipe(key->data(), key->size());
    if (crypto::Sha256(s->key.span()) != key_hash) return corrupt("key.bin does not match");
  } catch (const Json::exception& e) {
    return corrupt(std::string("meta.json: ") + e.what());
  }
  s->blob_path = JoinPath(dir, kSetFile);
  struct stat st {};
  if (::stat(s->blob_path.c_str(), &st) != 0 ||
      static_cast<uint64_t>(st.st_size) != s->encoded_bytes) {
    return corrupt("set.bin missing or of the wrong size");
  }
  auto scalar = crypto::X25519Scalar::FromBytes(s->key.span());
  if (!scalar.ok()) return corrupt("key");
  s->scalar.emplace(*std::move(scalar));
  return UnbalancedPsiServerSet(std::move(s));
}

StatusOr<UnbalancedPsiServerSet> LoadOrPrepareUnbalancedPsiSet(
    const std::string& dir, const Json& tag,
    const std::function<Status(UnbalancedPsiServerSet::Builder&)>& feed,
    const UnbalancedPsiPrepareOptions& opts, bool* reused) {
  *reused = false;
  // One job at a time checks or rebuilds a preprocessing: a concurrent job over the same
  // dataset waits here and then reuses what the first one prepared.
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  const std::string lock_path = JoinPath(dir, "lock");
  const int lock_fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX) != 0) {
    if (lock_fd >= 0) ::close(lock_fd);
    return absl::InternalError("unbalanced PSI: cannot lock " + lock_path);
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // releases the flock
  } unlock{lock_fd};
  auto loaded = UnbalancedPsiServerSet::Load(dir);
  if (loaded.ok() && loaded->tag() == tag && loaded->max_client_size() == opts.max_client_size) {
    *reused = true;
    return loaded;
  }
  if (!loaded.ok() && loaded.status().code() != absl::StatusCode::kNotFound &&
      loaded.status().code() != absl::StatusCode::kDataLoss) {
    return loaded.status();
  }
  // Wipe the old key before preparing: a failed preparation must not leave it behind.
  CONSORT_RETURN_IF_ERROR(UnbalancedPsiServerSet::Wipe(dir));
  UnbalancedPsiServerSet::Builder builder(opts);
  CONSORT_RETURN_IF_ERROR(feed(builder));
  CONSORT_ASSIGN_OR_RETURN(UnbalancedPsiServerSet set, builder.Finish());
  CONSORT_RETURN_IF_ERROR(set.Save(dir, tag));
  return set;
}

// ---- the server side of a job

StatusOr<UnbalancedPsiServerResult> RunUnbalancedPsiServer(net::Link& link,
                                                           const UnbalancedPsiServerSet& set,
                                                           const UnbalancedPsiServerOptions& opts) {
  crypto::InitCrypto();
  const uint64_t sent_before = link.bytes_sent();
  auto run = [&]() -> StatusOr<UnbalancedPsiServerResult> {
    if (opts.threads < 1 || opts.threads > kMaxThreads) {
      return absl::InvalidArgumentError("unbalanced PSI: threads must be in [1, 256]");
    }
    UnbalancedPsiServerResult r;
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link.Recv());
    CONSORT_ASSIGN_OR_RETURN(u::ClientHello ch, u::DecodeClientHello(raw));
    u::ServerHello sh;
    sh.version = kUnbalancedPsiVersion;
    sh.domain_hash = crypto::Sha256(std::string_view(opts.domain));
    if (!FromHex(set.id(), &sh.id)) return absl::InternalError("bad set id");
    sh.set_size = set.size();
    sh.value_bytes = static_cast<uint8_t>(set.value_bytes());
    sh.max_client_size = set.max_client_size();
    sh.encoded_bytes = set.encoded_bytes();
    sh.digest = set.encoded_digest();
    sh.sending = !(ch.cached_id == sh.id && ch.cached_digest == sh.digest);
    CONSORT_RETURN_IF_ERROR(link.Send(u::EncodeServerHello(sh)));
    if (ch.version != kUnbalancedPsiVersion) {
      return absl::FailedPreconditionError("unbalanced PSI: the client runs protocol version " +
                                           std::to_string(ch.version));
    }
    if (ch.domain_hash != sh.domain_hash) {
      return absl::FailedPreconditionError(
          "unbalanced PSI: the client runs a different domain (job id)");
    }
    if (ch.set_size > set.max_client_size()) {
      return absl::InvalidArgumentError("unbalanced PSI: the client brings " +
                                        std::to_string(ch.set_size) +
                                        " items, above the preprocessing's max_client_size " +
                                        std::to_string(set.max_client_size()));
    }
    if (ch.batch_size < 1 || ch.batch_size > kMaxClientBatch) {
      return absl::InvalidArgumentError("unbalanced PSI: client batch size " +
                                        std::to_string(ch.batch_size) + " out of range");
    }
    r.client_size = ch.set_size;
    if (sh.sending) {
      CONSORT_ASSIGN_OR_RETURN(Bytes blob, set.EncodedSet());
      for (uint64_t off = 0, i = 0; off < blob.size(); off += u::kChunkBytes, ++i) {
        CONSORT_RETURN_IF_ERROR(CheckCancelled(opts.cancelled));
        Bytes msg{u::kChunk};
        AppendU32(msg, static_cast<uint32_t>(i));
        const size_t len = std::min<uint64_t>(u::kChunkBytes, blob.size() - off);
        msg.insert(msg.end(), blob.begin() + off, blob.begin() + off + len);
        CONSORT_RETURN_IF_ERROR(link.Send(msg));
      }
      r.sent_encoded_set = true;
    }
    const uint64_t batches = NumBatches(ch.set_size, ch.batch_size);
    for (uint64_t i = 0; i < batches; ++i) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled(opts.cancelled));
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
      CONSORT_ASSIGN_OR_RETURN(internal::BatchView b, internal::DecodeBatch(msg));
      const uint64_t want = BatchCount(ch.set_size, ch.batch_size, i);
      if (b.type != u::kBlinded || b.index != i || b.count != want ||
          b.payload.size() != want * kPointBytes) {
        return absl::InvalidArgumentError(
            "unbalanced PSI: malformed blinded batch " + std::to_string(i) + " (type " +
            std::to_string(b.type) + ", index " + std::to_string(b.index) + ", " +
            std::to_string(b.count) + " elements in " + std::to_string(b.payload.size()) +
            " bytes; expected " + std::to_string(want) + ")");
      }
      std::vector<X25519Point> pts(want);
      std::memcpy(pts.data(), b.payload.data(), b.payload.size());
      CONSORT_RETURN_IF_ERROR(ParallelFor(want, opts.threads, [&](size_t s, size_t e, int) {
        Status st = set.Evaluate(std::span<X25519Point>(pts).subspan(s, e - s));
        if (!st.ok()) {
          return absl::InvalidArgumentError("unbalanced PSI: bad blinded point from the client: " +
                                            std::string(st.message()));
        }
        return OkStatus();
      }));
      CONSORT_RETURN_IF_ERROR(link.Send(internal::EncodeBatch(
          u::kEvaluated, static_cast<uint32_t>(i), static_cast<uint32_t>(want),
          ByteSpan(pts[0].data(), want * kPointBytes))));
      if (opts.progress) opts.progress(static_cast<double>(i + 1) / batches);
    }
    if (opts.progress) opts.progress(1.0);
    return r;
  };
  auto r = run();
  if (!r.ok()) {
    link.Close();
    return r.status();
  }
  r->bytes_sent = link.bytes_sent() - sent_before;
  return r;
}

// ---- the client side of a job

namespace {

struct ClientCache {
  u::Id id{};
  u::Digest digest{};
  bool present = false;
};

ClientCache ReadClientCache(const std::string& dir) {
  ClientCache c;
  if (dir.empty()) return c;
  auto text = ReadFile(JoinPath(dir, kClientMetaFile));
  if (!text.ok()) return c;
  auto j = ParseJson(*text, kClientMetaFile);
  if (!j.ok() || !j->is_object() || !(*j)["id"].is_string() || !(*j)["sha256"].is_string()) {
    return c;
  }
  c.present = FromHex((*j)["id"].get<std::string>(), &c.id) &&
              FromHex((*j)["sha256"].get<std::string>(), &c.digest);
  if (!c.present) c = ClientCache{};
  return c;
}

void RemoveClientCache(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove(JoinPath(dir, kClientMetaFile), ec);
  std::filesystem::remove(JoinPath(dir, kClientSetFile), ec);
}

Status WriteClientCache(const std::string& dir, const u::ServerHello& sh, const Bytes& blob) {
  CONSORT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  RemoveClientCache(dir);
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(
      JoinPath(dir, kClientSetFile),
      std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()), 0600));
  Json meta = {{"id", Hex(sh.id)}, {"sha256", Hex(sh.digest)}, {"items", sh.set_size}};
  return WriteFileAtomic(JoinPath(dir, kClientMetaFile), meta.dump() + "\n", 0600);
}

}  // namespace

StatusOr<UnbalancedPsiClientResult> RunUnbalancedPsiClient(net::Link& link,
                                                           const std::vector<std::string>& items,
                                                           const UnbalancedPsiClientOptions& opts) {
  crypto::InitCrypto();
  auto run = [&]() -> StatusOr<UnbalancedPsiClientResult> {
    if (opts.batch_size < 1 || opts.batch_size > kMaxClientBatch) {
      return absl::InvalidArgumentError("unbalanced PSI: batch_size must be in [1, 65536]");
    }
    if (opts.threads < 1 || opts.threads > kMaxThreads) {
      return absl::InvalidArgumentError("unbalanced PSI: threads must be in [1, 256]");
    }
    if (items.size() > kUnbalancedPsiMaxClientSize) {
      return absl::InvalidArgumentError("unbalanced PSI: the client set exceeds 2^24 items");
    }
    {
      std::unordered_map<std::string_view, size_t> seen;
      seen.reserve(items.size());
      for (size_t i = 0; i < items.size(); ++i) {
        auto [it, inserted] = seen.emplace(items[i], i);
        if (!inserted) {
          return absl::InvalidArgumentError("unbalanced PSI: items " + std::to_string(it->second) +
                                            " and " + std::to_string(i) +
                                            " are equal; PSI input must be distinct");
        }
      }
    }
    UnbalancedPsiClientResult r;
    const ClientCache cache = ReadClientCache(opts.cache_dir);
    u::ClientHello ch;
    ch.version = kUnbalancedPsiVersion;
    ch.domain_hash = crypto::Sha256(std::string_view(opts.domain));
    ch.set_size = items.size();
    ch.batch_size = static_cast<uint32_t>(opts.batch_size);
    if (cache.present) {
      ch.cached_id = cache.id;
      ch.cached_digest = cache.digest;
    }
    CONSORT_RETURN_IF_ERROR(link.Send(u::EncodeClientHello(ch)));
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, link.Recv());
    CONSORT_ASSIGN_OR_RETURN(u::ServerHello sh, u::DecodeServerHello(raw));
    if (sh.version != kUnbalancedPsiVersion) {
      return absl::FailedPreconditionError("unbalanced PSI: the server runs protocol version " +
                                           std::to_string(sh.version));
    }
    if (sh.domain_hash != ch.domain_hash) {
      return absl::FailedPreconditionError(
          "unbalanced PSI: the server runs a different domain (job id)");
    }
    if (sh.set_size > kUnbalancedPsiMaxServerSize || sh.max_client_size < 1 ||
        sh.max_client_size > kUnbalancedPsiMaxClientSize ||
        sh.value_bytes != UnbalancedPsiValueBytes(sh.set_size, sh.max_client_size)) {
      return absl::InvalidArgumentError("unbalanced PSI: inconsistent server hello (" +
                                        std::to_string(sh.set_size) +
                                        " items, T = " + std::to_string(sh.value_bytes) + ")");
    }
    if (items.size() > sh.max_client_size) {
      return absl::InvalidArgumentError(
          "unbalanced PSI: " + std::to_string(items.size()) +
          " client items exceed the server preprocessing's max_client_size " +
          std::to_string(sh.max_client_size));
    }
    // Bound what an untrusted server can make us buffer: the directory plus 16 B per item.
    const uint64_t max_blob = u::kSetHeaderBytes + 4 * 65537 + 16 * sh.set_size;
    if (sh.encoded_bytes > max_blob) {
      return absl::InvalidArgumentError("unbalanced PSI: announced encoded set too large");
    }
    r.server_set_id = Hex(sh.id);
    r.psi.peer_size = sh.set_size;
    Bytes blob;
    if (sh.sending) {
      if (sh.encoded_bytes > opts.max_encoded_bytes) {
        return absl::InvalidArgumentError("unbalanced PSI: the server's encoded set of " +
                                          std::to_string(sh.encoded_bytes) +
                                          " bytes exceeds this client's max_encoded_bytes " +
                                          std::to_string(opts.max_encoded_bytes));
      }
      // Grows with what actually arrives, not with what the server announced.
      blob.reserve(std::min<uint64_t>(sh.encoded_bytes, uint64_t{64} << 20));
      for (uint32_t i = 0; blob.size() < sh.encoded_bytes; ++i) {
        CONSORT_RETURN_IF_ERROR(CheckCancelled(opts.cancelled));
        CONSORT_ASSIGN_OR_RETURN(Bytes chunk, link.Recv());
        const size_t want = std::min<uint64_t>(u::kChunkBytes, sh.encoded_bytes - blob.size());
        if (chunk.size() != 5 + want || chunk[0] != u::kChunk || ReadU32(&chunk[1]) != i) {
          return absl::InvalidArgumentError("unbalanced PSI: malformed encoded-set chunk " +
                                            std::to_string(i));
        }
        blob.insert(blob.end(), chunk.begin() + 5, chunk.end());
      }
      if (crypto::Sha256(blob) != sh.digest) {
        return absl::InvalidArgumentError(
            "unbalanced PSI: the encoded set does not match the server's digest");
      }
      r.encoded_bytes_received = blob.size();
    } else {
      if (!cache.present || cache.id != sh.id || cache.digest != sh.digest) {
        return absl::InvalidArgumentError(
            "unbalanced PSI: the server did not send its encoded set, which this client has "
            "not cached");
      }
      auto text = ReadFile(JoinPath(opts.cache_dir, kClientSetFile));
      if (text.ok()) blob.assign(text->begin(), text->end());
      if (!text.ok() || crypto::Sha256(blob) != sh.digest) {
        RemoveClientCache(opts.cache_dir);
        return absl::DataLossError("unbalanced PSI: the cached encoded set in " + opts.cache_dir +
                                   " is missing or corrupt (removed; the next job fetches it)");
      }
      r.used_cached_set = true;
    }
    CONSORT_ASSIGN_OR_RETURN(u::EncodedSetView view, u::ParseEncodedSet(blob));
    if (view.id != sh.id || view.n != sh.set_size || view.value_bytes != sh.value_bytes ||
        view.max_client_size != sh.max_client_size) {
      return absl::InvalidArgumentError(
          "unbalanced PSI: the encoded set's header does not "
          "match the server hello");
    }
    if (sh.sending && !opts.cache_dir.empty()) {
      CONSORT_RETURN_IF_ERROR(WriteClientCache(opts.cache_dir, sh, blob));
    }

    // OPRF: blind, have the server apply k, unblind.
    CONSORT_ASSIGN_OR_RETURN(crypto::X25519BlindPair pair, crypto::GenerateX25519BlindPair());
    CONSORT_ASSIGN_OR_RETURN(crypto::X25519Scalar blind,
                             crypto::X25519Scalar::FromBytes(pair.blind.span()));
    CONSORT_ASSIGN_OR_RETURN(crypto::X25519Scalar unblind,
                             crypto::X25519Scalar::FromBytes(pair.unblind.span()));
    const size_t n = items.size();
    std::vector<X25519Point> pts(n);
    {
      std::vector<crypto::Curve25519Encoder> enc;
      for (int t = 0; t < opts.threads; ++t) {
        CONSORT_ASSIGN_OR_RETURN(auto e,
                                 crypto::Curve25519Encoder::Create(AsBytes(Dst(Hex(sh.id)))));
        enc.push_back(std::move(e));
      }
      CONSORT_RETURN_IF_ERROR(ParallelFor(n, opts.threads, [&](size_t b, size_t e, int t) {
        auto p = std::span<X25519Point>(pts).subspan(b, e - b);
        enc[t].Encode(std::span<const std::string>(items).subspan(b, e - b), p);
        Status st = blind.Multiply(p, p);
        if (!st.ok())
          return absl::InternalError("unbalanced PSI: blinding: " + std::string(st.message()));
        return OkStatus();
      }));
    }
    const uint64_t batches = NumBatches(n, opts.batch_size);
    uint64_t sent = 0, received = 0;
    while (received < batches) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled(opts.cancelled));
      if (sent < batches && sent - received < kWindow) {
        const size_t begin = sent * opts.batch_size, count = BatchCount(n, opts.batch_size, sent);
        CONSORT_RETURN_IF_ERROR(link.Send(internal::EncodeBatch(
            u::kBlinded, static_cast<uint32_t>(sent), static_cast<uint32_t>(count),
            ByteSpan(pts[begin].data(), count * kPointBytes))));
        ++sent;
        continue;
      }
      CONSORT_ASSIGN_OR_RETURN(Bytes msg, link.Recv());
      CONSORT_ASSIGN_OR_RETURN(internal::BatchView b, internal::DecodeBatch(msg));
      const uint64_t want = BatchCount(n, opts.batch_size, received);
      if (b.type != u::kEvaluated || b.index != received || b.count != want ||
          b.payload.size() != want * kPointBytes) {
        return absl::InvalidArgumentError("unbalanced PSI: malformed evaluated batch " +
                                          std::to_string(received) + " from the server");
      }
      const size_t begin = received * opts.batch_size;
      std::memcpy(pts[begin].data(), b.payload.data(), b.payload.size());
      ++received;
      if (opts.progress) opts.progress(0.9 * received / batches);
    }
    CONSORT_RETURN_IF_ERROR(ParallelFor(n, opts.threads, [&](size_t b, size_t e, int) {
      auto p = std::span<X25519Point>(pts).subspan(b, e - b);
      for (size_t i = 0; i < p.size(); ++i) {
        if (crypto::IsCanonicalX25519(p[i]) && !crypto::IsOnCurve25519(p[i])) {
          return absl::InvalidArgumentError("unbalanced PSI: evaluated point " +
                                            std::to_string(b + i) +
                                            " from the server is not on Curve25519");
        }
      }
      Status st = unblind.Multiply(p, p);
      if (!st.ok()) {
        return absl::InvalidArgumentError("unbalanced PSI: bad evaluated point from the server: " +
                                          std::string(st.message()));
      }
      return OkStatus();
    }));
    for (size_t i = 0; i < n; ++i) {
      const Value v = OutputValue(items[i], pts[i], view.value_bytes);
      if (view.Contains(v.data())) r.psi.matched.push_back(i);
    }
    r.psi.intersection_size = r.psi.matched.size();
    if (opts.progress) opts.progress(1.0);
    return r;
  };
  auto r = run();
  if (!r.ok()) link.Close();
  return r;
}

}  // namespace consort::psi
