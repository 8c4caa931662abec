#pragma once
// The "psi.multiparty" operator: PSI among 3 to 16 parties (psi/multiparty_psi.h) as a job.
//
// Spec:
//   parties: 3..16 data parties, each {dataset, columns}: the key columns (composite keys
//            allowed; every party lists the same number, position-wise of the same type)
//   outputs: per receiver "intersection" (its own rows whose key is in EVERY party's set,
//            stored as a new local dataset) or "size" (only the size of that intersection)
//   params:  duplicates "error" (default) | "dedupe"; trim, casefold (booleans, default false);
//            result_name (default "psi_<first 12 hex of job id>"); leader (a party name;
//            default: the first party by name that does not receive "intersection", else the
//            first party)
// Ring order: parties sorted by name.
//
// Security model: semi-honest, no collusion; 128-bit computational (DDH on Curve25519, random
// oracle hash-to-curve), 40-bit statistical.
// Leaks: every party learns every party's number of distinct keys; a receiver of
// "intersection" learns which of its own rows are in the all-party intersection, a receiver of
// "size" only its size. The leader also learns the size of the intersection of every subset of
// parties (e.g. |A ∩ B|), and, only if it receives "intersection" itself, which of its own rows
// lie in each such sub-intersection. Nothing reaches the coordinator.

namespace consort::psi {

// Registers "psi.multiparty" with engine::OperatorRegistry::Global(). Idempotent; called by
// RegisterPsiOperators().
void RegisterMultipartyPsiOperator();

}  // namespace consort::psi
