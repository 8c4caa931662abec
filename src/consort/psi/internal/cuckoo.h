#pragma once
// 3-way cuckoo hashing without a stash, for OT-based PSI (KKRT16 section 5; Pinkas, Schneider,
// Zohner, "Scalable Private Set Intersection Based on OT Extension", ACM TOPS 2018, section 3.2
// for the parameter choice).
//
// Items are 128-bit digests (already hashed with a session key, so an adversary cannot aim
// items at bins). Hash function h in {0,1,2} maps a digest to bin
// floor(w_h * bins / 2^32), w_h the h-th 32-bit word of the digest. Each bin holds at most one
// (item, h) with bin = h_h(item); the index h is bound into the OPRF input by the caller.
//
// Table size: bins = max(1024, 1.35 n, (n^2 2^41)^(1/5)), rounded up to a multiple of 128.
//  * Large n: 3-way cuckoo hashing succeeds up to load ~0.91 (e ~ 1.09); far above that the
//    failure probability falls exponentially in n. PSZ18 (and Pinkas, Schneider, Weinert,
//    Wieder, EUROCRYPT 2018) extrapolate below 2^-40 at e ~ 1.27 for the sizes PSI uses; we
//    take e = 1.35 for margin. (Measured here with this code: n = 4096, 2000 tables each:
//    303 failures at e = 1.10, none at e = 1.12.)
//  * Small n, where the dominant failure is not the threshold but a few items colliding:
//    two items whose six hash values all land in one bin has probability ~ n^2 / (2 m^5), and
//    k items confined to k-1 bins ~ c_k n^k / m^(2k+1). m >= (n^2 2^41)^(1/5) keeps the k = 2
//    term below 2^-42 (it decides m up to n ~ 2^14); the k >= 3 terms are then far smaller.
// A failed build is reported (Internal), never silently mishandled.
// Thread safety: Build is reentrant; a table is immutable once built.

#include <cstdint>
#include <span>
#include <vector>

#include "consort/common/status.h"
#include "consort/ot/block.h"

namespace consort::psi::internal {

inline constexpr int kCuckooHashes = 3;
inline constexpr uint32_t kCuckooEmpty = 0xffffffffu;
// Items are indexed in 30 bits (the low 2 bits of a slot hold h).
inline constexpr uint64_t kCuckooMaxItems = uint64_t{1} << 28;

// The number of bins for n items (see the file comment); a multiple of 128.
uint64_t CuckooBins(uint64_t n);

inline uint64_t CuckooBin(const ot::Block& d, int h, uint64_t bins) {
  const uint32_t w = h == 0   ? static_cast<uint32_t>(d.lo)
                     : h == 1 ? static_cast<uint32_t>(d.lo >> 32)
                              : static_cast<uint32_t>(d.hi);
  return (static_cast<uint64_t>(w) * bins) >> 32;
}

class CuckooTable {
 public:
  // Places every digest (distinct, at most kCuckooMaxItems) into `bins` bins (<= 2^32) by
  // random-walk insertion. Errors: InvalidArgument (too many items or bins), Internal if
  // placement fails (probability below 2^-40 at CuckooBins(n); see the file comment).
  static StatusOr<CuckooTable> Build(std::span<const ot::Block> digests, uint64_t bins);

  uint64_t bins() const { return slots_.size(); }
  bool occupied(uint64_t bin) const { return slots_[bin] != kCuckooEmpty; }
  uint32_t item(uint64_t bin) const { return slots_[bin] >> 2; }
  int hash_index(uint64_t bin) const { return static_cast<int>(slots_[bin] & 3); }

 private:
  std::vector<uint32_t> slots_;
};

}  // namespace consort::psi::internal
