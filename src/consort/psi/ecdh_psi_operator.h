#pragma once
// The "psi.ecdh" operator: two-party ECDH-PSI (psi/ecdh_psi.h) as a Consort job.
//
// Spec:
//   parties: exactly two, each {dataset, columns}: the key columns (composite keys allowed;
//            both parties list the same number of columns, pairwise of the same type)
//   outputs: per receiver "intersection" (its own rows whose key matched, stored as a new local
//            dataset) or "size" (only |X ∩ Y|); at least one receiver
//   params:  duplicates "error" (default) | "dedupe"; trim, casefold (booleans, default false);
//            result_name (the receiver's new dataset; default "psi_<first 12 hex of job id>");
//            memory_budget_mb (64 .. 2^20, default 1024) and buckets (1 .. 65536, forced B)
// Runs bucketed ECDH-PSI (psi/bucketed_psi.h): the input is streamed (Session::OpenInput),
// keys are validated and duplicates found before any cryptography, B buckets are processed one
// by one with a checkpoint in Session::ScratchDir() after each, and a retried job resumes.
//
// Security model: semi-honest, two parties; 128-bit computational security (DDH in the
// prime-order subgroup of Curve25519, random-oracle hash-to-curve).
// Leaks: both parties learn both row counts and (distinct-key) set sizes, per bucket (a public
// hash of the key decides the bucket), and the working set in MiB and budget that decide B; a
// receiver of "intersection" learns which of its own rows matched; a receiver of "size" learns
// |X ∩ Y| per bucket (only the total when B = 1); a non-receiver learns nothing more. Nothing
// reaches the coordinator.

namespace consort::psi {

// Registers the PSI operators with engine::OperatorRegistry::Global(). Idempotent.
void RegisterPsiOperators();

}  // namespace consort::psi
