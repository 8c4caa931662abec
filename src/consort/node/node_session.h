#pragma once
// The production engine::Session: a job's operator running on this node, reading the node's
// own dataset, talking to peers over PeerTransport links, reporting progress to the
// coordinator (rate-limited, via the runner's heartbeat) and storing results on this node.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "consort/engine/session.h"
#include "consort/net/grpc_transport.h"
#include "consort/net/job_links.h"

namespace consort::node {

class Node;

class NodeSession final : public engine::Session {
 public:
  NodeSession(Node& node, std::string job_id, engine::JobSpec spec,
              std::shared_ptr<net::PeerTransport> transport, std::chrono::milliseconds link_timeout);
  ~NodeSession() override;

  const std::string& job_id() const override { return job_id_; }
  const engine::JobSpec& spec() const override { return spec_; }
  const std::string& self() const override;
  StatusOr<std::shared_ptr<const data::Table>> LoadInput() override;
  // Streams the dataset with the types recorded at registration. CSV (and stored results):
  // from the file, the fingerprint checked as the bytes go by (FailedPrecondition at the end
  // if the file changed). SQLite: one SELECT in one read transaction, the table-content
  // fingerprint computed as the rows go by (FailedPrecondition at the end if it changed).
  StatusOr<std::unique_ptr<data::TableReader>> OpenInput(size_t batch_rows) override;
  StatusOr<std::string> InputFingerprint() override;
  StatusOr<uint64_t> InputRows() override;
  StatusOr<std::string> ScratchDir() override;
  StatusOr<std::string> CacheDir(const std::string& key) override;
  StatusOr<net::Link*> Peer(const std::string& peer) override;
  void ReportProgress(double fraction, const std::string& stage) override;
  const std::atomic<bool>& cancelled() const override { return links_.cancelled_flag(); }
  Status StoreTable(const std::string& name, const data::Table& table) override;
  Status StoreSummary(const Json& summary) override;
  Status StoreTableFile(const std::string& name, const std::string& csv_path) override;
  Status StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) override;
  StatusOr<engine::StoredModel> LoadModel(const std::string& name) override;

  // Cancels the run: sets cancelled() and closes every link so that blocked Send/Recv calls
  // return. Thread-safe; the links stay alive (the operator may still be inside them).
  void Cancel();
  // Closes and releases every link. Only the runner calls it, after the operator returned.
  void CloseLinks();
  double fraction() const { return fraction_.load(); }
  std::string stage() const;
  uint64_t bytes_sent() const { return links_.bytes_sent(); }
  uint64_t bytes_received() const { return links_.bytes_received(); }
  bool delivered() const { return delivered_; }

 private:
  Node& node_;
  std::string job_id_;
  engine::JobSpec spec_;
  std::shared_ptr<net::PeerTransport> transport_;
  // This party's dataset name; FailedPrecondition for a dataless party.
  StatusOr<std::string> MyDataset() const;
  net::JobLinks links_;
  std::atomic<double> fraction_{0};
  mutable std::mutex mu_;
  std::string stage_;
  bool delivered_ = false;
};

}  // namespace consort::node
