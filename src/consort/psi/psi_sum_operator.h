#pragma once
// The "psi.sum" operator: private intersection-sum with cardinality (psi/psi_sum.h, after Ion
// et al., EuroS&P 2020, as in Google's Private Join and Compute) as a Consort job.
//
// Spec:
//   parties: exactly two, each {dataset, columns: [key columns]} (same count, pairwise the same
//            type). Party A is the one whose output is "sum"; party B is the other.
//   outputs: A: "sum" (required: |X ∩ Y| and the sum of B's values over X ∩ Y);
//            B: "size" (optional: |X ∩ Y|) or absent.
//   params:  value_column (required): B's int64 column to sum (float64 is rejected for now,
//            naming the column); duplicates "error" (default) | "dedupe" (B's value for a
//            repeated key is the sum over its rows; int64 overflow is an error); trim, casefold;
//            paillier_bits (B's key size, default 2048, at least 2048).
// Results: A's summary {"intersection_size", "sum" (exact, decimal string), "peer_keys", ...};
// B's summary {"intersection_size", "peer_keys", ...} if it receives "size". Null values in the
// value column are an error naming the row (never the value).
//
// Security model: semi-honest, two parties; DDH on Curve25519 (128-bit), Paillier 2048-bit
// (112-bit) by default with DJN 256-bit short-exponent noise for B's encryptions (DCR plus the
// DJN assumption stated in crypto/paillier.h), 40-bit statistical.
// Leaks: A learns |Y| (B's distinct keys), |X ∩ Y| and the sum; B learns |X| (and |X ∩ Y|
// with output "size"); neither learns which rows are in the intersection, and B learns
// nothing about the sum. Nothing reaches the coordinator.

namespace consort::psi {

// Registers "psi.sum" with engine::OperatorRegistry::Global(). Idempotent; also called by
// RegisterPsiOperators().
void RegisterPsiSumOperator();

}  // namespace consort::psi
