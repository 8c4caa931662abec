#pragma once
// Runs every party of a job in one process, one thread per party, over in-memory links: the
// harness for operator tests (STYLE.md: multi-party tests in one process). Results stay in
// memory per party so tests can compare them with a plaintext computation.

#include <map>
#include <memory>
#include <string>

#include "consort/common/json.h"
#include "consort/data/table.h"
#include "consort/engine/operator.h"

namespace consort::engine::testing {

struct PartyOutcome {
  Status status;
  std::map<std::string, data::Table> tables;  // StoreTable() calls
  Json summary;                               // StoreSummary(), null if none
  uint64_t bytes_sent = 0;
};

struct LocalRunOptions {
  std::chrono::milliseconds link_timeout{30'000};
  // Party whose links are closed after it sent this many messages (fault injection); "" = none.
  std::string fail_party;
};

// Runs `spec` with `inputs` (party -> table). Every party's Run is called concurrently.
std::map<std::string, PartyOutcome> RunLocally(
    const Operator& op, const std::string& job_id, const JobSpec& spec,
    const std::map<std::string, std::shared_ptr<const data::Table>>& inputs,
    const LocalRunOptions& options = {});

}  // namespace consort::engine::testing
