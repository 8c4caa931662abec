#pragma once
// The "psi.cardinality" operator: two-party PSI-cardinality (only |X ∩ Y| is revealed) by
// shuffled ECDH, i.e. RunEcdhPsi (psi/ecdh_psi.h) with every receiver on PsiOutput::kSize.
//
// Paper: E. De Cristofaro, P. Gasti, G. Tsudik, "Fast and Private Computation of Cardinality
// of Set Intersection and Union", CANS 2012 (its DH-based PSI-CA: the reply is permuted), i.e.
// ECDH-PSI (Huberman-Franklin-Hogg 1999) with the returned values shuffled.
//
// Message flow (A holds X, scalar a; B holds Y, scalar b; here A is a receiver):
//   A <-> B  handshake (sizes, outputs, batch sizes, SHA-256(job id))
//   A  -> B  H(x)^a for x in X, in A's secret random order
//   B  -> A  H(y)^b for y in Y, in B's secret random order
//   B  -> A  H(x)^ab, truncated, after ONE global CSPRNG shuffle of all |X| values
//   A        counts how many returned values equal one of the H(y)^ab it computed itself.
// Both directions are shuffled: A's values come back in an order A cannot relate to its rows,
// so even the receiver does not learn which of its own rows matched; B's values reach A in
// B's secret order, so A learns nothing about B's rows either. If both parties receive, the
// same happens symmetrically.
//
// Spec: parties: exactly two, each {dataset, columns: [key columns]} (same count, pairwise the
//       same type); outputs: "size" for one or both parties (nothing else);
//       params: duplicates "error" (default) | "dedupe", trim, casefold.
// Security model: semi-honest, two parties; 128-bit computational (DDH on the prime-order
// subgroup of Curve25519, hash-to-curve as a random oracle); 40-bit statistical (truncation).
// Leaks: both parties learn both sets' sizes (distinct keys); each receiver of "size" learns
// |X ∩ Y| and nothing about which rows (its own or the peer's) are in it; a non-receiver
// learns only the peer's set size. Nothing reaches the coordinator.

namespace consort::psi {

// Registers "psi.cardinality" with engine::OperatorRegistry::Global(). Idempotent; also called
// by RegisterPsiOperators().
void RegisterPsiCardinalityOperator();

}  // namespace consort::psi
