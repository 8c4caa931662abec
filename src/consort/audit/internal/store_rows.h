#pragma once
// Raw, unverified access to the audit tables, for the independent verifier (verify.cc). Nothing
// here checks a signature or a hash: callers must treat every value as untrusted.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/audit/log_store.h"
#include "consort/common/bytes.h"
#include "consort/common/sqlite.h"
#include "consort/common/status.h"

namespace consort::audit::internal {

struct RawRow {
  int64_t seq = 0;
  std::string entry_json;
  Bytes chain_hash;
  Bytes author_digest;
};

struct RawKey {
  std::string name;
  Bytes signing_key;
  int64_t registered_seq = 0;
};

struct RawHead {
  int64_t size = 0;
  Bytes chain_hash;
  int64_t time_ms = 0;
  Bytes sig;
};

// Calls `fn` for each audit_log row in seq order; stops at the first error `fn` returns.
Status ScanRows(SqlDb* db, const std::function<Status(const RawRow&)>& fn);
StatusOr<std::vector<RawKey>> ReadKeys(SqlDb* db);
// In size order.
StatusOr<std::vector<RawHead>> ReadHeads(SqlDb* db);

}  // namespace consort::audit::internal
