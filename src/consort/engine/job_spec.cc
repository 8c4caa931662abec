#include "consort/engine/job_spec.h"

#include <algorithm>
#include <set>

#include "consort/crypto/hash.h"

namespace consort::engine {

Status ValidateName(const std::string& value, const std::string& path) {
  if (value.empty() || value.size() > 64) {
    return absl::InvalidArgumentError(path + " must be 1 to 64 characters");
  }
  if (value == "." || value == "..") {
    // Names become parts of file names on the nodes.
    return absl::InvalidArgumentError(path + " must not be '.' or '..'");
  }
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(path + " may contain only letters, digits, '_', '-', '.'");
    }
  }
  return OkStatus();
}

std::vector<std::string> JobSpec::PartyNames() const {
  std::vector<std::string> names;
  for (const auto& [n, _] : parties) names.push_back(n);
  return names;  // std::map keeps them sorted
}

std::vector<std::string> JobSpec::DataPartyNames() const {
  std::vector<std::string> names;
  for (const auto& [n, in] : parties) {
    if (in.has_data()) names.push_back(n);
  }
  return names;
}

std::vector<std::string> JobSpec::PartiesWithRole(const std::string& role) const {
  std::vector<std::string> names;
  for (const auto& [n, in] : parties) {
    if (!in.has_data() && in.role == role) names.push_back(n);
  }
  return names;
}

const std::string* JobSpec::OutputFor(const std::string& party) const {
  auto it = outputs.find(party);
  return it == outputs.end() ? nullptr : &it->second;
}

StatusOr<JobSpec> ParseJobSpec(const Json& doc) {
  if (!doc.is_object()) return absl::InvalidArgumentError("$ must be a JSON object");
  static const std::set<std::string> kFields = {"operator", "name",   "description", "parties",
                                                "outputs",  "params", "nonce"};
  for (const auto& [key, _] : doc.items()) {
    if (!kFields.count(key)) return absl::InvalidArgumentError("unknown field $." + key);
  }
  JobSpec spec;
  spec.raw = doc;
  CONSORT_ASSIGN_OR_RETURN(spec.op, GetString(doc, "operator", "$"));
  if (spec.op.empty()) return absl::InvalidArgumentError("$.operator must not be empty");
  for (const char* opt : {"name", "description", "nonce"}) {
    if (doc.contains(opt)) {
      CONSORT_ASSIGN_OR_RETURN(std::string v, GetString(doc, opt, "$"));
      if (v.size() > 1024) return absl::InvalidArgumentError(std::string("$.") + opt + " is too long");
      if (std::string(opt) == "name") spec.name = v;
      if (std::string(opt) == "description") spec.description = v;
      if (std::string(opt) == "nonce") spec.nonce = v;
    }
  }

  CONSORT_ASSIGN_OR_RETURN(const Json* parties, GetObject(doc, "parties", "$"));
  if (parties->empty()) return absl::InvalidArgumentError("$.parties must name at least one party");
  for (const auto& [party, input] : parties->items()) {
    std::string path = "$.parties." + party;
    CONSORT_RETURN_IF_ERROR(ValidateName(party, path + " (party name)"));
    if (!input.is_object()) return absl::InvalidArgumentError(path + " must be an object");
    for (const auto& [key, _] : input.items()) {
      if (key != "dataset" && key != "columns" && key != "role") {
        return absl::InvalidArgumentError("unknown field " + path + "." + key);
      }
    }
    PartyInput in;
    if (input.contains("role")) {
      CONSORT_ASSIGN_OR_RETURN(in.role, GetString(input, "role", path));
      CONSORT_RETURN_IF_ERROR(ValidateName(in.role, path + ".role"));
      if (input.contains("dataset") || input.contains("columns")) {
        return absl::InvalidArgumentError(path + ": a party with a role brings no dataset or columns");
      }
      spec.parties.emplace(party, std::move(in));
      continue;
    }
    CONSORT_ASSIGN_OR_RETURN(in.dataset, GetString(input, "dataset", path));
    CONSORT_RETURN_IF_ERROR(ValidateName(in.dataset, path + ".dataset"));
    CONSORT_ASSIGN_OR_RETURN(const Json* cols, GetArray(input, "columns", path));
    if (cols->empty()) return absl::InvalidArgumentError(path + ".columns must not be empty");
    std::set<std::string> seen;
    for (size_t i = 0; i < cols->size(); ++i) {
      std::string cpath = path + ".columns[" + std::to_string(i) + "]";
      if (!(*cols)[i].is_string()) return absl::InvalidArgumentError(cpath + " must be a string");
      std::string c = (*cols)[i].get<std::string>();
      if (c.empty()) return absl::InvalidArgumentError(cpath + " must not be empty");
      if (!seen.insert(c).second) {
        return absl::InvalidArgumentError(cpath + " repeats column '" + c + "'");
      }
      in.columns.push_back(c);
    }
    spec.parties.emplace(party, std::move(in));
  }

  CONSORT_ASSIGN_OR_RETURN(const Json* outputs, GetObject(doc, "outputs", "$"));
  if (outputs->empty()) return absl::InvalidArgumentError("$.outputs must name at least one receiver");
  for (const auto& [party, kind] : outputs->items()) {
    std::string path = "$.outputs." + party;
    if (!spec.parties.count(party)) {
      return absl::InvalidArgumentError(path + ": receiver '" + party +
                                        "' is not one of the job's parties");
    }
    if (!kind.is_string()) return absl::InvalidArgumentError(path + " must be a string");
    spec.outputs.emplace(party, kind.get<std::string>());
  }

  // The coordinator's reserved party: structural, so that every node refuses a spec that gives
  // the coordinator data or output, whatever the coordinator itself accepted.
  if (auto it = spec.parties.find(kCoordinatorParty); it != spec.parties.end()) {
    if (it->second.has_data() || it->second.role != kDealerRole) {
      return absl::InvalidArgumentError(
          std::string("$.parties.") + kCoordinatorParty +
          ": the coordinator holds no data and can only be the dealer ({\"role\": \"dealer\"})");
    }
  }
  if (spec.outputs.count(kCoordinatorParty)) {
    return absl::InvalidArgumentError(std::string("$.outputs.") + kCoordinatorParty +
                                      ": the coordinator never receives results");
  }

  if (doc.contains("params")) {
    if (!doc["params"].is_object()) return absl::InvalidArgumentError("$.params must be an object");
    spec.params = doc["params"];
  }
  return spec;
}

StatusOr<JobSpec> ParseJobSpecText(std::string_view text, std::string_view source) {
  CONSORT_ASSIGN_OR_RETURN(Json doc, ParseJson(text, source));
  return ParseJobSpec(doc);
}

StatusOr<std::string> ComputeJobId(const Json& doc) {
  CONSORT_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(doc));
  return crypto::Sha256Hex(canonical);
}

std::string ApprovalMessage(const std::string& job_id, int64_t attempt) {
  return attempt == 0 ? job_id : job_id + "/attempt/" + std::to_string(attempt);
}

Status ValidateJobId(const std::string& id) {
  if (id.size() != 64) return absl::InvalidArgumentError("job id must be 64 hex characters");
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError("job id must be lowercase hex");
    }
  }
  return OkStatus();
}

}  // namespace consort::engine
