#include "consort/psi/internal/bucketed_psi_wire.h"

#include <cstring>
#include <string>

namespace consort::psi::internal {
namespace {

StatusOr<PsiOutput> DecodeOutput(uint8_t v, const char* field) {
  if (v > static_cast<uint8_t>(PsiOutput::kIntersection)) {
    return absl::InvalidArgumentError(std::string("bucketed PSI plan: invalid ") + field +
                                      " value " + std::to_string(v));
  }
  return static_cast<PsiOutput>(v);
}

}  // namespace

Bytes EncodeBucketPlan(const BucketPlan& p) {
  Bytes out;
  out.reserve(kBucketPlanBytes);
  out.push_back(kMsgBucketPlan);
  AppendU32(out, p.version);
  AppendU64(out, p.rows);
  AppendU64(out, p.need_mib);
  AppendU32(out, p.budget_mb);
  AppendU32(out, p.force_buckets);
  out.push_back(static_cast<uint8_t>(p.my_output));
  out.push_back(static_cast<uint8_t>(p.peer_output));
  out.insert(out.end(), p.domain_hash.begin(), p.domain_hash.end());
  return out;
}

StatusOr<BucketPlan> DecodeBucketPlan(ByteSpan msg) {
  if (msg.size() != kBucketPlanBytes || msg[0] != kMsgBucketPlan) {
    return absl::InvalidArgumentError("malformed bucketed PSI plan (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kBucketPlanBytes) + " starting with 'B')");
  }
  const uint8_t* p = msg.data() + 1;
  BucketPlan b;
  b.version = ReadU32(p);
  b.rows = ReadU64(p + 4);
  b.need_mib = ReadU64(p + 12);
  b.budget_mb = ReadU32(p + 20);
  b.force_buckets = ReadU32(p + 24);
  CONSORT_ASSIGN_OR_RETURN(b.my_output, DecodeOutput(p[28], "sender output"));
  CONSORT_ASSIGN_OR_RETURN(b.peer_output, DecodeOutput(p[29], "receiver output"));
  std::memcpy(b.domain_hash.data(), p + 30, 32);
  return b;
}

Bytes EncodeBucketResume(const BucketResume& r) {
  Bytes out;
  out.reserve(kBucketResumeBytes);
  out.push_back(kMsgBucketResume);
  AppendU32(out, r.buckets);
  AppendU32(out, r.done);
  return out;
}

StatusOr<BucketResume> DecodeBucketResume(ByteSpan msg) {
  if (msg.size() != kBucketResumeBytes || msg[0] != kMsgBucketResume) {
    return absl::InvalidArgumentError("malformed bucketed PSI resume message (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kBucketResumeBytes) +
                                      " starting with 'R')");
  }
  return BucketResume{ReadU32(msg.data() + 1), ReadU32(msg.data() + 5)};
}

}  // namespace consort::psi::internal
