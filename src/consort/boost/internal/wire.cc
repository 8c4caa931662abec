#include "consort/boost/internal/wire.h"

namespace consort::boost::internal {

Status Reader::Error(const std::string& problem) const {
  return absl::InvalidArgumentError(std::string("secureboost ") + what_ + ": " + problem);
}

Status Reader::Expect(Msg type) {
  if (msg_.empty()) return Error("empty message");
  if (msg_[0] != static_cast<uint8_t>(type)) {
    return Error("unexpected message type " + std::to_string(msg_[0]) + ", expected " +
                 std::to_string(static_cast<int>(type)));
  }
  pos_ = 1;
  return absl::OkStatus();
}

StatusOr<uint8_t> Reader::U8() {
  if (remaining() < 1) return Error("truncated");
  return msg_[pos_++];
}

StatusOr<uint32_t> Reader::U32() {
  if (remaining() < 4) return Error("truncated");
  const uint32_t v = ReadU32(msg_.data() + pos_);
  pos_ += 4;
  return v;
}

StatusOr<uint64_t> Reader::U64() {
  if (remaining() < 8) return Error("truncated");
  const uint64_t v = ReadU64(msg_.data() + pos_);
  pos_ += 8;
  return v;
}

StatusOr<ByteSpan> Reader::Blob(size_t max_len) {
  CONSORT_ASSIGN_OR_RETURN(uint32_t len, U32());
  if (len > max_len) return Error("field of " + std::to_string(len) + " bytes, too long");
  return Raw(len);
}

StatusOr<ByteSpan> Reader::Raw(size_t len) {
  if (remaining() < len) return Error("truncated");
  ByteSpan out = msg_.subspan(pos_, len);
  pos_ += len;
  return out;
}

Status Reader::Done() const {
  if (remaining() != 0) return Error(std::to_string(remaining()) + " trailing bytes");
  return absl::OkStatus();
}

StatusOr<Msg> PeekType(ByteSpan msg, const char* what) {
  if (msg.empty()) {
    return absl::InvalidArgumentError(std::string("secureboost ") + what + ": empty message");
  }
  return static_cast<Msg>(msg[0]);
}

Bytes PackBits(const std::vector<uint8_t>& bits) {
  Bytes out((bits.size() + 7) / 8, 0);
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  }
  return out;
}

StatusOr<std::vector<uint8_t>> UnpackBits(ByteSpan packed, size_t n, const char* what) {
  if (packed.size() != (n + 7) / 8) {
    return absl::InvalidArgumentError(std::string("secureboost ") + what + ": bitmap of " +
                                      std::to_string(packed.size()) + " bytes for " +
                                      std::to_string(n) + " rows");
  }
  std::vector<uint8_t> bits(n);
  for (size_t i = 0; i < n; ++i) bits[i] = (packed[i / 8] >> (i % 8)) & 1;
  if (n % 8 != 0 && (packed.back() >> (n % 8)) != 0) {
    return absl::InvalidArgumentError(std::string("secureboost ") + what +
                                      ": bits set past the last row");
  }
  return bits;
}

}  // namespace consort::boost::internal
