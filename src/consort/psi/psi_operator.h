#pragma once
// The "psi" operator: two-party PSI whose protocol is chosen per job, by size. Same spec,
// outputs and key parameters as psi.ecdh and psi.kkrt, plus
//   params.protocol  "auto" (default) | "ecdh" | "kkrt"
// With "auto", both parties first exchange their row counts and memory budgets (one message
// each way: nothing the chosen protocol would not reveal anyway) and pick, identically:
//   KKRT16 (psi.kkrt: OT extension, ~20x less CPU than ECDH at 2^20) when both sets fit in
//   memory for it (max rows <= KkrtMaxRows(min budget)), else the bucketed, streaming ECDH-PSI
//   (psi.ecdh), which stays within the budget at any size and can resume after a failure.
// The chosen protocol's security model, parameters and Leaks line apply (both are semi-honest;
// both reveal both set sizes); the summary records the protocol ("protocol": "kkrt"|"ecdh").

#include <cstdint>

namespace consort::psi {

// Rows per party up to which "auto" uses KKRT under a memory budget of `budget_mb` MiB
// (from the measured peak RSS of psi.kkrt per row, with headroom).
uint64_t KkrtMaxRows(uint64_t budget_mb);

// Registers "psi" with engine::OperatorRegistry::Global(). Idempotent; called by
// RegisterPsiOperators().
void RegisterAutoPsiOperator();

}  // namespace consort::psi
