#include "consort/engine/operator.h"

#include <algorithm>

namespace consort::engine {

Json OperatorInfo::ToJson() const {
  return {{"name", name},
          {"title", title},
          {"description", description},
          {"security_model", security_model},
          {"parameters", parameters},
          {"leaks", leaks},
          {"outputs", outputs},
          {"min_parties", min_parties},
          {"max_parties", max_parties},
          {"roles", roles}};
}

OperatorRegistry& OperatorRegistry::Global() {
  static OperatorRegistry* registry = new OperatorRegistry();
  return *registry;
}

void OperatorRegistry::Register(std::unique_ptr<Operator> op) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = op->info().name;
  CONSORT_CHECK(!ops_.count(name));
  ops_.emplace(name, std::move(op));
}

StatusOr<const Operator*> OperatorRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ops_.find(name);
  if (it != ops_.end()) return it->second.get();
  std::string known;
  for (const auto& [n, _] : ops_) known += (known.empty() ? "" : ", ") + n;
  return absl::NotFoundError("unknown operator '" + name + "' (known: " + known + ")");
}

std::vector<const Operator*> OperatorRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const Operator*> out;
  for (const auto& [_, op] : ops_) out.push_back(op.get());
  return out;
}

Status CheckOperatorShape(const JobSpec& spec) {
  CONSORT_ASSIGN_OR_RETURN(const Operator* op, OperatorRegistry::Global().Find(spec.op));
  const OperatorInfo& info = op->info();
  int n = static_cast<int>(spec.DataPartyNames().size());
  if (n < info.min_parties || n > info.max_parties) {
    return absl::InvalidArgumentError(
        "operator " + info.name + " takes " + std::to_string(info.min_parties) +
        (info.max_parties == info.min_parties ? "" : " to " + std::to_string(info.max_parties)) +
        " data parties, the spec names " + std::to_string(n));
  }
  for (const auto& [party, input] : spec.parties) {
    if (input.has_data()) continue;
    if (std::find(info.roles.begin(), info.roles.end(), input.role) == info.roles.end()) {
      std::string allowed;
      for (const auto& r : info.roles) allowed += (allowed.empty() ? "" : ", ") + r;
      return absl::InvalidArgumentError("$.parties." + party + ".role: operator " + info.name +
                                        " has no role '" + input.role + "'" +
                                        (allowed.empty() ? " (it takes no dataless parties)"
                                                         : " (allowed: " + allowed + ")"));
    }
  }
  return OkStatus();
}

Status ValidateJob(const JobSpec& spec, const CatalogView& catalog) {
  CONSORT_RETURN_IF_ERROR(CheckOperatorShape(spec));
  CONSORT_ASSIGN_OR_RETURN(const Operator* op, OperatorRegistry::Global().Find(spec.op));
  const OperatorInfo& info = op->info();
  for (const auto& [party, input] : spec.parties) {
    if (!catalog.IsMember(party)) {
      return absl::NotFoundError("$.parties." + party + ": no federation member named '" +
                                 party + "'");
    }
    if (!input.has_data()) continue;  // a dataless party: the operator checks its role
    auto ds = catalog.Dataset(party, input.dataset);
    if (!ds.ok()) {
      return absl::NotFoundError("$.parties." + party + ".dataset: party '" + party +
                                 "' has no dataset '" + input.dataset + "'");
    }
    for (const auto& c : input.columns) {
      auto col = ds->Column(c);
      if (!col.ok()) return absl::NotFoundError("$.parties." + party + ".columns: " +
                                                std::string(col.status().message()));
    }
  }
  for (const auto& [party, kind] : spec.outputs) {
    if (std::find(info.outputs.begin(), info.outputs.end(), kind) == info.outputs.end()) {
      std::string allowed;
      for (const auto& o : info.outputs) allowed += (allowed.empty() ? "" : ", ") + o;
      return absl::InvalidArgumentError("$.outputs." + party + ": operator " + info.name +
                                        " has no output '" + kind + "' (allowed: " + allowed +
                                        ")");
    }
  }
  return op->Validate(spec, catalog);
}

}  // namespace consort::engine
