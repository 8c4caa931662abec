#include "consort/audit/internal/author_rules.h"

namespace consort::audit::internal {
namespace {
Status BadSignature(const Entry& e) {
  return absl::UnauthenticatedError("author signature does not verify (author \"" + e.author +
                                    "\", kind \"" + e.kind + "\")");
}
}  // namespace

StatusOr<AuthorCheck> CheckAuthor(const Entry& e, const crypto::PublicKey& coordinator_key,
                                  const KeyLookup& lookup) {
  AuthorCheck out;
  if (e.kind == kKindNodeRegistered) {
    CONSORT_ASSIGN_OR_RETURN(NodeRegistration reg, NodeRegistration::FromBody(e.body));
    if (e.author != reg.name) {
      return absl::PermissionDeniedError("node.registered for \"" + reg.name +
                                         "\" must be authored by that node, not \"" + e.author +
                                         "\"");
    }
    // Self-authentication: the registering node proves possession of the key it registers.
    if (!e.VerifyAuthorSignature(reg.signing_key).ok()) return BadSignature(e);
    CONSORT_ASSIGN_OR_RETURN(std::optional<crypto::PublicKey> known, lookup(reg.name));
    if (known.has_value()) {
      if (*known != reg.signing_key) {
        return absl::DataLossError("key changed: node \"" + reg.name +
                                   "\" is already registered with a different signing key");
      }
    } else {
      out.new_registration = std::move(reg);
    }
    return out;
  }
  if (e.author == kCoordinatorAuthor) {
    if (!e.VerifyAuthorSignature(coordinator_key).ok()) return BadSignature(e);
    return out;
  }
  CONSORT_ASSIGN_OR_RETURN(std::optional<crypto::PublicKey> key, lookup(e.author));
  if (!key.has_value()) {
    return absl::PermissionDeniedError("unknown author \"" + e.author +
                                       "\": no earlier node.registered entry");
  }
  if (!e.VerifyAuthorSignature(*key).ok()) return BadSignature(e);
  return out;
}

}  // namespace consort::audit::internal
