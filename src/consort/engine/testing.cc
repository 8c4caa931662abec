#include "consort/engine/testing.h"

#include <thread>

#include "consort/data/csv.h"

namespace consort::engine::testing {
namespace {

class LocalSession final : public Session {
 public:
  LocalSession(std::string job_id, const JobSpec& spec, std::string self,
               std::shared_ptr<const data::Table> input, PartyOutcome& out)
      : job_id_(std::move(job_id)), spec_(spec), self_(std::move(self)), input_(std::move(input)), out_(out) {}

  const std::string& job_id() const override { return job_id_; }
  const JobSpec& spec() const override { return spec_; }
  const std::string& self() const override { return self_; }
  StatusOr<std::shared_ptr<const data::Table>> LoadInput() override {
    if (!input_) return absl::NotFoundError("no input for " + self_);
    return input_;
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
    out_.tables.insert_or_assign(name, table);
    return OkStatus();
  }
  Status StoreSummary(const Json& summary) override {
    if (!spec_.OutputFor(self_)) return absl::PermissionDeniedError("not a receiver");
    out_.summary = summary;
    return OkStatus();
  }

  std::map<std::string, std::unique_ptr<net::Link>> links_;
  std::atomic<bool> cancelled_{false};

 private:
  std::string job_id_;
  const JobSpec& spec_;
  std::string self_;
  std::shared_ptr<const data::Table> input_;
  PartyOutcome& out_;
};

}  // namespace

std::map<std::string, PartyOutcome> RunLocally(
    const Operator& op, const std::string& job_id, const JobSpec& spec,
    const std::map<std::string, std::shared_ptr<const data::Table>>& inputs,
    const LocalRunOptions& options) {
  std::map<std::string, PartyOutcome> outcomes;
  std::map<std::string, std::unique_ptr<LocalSession>> sessions;
  auto names = spec.PartyNames();
  for (const auto& n : names) {
    auto it = inputs.find(n);
    sessions[n] = std::make_unique<LocalSession>(
        job_id, spec, n, it == inputs.end() ? nullptr : it->second, outcomes[n]);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      auto [a, b] = net::CreateInMemoryLinkPair(names[i], names[j], 256);
      a->set_timeout(options.link_timeout);
      b->set_timeout(options.link_timeout);
      sessions[names[i]]->links_[names[j]] = std::move(a);
      sessions[names[j]]->links_[names[i]] = std::move(b);
    }
  }
  std::vector<std::thread> threads;
  for (const auto& n : names) {
    threads.emplace_back([&, n] {
      LocalSession& s = *sessions[n];
      if (n == options.fail_party) {
        for (auto& [_, l] : s.links_) l->Close();
        outcomes[n].status = absl::UnavailableError("injected failure");
        return;
      }
      outcomes[n].status = op.Run(s);
      for (auto& [_, l] : s.links_) {
        outcomes[n].bytes_sent += l->bytes_sent();
        l->Close();
      }
    });
  }
  for (auto& t : threads) t.join();
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
    doc["parties"][party] = {{"dataset", in.dataset}, {"columns", in.columns}};
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
