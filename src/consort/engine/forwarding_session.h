#pragma once
// A Session that forwards everything to another Session but shows a different spec: lets one
// operator run another on its own session (e.g. "psi" choosing psi.kkrt or psi.ecdh at run
// time) with the parameters that operator expects. The job id, links, progress, cancellation,
// storage and models are the wrapped session's. Not thread-safe beyond what the wrapped session
// is; it must outlive this object.

#include <string>

#include "consort/engine/session.h"

namespace consort::engine {

class ForwardingSession : public Session {
 public:
  ForwardingSession(Session& inner, JobSpec spec) : inner_(inner), spec_(std::move(spec)) {}

  const std::string& job_id() const override { return inner_.job_id(); }
  const JobSpec& spec() const override { return spec_; }
  const std::string& self() const override { return inner_.self(); }
  StatusOr<std::shared_ptr<const data::Table>> LoadInput() override { return inner_.LoadInput(); }
  StatusOr<std::unique_ptr<data::TableReader>> OpenInput(size_t batch_rows) override {
    return inner_.OpenInput(batch_rows);
  }
  StatusOr<uint64_t> InputRows() override { return inner_.InputRows(); }
  StatusOr<std::string> InputFingerprint() override { return inner_.InputFingerprint(); }
  StatusOr<std::string> ScratchDir() override { return inner_.ScratchDir(); }
  StatusOr<std::string> CacheDir(const std::string& key) override { return inner_.CacheDir(key); }
  StatusOr<net::Link*> Peer(const std::string& peer) override { return inner_.Peer(peer); }
  void ReportProgress(double fraction, const std::string& stage) override {
    inner_.ReportProgress(fraction, stage);
  }
  const std::atomic<bool>& cancelled() const override { return inner_.cancelled(); }
  Status StoreTable(const std::string& name, const data::Table& table) override {
    return inner_.StoreTable(name, table);
  }
  Status StoreSummary(const Json& summary) override { return inner_.StoreSummary(summary); }
  Status StoreTableFile(const std::string& name, const std::string& csv_path) override {
    return inner_.StoreTableFile(name, csv_path);
  }
  Status StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) override {
    return inner_.StoreModel(name, metadata, blob);
  }
  StatusOr<StoredModel> LoadModel(const std::string& name) override { return inner_.LoadModel(name); }

 private:
  Session& inner_;
  JobSpec spec_;
};

}  // namespace consort::engine
