#pragma once
// Plaintext reference for PSI: what every protocol must compute, used by the tests.
// It sees both sets in the clear, so it is never used between parties.

#include <string>
#include <vector>

#include "consort/psi/psi.h"

namespace consort::psi {

// matched: ascending indices i with mine[i] in theirs; intersection_size = matched.size();
// peer_size = theirs.size(). Duplicates in `mine` are each reported.
PsiResult PlaintextIntersect(const std::vector<std::string>& mine,
                             const std::vector<std::string>& theirs);

}  // namespace consort::psi
