#pragma once
// Who may write an audit entry, and with which key. Shared by the store (Append, Ingest) and
// the independent verifier so that both apply exactly the same rules.

#include <functional>
#include <optional>
#include <string>

#include "consort/audit/entry.h"
#include "consort/common/status.h"
#include "consort/crypto/sign.h"

namespace consort::audit::internal {

// Returns the registered signing key of party `name`, nullopt if it never registered.
using KeyLookup =
    std::function<StatusOr<std::optional<crypto::PublicKey>>(const std::string& name)>;

struct AuthorCheck {
  // Set when the entry registers a node that was not registered before.
  std::optional<NodeRegistration> new_registration;
};

// Checks `e`'s author signature with the key its author must hold:
//  * "node.registered": author must equal body.name (PermissionDenied otherwise), the entry is
//    signed by body.signing_key, and a name already registered with a different key is
//    DataLoss "key changed" (no rotation yet); the same key again is accepted (e.g. new address);
//  * author "coordinator": `coordinator_key`;
//  * any other author: its registered key; PermissionDenied "unknown author" if none.
// Unauthenticated on a bad signature; InvalidArgument on a malformed registration body;
// errors from `lookup` are passed through.
StatusOr<AuthorCheck> CheckAuthor(const Entry& e, const crypto::PublicKey& coordinator_key,
                                  const KeyLookup& lookup);

}  // namespace consort::audit::internal
