#pragma once
// A job spec: the JSON document every involved party signs.
//
//   {
//     "operator": "psi.ecdh",
//     "name": "bank-shop-overlap",            (optional)
//     "description": "...",                   (optional)
//     "parties": { "bank": {"dataset": "customers", "columns": ["phone"]},
//                  "shop": {"dataset": "buyers",    "columns": ["phone"]},
//                  "media": {"role": "dealer"} },    (a dataless party, if the operator uses one)
//     "outputs": { "bank": "intersection", "shop": "size" },
//     "params":  { "duplicates": "error" },   (optional, operator-specific)
//     "nonce":   "9f2c..."                    (optional; makes a re-run a new job)
//   }
//
// The job id is the lowercase hex SHA-256 of the spec's canonical JSON (common/json.h), so a
// node can recompute it from the spec alone and a signature over the id covers every field.

#include <map>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::engine {

// The reserved party name under which the coordinator itself takes part in a job. It may only
// take the dataless dealer role ({"coordinator": {"role": "dealer"}}), signs with the
// coordinator's key (pinned by every node) and never receives output; no node can register
// under this name.
inline constexpr char kCoordinatorParty[] = "coordinator";
// The role of the party that deals correlated randomness (Beaver triples) in two-party MPC.
inline constexpr char kDealerRole[] = "dealer";

// One party's entry. A data party names its dataset and the columns the job reads; a dataless
// party takes part in a role instead ({"role": "dealer"}: e.g. the Beaver-triple dealer of
// two-party MPC), and every party, dataless or not, signs the job.
struct PartyInput {
  std::string dataset;               // "" for a dataless party
  std::vector<std::string> columns;  // empty for a dataless party
  std::string role{};                // "" for a data party; a name otherwise

  bool has_data() const { return !dataset.empty(); }
};

struct JobSpec {
  std::string op;  // operator name
  std::string name;
  std::string description;
  std::map<std::string, PartyInput> parties;  // party name -> its input
  std::map<std::string, std::string> outputs;  // receiver party -> output kind
  Json params = Json::object();
  std::string nonce;
  Json raw;  // the document as submitted (what is hashed and signed)

  // Parties in a fixed order (sorted by name); protocols use it to assign roles.
  std::vector<std::string> PartyNames() const;
  // The parties that bring data (has_data()), sorted by name.
  std::vector<std::string> DataPartyNames() const;
  // The dataless parties whose role is `role`, sorted by name.
  std::vector<std::string> PartiesWithRole(const std::string& role) const;
  const std::string* OutputFor(const std::string& party) const;
};

// Parses and structurally validates a spec. InvalidArgument naming the field ("$.parties.bank.
// columns[1] must be a string") for anything malformed or unknown.
StatusOr<JobSpec> ParseJobSpec(const Json& doc);
StatusOr<JobSpec> ParseJobSpecText(std::string_view text, std::string_view source);

// The job id: hex SHA-256 of CanonicalJson(doc).
StatusOr<std::string> ComputeJobId(const Json& doc);

// Party, dataset and column-free names: 1-64 of [A-Za-z0-9_.-]. InvalidArgument naming `what`.
Status ValidateName(const std::string& value, const std::string& what);

// What a party signs (SignFor "job-approval") to approve attempt `attempt` of job `job_id`:
// the id itself for the first run, "<id>/attempt/<n>" for the n-th retry, so an approval of
// one run never authorizes another.
std::string ApprovalMessage(const std::string& job_id, int64_t attempt);

// Checks that `id` is 64 lowercase hex characters (InvalidArgument otherwise).
Status ValidateJobId(const std::string& id);

}  // namespace consort::engine
