#include "consort/node/policy.h"

#include <algorithm>

#include "consort/common/time.h"

namespace consort::node {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

StatusOr<std::vector<std::string>> StringList(const Json& j, const char* key, bool required) {
  std::vector<std::string> out;
  if (!j.contains(key)) {
    if (required) return absl::InvalidArgumentError(std::string("policy rule: missing field ") + key);
    return out;
  }
  if (!j[key].is_array()) return absl::InvalidArgumentError(std::string("policy rule: ") + key + " must be a list");
  for (const auto& v : j[key]) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return absl::InvalidArgumentError(std::string("policy rule: ") + key + " must hold non-empty strings");
    }
    out.push_back(v.get<std::string>());
  }
  if (required && out.empty()) return absl::InvalidArgumentError(std::string("policy rule: ") + key + " must not be empty");
  return out;
}

}  // namespace

Json PolicyRule::ToJson() const {
  Json j = {{"id", id}, {"partners", partners},
            {"operators", operators},
            {"columns", columns},
            {"partner_outputs", partner_outputs}};
  if (role.empty()) {
    j["dataset"] = dataset;
  } else {
    j["role"] = role;
  }
  j["expires"] = expires_ms ? FormatRfc3339(expires_ms) : "";
  return j;
}

StatusOr<PolicyRule> PolicyRule::FromJson(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("policy rule must be an object");
  PolicyRule r;
  if (j.contains("id") && j["id"].is_number_integer()) r.id = j["id"];
  if (j.contains("role") == j.contains("dataset")) {
    return absl::InvalidArgumentError("policy rule must have exactly one of \"dataset\" and \"role\"");
  }
  if (j.contains("role")) {
    CONSORT_ASSIGN_OR_RETURN(r.role, GetString(j, "role", "policy rule"));
    CONSORT_RETURN_IF_ERROR(engine::ValidateName(r.role, "policy rule role"));
  } else {
    CONSORT_ASSIGN_OR_RETURN(r.dataset, GetString(j, "dataset", "policy rule"));
  }
  CONSORT_ASSIGN_OR_RETURN(r.partners, StringList(j, "partners", true));
  CONSORT_ASSIGN_OR_RETURN(r.operators, StringList(j, "operators", true));
  CONSORT_ASSIGN_OR_RETURN(r.columns, StringList(j, "columns", r.role.empty()));
  CONSORT_ASSIGN_OR_RETURN(r.partner_outputs, StringList(j, "partner_outputs", false));
  std::string expires = j.value("expires", "");
  if (!expires.empty()) {
    CONSORT_ASSIGN_OR_RETURN(r.expires_ms, ParseRfc3339(expires));
  }
  return r;
}

bool RuleMatches(const PolicyRule& rule, const engine::JobSpec& spec, const std::string& self,
                 int64_t now_ms, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = "rule " + std::to_string(rule.id) + ": " + reason;
    return false;
  };
  auto mine = spec.parties.find(self);
  if (mine == spec.parties.end()) return fail("this node is not a party");
  if (rule.expires_ms != 0 && now_ms >= rule.expires_ms) return fail("expired");
  if (mine->second.has_data()) {
    if (!rule.role.empty()) return fail("the rule is for role " + rule.role + ", not for data");
    if (mine->second.dataset != rule.dataset) return fail("dataset differs");
  } else if (rule.role.empty() || mine->second.role != rule.role) {
    return fail("this node takes part as '" + mine->second.role + "', the rule is for " +
                (rule.role.empty() ? "dataset " + rule.dataset : "role " + rule.role));
  }
  if (!Contains(rule.operators, spec.op)) return fail("operator " + spec.op + " not allowed");
  bool any_partner = Contains(rule.partners, "*");
  for (const auto& [party, _] : spec.parties) {
    if (party == self) continue;
    if (!any_partner && !Contains(rule.partners, party)) return fail("partner " + party + " not allowed");
  }
  for (const auto& c : mine->second.columns) {
    if (!Contains(rule.columns, c)) return fail("column " + c + " not allowed");
  }
  if (!rule.partner_outputs.empty()) {
    for (const auto& [party, kind] : spec.outputs) {
      if (party == self) continue;
      if (!Contains(rule.partner_outputs, kind)) {
        return fail("partner " + party + " would receive '" + kind + "'");
      }
    }
  }
  return true;
}

}  // namespace consort::node
