#pragma once
// Runs every party of a job in one process, one thread per party, over in-memory links: the
// harness for operator tests (STYLE.md: multi-party tests in one process). Results stay in
// memory per party so tests can compare them with a plaintext computation.

#include <map>
#include <set>
#include <memory>
#include <string>

#include "consort/common/json.h"
#include "consort/data/table.h"
#include "consort/engine/catalog.h"
#include "consort/engine/operator.h"

namespace consort::engine::testing {

struct PartyOutcome {
  Status status;
  std::map<std::string, data::Table> tables;  // StoreTable() and StoreTableFile() calls
  Json summary;                               // StoreSummary(), null if none
  std::map<std::string, StoredModel> models;  // StoreModel() calls
  uint64_t bytes_sent = 0;
};

struct LocalRunOptions {
  std::chrono::milliseconds link_timeout{30'000};
  // Fault injection: `fail_party` dies (all its links close, as when its process is killed)
  // once it has sent `fail_after_messages` messages in all (0 = before it sends anything; its
  // Run is then not called at all). "" = no fault.
  std::string fail_party;
  uint64_t fail_after_messages = 0;
  // Each party's ScratchDir() is <scratch_root>/<party>/scratch/<job id> and its CacheDir(k)
  // <scratch_root>/<party>/cache/<k>. Pass the same directory to two RunLocally calls to test
  // resume and reuse; "" = a fresh temporary directory, removed at the end of the run.
  std::string scratch_root{};
  // Models each party already holds (for prediction jobs).
  std::map<std::string, std::map<std::string, StoredModel>> models{};
};

// A catalog held in memory: members and dataset metadata, for operator Validate tests.
class StaticCatalog final : public CatalogView {
 public:
  std::set<std::string> members;
  std::map<std::pair<std::string, std::string>, DatasetInfo> datasets;  // (owner, name)

  // Adds `info` and makes its owner a member.
  void Add(DatasetInfo info);
  bool IsMember(const std::string& party) const override { return members.count(party) > 0; }
  StatusOr<DatasetInfo> Dataset(const std::string& owner, const std::string& name) const override;
};

// A table parsed from CSV text (source name "test.csv"). Aborts on malformed text: the text
// is part of the test.
std::shared_ptr<const data::Table> CsvTable(const std::string& text);

// A parsed spec for `op` (aborts if it does not parse: the spec is part of the test). Outputs
// whose kind is "" are left out, so one helper can build every receiver combination.
JobSpec MakeSpec(const std::string& op, const std::map<std::string, PartyInput>& parties,
                 const std::map<std::string, std::string>& outputs, Json params = Json::object());

// Runs `spec` with `inputs` (party -> table; dataless parties have none). Every party's Run is
// called concurrently. A party's InputFingerprint() is the SHA-256 of its table as CSV.
std::map<std::string, PartyOutcome> RunLocally(
    const Operator& op, const std::string& job_id, const JobSpec& spec,
    const std::map<std::string, std::shared_ptr<const data::Table>>& inputs,
    const LocalRunOptions& options = {});

}  // namespace consort::engine::testing
