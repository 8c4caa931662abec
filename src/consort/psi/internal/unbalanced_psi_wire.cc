#include "consort/psi/internal/unbalanced_psi_wire.h"

#include <cstring>
#include <string>
#include <vector>

namespace consort::psi::internal::upsi {
namespace {

template <size_t N>
void Put(Bytes& out, const std::array<uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}
template <size_t N>
void Get(const uint8_t*& p, std::array<uint8_t, N>& a) {
  std::memcpy(a.data(), p, N);
  p += N;
}
uint32_t U32(const uint8_t*& p) {
  uint32_t v = ReadU32(p);
  p += 4;
  return v;
}
uint64_t U64(const uint8_t*& p) {
  uint64_t v = ReadU64(p);
  p += 8;
  return v;
}

size_t Buckets(size_t dir_bytes) { return size_t{1} << (8 * dir_bytes); }

}  // namespace

Bytes EncodeClientHello(const ClientHello& h) {
  Bytes out{kClientHello};
  AppendU32(out, h.version);
  Put(out, h.domain_hash);
  AppendU64(out, h.set_size);
  AppendU32(out, h.batch_size);
  Put(out, h.cached_id);
  Put(out, h.cached_digest);
  return out;
}

StatusOr<ClientHello> DecodeClientHello(ByteSpan msg) {
  if (msg.size() != kClientHelloBytes || msg[0] != kClientHello) {
    return absl::InvalidArgumentError("malformed unbalanced-PSI client hello (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kClientHelloBytes) + " starting with 'u')");
  }
  ClientHello h;
  const uint8_t* p = msg.data() + 1;
  h.version = U32(p);
  Get(p, h.domain_hash);
  h.set_size = U64(p);
  h.batch_size = U32(p);
  Get(p, h.cached_id);
  Get(p, h.cached_digest);
  return h;
}

Bytes EncodeServerHello(const ServerHello& h) {
  Bytes out{kServerHello};
  AppendU32(out, h.version);
  Put(out, h.domain_hash);
  Put(out, h.id);
  AppendU64(out, h.set_size);
  out.push_back(h.value_bytes);
  AppendU64(out, h.max_client_size);
  AppendU64(out, h.encoded_bytes);
  Put(out, h.digest);
  out.push_back(h.sending ? 1 : 0);
  return out;
}

StatusOr<ServerHello> DecodeServerHello(ByteSpan msg) {
  if (msg.size() != kServerHelloBytes || msg[0] != kServerHello || msg.back() > 1) {
    return absl::InvalidArgumentError("malformed unbalanced-PSI server hello (" +
                                      std::to_string(msg.size()) + " bytes, expected " +
                                      std::to_string(kServerHelloBytes) +
                                      " starting with 'U' and ending with a 0/1 flag)");
  }
  ServerHello h;
  const uint8_t* p = msg.data() + 1;
  h.version = U32(p);
  Get(p, h.domain_hash);
  Get(p, h.id);
  h.set_size = U64(p);
  h.value_bytes = *p++;
  h.max_client_size = U64(p);
  h.encoded_bytes = U64(p);
  Get(p, h.digest);
  h.sending = *p == 1;
  return h;
}

size_t DirBytesFor(uint64_t n) { return n >= (1u << 16) ? 2 : (n >= (1u << 8) ? 1 : 0); }

Bytes SerializeEncodedSet(const Id& id, size_t value_bytes, uint64_t max_client_size,
                          const std::vector<std::array<uint8_t, 16>>& sorted) {
  const uint64_t n = sorted.size();
  const size_t d = DirBytesFor(n), rest = value_bytes - d, buckets = Buckets(d);
  Bytes out;
  out.reserve(kSetHeaderBytes + 4 * (buckets + 1) + n * rest);
  for (char c : kSetMagic) out.push_back(static_cast<uint8_t>(c));  // (insert: a GCC 12 false positive)
  Put(out, id);
  AppendU64(out, n);
  out.push_back(static_cast<uint8_t>(value_bytes));
  out.push_back(static_cast<uint8_t>(d));
  AppendU64(out, max_client_size);
  std::vector<uint32_t> offsets(buckets + 1, 0);
  for (const auto& v : sorted) {
    size_t b = 0;
    for (size_t i = 0; i < d; ++i) b = (b << 8) | v[i];
    ++offsets[b + 1];
  }
  for (size_t b = 0; b < buckets; ++b) offsets[b + 1] += offsets[b];
  for (uint32_t o : offsets) AppendU32(out, o);
  for (const auto& v : sorted) out.insert(out.end(), v.begin() + d, v.begin() + value_bytes);
  return out;
}

StatusOr<EncodedSetView> ParseEncodedSet(ByteSpan e) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError("malformed unbalanced-PSI encoded set: " + what);
  };
  if (e.size() < kSetHeaderBytes || std::memcmp(e.data(), kSetMagic, 8) != 0) {
    return bad("missing header");
  }
  EncodedSetView v;
  const uint8_t* p = e.data() + 8;
  Get(p, v.id);
  v.n = U64(p);
  v.value_bytes = *p++;
  v.dir_bytes = *p++;
  v.max_client_size = U64(p);
  if (v.value_bytes < 5 || v.value_bytes > 16) {
    return bad("value size " + std::to_string(v.value_bytes) + " outside [5, 16]");
  }
  if (v.n > (uint64_t{1} << 32) - 1 || v.dir_bytes != DirBytesFor(v.n)) {
    return bad(std::to_string(v.n) + " values with a " + std::to_string(v.dir_bytes) +
               "-byte directory");
  }
  const size_t buckets = Buckets(v.dir_bytes), rest = v.value_bytes - v.dir_bytes;
  const uint64_t want = kSetHeaderBytes + 4 * (buckets + 1) + v.n * rest;
  if (e.size() != want) {
    return bad(std::to_string(e.size()) + " bytes, expected " + std::to_string(want));
  }
  v.offsets = p;
  v.values = p + 4 * (buckets + 1);
  if (ReadU32(v.offsets) != 0 || ReadU32(v.offsets + 4 * buckets) != v.n) {
    return bad("directory does not span the values");
  }
  for (size_t b = 0; b < buckets; ++b) {
    const uint32_t lo = ReadU32(v.offsets + 4 * b), hi = ReadU32(v.offsets + 4 * (b + 1));
    if (hi < lo || hi > v.n) return bad("directory not monotone at bucket " + std::to_string(b));
    for (uint64_t k = lo + 1; k < hi; ++k) {
      if (std::memcmp(v.values + (k - 1) * rest, v.values + k * rest, rest) >= 0) {
        return bad("values not strictly ascending at " + std::to_string(k));
      }
    }
  }
  return v;
}

bool EncodedSetView::Contains(const uint8_t* x) const {
  size_t b = 0;
  for (size_t i = 0; i < dir_bytes; ++i) b = (b << 8) | x[i];
  const size_t rest = value_bytes - dir_bytes;
  uint64_t lo = ReadU32(offsets + 4 * b), hi = ReadU32(offsets + 4 * (b + 1));
  const uint8_t* key = x + dir_bytes;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    const int c = std::memcmp(values + mid * rest, key, rest);
    if (c == 0) return true;
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return false;
}

}  // namespace consort::psi::internal::upsi
