#include "consort/psi/psi_sum_operator.h"

#include <memory>
#include <mutex>

#include "consort/data/keys.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/psi_sum.h"

namespace consort::psi {
namespace {

constexpr char kSum[] = "sum";
constexpr char kSize[] = "size";

// Peak memory of one psi.sum party per row of its input, measured (BENCHMARKS.md,
// consort_psi_sum_bench; party B is the larger) with headroom for the loaded dataset.
constexpr uint64_t kSumBytesPerRow = 256;

struct SumParams {
  internal::KeyParams key;
  std::string value_column;
  int paillier_bits = crypto::kPaillierDefaultBits;
  size_t memory_budget_mb = 0;
};

StatusOr<SumParams> ParseSumParams(const engine::JobSpec& spec) {
  SumParams p;
  CONSORT_ASSIGN_OR_RETURN(p.key,
                           internal::ParseKeyParams(spec, {"value_column", "paillier_bits",
                                                           "memory_budget_mb"}));
  CONSORT_ASSIGN_OR_RETURN(p.memory_budget_mb, internal::ParseMemoryBudgetMb(p.key));
  auto vc = p.key.extra.find("value_column");
  if (vc == p.key.extra.end() || !vc->second.is_string() ||
      vc->second.get<std::string>().empty()) {
    return absl::InvalidArgumentError(
        "$.params.value_column is required: the name of party B's int64 column to sum");
  }
  p.value_column = vc->second.get<std::string>();
  auto pb = p.key.extra.find("paillier_bits");
  if (pb != p.key.extra.end()) {
    if (!pb->second.is_number_integer() || pb->second.get<int64_t>() < crypto::kPaillierMinBits ||
        pb->second.get<int64_t>() > crypto::kPaillierMaxBits ||
        pb->second.get<int64_t>() % 16 != 0) {
      return absl::InvalidArgumentError("$.params.paillier_bits must be a multiple of 16 in [" +
                                        std::to_string(crypto::kPaillierMinBits) + ", " +
                                        std::to_string(crypto::kPaillierMaxBits) + "]");
    }
    p.paillier_bits = static_cast<int>(pb->second.get<int64_t>());
  }
  return p;
}

// Party A (receives "sum") and party B; InvalidArgument unless exactly one party receives
// "sum" and the other receives "size" or nothing.
StatusOr<std::pair<std::string, std::string>> Roles(const engine::JobSpec& spec) {
  std::string a;
  for (const auto& [party, kind] : spec.outputs) {
    if (kind == kSum) {
      if (!a.empty()) {
        return absl::InvalidArgumentError("$.outputs: exactly one party receives \"sum\"");
      }
      a = party;
    }
  }
  if (a.empty()) {
    return absl::InvalidArgumentError(
        "$.outputs: one party must receive \"sum\" (it becomes party A; the other holds the "
        "values)");
  }
  const std::string b = internal::OtherParty(spec, a);
  const std::string* bo = spec.OutputFor(b);
  if (bo != nullptr && *bo != kSize) {
    return absl::InvalidArgumentError("$.outputs." + b + ": the value holder may receive only "
                                      "\"size\", got \"" + *bo + "\"");
  }
  return std::make_pair(a, b);
}

class PsiSumOperator final : public engine::Operator {
 public:
  PsiSumOperator() {
    info_.name = "psi.sum";
    info_.title = "Private intersection-sum with cardinality (ECDH + Paillier)";
    info_.description =
        "Party A learns how many of its keys also appear in party B's dataset and the sum of "
        "B's value column over those keys, without learning which keys they are; B learns "
        "A's key count (and optionally the intersection size). Keys are blinded on Curve25519 "
        "as in ECDH-PSI; B's values travel Paillier-encrypted under B's key and are summed "
        "homomorphically by A; a masked decryption round gives A the sum.";
    info_.security_model = "semi-honest; two parties; no trusted third party";
    info_.parameters = "128-bit computational (DDH on Curve25519); Paillier 2048-bit modulus by "
                       "default (112-bit; decisional composite residuosity) with DJN 256-bit "
                       "short-exponent noise for B's encryptions (plus the DJN short-exponent "
                       "assumption, crypto/paillier.h); 40-bit statistical";
    info_.leaks = "A learns B's distinct key count, the intersection size and the sum of B's "
                  "values over the intersection; B learns A's distinct key count (and the "
                  "intersection size if it receives \"size\"); nobody learns which rows match; "
                  "the coordinator learns nothing about rows";
    info_.outputs = {kSum, kSize};
  }

  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(SumParams params, ParseSumParams(spec));
    CONSORT_ASSIGN_OR_RETURN(auto roles, Roles(spec));
    const auto& [a, b] = roles;
    const auto& pa = spec.parties.at(a);
    const auto& pb = spec.parties.at(b);
    if (pa.columns.size() != pb.columns.size()) {
      return absl::InvalidArgumentError("key column counts differ: " + a + " lists " +
                                        std::to_string(pa.columns.size()) + ", " + b +
                                        " lists " + std::to_string(pb.columns.size()));
    }
    CONSORT_ASSIGN_OR_RETURN(auto da, catalog.Dataset(a, pa.dataset));
    CONSORT_ASSIGN_OR_RETURN(auto db, catalog.Dataset(b, pb.dataset));
    for (size_t i = 0; i < pa.columns.size(); ++i) {
      CONSORT_ASSIGN_OR_RETURN(auto ca, da.Column(pa.columns[i]));
      CONSORT_ASSIGN_OR_RETURN(auto cb, db.Column(pb.columns[i]));
      if (ca.type != cb.type) {
        return absl::InvalidArgumentError("key column types differ: " + a + "." + ca.name +
                                          " is " + ca.type + ", " + b + "." + cb.name + " is " +
                                          cb.type);
      }
    }
    CONSORT_ASSIGN_OR_RETURN(auto vc, db.Column(params.value_column));
    if (vc.type != "int64") {
      return absl::InvalidArgumentError(
          "$.params.value_column: " + b + "." + pb.dataset + " column '" + vc.name + "' is " +
          vc.type + "; psi.sum sums int64 columns only (float64 is not supported yet)");
    }
    return OkStatus();
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    const std::string& self = session.self();
    CONSORT_ASSIGN_OR_RETURN(SumParams params, ParseSumParams(spec));
    CONSORT_ASSIGN_OR_RETURN(auto roles, Roles(spec));
    const bool is_a = roles.first == self;
    const std::string peer = is_a ? roles.second : roles.first;
    CONSORT_ASSIGN_OR_RETURN(uint64_t rows, session.InputRows());
    CONSORT_RETURN_IF_ERROR(
        internal::CheckInMemoryBudget(info_.name, rows, kSumBytesPerRow, params.memory_budget_mb));
    session.ReportProgress(0.0, "loading");
    CONSORT_ASSIGN_OR_RETURN(auto table, session.LoadInput());
    CONSORT_ASSIGN_OR_RETURN(
        data::KeyedRows keys,
        data::ExtractKeys(*table, spec.parties.at(self).columns, params.key.keys));

    std::vector<int64_t> values;
    if (!is_a) {
      // The value column, checked before any cryptography.
      CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table->ColumnByName(params.value_column));
      if (col->type() != data::ColumnType::kInt64) {
        return absl::InvalidArgumentError(
            table->source() + ": column '" + params.value_column + "' is " +
            std::string(data::ColumnTypeName(col->type())) +
            "; psi.sum sums int64 columns only (float64 is not supported yet)");
      }
      values.resize(keys.size());
      for (size_t k = 0; k < keys.size(); ++k) {
        int64_t v = 0;
        for (uint32_t row : keys.RowsFor(k)) {
          if (col->IsNull(row)) {
            return absl::InvalidArgumentError(table->RowLocation(row) + ": column '" +
                                              params.value_column + "': null value");
          }
          if (__builtin_add_overflow(v, col->Int64(row), &v)) {
            return absl::InvalidArgumentError(
                table->RowLocation(row) + ": column '" + params.value_column +
                "': the values of rows sharing this key overflow int64");
          }
        }
        values[k] = v;
      }
    }
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(peer));
    PsiSumOptions opts;
    opts.domain = session.job_id();
    opts.b_learns_size = spec.OutputFor(roles.second) != nullptr;
    opts.paillier_bits = params.paillier_bits;
    opts.cancelled = &session.cancelled();
    opts.progress = [&session](double f) { session.ReportProgress(0.05 + 0.9 * f, "psi.sum"); };
    CONSORT_ASSIGN_OR_RETURN(PsiSumResult result,
                             is_a ? RunPsiSumA(*link, keys.keys, opts)
                                  : RunPsiSumB(*link, keys.keys, values, opts));
    if (!is_a && !opts.b_learns_size) {
      session.ReportProgress(1.0, "done");
      return OkStatus();
    }
    Json summary = {{"operator", info_.name},
                    {"my_rows", table->num_rows()},
                    {"my_keys", keys.size()},
                    {"peer_keys", result.peer_size},
                    {"intersection_size", result.intersection_size.value_or(0)}};
    if (is_a) summary["sum"] = result.sum_decimal;
    CONSORT_RETURN_IF_ERROR(session.StoreSummary(summary));
    session.ReportProgress(1.0, "done");
    return OkStatus();
  }

 private:
  engine::OperatorInfo info_;
};

}  // namespace

void RegisterPsiSumOperator() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<PsiSumOperator>());
  });
}

}  // namespace consort::psi
