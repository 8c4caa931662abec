#pragma once
// Types shared by every two-party PSI protocol in Consort (ECDH-PSI today; OT-based PSI
// later), so that protocols are interchangeable behind one test suite and one operator.

#include <cstdint>
#include <string_view>
#include <vector>

namespace consort::psi {

// What one party learns at the end of a PSI run.
enum class PsiOutput : uint8_t {
  kNone = 0,          // nothing beyond both set sizes
  kSize = 1,          // |X ∩ Y|
  kIntersection = 2,  // which of its own items are in the intersection (and hence the size)
};

std::string_view PsiOutputName(PsiOutput o);

struct PsiResult {
  // Ascending indices into this party's items that are in the intersection; filled only when
  // this party's output is kIntersection.
  std::vector<size_t> matched;
  // |X ∩ Y| when this party's output is kSize or kIntersection; 0 for kNone.
  uint64_t intersection_size = 0;
  // The number of items the peer brought (every PSI here reveals both set sizes).
  uint64_t peer_size = 0;
};

}  // namespace consort::psi
