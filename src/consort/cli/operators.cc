#include "consort/cli/operators.h"

#include "consort/boost/secureboost_operator.h"
#include "consort/fl/hetero_lr_operator.h"
#include "consort/psi/ecdh_psi_operator.h"
#include "consort/stats/joint_stats.h"

namespace consort::cli {

void RegisterAllOperators() {
  psi::RegisterPsiOperators();
  stats::RegisterStatsOperators();
  fl::RegisterFlOperators();
  boost::RegisterBoostOperators();
}

}  // namespace consort::cli
