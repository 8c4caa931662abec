#include "consort/psi/psi.h"

namespace consort::psi {

std::string_view PsiOutputName(PsiOutput o) {
  switch (o) {
    case PsiOutput::kNone:
      return "none";
    case PsiOutput::kSize:
      return "size";
    case PsiOutput::kIntersection:
      return "intersection";
  }
  return "invalid";
}

}  // namespace consort::psi
