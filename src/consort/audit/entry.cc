#include "consort/audit/entry.h"

#include <cstring>
#include <limits>
#include <utility>

namespace consort::audit {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status Invalid(std::string msg) { return absl::InvalidArgumentError("audit entry: " + msg); }

// A non-negative integer that fits int64 (no floats, no booleans).
StatusOr<int64_t> GetNonNegativeInt(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Invalid(std::string("missing field $.") + key);
  const std::string err = std::string("$.") + key + " must be an integer in [0, 2^63)";
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Invalid(err);
    return static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (v < 0) return Invalid(err);
    return v;
  }
  return Invalid(err);
}

StatusOr<std::string> GetStr(const Json& obj, const char* key, const char* path) {
  auto it = obj.find(key);
  if (it == obj.end()) return Invalid(std::string("missing field ") + path + "." + key);
  if (!it->is_string()) return Invalid(std::string(path) + "." + key + " must be a string");
  return it->get<std::string>();
}

StatusOr<Digest256> ParseHexDigest(const std::string& text, const char* field) {
  std::string err = std::string(field) + " must be 64 lowercase hex characters";
  if (text.size() != 64) return Invalid(err);
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return Invalid(err);
  }
  auto raw = HexDecode(text);
  if (!raw.ok()) return Invalid(err);
  Digest256 out;
  std::memcpy(out.data(), raw->data(), out.size());
  return out;
}

StatusOr<crypto::Signature> ParseSig(const std::string& text) {
  auto sig = crypto::DecodeSignature(text);
  if (!sig.ok()) return Invalid("$.sig: " + std::string(sig.status().message()));
  // One text form per signature (DecodeSignature tolerates '=' padding).
  if (crypto::EncodeSignature(*sig) != text) return Invalid("$.sig is not canonical base64url");
  return *sig;
}

Status ValidateAuthorFields(std::string_view kind, std::string_view author, int64_t time_ms,
                            const Json& body) {
  if (!IsValidKind(kind)) {
    return Invalid("$.kind must be 1-64 chars of dot-separated [a-z0-9_] segments");
  }
  if (!IsValidAuthor(author)) {
    return Invalid("$.author must be \"coordinator\" or a party name (1-64 chars of "
                   "[A-Za-z0-9._-], starting alphanumeric)");
  }
  if (time_ms < 0) return Invalid("$.time_ms must be an integer in [0, 2^63)");
  if (!body.is_object()) return Invalid("$.body must be an object");
  auto canon = CanonicalJson(body);
  if (!canon.ok()) return Invalid("$.body: " + std::string(canon.status().message()));
  if (canon->size() > kMaxBodyBytes) {
    return Invalid("$.body is " + std::to_string(canon->size()) + " bytes, limit " +
                   std::to_string(kMaxBodyBytes));
  }
  return OkStatus();
}

// Parses the fields shared by submissions and full entries; `allowed` lists every permitted key.
StatusOr<Entry> ParseCommon(const Json& json, std::initializer_list<std::string_view> allowed) {
  if (!json.is_object()) return Invalid("$ must be a JSON object");
  for (auto it = json.begin(); it != json.end(); ++it) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || it.key() == a;
    if (!ok) return Invalid("unknown field $." + it.key());
  }
  Entry e;
  CONSORT_ASSIGN_OR_RETURN(e.kind, GetStr(json, "kind", "$"));
  CONSORT_ASSIGN_OR_RETURN(e.author, GetStr(json, "author", "$"));
  CONSORT_ASSIGN_OR_RETURN(e.time_ms, GetNonNegativeInt(json, "time_ms"));
  auto body = json.find("body");
  if (body == json.end()) return Invalid("missing field $.body");
  e.body = *body;
  CONSORT_ASSIGN_OR_RETURN(std::string sig, GetStr(json, "sig", "$"));
  CONSORT_ASSIGN_OR_RETURN(e.sig, ParseSig(sig));
  CONSORT_RETURN_IF_ERROR(ValidateAuthorFields(e.kind, e.author, e.time_ms, e.body));
  return e;
}

Bytes Canonical(const Json& j) {
  auto s = CanonicalJson(j);
  // Only invalid UTF-8 can fail, and Validate() rejects it: reaching this is a programmer error.
  CONSORT_CHECK(s.ok());
  return ToBytes(*s);
}

}  // namespace

bool IsValidPartyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || !IsAlnum(name[0])) return false;
  if (name == kCoordinatorAuthor) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsValidAuthor(std::string_view author) {
  return author == kCoordinatorAuthor || IsValidPartyName(author);
}

bool IsValidKind(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxNameLength) return false;
  bool segment_empty = true;
  for (char c : kind) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

Digest256 LeafHashOf(ByteSpan entry_bytes) {
  crypto::Sha256Hasher h;
  const uint8_t prefix = 0x00;
  h.Update(ByteSpan(&prefix, 1));
  h.Update(entry_bytes);
  return h.Finish();
}

Digest256 ChainHashOf(const Digest256& prev, const Digest256& leaf) {
  crypto::Sha256Hasher h;
  h.Update(ByteSpan(prev));
  h.Update(ByteSpan(leaf));
  return h.Finish();
}

StatusOr<Entry> Entry::FromJson(const Json& json) {
  CONSORT_ASSIGN_OR_RETURN(
      Entry e, ParseCommon(json, {"kind", "author", "time_ms", "body", "sig", "seq", "prev"}));
  CONSORT_ASSIGN_OR_RETURN(e.seq, GetNonNegativeInt(json, "seq"));
  CONSORT_ASSIGN_OR_RETURN(std::string prev, GetStr(json, "prev", "$"));
  CONSORT_ASSIGN_OR_RETURN(e.prev, ParseHexDigest(prev, "$.prev"));
  return e;
}

StatusOr<Entry> Entry::FromSubmissionJson(const Json& json) {
  return ParseCommon(json, {"kind", "author", "time_ms", "body", "sig"});
}

Status Entry::Validate() const { return ValidateAuthorFields(kind, author, time_ms, body); }

Json Entry::AuthorPartJson() const {
  return Json{{"kind", kind}, {"author", author}, {"time_ms", time_ms}, {"body", body}};
}

Json Entry::SubmissionJson() const {
  Json j = AuthorPartJson();
  j["sig"] = crypto::EncodeSignature(sig);
  return j;
}

Json Entry::ToJson() const {
  CONSORT_CHECK(sequenced());
  Json j = SubmissionJson();
  j["seq"] = seq;
  j["prev"] = HexEncode(prev);
  return j;
}

Bytes Entry::SignedBytes() const { return Canonical(AuthorPartJson()); }

Digest256 Entry::AuthorDigest() const { return crypto::Sha256(ByteSpan(SignedBytes())); }

Bytes Entry::LeafBytes() const { return Canonical(ToJson()); }

Digest256 Entry::LeafHash() const { return LeafHashOf(LeafBytes()); }

Digest256 Entry::ChainHash() const { return ChainHashOf(prev, LeafHash()); }

Status Entry::VerifyAuthorSignature(const crypto::PublicKey& key) const {
  return crypto::VerifyFor(key, kEntryPurpose, SignedBytes(), sig);
}

StatusOr<Entry> MakeAuthorPart(std::string_view kind, std::string_view author, int64_t time_ms,
                               Json body, const crypto::SigningKey& key) {
  Entry e;
  e.kind = std::string(kind);
  e.author = std::string(author);
  e.time_ms = time_ms;
  e.body = std::move(body);
  CONSORT_RETURN_IF_ERROR(e.Validate());
  e.sig = key.SignFor(kEntryPurpose, e.SignedBytes());
  return e;
}

StatusOr<NodeRegistration> NodeRegistration::FromBody(const Json& body) {
  if (!body.is_object()) return Invalid("$.body must be an object");
  NodeRegistration r;
  CONSORT_ASSIGN_OR_RETURN(r.name, GetStr(body, "name", "$.body"));
  if (!IsValidPartyName(r.name)) {
    return Invalid("$.body.name must be a party name (1-64 chars of [A-Za-z0-9._-], starting "
                   "alphanumeric, not \"coordinator\")");
  }
  CONSORT_ASSIGN_OR_RETURN(std::string key_text, GetStr(body, "signing_key", "$.body"));
  auto key = crypto::DecodePublicKey(key_text);
  if (!key.ok()) return Invalid("$.body.signing_key: " + std::string(key.status().message()));
  if (crypto::EncodePublicKey(*key) != key_text) {
    return Invalid("$.body.signing_key is not canonical base64url");
  }
  r.signing_key = *key;
  CONSORT_ASSIGN_OR_RETURN(r.tls_fingerprint, GetStr(body, "tls_fingerprint", "$.body"));
  CONSORT_RETURN_IF_ERROR(ParseHexDigest(r.tls_fingerprint, "$.body.tls_fingerprint").status());
  CONSORT_ASSIGN_OR_RETURN(r.address, GetStr(body, "address", "$.body"));
  bool address_ok = !r.address.empty() && r.address.size() <= 255;
  for (char c : r.address) address_ok = address_ok && c > 0x20 && c < 0x7f;
  if (!address_ok) {
    return Invalid("$.body.address must be 1-255 printable ASCII characters without spaces");
  }
  return r;
}

Json NodeRegistration::ToBody() const {
  return Json{{"name", name},
              {"signing_key", crypto::EncodePublicKey(signing_key)},
              {"tls_fingerprint", tls_fingerprint},
              {"address", address}};
}

}  // namespace consort::audit
