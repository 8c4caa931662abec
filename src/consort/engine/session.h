#pragma once
// Session: everything an operator sees while it runs one party's side of one job: the spec,
// this party's input table, a Link to each peer, progress reporting, cancellation and result
// storage. The node provides the production implementation (node/node_session.h); tests use
// engine/testing.h, which runs every party in one process over in-memory links.

#include <atomic>
#include <memory>
#include <string>

#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/engine/job_spec.h"
#include "consort/net/link.h"

namespace consort::data {
class Table;
}

namespace consort::engine {

class Session {
 public:
  virtual ~Session() = default;

  virtual const std::string& job_id() const = 0;
  virtual const JobSpec& spec() const = 0;
  // This party's name.
  virtual const std::string& self() const = 0;

  // This party's dataset named in the spec, loaded locally (rows never leave the node except
  // as the operator's protocol prescribes). FailedPrecondition if the file changed since it was
  // registered; InvalidArgument for malformed content.
  virtual StatusOr<std::shared_ptr<const data::Table>> LoadInput() = 0;

  // The link to `peer` for this job (opened on first use). NotFound if `peer` is not a party.
  virtual StatusOr<net::Link*> Peer(const std::string& peer) = 0;

  // Progress in [0, 1] with a short stage name ("hashing", "exchange", ...). Cheap; may be
  // called often (implementations rate-limit).
  virtual void ReportProgress(double fraction, const std::string& stage) = 0;

  // Set when the job is cancelled or has failed elsewhere; operators poll it between batches.
  virtual const std::atomic<bool>& cancelled() const = 0;

  // Stores this party's output: a table (e.g. the matched rows) as a new local dataset named
  // `name`, and/or a small JSON summary (e.g. {"intersection_size": 123}). Only receivers
  // named in spec().outputs may store anything (PermissionDenied otherwise).
  virtual Status StoreTable(const std::string& name, const data::Table& table) = 0;
  virtual Status StoreSummary(const Json& summary) = 0;
};

}  // namespace consort::engine
