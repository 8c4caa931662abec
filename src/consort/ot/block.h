#pragma once
// Block: 128 bits, the unit of OT extension (one AES block, one base-OT key).

#include <cstdint>
#include <cstring>

namespace consort::ot {

struct alignas(16) Block {
  uint64_t lo = 0;
  uint64_t hi = 0;

  friend Block operator^(Block a, Block b) { return {a.lo ^ b.lo, a.hi ^ b.hi}; }
  friend Block operator&(Block a, Block b) { return {a.lo & b.lo, a.hi & b.hi}; }
  Block& operator^=(Block b) {
    lo ^= b.lo;
    hi ^= b.hi;
    return *this;
  }
  friend bool operator==(Block a, Block b) { return a.lo == b.lo && a.hi == b.hi; }

  static Block FromBytes(const uint8_t* p) {
    Block b;
    std::memcpy(&b, p, 16);
    return b;
  }
  void ToBytes(uint8_t* p) const { std::memcpy(p, this, 16); }
};
static_assert(sizeof(Block) == 16);

}  // namespace consort::ot
