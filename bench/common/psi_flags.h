#pragma once
// The --outputs=A,B flag of the two-party PSI benchmarks (header only: no link dependency).

#include <string>

#include "consort/psi/psi.h"

namespace consort::bench {

// "none" | "size" | "intersection" for A and B; "" on success, else the message to print.
inline std::string ParsePsiOutputs(const std::string& val, psi::PsiOutput* a, psi::PsiOutput* b) {
  const size_t c = val.find(',');
  if (c == std::string::npos) return "--outputs=A,B";
  psi::PsiOutput* dst[2] = {a, b};
  const std::string names[2] = {val.substr(0, c), val.substr(c + 1)};
  for (int i = 0; i < 2; ++i) {
    if (names[i] == "none") {
      *dst[i] = psi::PsiOutput::kNone;
    } else if (names[i] == "size") {
      *dst[i] = psi::PsiOutput::kSize;
    } else if (names[i] == "intersection") {
      *dst[i] = psi::PsiOutput::kIntersection;
    } else {
      return "unknown output " + names[i];
    }
  }
  return "";
}

}  // namespace consort::bench
