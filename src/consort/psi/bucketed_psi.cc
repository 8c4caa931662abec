#include "consort/psi/bucketed_psi.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "consort/common/bytes.h"
#include "consort/common/files.h"
#include "consort/common/json.h"
#include "consort/common/logging.h"
#include "consort/crypto/hash.h"
#include "consort/crypto/random.h"
#include "consort/data/csv.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/internal/bucket_loader_stats.h"
#include "consort/psi/internal/bucketed_psi_wire.h"
#include "consort/psi/internal/scratch_files.h"
#include "consort/psi/internal/size_only_psi.h"

namespace consort::psi {
namespace {

using internal::AppendToFile;
using internal::FileReader;
using internal::FileWriter;
using internal::IoError;
using internal::kIoBytes;
using internal::LocalPhase;

constexpr size_t kRecordHeader = 8 + 8 + 4 + 4;  // hash, row, line, key length
constexpr char kSpillFile[] = "keys.spill";
constexpr char kResultsFile[] = "matched.rows";
constexpr char kCheckpointFile[] = "checkpoint.json";
constexpr char kCheckpointFormat[] = "consort-bucketed-ecdh-psi-checkpoint-v1";

std::string BucketFile(uint32_t i) { return "bucket." + std::to_string(i); }

bool Receives(PsiOutput o) { return o != PsiOutput::kNone; }

// One spilled key: the bucket hash, the 0-based input row, its file line (0 if none), the key.
struct Record {
  uint64_t hash = 0;
  uint64_t row = 0;
  uint32_t line = 0;
  std::string key;
};

void EncodeRecord(std::string& out, uint64_t hash, uint64_t row, uint32_t line,
                  std::string_view key) {
  uint8_t h[kRecordHeader];
  for (int i = 0; i < 8; ++i) h[i] = static_cast<uint8_t>(hash >> (8 * i));
  for (int i = 0; i < 8; ++i) h[8 + i] = static_cast<uint8_t>(row >> (8 * i));
  for (int i = 0; i < 4; ++i) h[16 + i] = static_cast<uint8_t>(line >> (8 * i));
  const uint32_t len = static_cast<uint32_t>(key.size());
  for (int i = 0; i < 4; ++i) h[20 + i] = static_cast<uint8_t>(len >> (8 * i));
  out.append(reinterpret_cast<const char*>(h), kRecordHeader);
  out.append(key);
}

// Reads the next record; false at the end.
StatusOr<bool> ReadRecord(FileReader& in, Record* rec) {
  uint8_t h[kRecordHeader];
  CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(h, kRecordHeader));
  if (!more) return false;
  rec->hash = ReadU64(h);
  rec->row = ReadU64(h + 8);
  rec->line = ReadU32(h + 16);
  const uint32_t len = ReadU32(h + 20);
  rec->key.resize(len);
  CONSORT_ASSIGN_OR_RETURN(bool full, in.Read(rec->key.data(), len));
  if (!full && len > 0) return absl::DataLossError("spill file: truncated record");
  return true;
}

// ---- bucket hash ---------------------------------------------------------------------------

class BucketHasher {
 public:
  explicit BucketHasher(std::string_view domain) {
    base_.Update(std::string_view("CONSORT-V01-PSI-BUCKET"));
    Bytes len;
    AppendU64(len, domain.size());
    base_.Update(ByteSpan(len.data(), len.size()));
    base_.Update(domain);
  }
  uint64_t Hash(std::string_view key) const {
    crypto::Sha256Hasher h = base_;
    h.Update(key);
    crypto::Digest256 d = h.Finish();
    return ReadU64(d.data());
  }

 private:
  crypto::Sha256Hasher base_;
};

uint32_t IndexOf(uint64_t hash, uint32_t buckets) {
  return static_cast<uint32_t>((static_cast<unsigned __int128>(hash) * buckets) >> 64);
}

// ---- checkpoint ----------------------------------------------------------------------------

struct Totals {
  uint64_t results_bytes = 0;
  uint64_t intersection = 0;
  uint64_t matched_rows = 0;
  uint64_t peer_keys = 0;
  Json ToJson() const {
    return {{"results_bytes", results_bytes},
            {"intersection", intersection},
            {"matched_rows", matched_rows},
            {"peer_keys", peer_keys}};
  }
  static std::optional<Totals> FromJson(const Json& j) {
    if (!j.is_object()) return std::nullopt;
    Totals t;
    for (auto [name, field] : {std::pair{"results_bytes", &t.results_bytes},
                               std::pair{"intersection", &t.intersection},
                               std::pair{"matched_rows", &t.matched_rows},
                               std::pair{"peer_keys", &t.peer_keys}}) {
      if (!j.contains(name) || !j[name].is_number_unsigned()) return std::nullopt;
      *field = j[name].get<uint64_t>();
    }
    return t;
  }
};

struct Checkpoint {
  uint32_t done = 0;  // buckets finished
  Totals now;         // after bucket done - 1
  Totals prev;        // after bucket done - 2 (the peer may be one bucket behind)
};

// What a checkpoint is bound to.
struct Binding {
  std::string job, input, keys, outputs;
  uint32_t buckets = 0;
};

Json CheckpointBody(const Binding& b, const Checkpoint& c) {
  return {{"format", kCheckpointFormat}, {"job", b.job},         {"input", b.input},
          {"keys", b.keys},              {"outputs", b.outputs}, {"buckets", b.buckets},
          {"done", c.done},              {"now", c.now.ToJson()}, {"prev", c.prev.ToJson()}};
}

StatusOr<std::string> CheckpointDigest(const Json& body) {
  CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(body));
  return crypto::Sha256Hex(canonical);
}

Status WriteCheckpoint(const std::string& path, const Binding& b, const Checkpoint& c) {
  Json body = CheckpointBody(b, c);
  CONSORT_ASSIGN_OR_RETURN(std::string digest, CheckpointDigest(body));
  body["digest"] = digest;
  return WriteFileAtomic(path, body.dump(), 0600);
}

// The checkpoint at `path` if it exists, is intact and is bound to `b`; otherwise nullopt and
// *why says why it was ignored ("" when there was none). Never names values.
std::optional<Checkpoint> ReadCheckpoint(const std::string& path, const Binding& b,
                                         uint64_t results_size, std::string* why) {
  why->clear();
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() != absl::StatusCode::kNotFound) *why = "unreadable";
    return std::nullopt;
  }
  StatusOr<Json> j = ParseJson(*text, "checkpoint");
  if (!j.ok() || !j->is_object() || !j->contains("digest") || !(*j)["digest"].is_string()) {
    *why = "corrupt";
    return std::nullopt;
  }
  Json body = *j;
  const std::string digest = body["digest"].get<std::string>();
  body.erase("digest");
  StatusOr<std::string> want = CheckpointDigest(body);
  if (!want.ok() || *want != digest) {
    *why = "corrupt (digest mismatch)";
    return std::nullopt;
  }
  auto str = [&](const char* k) { return body.value(k, std::string()); };
  if (str("format") != kCheckpointFormat) {
    *why = "of an unknown format";
  } else if (str("job") != b.job) {
    *why = "from another job";
  } else if (str("input") != b.input) {
    *why = "from another input (the dataset changed)";
  } else if (str("keys") != b.keys) {
    *why = "for other key columns or options";
  } else if (str("outputs") != b.outputs) {
    *why = "for other outputs";
  } else if (!body["buckets"].is_number_unsigned() || body["buckets"].get<uint64_t>() != b.buckets) {
    *why = "for another bucket count";
  }
  if (!why->empty()) return std::nullopt;
  Checkpoint c;
  auto now = Totals::FromJson(body.value("now", Json()));
  auto prev = Totals::FromJson(body.value("prev", Json()));
  if (!body["done"].is_number_unsigned() || !now || !prev ||
      body["done"].get<uint64_t>() > b.buckets || now->results_bytes > results_size ||
      prev->results_bytes > now->results_bytes) {
    *why = "inconsistent with the results file";
    return std::nullopt;
  }
  c.done = static_cast<uint32_t>(body["done"].get<uint64_t>());
  c.now = *now;
  c.prev = *prev;
  return c;
}

// ---- one bucket's keys ---------------------------------------------------------------------

struct Duplicate {
  uint64_t first_row = 0, second_row = 0;
  uint32_t first_line = 0, second_line = 0;
};

struct BucketKeys {
  std::vector<std::string> keys;  // distinct, sorted
};

// The most distinct keys one LoadBucket call has held (internal/bucket_loader_stats.h).
std::atomic<uint64_t> g_loader_peak_keys{0};

void NotePeakKeys(uint64_t n) {
  uint64_t cur = g_loader_peak_keys.load(std::memory_order_relaxed);
  while (n > cur && !g_loader_peak_keys.compare_exchange_weak(cur, n)) {
  }
}

// Loads the distinct keys of a bucket file of `count` records, de-duplicating while it
// reads: memory is one entry per distinct key (which the budget accounts for), never one per
// record, however often a key repeats. Reports in *dup (if not null) the duplicate whose
// second occurrence comes first in the input (as data::ExtractKeys names it).
StatusOr<BucketKeys> LoadBucket(const std::string& path, uint64_t count,
                                std::optional<Duplicate>* dup) {
  BucketKeys out;
  if (count == 0) return out;
  // Per distinct key, its two earliest occurrences (row, line); the second is unset (row
  // UINT64_MAX) while the key has been seen once.
  struct Seen {
    uint64_t row1 = 0, row2 = UINT64_MAX;
    uint32_t line1 = 0, line2 = 0;
  };
  std::unordered_map<std::string, Seen> seen;
  FileReader in;
  CONSORT_RETURN_IF_ERROR(in.Open(path));
  Record r;
  uint64_t records = 0;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, ReadRecord(in, &r));
    if (!more) break;
    if (++records > count) break;
    auto [it, inserted] = seen.try_emplace(r.key);
    Seen& s = it->second;
    if (inserted) {
      s.row1 = r.row;
      s.line1 = r.line;
    } else if (r.row < s.row1) {
      s.row2 = s.row1;
      s.line2 = s.line1;
      s.row1 = r.row;
      s.line1 = r.line;
    } else if (r.row < s.row2) {
      s.row2 = r.row;
      s.line2 = r.line;
    }
  }
  NotePeakKeys(seen.size());
  if (records != count) {
    return absl::DataLossError(path + ": " + (records > count ? "more than " : "") +
                               std::to_string(std::min(records, count)) +
                               " records, expected " + std::to_string(count));
  }
  out.keys.reserve(seen.size());
  while (!seen.empty()) {
    auto node = seen.extract(seen.begin());
    const Seen& s = node.mapped();
    if (dup != nullptr && s.row2 != UINT64_MAX && (!*dup || s.row2 < (*dup)->second_row)) {
      *dup = Duplicate{s.row1, s.row2, s.line1, s.line2};
    }
    out.keys.push_back(std::move(node.key()));
  }
  std::sort(out.keys.begin(), out.keys.end());
  return out;
}

// Appends to `out` (u64 LE) the row of every record of the bucket file whose key is keys[k]
// for a k with matched[k] set, in the file's order; `keys` as LoadBucket returned them.
// Streams the file and the output: memory is the I/O buffers only, however many rows match.
// Returns the number of rows appended.
StatusOr<uint64_t> AppendMatchedRows(const std::string& path, const std::vector<std::string>& keys,
                                     const std::vector<bool>& matched, FileWriter& out) {
  if (std::find(matched.begin(), matched.end(), true) == matched.end()) return 0;
  FileReader in;
  CONSORT_RETURN_IF_ERROR(in.Open(path));
  Record r;
  uint64_t n = 0;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, ReadRecord(in, &r));
    if (!more) break;
    auto it = std::lower_bound(keys.begin(), keys.end(), r.key);
    if (it == keys.end() || *it != r.key) {
      return absl::DataLossError(path + ": the bucket file changed while it was used");
    }
    if (!matched[static_cast<size_t>(it - keys.begin())]) continue;
    uint8_t row[8];
    for (int i = 0; i < 8; ++i) row[i] = static_cast<uint8_t>(r.row >> (8 * i));
    CONSORT_RETURN_IF_ERROR(out.Append(std::string_view(reinterpret_cast<const char*>(row), 8)));
    ++n;
  }
  return n;
}

// ---- the run -------------------------------------------------------------------------------

class BucketedRun {
 public:
  BucketedRun(net::Link& link, const InputOpener& open_input, const BucketedPsiOptions& opts)
      : link_(link), open_input_(open_input), opts_(opts), hasher_(opts.domain) {}

  StatusOr<BucketedPsiResult> Run() {
    Status st = RunInternal();
    if (!st.ok()) {
      link_.Close();  // the peer fails promptly instead of waiting for a timeout
      return st;
    }
    return result_;
  }

 private:
  std::string Path(std::string_view name) const { return JoinPath(opts_.scratch_dir, name); }

  Status CheckCancelled() const {
    if (opts_.cancelled != nullptr && opts_.cancelled->load()) {
      return absl::CancelledError("bucketed ECDH-PSI cancelled");
    }
    return OkStatus();
  }

  void Progress(double f, const std::string& stage) const {
    if (opts_.progress) opts_.progress(f, stage);
  }

  Status ValidateOptions() const {
    if (opts_.memory_budget_mb < kMinMemoryBudgetMb ||
        opts_.memory_budget_mb > kMaxMemoryBudgetMb) {
      return absl::InvalidArgumentError(
          "memory_budget_mb must be in [" + std::to_string(kMinMemoryBudgetMb) + ", " +
          std::to_string(kMaxMemoryBudgetMb) + "], got " + std::to_string(opts_.memory_budget_mb));
    }
    if (opts_.force_buckets > kMaxBuckets) {
      return absl::InvalidArgumentError("buckets must be in [1, " + std::to_string(kMaxBuckets) +
                                        "], got " + std::to_string(opts_.force_buckets));
    }
    if (opts_.scratch_dir.empty()) {
      return absl::InvalidArgumentError("bucketed ECDH-PSI needs a scratch directory");
    }
    if (opts_.key_columns.empty()) return absl::InvalidArgumentError("no key columns given");
    return OkStatus();
  }

  Status RunInternal() {
    CONSORT_RETURN_IF_ERROR(ValidateOptions());
    {
      // Nothing but keepalives leaves before every key was checked.
      LocalPhase phase(link_);
      CONSORT_RETURN_IF_ERROR(SpillKeys());
      CONSORT_RETURN_IF_ERROR(PartitionAndCheck());
      CONSORT_RETURN_IF_ERROR(Plan(phase));
    }
    if (SizeOnly()) return RunSizeOnly();
    {
      LocalPhase phase(link_);
      CONSORT_RETURN_IF_ERROR(MakeBuckets());
      CONSORT_RETURN_IF_ERROR(AgreeOnStart(phase));
    }
    for (uint32_t b = result_.first_bucket; b < buckets_; ++b) {
      CONSORT_RETURN_IF_ERROR(RunBucket(b));
    }
    ::unlink(Path(kSpillFile).c_str());
    for (uint32_t b = 0; b < buckets_; ++b) {
      if (counts_[b] > 0) ::unlink(Path(BucketFile(b)).c_str());
    }
    Progress(1.0, "done");
    return OkStatus();
  }

  // 1. Stream the input, serialize and validate every key, spill it with its row and line.
  Status SpillKeys() {
    Progress(0.0, "reading keys");
    CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<data::TableReader> reader, open_input_());
    FileWriter out;
    CONSORT_RETURN_IF_ERROR(out.Open(Path(kSpillFile), /*append=*/false));
    data::KeyOptions ko = opts_.keys;
    ko.duplicates = data::DuplicateKeys::kDeduplicate;  // duplicates are found per bucket
    data::Table batch;
    std::string rec;
    while (true) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
      if (!more) break;
      if (rows_ == 0) {
        source_ = batch.source().empty() ? "<table>" : batch.source();
        has_lines_ = batch.has_row_lines();
      }
      CONSORT_ASSIGN_OR_RETURN(data::KeyedRows keys,
                               data::ExtractKeys(batch, opts_.key_columns, ko));
      for (size_t k = 0; k < keys.size(); ++k) {
        const uint64_t h = hasher_.Hash(keys.keys[k]);
        for (uint32_t r : keys.RowsFor(k)) {
          rec.clear();
          EncodeRecord(rec, h, rows_ + r, batch.row_line(r), keys.keys[k]);
          CONSORT_RETURN_IF_ERROR(out.Append(rec));
          key_bytes_ += keys.keys[k].size();
        }
      }
      rows_ += batch.num_rows();
      if (rows_ > kBucketedPsiMaxRows) {
        return absl::InvalidArgumentError(source_ + ": more than 2^40 rows");
      }
    }
    CONSORT_RETURN_IF_ERROR(out.Close());
    result_.my_rows = rows_;
    return OkStatus();
  }

  // 2. Exchange what decides B and check that both run the same job.
  Status Plan(LocalPhase& phase) {
    Progress(0.025, "planning buckets");
    internal::BucketPlan mine;
    mine.version = kBucketedPsiVersion;
    mine.rows = rows_;
    mine.need_mib = BucketNeedMib(rows_, key_bytes_);
    mine.budget_mb = static_cast<uint32_t>(opts_.memory_budget_mb);
    mine.force_buckets = opts_.force_buckets;
    mine.my_output = opts_.my_output;
    mine.peer_output = opts_.peer_output;
    mine.domain_hash = crypto::Sha256(std::string_view(opts_.domain));
    CONSORT_ASSIGN_OR_RETURN(Bytes raw, phase.Exchange(internal::EncodeBucketPlan(mine)));
    CONSORT_ASSIGN_OR_RETURN(internal::BucketPlan peer, internal::DecodeBucketPlan(raw));
    if (peer.version != kBucketedPsiVersion) {
      return absl::FailedPreconditionError("bucketed PSI: protocol version mismatch (mine " +
                                           std::to_string(kBucketedPsiVersion) + ", peer's " +
                                           std::to_string(peer.version) + ")");
    }
    if (peer.domain_hash != mine.domain_hash) {
      return absl::FailedPreconditionError("bucketed PSI: the peer runs a different job");
    }
    if (peer.my_output != opts_.peer_output || peer.peer_output != opts_.my_output) {
      return absl::FailedPreconditionError(
          "bucketed PSI: the peer's view of the outputs differs from mine");
    }
    if (peer.force_buckets != opts_.force_buckets) {
      return absl::FailedPreconditionError(
          "bucketed PSI: the peer forces " + std::to_string(peer.force_buckets) +
          " buckets, I force " + std::to_string(opts_.force_buckets) + " (0 = from the budget)");
    }
    if (peer.rows > kBucketedPsiMaxRows) {
      return absl::InvalidArgumentError("bucketed PSI: the peer announced " +
                                        std::to_string(peer.rows) + " rows, above 2^40");
    }
    if (peer.budget_mb < kMinMemoryBudgetMb || peer.budget_mb > kMaxMemoryBudgetMb) {
      return absl::InvalidArgumentError("bucketed PSI: the peer announced a memory budget of " +
                                        std::to_string(peer.budget_mb) + " MiB, out of range");
    }
    // A key is at most 4 GiB (data/keys.h): a need beyond that per row is a lie.
    const uint64_t max_key_bytes = peer.rows > (UINT64_MAX >> 32) ? UINT64_MAX : peer.rows << 32;
    if (peer.need_mib > BucketNeedMib(peer.rows, max_key_bytes)) {
      return absl::InvalidArgumentError("bucketed PSI: the peer announced an impossible size");
    }
    result_.peer_rows = peer.rows;
    if (SizeOnly()) {
      // Buckets are local only (the first pass's partitions): nothing is compared per bucket.
      buckets_ = parts_;
      result_.buckets = buckets_;
      return OkStatus();
    }
    buckets_ = opts_.force_buckets != 0
                   ? opts_.force_buckets
                   : BucketCount(rows_, mine.need_mib, opts_.memory_budget_mb, peer.rows,
                                 peer.need_mib, peer.budget_mb);
    if (opts_.force_buckets == 0) {
      const uint64_t cap = std::max<uint64_t>(1, std::min(rows_, peer.rows) / kMinKeysPerBucket);
      if (buckets_ > cap) {
        CONSORT_LOG(WARNING) << "bucketed ECDH-PSI: " << cap << " bucket(s) instead of " << buckets_
                             << " so that the smaller set keeps " << kMinKeysPerBucket
                             << "+ keys per bucket; the memory budget may be exceeded";
        buckets_ = static_cast<uint32_t>(cap);
      }
    }
    result_.buckets = buckets_;
    return OkStatus();
  }

  // 3. Split the spill into B bucket files, then find duplicates bucket by bucket.
  // Distributes the records of the files `inputs` (record counts `in_counts`) over `n` files
  // `<prefix>.<i>` by the bucket hash; the inputs are removed. Returns the counts per file.
  // Buffers take at most a quarter of the budget; files are appended to with one
  // open/write/close per flush (n may exceed the open-file limit).
  StatusOr<std::vector<uint64_t>> Distribute(const std::vector<std::string>& inputs,
                                             const std::string& prefix, uint32_t n) {
    std::vector<uint64_t> counts(n, 0);
    const size_t budget = opts_.memory_budget_mb << 20;
    const size_t cap = std::clamp<size_t>(budget / 4 / n, 1024, kIoBytes);
    std::vector<std::string> bufs(n);
    std::vector<bool> created(n, false);
    auto name = [&](uint32_t i) { return Path(prefix + "." + std::to_string(i)); };
    auto flush = [&](uint32_t b) -> Status {
      if (!created[b]) {
        // Truncate what an earlier run left behind.
        FileWriter w;
        CONSORT_RETURN_IF_ERROR(w.Open(name(b), /*append=*/false));
        CONSORT_RETURN_IF_ERROR(w.Close());
        created[b] = true;
      }
      CONSORT_RETURN_IF_ERROR(AppendToFile(name(b), bufs[b]));
      bufs[b].clear();
      return OkStatus();
    };
    Record r;
    uint64_t seen = 0;
    for (const std::string& input : inputs) {
      FileReader in;
      CONSORT_RETURN_IF_ERROR(in.Open(input));
      while (true) {
        if ((++seen & 0xFFFF) == 0) CONSORT_RETURN_IF_ERROR(CheckCancelled());
        CONSORT_ASSIGN_OR_RETURN(bool more, ReadRecord(in, &r));
        if (!more) break;
        const uint32_t b = IndexOf(r.hash, n);
        EncodeRecord(bufs[b], r.hash, r.row, r.line, r.key);
        ++counts[b];
        if (bufs[b].size() >= cap) CONSORT_RETURN_IF_ERROR(flush(b));
      }
    }
    for (uint32_t b = 0; b < n; ++b) {
      if (!bufs[b].empty()) CONSORT_RETURN_IF_ERROR(flush(b));
    }
    for (const std::string& input : inputs) ::unlink(input.c_str());
    return counts;
  }

  // 1b. Local partitions sized for this party's budget (its part of B, before the peer is
  // known), then the duplicate check partition by partition: equal keys share a partition.
  Status PartitionAndCheck() {
    // (Also when B is forced: a forced B may be far from what fits this party's budget.)
    parts_ = BucketCount(rows_, BucketNeedMib(rows_, key_bytes_), opts_.memory_budget_mb, 0, 0,
                         opts_.memory_budget_mb);
    Progress(0.01, "checking keys");
    CONSORT_ASSIGN_OR_RETURN(part_counts_, Distribute({Path(kSpillFile)}, "part", parts_));
    std::optional<Duplicate> dup;
    for (uint32_t p = 0; p < parts_; ++p) {
      CONSORT_RETURN_IF_ERROR(CheckCancelled());
      CONSORT_ASSIGN_OR_RETURN(BucketKeys keys,
                               LoadBucket(Path("part." + std::to_string(p)), part_counts_[p], &dup));
      result_.my_keys += keys.keys.size();
    }
    if (dup && opts_.keys.duplicates == data::DuplicateKeys::kError) {
      // The same message as data::ExtractKeys: lines (or rows), never the key.
      std::string columns;
      for (const auto& c : opts_.key_columns) columns += (columns.empty() ? "" : ", ") + c;
      auto num = [&](uint64_t row, uint32_t line) {
        return std::to_string(has_lines_ ? uint64_t{line} : row + 1);
      };
      return absl::InvalidArgumentError(
          source_ + ": duplicate key in column(s) " + columns + " at " +
          (has_lines_ ? "lines " : "rows ") + num(dup->first_row, dup->first_line) + " and " +
          num(dup->second_row, dup->second_line));
    }
    return OkStatus();
  }

  // 3. The partitions become the B buckets: renamed when B equals their number (the same
  // hash-to-index map), redistributed otherwise.
  Status MakeBuckets() {
    Progress(0.03, "splitting into " + std::to_string(buckets_) + " buckets");
    if (buckets_ == parts_) {
      for (uint32_t b = 0; b < buckets_; ++b) {
        if (part_counts_[b] == 0) continue;
        const std::string from = Path("part." + std::to_string(b)), to = Path(BucketFile(b));
        if (::rename(from.c_str(), to.c_str()) != 0) return IoError(to, errno);
      }
      counts_ = part_counts_;
      return OkStatus();
    }
    std::vector<std::string> inputs;
    for (uint32_t p = 0; p < parts_; ++p) {
      if (part_counts_[p] > 0) inputs.push_back(Path("part." + std::to_string(p)));
    }
    CONSORT_ASSIGN_OR_RETURN(counts_, Distribute(inputs, "bucket", buckets_));
    return OkStatus();
  }

  // No "intersection" receiver, at least one "size" receiver: internal/size_only_psi.h.
  bool SizeOnly() const {
    return opts_.my_output != PsiOutput::kIntersection &&
           opts_.peer_output != PsiOutput::kIntersection &&
           (Receives(opts_.my_output) || Receives(opts_.peer_output));
  }

  Status RunSizeOnly() {
    CONSORT_RETURN_IF_ERROR(MakeBinding());
    Json b = {{"job", binding_.job},
              {"input", binding_.input},
              {"keys", binding_.keys},
              {"outputs", binding_.outputs}};
    CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(b));
    internal::SizeOnlyOptions so;
    so.my_output = opts_.my_output;
    so.peer_output = opts_.peer_output;
    so.domain = opts_.domain;
    so.scratch_dir = opts_.scratch_dir;
    so.binding = crypto::Sha256Hex(canonical);
    so.memory_budget_mb = opts_.memory_budget_mb;
    so.batch_size = opts_.psi_batch_size;
    so.threads = opts_.threads;
    so.buckets = parts_;
    so.force_partitions = opts_.force_buckets;
    so.my_keys = result_.my_keys;
    so.peer_rows = result_.peer_rows;
    so.load_bucket = [this](uint32_t p) -> StatusOr<std::vector<std::string>> {
      CONSORT_ASSIGN_OR_RETURN(
          BucketKeys keys, LoadBucket(Path("part." + std::to_string(p)), part_counts_[p], nullptr));
      return std::move(keys.keys);
    };
    so.progress = opts_.progress;
    so.cancelled = opts_.cancelled;
    CONSORT_ASSIGN_OR_RETURN(internal::SizeOnlyResult r, internal::RunSizeOnlyPsi(link_, so));
    result_.peer_keys = r.peer_keys;
    result_.intersection_size = Receives(opts_.my_output) ? r.intersection : 0;
    result_.buckets = r.masked_partitions;
    result_.buckets_run = r.masking_resumed ? 0 : r.masked_partitions;
    result_.size_only = true;
    result_.masking_resumed = r.masking_resumed;
    result_.peer_partitions_resumed = r.peer_partitions_resumed;
    for (uint32_t p = 0; p < parts_; ++p) ::unlink(Path("part." + std::to_string(p)).c_str());
    return OkStatus();
  }

  Status MakeBinding() {
    binding_.job = opts_.domain;
    binding_.input = opts_.input_fingerprint;
    Json keys = {{"columns", opts_.key_columns},
                 {"trim", opts_.keys.trim_whitespace},
                 {"casefold", opts_.keys.fold_ascii_case},
                 {"dedupe", opts_.keys.duplicates == data::DuplicateKeys::kDeduplicate}};
    CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(keys));
    binding_.keys = crypto::Sha256Hex(canonical);
    binding_.outputs = std::string(PsiOutputName(opts_.my_output)) + "/" +
                       std::string(PsiOutputName(opts_.peer_output));
    binding_.buckets = buckets_;
    return OkStatus();
  }

  // 4. Both parties say how many buckets they finished; both start at the smaller count.
  Status AgreeOnStart(LocalPhase& phase) {
    CONSORT_RETURN_IF_ERROR(MakeBinding());
    struct stat st;
    const uint64_t results_size =
        ::stat(Path(kResultsFile).c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    std::optional<Checkpoint> cp =
        ReadCheckpoint(Path(kCheckpointFile), binding_, results_size, &result_.checkpoint_ignored);
    if (!result_.checkpoint_ignored.empty()) {
      CONSORT_LOG(INFO) << "bucketed ECDH-PSI: ignoring the checkpoint in the scratch directory: "
                        << "it is " << result_.checkpoint_ignored;
    }
    const uint32_t mine = cp ? cp->done : 0;
    CONSORT_ASSIGN_OR_RETURN(Bytes raw,
                             phase.Exchange(internal::EncodeBucketResume({buckets_, mine})));
    CONSORT_ASSIGN_OR_RETURN(internal::BucketResume peer, internal::DecodeBucketResume(raw));
    if (peer.buckets != buckets_) {
      return absl::FailedPreconditionError("bucketed PSI: the peer computed " +
                                           std::to_string(peer.buckets) + " buckets, I " +
                                           std::to_string(buckets_));
    }
    if (peer.done > buckets_) {
      return absl::InvalidArgumentError("bucketed PSI: the peer claims " +
                                        std::to_string(peer.done) + " finished buckets of " +
                                        std::to_string(buckets_));
    }
    // A bucket ends on both sides before either starts the next one, so honest counts differ
    // by at most one; anything else (e.g. one side lost its scratch directory) starts over.
    const uint32_t lo = std::min(mine, peer.done), hi = std::max(mine, peer.done);
    const uint32_t start = hi - lo <= 1 ? lo : 0;
    Totals at;
    if (cp && start == mine) {
      at = cp->now;
    } else if (cp && start + 1 == mine) {
      at = cp->prev;
    }
    if (start > 0) {
      CONSORT_LOG(INFO) << "bucketed ECDH-PSI: resuming at bucket " << start + 1 << " of "
                        << buckets_;
    }
    // Drop whatever the results file holds beyond the agreed start.
    FileWriter w;
    CONSORT_RETURN_IF_ERROR(w.Open(Path(kResultsFile), /*append=*/true));
    CONSORT_RETURN_IF_ERROR(w.Close());
    if (::truncate(Path(kResultsFile).c_str(), static_cast<off_t>(at.results_bytes)) != 0) {
      return IoError(Path(kResultsFile), errno);
    }
    totals_ = at;
    result_.first_bucket = start;
    Publish();
    return OkStatus();
  }

  void Publish() {
    result_.intersection_size = Receives(opts_.my_output) ? totals_.intersection : 0;
    result_.matched_rows = totals_.matched_rows;
    result_.peer_keys = totals_.peer_keys;
    result_.matched_rows_path =
        opts_.my_output == PsiOutput::kIntersection ? Path(kResultsFile) : "";
  }

  // 5. One ECDH-PSI over bucket b, then its matches and a checkpoint, durably in that order.
  Status RunBucket(uint32_t b) {
    CONSORT_RETURN_IF_ERROR(CheckCancelled());
    const std::string stage = "bucket " + std::to_string(b + 1) + "/" + std::to_string(buckets_);
    const double span = 0.9 / (buckets_ - result_.first_bucket);
    const double base = 0.05 + span * (b - result_.first_bucket);
    Progress(base, stage);
    CONSORT_ASSIGN_OR_RETURN(BucketKeys keys,
                             LoadBucket(Path(BucketFile(b)), counts_[b], nullptr));
    EcdhPsiOptions eo;
    eo.my_output = opts_.my_output;
    eo.peer_output = opts_.peer_output;
    eo.domain = opts_.domain + "/bucket/" + std::to_string(b);
    eo.batch_size = opts_.psi_batch_size;
    eo.threads = opts_.threads;
    // ceil(log2 B) more bits of truncation: false matches stay below 2^-40 over all buckets.
    eo.extra_return_bits = std::bit_width(buckets_ - 1);
    eo.cancelled = opts_.cancelled;
    if (opts_.progress) {
      eo.progress = [&](double f) { opts_.progress(base + span * f, stage); };
    }
    CONSORT_ASSIGN_OR_RETURN(PsiResult r, RunEcdhPsi(link_, keys.keys, eo));

    Totals next = totals_;
    next.peer_keys += r.peer_size;
    next.intersection += r.intersection_size;
    if (opts_.my_output == PsiOutput::kIntersection) {
      std::vector<bool> matched(keys.keys.size(), false);
      for (size_t k : r.matched) {
        if (k >= keys.keys.size()) return absl::InternalError("matched index out of range");
        matched[k] = true;
      }
      // Streamed from the bucket file to the results file: a key matched on millions of rows
      // costs no memory. The results file is cut back to the checkpoint on a resume.
      FileWriter w;
      CONSORT_RETURN_IF_ERROR(w.Open(Path(kResultsFile), /*append=*/true));
      CONSORT_ASSIGN_OR_RETURN(uint64_t rows,
                               AppendMatchedRows(Path(BucketFile(b)), keys.keys, matched, w));
      CONSORT_RETURN_IF_ERROR(w.Sync());
      CONSORT_RETURN_IF_ERROR(w.Close());
      next.matched_rows += rows;
      next.results_bytes += 8 * rows;
    }
    Checkpoint cp{b + 1, next, totals_};
    CONSORT_RETURN_IF_ERROR(WriteCheckpoint(Path(kCheckpointFile), binding_, cp));
    totals_ = next;
    ++result_.buckets_run;
    Publish();
    return OkStatus();
  }

  net::Link& link_;
  const InputOpener& open_input_;
  const BucketedPsiOptions& opts_;
  BucketHasher hasher_;

  std::string source_ = "<table>";
  bool has_lines_ = false;
  uint64_t rows_ = 0, key_bytes_ = 0;
  uint32_t buckets_ = 1, parts_ = 1;
  std::vector<uint64_t> counts_, part_counts_;
  Binding binding_;
  Totals totals_;
  BucketedPsiResult result_;
};

// Every row number in a results file (small results only).
StatusOr<std::vector<uint64_t>> ReadAllRows(const std::string& path, uint64_t count) {
  std::vector<uint64_t> rows;
  rows.reserve(count);
  FileReader in;
  CONSORT_RETURN_IF_ERROR(in.Open(path));
  uint8_t b[8];
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(b, 8));
    if (!more) break;
    rows.push_back(ReadU64(b));
  }
  if (rows.size() != count) {
    return absl::DataLossError(path + ": " + std::to_string(rows.size()) +
                               " matched rows, expected " + std::to_string(count));
  }
  return rows;
}

// A header line as data::FormatCsv writes it, for the schema of `batch`.
StatusOr<std::string> CsvHeader(const data::Table& batch) {
  std::vector<data::Column> cols;
  for (const auto& c : batch.schema().columns()) cols.emplace_back(c.type);
  CONSORT_ASSIGN_OR_RETURN(data::Table empty, data::Table::Make(batch.schema(), std::move(cols)));
  return data::FormatCsv(empty);
}

}  // namespace

uint64_t BucketNeedMib(uint64_t rows, uint64_t key_bytes) {
  const unsigned __int128 bytes =
      static_cast<unsigned __int128>(rows) * kOwnKeyOverhead + key_bytes;
  const unsigned __int128 mib = (bytes + (1 << 20) - 1) >> 20;
  return mib > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(mib);
}

uint32_t BucketCount(uint64_t rows_a, uint64_t need_mib_a, size_t budget_mb_a, uint64_t rows_b,
                     uint64_t need_mib_b, size_t budget_mb_b) {
  auto need = [](uint64_t own_mib, uint64_t peer_rows, size_t budget_mb) -> unsigned __int128 {
    const unsigned __int128 bytes = (static_cast<unsigned __int128>(own_mib) << 20) +
                                    static_cast<unsigned __int128>(peer_rows) * kPeerKeyOverhead;
    const unsigned __int128 half = static_cast<unsigned __int128>(std::max<size_t>(budget_mb, 1))
                                   << 19;
    return (bytes + half - 1) / half;
  };
  const unsigned __int128 b =
      std::max(need(need_mib_a, rows_b, budget_mb_a), need(need_mib_b, rows_a, budget_mb_b));
  return static_cast<uint32_t>(std::clamp<unsigned __int128>(b, 1, kMaxBuckets));
}

uint32_t BucketOf(std::string_view domain, std::string_view key, uint32_t buckets) {
  CONSORT_CHECK(buckets >= 1);
  return IndexOf(BucketHasher(domain).Hash(key), buckets);
}

StatusOr<BucketedPsiResult> RunBucketedEcdhPsi(net::Link& link, const InputOpener& open_input,
                                               const BucketedPsiOptions& opts) {
  crypto::InitCrypto();
  BucketedRun run(link, open_input, opts);
  return run.Run();
}

StatusOr<uint64_t> WriteMatchedRowsCsv(const InputOpener& open_input,
                                       const std::string& matched_rows_path,
                                       uint64_t matched_rows, size_t memory_budget_mb,
                                       const std::string& csv_path) {
  // Largest row number first, so we know how many windows there are.
  uint64_t max_row = 0;
  {
    FileReader in;
    CONSORT_RETURN_IF_ERROR(in.Open(matched_rows_path));
    uint8_t b[8];
    uint64_t n = 0;
    while (true) {
      CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(b, 8));
      if (!more) break;
      max_row = std::max(max_row, ReadU64(b));
      ++n;
    }
    if (n != matched_rows) {
      return absl::DataLossError(matched_rows_path + ": " + std::to_string(n) +
                                 " matched rows, expected " + std::to_string(matched_rows));
    }
  }
  // A bitmap of one window takes at most half the budget.
  const uint64_t window =
      std::max<uint64_t>(uint64_t{std::max<size_t>(memory_budget_mb, 1)} << 22, 1 << 20);
  FileWriter out;
  CONSORT_RETURN_IF_ERROR(out.Open(csv_path, /*append=*/false));
  bool header_written = false;
  std::string header;
  uint64_t written = 0;
  const uint64_t windows = matched_rows == 0 ? 1 : max_row / window + 1;
  for (uint64_t w = 0; w < windows; ++w) {
    const uint64_t lo = w * window, hi = lo + window;
    std::vector<bool> bits(matched_rows == 0 ? 0 : std::min(window, max_row + 1 - lo), false);
    if (matched_rows > 0) {
      FileReader in;
      CONSORT_RETURN_IF_ERROR(in.Open(matched_rows_path));
      uint8_t b[8];
      while (true) {
        CONSORT_ASSIGN_OR_RETURN(bool more, in.Read(b, 8));
        if (!more) break;
        const uint64_t row = ReadU64(b);
        if (row >= lo && row < hi) bits[row - lo] = true;  // row <= max_row: in range
      }
    }
    CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<data::TableReader> reader, open_input());
    data::Table batch;
    uint64_t base = 0;
    while (base < hi) {
      CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
      if (!more) break;
      if (!header_written) {
        CONSORT_ASSIGN_OR_RETURN(header, CsvHeader(batch));
        CONSORT_RETURN_IF_ERROR(out.Append(header));
        header_written = true;
      }
      std::vector<uint32_t> pick;
      for (size_t r = 0; r < batch.num_rows(); ++r) {
        const uint64_t row = base + r;
        if (row >= lo && row - lo < bits.size() && bits[row - lo]) {
          pick.push_back(static_cast<uint32_t>(r));
        }
      }
      base += batch.num_rows();
      if (pick.empty()) continue;
      CONSORT_ASSIGN_OR_RETURN(data::Table sel, batch.SelectRows(pick));
      CONSORT_ASSIGN_OR_RETURN(std::string text, data::FormatCsv(sel));
      CONSORT_RETURN_IF_ERROR(out.Append(std::string_view(text).substr(header.size())));
      written += pick.size();
    }
    if (w + 1 == windows) {
      // Read to the end: the reader checks the input's fingerprint only there, and row numbers
      // are positions, so a file changed since the PSI pass must fail rather than pick wrong rows.
      while (true) {
        CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
        if (!more) break;
        base += batch.num_rows();
      }
    }
    if (matched_rows > 0 && max_row >= base && w + 1 == windows) {
      return absl::DataLossError(matched_rows_path + ": row " + std::to_string(max_row + 1) +
                                 " is past the input's " + std::to_string(base) + " rows");
    }
  }
  if (!header_written) {
    return absl::FailedPreconditionError("the input has no rows, so no CSV header to write");
  }
  CONSORT_RETURN_IF_ERROR(out.Sync());
  CONSORT_RETURN_IF_ERROR(out.Close());
  if (written != matched_rows) {
    return absl::DataLossError("wrote " + std::to_string(written) + " matched rows, expected " +
                               std::to_string(matched_rows));
  }
  return written;
}

StatusOr<data::Table> CollectMatchedRows(const InputOpener& open_input,
                                         const std::string& matched_rows_path,
                                         uint64_t matched_rows) {
  CONSORT_ASSIGN_OR_RETURN(std::vector<uint64_t> rows,
                           ReadAllRows(matched_rows_path, matched_rows));
  std::sort(rows.begin(), rows.end());
  CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<data::TableReader> reader, open_input());
  data::Table batch;
  std::optional<data::Schema> schema;
  std::string source;
  std::vector<data::Column> cols;
  std::vector<uint32_t> lines;
  bool has_lines = true;
  uint64_t base = 0;
  size_t next = 0;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    if (!schema) {
      schema = batch.schema();
      source = batch.source();
      for (const auto& c : schema->columns()) cols.emplace_back(c.type);
    }
    has_lines = has_lines && batch.has_row_lines();
    const uint64_t end = base + batch.num_rows();
    for (; next < rows.size() && rows[next] < end; ++next) {
      const size_t r = static_cast<size_t>(rows[next] - base);
      for (size_t c = 0; c < cols.size(); ++c) cols[c].AppendFrom(batch.column(c), r);
      lines.push_back(batch.row_line(r));
    }
    base = end;
  }
  if (next != rows.size()) {
    return absl::DataLossError(matched_rows_path + ": a matched row is past the input's " +
                               std::to_string(base) + " rows");
  }
  if (!schema) return data::Table();
  if (!has_lines) lines.clear();
  return data::Table::Make(*schema, std::move(cols), source, std::move(lines));
}

}  // namespace consort::psi

namespace consort::psi::internal {

uint64_t BucketLoaderPeakKeys() { return g_loader_peak_keys.load(); }
void ResetBucketLoaderPeakKeys() { g_loader_peak_keys.store(0); }

}  // namespace consort::psi::internal
