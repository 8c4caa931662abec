#include "consort/psi/internal/psi_params.h"

#include <algorithm>

#include "consort/psi/bucketed_psi.h"

namespace consort::psi::internal {

StatusOr<size_t> ParseMemoryBudgetMb(const KeyParams& p) {
  auto it = p.extra.find("memory_budget_mb");
  if (it == p.extra.end()) return kDefaultMemoryBudgetMb;
  if (!it->second.is_number_integer() || it->second.get<int64_t>() < int64_t{kMinMemoryBudgetMb} ||
      it->second.get<int64_t>() > int64_t{kMaxMemoryBudgetMb}) {
    return absl::InvalidArgumentError("$.params.memory_budget_mb must be an integer in [" +
                                      std::to_string(kMinMemoryBudgetMb) + ", " +
                                      std::to_string(kMaxMemoryBudgetMb) + "]");
  }
  return it->second.get<size_t>();
}

Status CheckInMemoryBudget(std::string_view op, uint64_t rows, uint64_t bytes_per_row,
                           size_t budget_mb) {
  const unsigned __int128 need = static_cast<unsigned __int128>(rows) * bytes_per_row;
  if (need <= static_cast<unsigned __int128>(budget_mb) << 20) return OkStatus();
  const unsigned __int128 need_mib = (need + (1 << 20) - 1) >> 20;
  return absl::ResourceExhaustedError(
      std::string(op) + " holds its input in memory: " + std::to_string(rows) +
      " rows need about " +
      std::to_string(static_cast<uint64_t>(std::min<unsigned __int128>(need_mib, UINT64_MAX))) +
      " MiB on this party, above $.params.memory_budget_mb = " + std::to_string(budget_mb) +
      "; raise memory_budget_mb if this node has the memory, or use a streaming operator "
      "(psi.ecdh, psi.cardinality)");
}

StatusOr<KeyParams> ParseKeyParams(const engine::JobSpec& spec,
                                   const std::vector<std::string>& extra_names) {
  KeyParams p;
  for (const auto& [k, v] : spec.params.items()) {
    if (k == "duplicates") {
      if (!v.is_string() || (v != "error" && v != "dedupe")) {
        return absl::InvalidArgumentError("$.params.duplicates must be \"error\" or \"dedupe\"");
      }
      p.keys.duplicates =
          v == "dedupe" ? data::DuplicateKeys::kDeduplicate : data::DuplicateKeys::kError;
    } else if (k == "trim" || k == "casefold") {
      if (!v.is_boolean()) {
        return absl::InvalidArgumentError("$.params." + k + " must be true or false");
      }
      (k == "trim" ? p.keys.trim_whitespace : p.keys.fold_ascii_case) = v.get<bool>();
    } else if (std::find(extra_names.begin(), extra_names.end(), k) != extra_names.end()) {
      p.extra[k] = v;
    } else {
      std::string known = "duplicates, trim, casefold";
      for (const auto& e : extra_names) known += ", " + e;
      return absl::InvalidArgumentError("unknown parameter $.params." + k + " (known: " + known +
                                        ")");
    }
  }
  return p;
}

std::string OtherParty(const engine::JobSpec& spec, const std::string& self) {
  for (const auto& n : spec.PartyNames()) {
    if (n != self) return n;
  }
  return "";
}

Status ValidateMatchingKeyColumns(const engine::JobSpec& spec, const engine::CatalogView& catalog) {
  auto names = spec.PartyNames();
  const auto& a = spec.parties.at(names[0]);
  const auto& b = spec.parties.at(names[1]);
  if (a.columns.size() != b.columns.size()) {
    return absl::InvalidArgumentError("key column counts differ: " + names[0] + " lists " +
                                      std::to_string(a.columns.size()) + ", " + names[1] +
                                      " lists " + std::to_string(b.columns.size()));
  }
  CONSORT_ASSIGN_OR_RETURN(auto da, catalog.Dataset(names[0], a.dataset));
  CONSORT_ASSIGN_OR_RETURN(auto db, catalog.Dataset(names[1], b.dataset));
  for (size_t i = 0; i < a.columns.size(); ++i) {
    CONSORT_ASSIGN_OR_RETURN(auto ca, da.Column(a.columns[i]));
    CONSORT_ASSIGN_OR_RETURN(auto cb, db.Column(b.columns[i]));
    if (ca.type != cb.type) {
      return absl::InvalidArgumentError("key column types differ: " + names[0] + "." + ca.name +
                                        " is " + ca.type + ", " + names[1] + "." + cb.name +
                                        " is " + cb.type);
    }
  }
  return OkStatus();
}

}  // namespace consort::psi::internal
