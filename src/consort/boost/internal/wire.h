#pragma once
// Message encoding of the SecureBoost protocol: a one-byte type, then little-endian fields.
// Reader validates every length against what is left and fails with InvalidArgument naming
// the message ("secureboost <what>: ...") instead of reading past the end.

#include <cstdint>
#include <string>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/status.h"
#include "consort/net/link.h"

namespace consort::boost::internal {

enum class Msg : uint8_t {
  kHello = 1,
  kHelloAck = 2,
  kTreeStart = 3,
  kCiphers = 4,
  kHists = 5,
  kSplitQuery = 6,
  kSplitReply = 7,
  kLevel = 8,
  kTreeEnd = 9,
  kEnd = 10,
  kPredictHello = 20,
  kPredictAck = 21,
  kPredictQuery = 22,
  kPredictReply = 23,
  kPredictEnd = 24,
};

class Writer {
 public:
  explicit Writer(Msg type) { out_.push_back(static_cast<uint8_t>(type)); }
  Writer& U8(uint8_t v) {
    out_.push_back(v);
    return *this;
  }
  Writer& U32(uint32_t v) {
    AppendU32(out_, v);
    return *this;
  }
  Writer& U64(uint64_t v) {
    AppendU64(out_, v);
    return *this;
  }
  Writer& Blob(ByteSpan b) {  // u32 length, bytes
    U32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Writer& Raw(ByteSpan b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Bytes& bytes() { return out_; }

 private:
  Bytes out_;
};

class Reader {
 public:
  Reader(ByteSpan msg, const char* what) : msg_(msg), what_(what) {}
  // InvalidArgument unless the message starts with `type` (names both).
  Status Expect(Msg type);
  StatusOr<uint8_t> U8();
  StatusOr<uint32_t> U32();
  StatusOr<uint64_t> U64();
  StatusOr<ByteSpan> Blob(size_t max_len);
  StatusOr<ByteSpan> Raw(size_t len);
  // InvalidArgument unless every byte was consumed.
  Status Done() const;
  size_t remaining() const { return msg_.size() - pos_; }
  Status Error(const std::string& problem) const;

 private:
  ByteSpan msg_;
  size_t pos_ = 0;
  const char* what_;
};

// The message type of a received message (InvalidArgument when empty).
StatusOr<Msg> PeekType(ByteSpan msg, const char* what);

// Bitmaps over a list of n items (bit i of byte i / 8, LSB first).
Bytes PackBits(const std::vector<uint8_t>& bits);
// InvalidArgument unless `packed` has exactly ceil(n / 8) bytes and no bit set past n.
StatusOr<std::vector<uint8_t>> UnpackBits(ByteSpan packed, size_t n, const char* what);

}  // namespace consort::boost::internal
