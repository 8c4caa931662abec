#pragma once
// Session: everything an operator sees while it runs one party's side of one job: the spec,
// this party's input table, a Link to each peer, progress reporting, cancellation and result
// storage. The node provides the production implementation (node/node_session.h); tests use
// engine/testing.h, which runs every party in one process over in-memory links.

#include <atomic>
#include <memory>
#include <string>

#include "consort/common/bytes.h"
#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/data/table_reader.h"
#include "consort/engine/job_spec.h"
#include "consort/net/link.h"

namespace consort::engine {

// One party's part of a model, as this node stores it.
struct StoredModel {
  Json metadata;  // small, public to the catalog: kind, columns, hyper-parameters, metrics
  Bytes blob;     // the party's private part (weights, thresholds, leaf values, ...)
};

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

  // Streams the same input in batches of at most `batch_rows` rows, for inputs larger than
  // memory. The default slices LoadInput() (not memory-bounded); the node streams CSV files.
  // Errors as LoadInput; a file that changes while it is read fails with FailedPrecondition.
  virtual StatusOr<std::unique_ptr<data::TableReader>> OpenInput(size_t batch_rows);

  // The number of rows of this party's dataset (the node answers from its registry; the
  // default counts them through OpenInput). FailedPrecondition for a dataless party.
  virtual StatusOr<uint64_t> InputRows();

  // Hex fingerprint of this party's dataset as registered (changes whenever its content does).
  // FailedPrecondition for a dataless party.
  virtual StatusOr<std::string> InputFingerprint() = 0;

  // A directory private to this party and this job, created on first call (mode 0700). It is
  // kept when the job fails or the node dies and handed to the same job again when it is
  // retried (`consort job retry`: same job id, same signatures), so operators checkpoint here
  // and resume; it is removed when the job succeeds.
  virtual StatusOr<std::string> ScratchDir() = 0;

  // A directory private to this party that outlives the job, for state that later jobs over
  // the same dataset reuse (e.g. unbalanced-PSI server preprocessing). `key` is a name
  // (ValidateName). The node empties it when the dataset is re-registered; operators still
  // check InputFingerprint() against what they stored. FailedPrecondition for a dataless party.
  virtual StatusOr<std::string> CacheDir(const std::string& key) = 0;

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
  // Stores a CSV file the operator wrote (with a header line; e.g. in ScratchDir()) as the
  // result dataset `name`, for outputs too large to hold as a Table. The file is validated as
  // CSV and moved (not copied). Same rules as StoreTable.
  virtual Status StoreTableFile(const std::string& name, const std::string& csv_path) = 0;

  // Models. Every party of a job may store its own part of a model under `name` (ValidateName)
  // on its own node; `metadata` goes to the federation catalog (never put weights in it), the
  // blob stays on this node. AlreadyExists if this node already has a model `name`.
  virtual Status StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) = 0;
  // This node's part of model `name`. NotFound if there is none.
  virtual StatusOr<StoredModel> LoadModel(const std::string& name) = 0;
};

}  // namespace consort::engine
