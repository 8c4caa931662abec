#pragma once
// The "psi.kkrt" operator: two-party OT-extension PSI (KKRT16, psi/kkrt_psi.h) as a Consort
// job. Same spec as psi.ecdh:
//   parties: exactly two, each {dataset, columns}: the key columns (composite keys allowed;
//            both parties list the same number of columns, pairwise of the same type)
//   outputs: per receiver "intersection" (its own rows whose key matched, stored as a new local
//            dataset) or "size" (only |X ∩ Y|); at least one receiver
//   params:  duplicates "error" (default) | "dedupe"; trim, casefold (booleans, default false);
//            result_name (the receiver's new dataset; default "psi_<first 12 hex of job id>");
//            memory_budget_mb (default 1024): KKRT holds its set in memory, so a party with
//            more than budget / kKkrtBytesPerRow rows refuses the job (ResourceExhausted)
//            before loading anything
// Roles: the party with the larger output (intersection > size > none; on a tie the party
// whose name sorts first, JobSpec::PartyNames) is the OPRF receiver, the other the OPRF
// sender (ChooseKkrtRole).
//
// Security model: semi-honest, two parties; 128-bit computational (OT extension over
// ristretto255 base OTs, AES-128, BLAKE2b), 40-bit statistical (cuckoo hashing without stash,
// truncated OPRF values, code distance).
// Leaks: both parties learn both (distinct-key) set sizes. The OPRF receiver learns which of
// its own rows matched even when its output is "size" (it stores only the size). The OPRF
// sender with "intersection" learns which of its own rows matched (the receiver sends the
// matched positions back), with "size" only the count, with no output nothing more. Nothing
// reaches the coordinator.

#include <cstdint>

namespace consort::psi {

// Peak memory of one psi.kkrt party per row of its input, measured (BENCHMARKS.md,
// consort_kkrt_bench: 88 B/row at 2^24) with headroom for the loaded dataset and the result.
inline constexpr uint64_t kKkrtBytesPerRow = 128;

// Registers "psi.kkrt" with engine::OperatorRegistry::Global(). Idempotent; called by
// RegisterPsiOperators().
void RegisterKkrtPsiOperator();

}  // namespace consort::psi
