#pragma once
// The operators every Consort binary offers: one call registers the PSI, joint-statistics and
// federated-learning families with engine::OperatorRegistry::Global(). Idempotent.

namespace consort::cli {

void RegisterAllOperators();

}  // namespace consort::cli
