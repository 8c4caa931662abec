#pragma once
// The "psi.unbalanced" operator: unbalanced PSI with server preprocessing reused across jobs
// (psi/unbalanced_psi.h) as a Consort job.
//
// Spec:
//   parties: exactly two data parties, each {dataset, columns} (same number of key columns,
//            pairwise of the same type)
//   outputs: only the client (the party that is not the server) receives: "intersection" (its
//            own matched rows, stored as a new local dataset) or "size"
//   params:  server (required): the party with the large set, whose preprocessing is kept;
//            max_client_size (default 2^20, at most 2^24): the largest client key set that this
//            server preprocessing accepts (it sets the truncation T); duplicates "error"
//            (default) | "dedupe"; trim, casefold; result_name (default "psi_<12 hex of job>")
// Reuse: the server keeps its key and encoded set in Session::CacheDir("psi.unbalanced.s.<hash
// of dataset, columns and key options>") with InputFingerprint(); a later job over the same
// dataset and options reuses them (the client's summary reports the same server_set_id), a
// changed dataset is prepared again (new key; the old key file is zeroed, then removed). The
// client keeps the server's encoded set in CacheDir("psi.unbalanced.c.<hash of server and
// dataset>") and fetches it again only when the server's preprocessing id or digest changes.
//
// Security model: semi-honest; 128-bit (OPRF in the random-oracle model under one-more-DH on
// Curve25519), 40-bit statistical.
// Leaks: the client learns which of its rows' keys are in the server's set (with "size" it
// stores only the count, but computes the matches locally) and the server's number of distinct
// keys; the server learns the client's number of distinct keys and whether the client had the
// encoded set cached. The cached encoded set lets the client test nothing without the server.
// Across jobs, the client learns the membership of every key it ever queried against the same
// preprocessing. Nothing reaches the coordinator.

namespace consort::psi {

// Registers "psi.unbalanced" with engine::OperatorRegistry::Global(). Idempotent; called by
// RegisterPsiOperators().
void RegisterUnbalancedPsiOperator();

}  // namespace consort::psi
