#include "consort/coordinator/invite.h"

#include "consort/common/bytes.h"
#include "consort/common/json.h"

namespace consort::coordinator {
namespace {
constexpr char kPrefix[] = "csi1.";
Status Malformed(const std::string& why) {
  return absl::InvalidArgumentError("invite token is malformed: " + why);
}
}  // namespace

StatusOr<std::string> Invite::Encode() const {
  Json j = {{"name", name},           {"grpc", grpc_address}, {"api", api_address},
            {"fp", tls_fingerprint}, {"key", coordinator_key}, {"secret", secret}};
  CONSORT_ASSIGN_OR_RETURN(std::string text, CanonicalJson(j));
  return std::string(kPrefix) + Base64UrlEncode(AsBytes(text));
}

StatusOr<Invite> Invite::Decode(const std::string& token_in) {
  std::string token = token_in;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  if (token.size() > 4096) return Malformed("too long");
  if (token.rfind(kPrefix, 0) != 0) return Malformed("it must start with 'csi1.'");
  auto raw = Base64UrlDecode(std::string_view(token).substr(sizeof(kPrefix) - 1));
  if (!raw.ok()) return Malformed(std::string(raw.status().message()));
  auto j = ParseJson(ToString(*raw), "invite");
  if (!j.ok() || !j->is_object()) return Malformed("not a JSON object");
  Invite inv;
  for (auto [field, out] : {std::pair{"name", &inv.name}, {"grpc", &inv.grpc_address},
                            {"api", &inv.api_address}, {"fp", &inv.tls_fingerprint},
                            {"key", &inv.coordinator_key}, {"secret", &inv.secret}}) {
    auto v = GetString(*j, field, "$");
    if (!v.ok()) return Malformed(std::string(v.status().message()));
    *out = *v;
  }
  if (inv.secret.size() != 64 || inv.tls_fingerprint.size() != 64) {
    return Malformed("wrong secret or fingerprint length");
  }
  return inv;
}

}  // namespace consort::coordinator
