#include "consort/psi/internal/cuckoo.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "consort/crypto/random.h"

namespace consort::psi::internal {

uint64_t CuckooBins(uint64_t n) {
  // Large sets: 1.35 n (see the header). Small sets: the dominant failure is two items whose
  // six hash values all hit one bin, probability about n^2 / (2 m^5); m >= (n^2 2^41)^(1/5)
  // keeps it below 2^-42, leaving room for the rarer k-items-in-(k-1)-bins events.
  const double dn = static_cast<double>(n);
  const double small = n == 0 ? 0.0 : std::ceil(std::exp2((41.0 + 2.0 * std::log2(dn)) / 5.0));
  uint64_t bins = static_cast<uint64_t>(std::max(std::ceil(1.35 * dn), small));
  if (bins < 1024) bins = 1024;
  return (bins + 127) / 128 * 128;
}

StatusOr<CuckooTable> CuckooTable::Build(std::span<const ot::Block> digests, uint64_t bins) {
  if (digests.size() > kCuckooMaxItems) {
    return absl::InvalidArgumentError("cuckoo hashing: too many items");
  }
  if (bins == 0 || bins > (uint64_t{1} << 32) || bins < digests.size()) {
    return absl::InvalidArgumentError("cuckoo hashing: bad number of bins");
  }
  CuckooTable t;
  t.slots_.assign(bins, kCuckooEmpty);
  crypto::Csprng rng;
  // Each eviction walk is bounded; with e >= 1.35 walks are short (a few steps on average).
  constexpr int kMaxSteps = 2000;
  for (uint32_t i = 0; i < digests.size(); ++i) {
    uint32_t cur = i << 2;  // item << 2 | h (h chosen below)
    uint64_t last_bin = UINT64_MAX;
    bool placed = false;
    for (int step = 0; step < kMaxSteps && !placed; ++step) {
      const ot::Block& d = digests[cur >> 2];
      uint64_t cand[kCuckooHashes];
      for (int h = 0; h < kCuckooHashes; ++h) cand[h] = CuckooBin(d, h, bins);
      for (int h = 0; h < kCuckooHashes; ++h) {
        if (t.slots_[cand[h]] == kCuckooEmpty) {
          t.slots_[cand[h]] = (cur & ~3u) | static_cast<uint32_t>(h);
          placed = true;
          break;
        }
      }
      if (placed) break;
      // Evict the occupant of a random candidate bin other than the one we came from.
      int h;
      do {
        h = static_cast<int>(rng.Uniform(kCuckooHashes));
      } while (cand[h] == last_bin && !(cand[0] == cand[1] && cand[1] == cand[2]));
      const uint32_t evicted = t.slots_[cand[h]];
      t.slots_[cand[h]] = (cur & ~3u) | static_cast<uint32_t>(h);
      last_bin = cand[h];
      cur = evicted;
    }
    if (!placed) {
      return absl::InternalError("cuckoo hashing failed for " + std::to_string(digests.size()) +
                                 " items in " + std::to_string(bins) +
                                 " bins (probability below 2^-40); retry the job");
    }
  }
  return t;
}

}  // namespace consort::psi::internal
