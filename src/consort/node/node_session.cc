#include "consort/node/node_session.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "consort/data/csv_reader.h"
#include "consort/data/sqlite_reader.h"
#include "consort/data/table.h"
#include "consort/node/node.h"

namespace consort::node {

NodeSession::NodeSession(Node& node, std::string job_id, engine::JobSpec spec,
                         std::shared_ptr<net::PeerTransport> transport,
                         std::chrono::milliseconds link_timeout)
    : node_(node),
      job_id_(std::move(job_id)),
      spec_(std::move(spec)),
      transport_(std::move(transport)),
      links_([this](const std::string& peer) { return transport_->Connect(job_id_, peer); },
             link_timeout) {}

NodeSession::~NodeSession() { CloseLinks(); }

const std::string& NodeSession::self() const { return node_.name(); }

StatusOr<std::string> NodeSession::MyDataset() const {
  auto it = spec_.parties.find(self());
  if (it == spec_.parties.end()) return absl::PermissionDeniedError("this node is not a party");
  if (!it->second.has_data()) {
    return absl::FailedPreconditionError("this node takes part as '" + it->second.role +
                                         "' and brings no dataset");
  }
  return it->second.dataset;
}

StatusOr<std::shared_ptr<const data::Table>> NodeSession::LoadInput() {
  CONSORT_ASSIGN_OR_RETURN(std::string dataset, MyDataset());
  return node_.LoadDataset(dataset, {});
}

namespace {
// The column types recorded when the dataset was registered (LocalDataset::info "columns");
// entries without a valid name and type are skipped (the reader then infers those).
std::map<std::string, data::ColumnType> RegisteredTypes(const Json& info) {
  std::map<std::string, data::ColumnType> types;
  if (!info.is_object() || !info.contains("columns") || !info["columns"].is_array()) return types;
  for (const Json& c : info["columns"]) {
    if (!c.is_object() || !c.contains("name") || !c.contains("type") || !c["name"].is_string() ||
        !c["type"].is_string()) {
      continue;
    }
    StatusOr<data::ColumnType> type = data::ParseColumnType(c["type"].get<std::string>());
    if (type.ok()) types[c["name"].get<std::string>()] = *type;
  }
  return types;
}
}  // namespace

StatusOr<std::unique_ptr<data::TableReader>> NodeSession::OpenInput(size_t batch_rows) {
  CONSORT_ASSIGN_OR_RETURN(std::string dataset, MyDataset());
  CONSORT_ASSIGN_OR_RETURN(LocalDataset d, node_.FindLocalDataset(dataset));
  StatusOr<std::unique_ptr<data::TableReader>> reader;
  if (d.source.kind == "sqlite") {
    // As Node::LoadDataset reads it (ReadSqliteTable), but batch by batch from one SELECT in one
    // read transaction: the types come from the registration, the table-content fingerprint
    // is computed while streaming and checked at the end (older registrations recorded the
    // file's fingerprint: checked at open).
    data::SqliteStreamOptions options;
    options.source_name = std::filesystem::path(d.source.path).filename().string();
    options.batch_rows = std::max<size_t>(batch_rows, 1);
    options.expected_fingerprint = d.fingerprint;
    options.column_types = RegisteredTypes(d.info);
    reader = data::OpenSqliteReader(d.source.path, d.source.table, options);
  } else {
    // As Node::LoadDataset reads it (ReadSource), but batch by batch: the column types come
    // from the registration (inference needs every row), the fingerprint is checked while
    // streaming instead of in a separate pass over the file.
    data::CsvStreamOptions options;
    options.read.source_name = std::filesystem::path(d.source.path).filename().string();
    options.batch_rows = std::max<size_t>(batch_rows, 1);
    options.expected_fingerprint = d.fingerprint;
    // Without a recorded type for a column the reader infers it (one more pass).
    for (const auto& [name, type] : RegisteredTypes(d.info)) {
      options.read.column_types[name] = type;
    }
    reader = data::OpenCsvReader(d.source.path, options);
  }
  if (!reader.ok() && reader.status().code() == absl::StatusCode::kNotFound) {
    // The file, table or a registered column is gone: the dataset changed since registration.
    return absl::FailedPreconditionError("dataset '" + dataset +
                                         "' no longer matches its registration: " +
                                         std::string(reader.status().message()));
  }
  return reader;
}

StatusOr<std::string> NodeSession::InputFingerprint() {
  CONSORT_ASSIGN_OR_RETURN(std::string dataset, MyDataset());
  CONSORT_ASSIGN_OR_RETURN(LocalDataset d, node_.FindLocalDataset(dataset));
  return d.fingerprint;
}

StatusOr<uint64_t> NodeSession::InputRows() {
  CONSORT_ASSIGN_OR_RETURN(std::string dataset, MyDataset());
  CONSORT_ASSIGN_OR_RETURN(LocalDataset d, node_.FindLocalDataset(dataset));
  if (d.info.contains("rows") && d.info["rows"].is_number_integer() && d.info["rows"].get<int64_t>() >= 0) {
    return static_cast<uint64_t>(d.info["rows"].get<int64_t>());
  }
  return engine::Session::InputRows();
}

StatusOr<std::string> NodeSession::ScratchDir() { return node_.ScratchDir(job_id_); }

StatusOr<std::string> NodeSession::CacheDir(const std::string& key) {
  CONSORT_ASSIGN_OR_RETURN(std::string dataset, MyDataset());
  return node_.CacheDir(dataset, key);
}

Status NodeSession::StoreTableFile(const std::string& name, const std::string& csv_path) {
  if (!spec_.OutputFor(self())) {
    return absl::PermissionDeniedError("this node receives no output from the job");
  }
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "result name"));
  auto mine = spec_.parties.find(self());
  std::string source = mine != spec_.parties.end() ? mine->second.dataset : "";
  CONSORT_RETURN_IF_ERROR(node_.StoreResultTableFile(job_id_, name, csv_path, source));
  std::lock_guard<std::mutex> lock(mu_);
  delivered_ = true;
  return OkStatus();
}

Status NodeSession::StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) {
  return node_.StoreModel(job_id_, name, metadata, blob);
}

StatusOr<engine::StoredModel> NodeSession::LoadModel(const std::string& name) {
  return node_.LoadModel(name);
}

StatusOr<net::Link*> NodeSession::Peer(const std::string& peer) {
  if (!spec_.parties.count(peer) || peer == self()) {
    return absl::NotFoundError("'" + peer + "' is not a peer in this job");
  }
  return links_.Get(peer);
}

void NodeSession::ReportProgress(double fraction, const std::string& stage) {
  fraction_ = std::clamp(fraction, 0.0, 1.0);
  std::lock_guard<std::mutex> lock(mu_);
  stage_ = stage;
}

std::string NodeSession::stage() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stage_;
}

Status NodeSession::StoreTable(const std::string& name, const data::Table& table) {
  if (!spec_.OutputFor(self())) {
    return absl::PermissionDeniedError("this node receives no output from the job");
  }
  CONSORT_RETURN_IF_ERROR(engine::ValidateName(name, "result name"));
  CONSORT_RETURN_IF_ERROR(node_.StoreResultTable(job_id_, name, table));
  std::lock_guard<std::mutex> lock(mu_);
  delivered_ = true;
  return OkStatus();
}

Status NodeSession::StoreSummary(const Json& summary) {
  if (!spec_.OutputFor(self())) {
    return absl::PermissionDeniedError("this node receives no output from the job");
  }
  CONSORT_RETURN_IF_ERROR(node_.StoreResultSummary(job_id_, summary));
  std::lock_guard<std::mutex> lock(mu_);
  delivered_ = true;
  return OkStatus();
}

void NodeSession::Cancel() { links_.Cancel(); }

void NodeSession::CloseLinks() { links_.CloseAll(); }

}  // namespace consort::node
