#pragma once
// Operators: the unit of computation. An operator has a name, a description that states its
// security model and leakage, a spec validator (run by the coordinator against the catalog,
// and again by every node before it touches data), and a Run() per party over a Session.
//
// Operators are registered with OperatorRegistry::Global().Register(); each family offers an
// idempotent Register<Family>Operators() (e.g. psi::RegisterPsiOperators()) that binaries call
// at start-up. This is the extension point a partner uses to add its own.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/engine/catalog.h"
#include "consort/engine/job_spec.h"
#include "consort/engine/session.h"

namespace consort::engine {

struct OperatorInfo {
  std::string name;            // "psi.ecdh"
  std::string title;           // one line
  std::string description;     // what it computes
  std::string security_model;  // e.g. "semi-honest, two parties"
  std::string parameters;      // e.g. "128-bit computational (DDH on Curve25519)"
  std::string leaks;           // the Leaks: statement
  std::vector<std::string> outputs;  // output kinds a receiver may ask for
  // Bounds on the number of data parties (those with a dataset).
  int min_parties = 2;
  int max_parties = 2;
  // Roles a dataless party may take in this operator's jobs (e.g. {"dealer"}); a spec naming
  // any other role is refused by ValidateJob.
  std::vector<std::string> roles;

  Json ToJson() const;
};

class Operator {
 public:
  virtual ~Operator() = default;
  virtual const OperatorInfo& info() const = 0;
  // Operator-specific checks beyond the generic ones (party count, output kinds, member and
  // dataset existence, column existence), which ValidateJob performs first.
  virtual Status Validate(const JobSpec& spec, const CatalogView& catalog) const = 0;
  // Runs this party's side. Must honour session.cancelled() and report progress.
  virtual Status Run(Session& session) const = 0;
};

class OperatorRegistry {
 public:
  static OperatorRegistry& Global();
  void Register(std::unique_ptr<Operator> op);
  // NotFound naming the operator and listing the known ones.
  StatusOr<const Operator*> Find(const std::string& name) const;
  std::vector<const Operator*> List() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Operator>> ops_;
};

// What a node can check without the catalog: the operator exists here, the number of data
// parties fits it, and every dataless party's role is one it takes. NotFound (unknown
// operator) or InvalidArgument naming the problem.
Status CheckOperatorShape(const JobSpec& spec);

// Full validation of a spec against the catalog: the operator exists, the party count fits,
// every party is a member, every dataset and column exists, every output kind is one the
// operator offers, then the operator's own checks. Errors are InvalidArgument (bad spec) or
// NotFound (unknown operator, party, dataset or column), each naming the problem.
Status ValidateJob(const JobSpec& spec, const CatalogView& catalog);

}  // namespace consort::engine
