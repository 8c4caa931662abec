#pragma once
// Wire format of bucketed ECDH-PSI's own messages (psi/bucketed_psi.h); every bucket then runs
// ECDH-PSI's messages (internal/ecdh_psi_wire.h). Little-endian integers. Internal to psi/;
// tests use it to play a misbehaving peer.
//
//   plan:   'B' | u32 version | u64 rows | u64 need MiB | u32 budget MiB | u32 forced buckets |
//           u8 my output | u8 peer output | SHA-256(domain)                     (63 bytes)
//   resume: 'R' | u32 buckets | u32 finished buckets                            (9 bytes)
//   keepalive: 'K', every timeout/4 during a party's local work before 'B' and before 'R';
//              skipped by the receiver                                          (1 byte)

#include <array>
#include <cstdint>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/psi/psi.h"

namespace consort::psi::internal {

inline constexpr uint8_t kMsgBucketPlan = 'B';
inline constexpr uint8_t kMsgBucketResume = 'R';
inline constexpr uint8_t kMsgBucketKeepalive = 'K';
inline constexpr size_t kBucketPlanBytes = 1 + 4 + 8 + 8 + 4 + 4 + 1 + 1 + 32;
inline constexpr size_t kBucketResumeBytes = 1 + 4 + 4;

struct BucketPlan {
  uint32_t version = 0;
  uint64_t rows = 0;
  uint64_t need_mib = 0;  // this party's working set for B = 1, rounded up to MiB
  uint32_t budget_mb = 0;
  uint32_t force_buckets = 0;
  PsiOutput my_output = PsiOutput::kNone;
  PsiOutput peer_output = PsiOutput::kNone;
  std::array<uint8_t, 32> domain_hash{};
};

struct BucketResume {
  uint32_t buckets = 0;
  uint32_t done = 0;
};

Bytes EncodeBucketPlan(const BucketPlan& p);
// InvalidArgument on a wrong size, type byte or output value (ranges are the caller's).
StatusOr<BucketPlan> DecodeBucketPlan(ByteSpan msg);
Bytes EncodeBucketResume(const BucketResume& r);
StatusOr<BucketResume> DecodeBucketResume(ByteSpan msg);

}  // namespace consort::psi::internal
