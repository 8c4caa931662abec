#pragma once
// Parameter parsing and spec checks shared by the PSI operators: the key options
// every PSI operator accepts (duplicates, trim, casefold) plus operator-specific extras.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/data/keys.h"
#include "consort/engine/catalog.h"
#include "consort/engine/job_spec.h"

namespace consort::psi::internal {

struct KeyParams {
  data::KeyOptions keys;
  std::map<std::string, Json> extra;  // the operator-specific parameters that were present
};

// Parses spec.params: duplicates "error" | "dedupe", trim and casefold (booleans), and the
// names in `extra_names` (returned unparsed). InvalidArgument naming the parameter for a bad
// value or an unknown name (listing the known ones).
StatusOr<KeyParams> ParseKeyParams(const engine::JobSpec& spec,
                                   const std::vector<std::string>& extra_names);

// $.params.memory_budget_mb among `p.extra` (bucketed_psi.h's range); the default if absent.
StatusOr<size_t> ParseMemoryBudgetMb(const KeyParams& p);

// For the operators that hold their whole input in memory (psi.kkrt, psi.sum,
// psi.multiparty): ResourceExhausted, before anything is loaded or sent, when `rows` rows at
// about `bytes_per_row` (measured, BENCHMARKS.md) exceed `budget_mb`. The message gives the
// estimate and the way out; it never names data.
Status CheckInMemoryBudget(std::string_view op, uint64_t rows, uint64_t bytes_per_row,
                           size_t budget_mb);

// Checks the two parties' key columns against the catalog: the same number of columns, each
// pair of the same type (an int64 key never matches a string key). InvalidArgument / NotFound
// naming the columns.
Status ValidateMatchingKeyColumns(const engine::JobSpec& spec, const engine::CatalogView& catalog);

// The two parties in spec order and the other party of `self`.
std::string OtherParty(const engine::JobSpec& spec, const std::string& self);

}  // namespace consort::psi::internal
