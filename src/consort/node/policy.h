#pragma once
// Standing approval rules ("grants"), kept on the node and never on the coordinator.
//
// A rule lets this node sign a job without a person, when every condition holds:
//   dataset     the job uses this node's dataset of that name, or
//   role        this node takes part without data in that role (e.g. "dealer"); a rule has
//               exactly one of dataset and role
//   partners    every other party of the job is listed (or the list is ["*"])
//   operators   the job's operator is listed
//   columns     every column the job reads from this node's dataset is listed
//   partner_outputs (optional) every output a partner receives is one of these kinds
//                    (e.g. ["size"]: partners may learn the intersection size, nothing more)
//   expires     the rule is not expired (RFC 3339 time)
// A job that no rule matches waits for `consort job approve` / `reject` on this node.

#include <cstdint>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/engine/job_spec.h"

namespace consort::node {

struct PolicyRule {
  int64_t id = 0;  // assigned by the node's store
  std::string dataset;  // "" for a role rule
  std::string role;     // "" for a dataset rule
  std::vector<std::string> partners;  // ["*"] = any member
  std::vector<std::string> operators;
  std::vector<std::string> columns;
  std::vector<std::string> partner_outputs;  // empty = any output kind
  int64_t expires_ms = 0;                    // 0 = never

  Json ToJson() const;
  // InvalidArgument naming the field for malformed rules.
  static StatusOr<PolicyRule> FromJson(const Json& j);
};

// Whether `rule` allows party `self` to sign `spec` at time `now_ms`. When it does not, `why`
// (if given) receives the first condition that failed, for `consort job show`.
bool RuleMatches(const PolicyRule& rule, const engine::JobSpec& spec, const std::string& self,
                 int64_t now_ms, std::string* why = nullptr);

}  // namespace consort::node
