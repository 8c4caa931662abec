#include "consort/psi/internal/psi_params.h"

#include <algorithm>

namespace consort::psi::internal {

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

}  // namespace consort::psi::internal
