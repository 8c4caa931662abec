#pragma once
// The "psi.ecdh" operator: two-party ECDH-PSI (psi/ecdh_psi.h) as a Consort job.
//
// Spec:
//   parties: exactly two, each {dataset, columns}: the key columns (composite keys allowed;
//            both parties list the same number of columns, pairwise of the same type)
//   outputs: per receiver "intersection" (its own rows whose key matched, stored as a new local
//            dataset) or "size" (only |X ∩ Y|); at least one receiver
//   params:  duplicates "error" (default) | "dedupe"; trim, casefold (booleans, default false);
//            result_name (the receiver's new dataset; default "psi_<first 12 hex of job id>")
//
// Security model: semi-honest, two parties; 128-bit computational security (DDH in the
// prime-order subgroup of Curve25519, random-oracle hash-to-curve).
// Leaks: both parties learn both (distinct-key) set sizes; a receiver of "intersection" learns
// which of its own rows matched; a receiver of "size" learns only |X ∩ Y|; a non-receiver
// learns nothing more. Nothing reaches the coordinator.

namespace consort::psi {

// Registers the PSI operators with engine::OperatorRegistry::Global(). Idempotent.
void RegisterPsiOperators();

}  // namespace consort::psi
