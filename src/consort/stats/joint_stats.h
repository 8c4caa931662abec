#pragma once
// stats.joint: joint statistics over vertically partitioned data (each party holds some
// columns of the same entities). Rows are aligned by PSI on key columns (psi/align.h) or are
// already aligned; each party filters its own rows locally into a secret-shared indicator;
// the statistics are computed under MPC (mpc/job_backend.h: two data parties + a dealer, or
// three data parties) and revealed only to the receivers named in the spec's outputs.
// Parameters, security model, leakage and numeric tolerance: docs/operators/stats-joint.md
// and the OperatorInfo strings in joint_stats.cc.

namespace consort::stats {

// Registers "stats.joint" with engine::OperatorRegistry::Global(). Idempotent; binaries call it
// at start-up next to psi::RegisterPsiOperators().
void RegisterStatsOperators();

}  // namespace consort::stats
