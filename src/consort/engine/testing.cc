#include "consort/engine/testing.h"

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "consort/common/files.h"
#include "consort/crypto/hash.h"
#include "consort/data/csv.h"

namespace consort::engine::testing {
namespace {

// Sends shared by all of one party's links; when the budget is spent the party "dies": every
// one of its links closes, as when its process is killed mid-run.
struct FaultBudget {
  std::mutex mu;
  uint64_t remaining = 0;
  std::vector<net::Link*> links;
  bool dead = false;

  // Returns false once the party is dead (after closing all its links, outside the lock).
  bool Spend() {
    std::vector<net::Link*> to_close;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!dead && remaining > 0) {
        --remaining;
        return true;
      }
      if (!dead) {
        dead = true;
        to_close = links;
      }
    }
    for (net::Link* l : to_close) l->Close();
    return false;
  }
};

class FaultyLink final : public net::Link {
 public:
  FaultyLink(std::unique_ptr<net::Link> inner, std::shared_ptr<FaultBudget> budget)
      : inner_(std::move(inner)), budget_(std::move(budget)) {
    std::lock_guard<std::mutex> lock(budget_->mu);
    budget_->links.push_back(inner_.get());
  }
  const std::string& peer() const override { return inner_->peer(); }
  Status Send(ByteSpan message) override {
    if (!budget_->Spend()) return absl::UnavailableError("injected failure: the party died");
    Status st = inner_->Send(message);
    if (st.ok()) CountSent(message.size());
    return st;
  }
  StatusOr<Bytes> Recv() override {
    auto m = inner_->Recv();
    if (m.ok()) CountReceived(m->size());
    return m;
  }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<net::Link> inner_;
  std::shared_ptr<FaultBudget> budget_;
};

class LocalSession final : public Session {
 public:
  LocalSession(std::string job_id, const JobSpec& spec, std::string self,
               std::shared_ptr<const data::Table> input, std::string root,
               std::map<std::string, StoredModel> models, PartyOutcome& out)
      : job_id_(std::move(job_id)),
        spec_(spec),
        self_(std::move(self)),
        input_(std::move(input)),
        root_(std::move(root)),
        models_(std::move(models)),
        out_(out) {}

  const std::string& job_id() const override { return job_id_; }
  const JobSpec& spec() const override { return spec_; }
  const std::string& self() const override { return self_; }
  StatusOr<std::shared_ptr<const data::Table>> LoadInput() override {
    if (!HasData()) return absl::FailedPreconditionError(self_ + " brings no dataset to this job");
    if (!input_) return absl::NotFoundError("no input for " + self_);
    return input_;
  }
  StatusOr<std::string> InputFingerprint() override {
    CONSORT_ASSIGN_OR_RETURN(auto table, LoadInput());
    CONSORT_ASSIGN_OR_RETURN(std::string csv, data::FormatCsv(*table));
    return crypto::Sha256Hex(csv);
  }
  StatusOr<std::string> ScratchDir() override {
    std::string dir = JoinPath(JoinPath(JoinPath(root_, self_), "scratch"), job_id_);
    CONSORT_RETURN_IF_ERROR(MakeDirs(dir));
    return dir;
  }
  StatusOr<std::string> CacheDir(const std::string& key) override {
    CONSORT_RETURN_IF_ERROR(ValidateName(key, "cache key"));
    if (!HasData()) return absl::FailedPreconditionError(self_ + " brings no dataset to this job");
    std::string dir = JoinPath(JoinPath(JoinPath(root_, self_), "cache"), key);
    CONSORT_RETURN_IF_ERROR(MakeDirs(dir));
    return dir;
  }
  StatusOr<net::Link*> Peer(const std::string& peer) override {
    auto it = links_.find(peer);
    if (it == links_.end()) return absl::NotFoundError("'" + peer + "' is not a peer");
    return it->second.get();
  }
  void ReportProgress(double, const std::string&) override {}
  const std::atomic<bool>& cancelled() const override { return cancelled_; }
  Status StoreTable(const std::string& name, const data::Table& table) override {
    if (!spec_.OutputFor(self_)) return absl::PermissionDeniedError("not a receiver");
    CONSORT_RETURN_IF_ERROR(ValidateName(name, "result name"));
    out_.tables.insert_or_assign(name, table);
    return OkStatus();
  }
  Status StoreTableFile(const std::string& name, const std::string& csv_path) override {
    if (!spec_.OutputFor(self_)) return absl::PermissionDeniedError("not a receiver");
    CONSORT_RETURN_IF_ERROR(ValidateName(name, "result name"));
    CONSORT_ASSIGN_OR_RETURN(data::Table t, data::ReadCsv(csv_path));
    out_.tables.insert_or_assign(name, std::move(t));
    std::remove(csv_path.c_str());
    return OkStatus();
  }
  Status StoreSummary(const Json& summary) override {
    if (!spec_.OutputFor(self_)) return absl::PermissionDeniedError("not a receiver");
    out_.summary = summary;
    return OkStatus();
  }
  Status StoreModel(const std::string& name, const Json& metadata, ByteSpan blob) override {
    CONSORT_RETURN_IF_ERROR(ValidateName(name, "model name"));
    if (models_.count(name) || out_.models.count(name)) {
      return absl::AlreadyExistsError("model '" + name + "' already exists on " + self_);
    }
    out_.models[name] = StoredModel{metadata, Bytes(blob.begin(), blob.end())};
    return OkStatus();
  }
  StatusOr<StoredModel> LoadModel(const std::string& name) override {
    auto it = models_.find(name);
    if (it != models_.end()) return it->second;
    auto jt = out_.models.find(name);
    if (jt != out_.models.end()) return jt->second;
    return absl::NotFoundError("no model '" + name + "' on " + self_);
  }

  std::map<std::string, std::unique_ptr<net::Link>> links_;
  std::atomic<bool> cancelled_{false};

 private:
  bool HasData() const {
    auto it = spec_.parties.find(self_);
    return it != spec_.parties.end() && it->second.has_data();
  }

  std::string job_id_;
  const JobSpec& spec_;
  std::string self_;
  std::shared_ptr<const data::Table> input_;
  std::string root_;
  std::map<std::string, StoredModel> models_;
  PartyOutcome& out_;
};

}  // namespace

std::map<std::string, PartyOutcome> RunLocally(
    const Operator& op, const std::string& job_id, const JobSpec& spec,
    const std::map<std::string, std::shared_ptr<const data::Table>>& inputs,
    const LocalRunOptions& options) {
  std::string root = options.scratch_root;
  bool temporary_root = root.empty();
  if (temporary_root) {
    char tmpl[] = "/tmp/consort-run-XXXXXX";
    CONSORT_CHECK(mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  std::map<std::string, PartyOutcome> outcomes;
  std::map<std::string, std::unique_ptr<LocalSession>> sessions;
  auto names = spec.PartyNames();
  for (const auto& n : names) {
    auto it = inputs.find(n);
    auto models = options.models.find(n);
    sessions[n] = std::make_unique<LocalSession>(
        job_id, spec, n, it == inputs.end() ? nullptr : it->second, root,
        models == options.models.end() ? std::map<std::string, StoredModel>() : models->second,
        outcomes[n]);
  }
  std::shared_ptr<FaultBudget> budget;
  if (!options.fail_party.empty()) {
    budget = std::make_shared<FaultBudget>();
    budget->remaining = options.fail_after_messages;
  }
  auto wrap = [&](const std::string& owner, std::unique_ptr<net::Link> l) -> std::unique_ptr<net::Link> {
    l->set_timeout(options.link_timeout);
    if (owner != options.fail_party) return l;
    auto f = std::make_unique<FaultyLink>(std::move(l), budget);
    f->set_timeout(options.link_timeout);
    return f;
  };
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      auto [a, b] = net::CreateInMemoryLinkPair(names[i], names[j], 256);
      sessions[names[i]]->links_[names[j]] = wrap(names[i], std::move(a));
      sessions[names[j]]->links_[names[i]] = wrap(names[j], std::move(b));
    }
  }
  std::vector<std::thread> threads;
  for (const auto& n : names) {
    threads.emplace_back([&, n] {
      LocalSession& s = *sessions[n];
      if (n == options.fail_party && options.fail_after_messages == 0) {
        for (auto& [_, l] : s.links_) l->Close();
        outcomes[n].status = absl::UnavailableError("injected failure");
        return;
      }
      outcomes[n].status = op.Run(s);
      if (n == options.fail_party && budget->dead && outcomes[n].status.ok()) {
        outcomes[n].status = absl::UnavailableError("injected failure");
      }
      for (auto& [_, l] : s.links_) {
        outcomes[n].bytes_sent += l->bytes_sent();
        l->Close();
      }
    });
  }
  for (auto& t : threads) t.join();
  if (temporary_root) std::filesystem::remove_all(root);
  return outcomes;
}

void StaticCatalog::Add(DatasetInfo info) {
  members.insert(info.owner);
  datasets[{info.owner, info.name}] = std::move(info);
}

StatusOr<DatasetInfo> StaticCatalog::Dataset(const std::string& owner, const std::string& name) const {
  auto it = datasets.find({owner, name});
  if (it == datasets.end()) return absl::NotFoundError("no dataset " + owner + "/" + name);
  return it->second;
}

JobSpec MakeSpec(const std::string& op, const std::map<std::string, PartyInput>& parties,
                 const std::map<std::string, std::string>& outputs, Json params) {
  Json doc = {{"operator", op}, {"parties", Json::object()}, {"outputs", Json::object()},
              {"params", std::move(params)}};
  for (const auto& [party, in] : parties) {
    if (in.has_data()) {
      doc["parties"][party] = {{"dataset", in.dataset}, {"columns", in.columns}};
    } else {
      doc["parties"][party] = {{"role", in.role}};
    }
  }
  for (const auto& [party, kind] : outputs) {
    if (!kind.empty()) doc["outputs"][party] = kind;
  }
  auto spec = ParseJobSpec(doc);
  CONSORT_CHECK(spec.ok());
  return *spec;
}

std::shared_ptr<const data::Table> CsvTable(const std::string& text) {
  auto t = data::ParseCsv(text, "test.csv");
  CONSORT_CHECK(t.ok());  // the CSV text is part of the test itself
  return std::make_shared<const data::Table>(std::move(*t));
}

}  // namespace consort::engine::testing
