#pragma once
// The "psi.cardinality" operator: two-party PSI-cardinality (only |X ∩ Y| is revealed) by
// ECDH with value-sorted returns, streamed with bounded memory: RunBucketedEcdhPsi
// (psi/bucketed_psi.h) with every receiver on PsiOutput::kSize, which runs the size-only flow
// of internal/size_only_psi.h.
//
// Paper: E. De Cristofaro, P. Gasti, G. Tsudik, "Fast and Private Computation of Cardinality
// of Set Intersection and Union", CANS 2012 (its DH-based PSI-CA: the reply is permuted), i.e.
// ECDH-PSI (Huberman-Franklin-Hogg 1999) with the returned values unlinkable to rows. Here the
// permutation is a sort by value, which needs no memory for the whole set.
//
// Message flow (A holds X, scalar a; B holds Y, scalar b; here A is a receiver):
//   A <-> B  plan (rows, budgets, outputs, job), then hello (distinct keys, resume state)
//   A  -> B  H(x)^a for x in X, sorted by value, partition by partition
//   B  -> A  H(y)^b for y in Y, likewise, concurrently
//   B  -> A  H(x)^ab truncated to T bytes, sorted by value, partition by partition
//   A        counts the values equal to one of the H(y)^ab it computed itself.
// A cannot tie a returned value to one of its rows (nor to a bucket or batch): the values come
// back sorted, and linking H(x)^ab to x needs b. B's values reach A sorted as well.
//
// Spec: parties: exactly two, each {dataset, columns: [key columns]} (same count, pairwise the
//       same type); outputs: "size" for one or both parties (nothing else);
//       params: duplicates "error" (default) | "dedupe", trim, casefold, memory_budget_mb
//       (64 .. 2^20, default 1024: peak memory per party whatever the input size).
// Security model: semi-honest, two parties; 128-bit computational (DDH on the prime-order
// subgroup of Curve25519, hash-to-curve as a random oracle); 40-bit statistical (truncation,
// over all |X||Y| pairs).
// Leaks: both parties learn both sets' row counts and distinct-key counts; each receiver of
// "size" learns |X ∩ Y| and nothing about which rows (its own or the peer's) are in it; a
// non-receiver learns only the peer's counts. Nothing reaches the coordinator.

namespace consort::psi {

// Registers "psi.cardinality" with engine::OperatorRegistry::Global(). Idempotent; also called
// by RegisterPsiOperators().
void RegisterPsiCardinalityOperator();

}  // namespace consort::psi
