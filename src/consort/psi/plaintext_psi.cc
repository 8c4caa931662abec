#include "consort/psi/plaintext_psi.h"

#include <string_view>
#include <unordered_set>

namespace consort::psi {

PsiResult PlaintextIntersect(const std::vector<std::string>& mine,
                             const std::vector<std::string>& theirs) {
  std::unordered_set<std::string_view> set(theirs.begin(), theirs.end());
  PsiResult r;
  for (size_t i = 0; i < mine.size(); ++i) {
    if (set.count(mine[i])) r.matched.push_back(i);
  }
  r.intersection_size = r.matched.size();
  r.peer_size = theirs.size();
  return r;
}

}  // namespace consort::psi
