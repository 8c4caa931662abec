// SecureBoost (boost/secureboost.h) on FATE's hetero sets: seconds per tree with the guest and
// the host as threads of this process over in-memory links (both on this machine's cores),
// next to the plaintext GBDT (boost/plaintext_gbdt.h) on the joined features in the same run,
// and AUC on the training rows (as FATE evaluates) and on a held-out split (joint prediction).
//
// Usage: consort_boost_bench [--data default_credit] [--trees 3] [--depth 3] [--bins 32]
//                            [--threads 2] [--key-bits 2048] [--holdout 0.2] [--window 11]
//                            [--plain-only 1]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>

#include "bench/common/bench_util.h"
#include "bench/common/flags.h"
#include "consort/boost/internal/testdata.h"
#include "consort/boost/plaintext_gbdt.h"
#include "consort/boost/secureboost.h"
#include "consort/fl/metrics.h"

namespace {

using consort::bench::CpuSeconds;

using namespace consort::boost;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

}  // namespace

constexpr char kUsage[] =
    "usage: consort_boost_bench [--data default_credit] [--trees 3] [--depth 3] [--bins 32] "
    "[--threads 2] [--key-bits 2048] [--holdout 0.2] [--window 11] [--plain-only 1]";

int main(int argc, char** argv) {
  if (consort::bench::WantsHelp(argc, argv)) consort::bench::ExitWithUsage(kUsage, "");
  std::string data = "default_credit";
  int trees = 3, depth = 3, bins = 32, threads = 2, key_bits = 2048, window = 11;
  double holdout = 0.2;
  bool plain_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--data") data = argv[i + 1];
    else if (k == "--trees") trees = std::atoi(argv[i + 1]);
    else if (k == "--depth") depth = std::atoi(argv[i + 1]);
    else if (k == "--bins") bins = std::atoi(argv[i + 1]);
    else if (k == "--threads") threads = std::atoi(argv[i + 1]);
    else if (k == "--key-bits") key_bits = std::atoi(argv[i + 1]);
    else if (k == "--holdout") holdout = std::atof(argv[i + 1]);
    else if (k == "--window") window = std::atoi(argv[i + 1]);
    else if (k == "--plain-only") plain_only = std::atoi(argv[i + 1]) != 0;
  }
  auto d = testdata::LoadHetero(data);
  if (!d.ok()) {
    std::fprintf(stderr, "%s\n", std::string(d.status().message()).c_str());
    return 1;
  }
  const size_t n = d->labels.size();
  // Held-out split: every k-th row (deterministic).
  std::vector<uint32_t> train_rows, test_rows;
  const size_t every = holdout > 0 ? static_cast<size_t>(1.0 / holdout + 0.5) : 0;
  for (uint32_t r = 0; r < n; ++r) {
    (every > 0 && r % every == every - 1 ? test_rows : train_rows).push_back(r);
  }
  auto sel_y = [&](const std::vector<uint32_t>& rows) {
    std::vector<double> y;
    for (uint32_t r : rows) y.push_back(d->labels[r]);
    return y;
  };
  const FeatureMatrix g_train = SelectRows(d->guest, train_rows), h_train = SelectRows(d->host, train_rows);
  const FeatureMatrix g_test = SelectRows(d->guest, test_rows), h_test = SelectRows(d->host, test_rows);
  const std::vector<double> y_train = sel_y(train_rows), y_test = sel_y(test_rows);

  BoostParams p;
  p.num_trees = trees;
  p.max_depth = depth;
  p.bins = bins;
  p.seed = 1;
  if (const char* v = std::getenv("BOOST_LR")) p.learning_rate = std::atof(v);
  if (const char* v = std::getenv("BOOST_MCW")) p.min_child_weight = std::atof(v);
  if (const char* v = std::getenv("BOOST_L2")) p.l2 = std::atof(v);
  if (const char* v = std::getenv("BOOST_SUBSAMPLE")) p.subsample = std::atof(v);
  SecureBoostOptions opts;
  opts.threads = threads;
  opts.key_bits = key_bits;
  opts.noise_window_bits = window;
  std::printf("%s: %zu train rows (guest %zu features, host %zu), %zu held out; %d trees, depth %d, "
              "%d bins, %d-bit Paillier, %d threads per party; load average before: %s\n",
              data.c_str(), train_rows.size(), d->guest.features(), d->host.features(),
              test_rows.size(), trees, depth, bins, key_bits, threads, LoadAvg().c_str());

  // Plaintext reference on the joined features.
  FeatureMatrix joined = g_train;
  for (size_t f = 0; f < h_train.features(); ++f) {
    joined.names.push_back("host." + h_train.names[f]);
    joined.columns.push_back(h_train.columns[f]);
  }
  const auto tp = Clock::now();
  std::vector<double> plain_raw;
  auto plain = TrainPlaintextGbdt(joined, y_train, p, &plain_raw);
  const double plain_s = Since(tp);
  if (!plain.ok()) return 1;
  if (plain_only) {
    FeatureMatrix jt = g_test;
    for (size_t f = 0; f < h_test.features(); ++f) jt.columns.push_back(h_test.columns[f]);
    jt.names = joined.names;
    auto pp = PredictRaw(*plain, jt);
    std::printf("plaintext GBDT: %.4f s per tree; AUC train %.4f, held-out %.4f\n", plain_s / trees,
                *consort::fl::Auc(plain_raw, y_train),
                test_rows.empty() ? 0.0 : *consort::fl::Auc(*pp, y_test));
    return 0;
  }

  // SecureBoost: host thread + guest (this thread).
  auto [gl, hl] = consort::net::CreateInMemoryLinkPair("guest", "host");
  consort::StatusOr<SecureBoostHostModel> host_model = absl::UnknownError("not run");
  const double cpu0 = CpuSeconds();
  const auto ts = Clock::now();
  std::thread host([&] { host_model = TrainSecureBoostHost(h_train, *hl, p, opts); });
  std::vector<consort::net::Link*> links = {gl.get()};
  SecureBoostStats stats;
  std::vector<double> raw;
  auto model = TrainSecureBoostGuest(g_train, y_train, links, p, opts, &raw, &stats);
  host.join();
  const double wall = Since(ts), cpu = CpuSeconds() - cpu0;
  if (!model.ok() || !host_model.ok()) {
    std::fprintf(stderr, "secureboost failed: %s / %s\n",
                 std::string(model.status().message()).c_str(),
                 std::string(host_model.status().message()).c_str());
    return 1;
  }
  double sum = 0;
  for (double s : stats.tree_seconds) sum += s;
  size_t same = 0;
  for (size_t i = 0; i < raw.size(); ++i) same += std::abs(raw[i] - plain_raw[i]) < 1e-9;

  // Joint prediction on the held-out rows.
  double test_auc = 0, plain_test_auc = 0, predict_s = 0;
  if (!test_rows.empty()) {
    auto [gl2, hl2] = consort::net::CreateInMemoryLinkPair("guest", "host");
    consort::Status hs;
    const auto t0 = Clock::now();
    std::thread h2([&] { hs = PredictSecureBoostHost(*host_model, h_test, *hl2, opts); });
    std::vector<consort::net::Link*> l2 = {gl2.get()};
    auto pred = PredictSecureBoostGuest(*model, g_test, l2, opts);
    h2.join();
    predict_s = Since(t0);
    if (!pred.ok() || !hs.ok()) return 1;
    test_auc = *consort::fl::Auc(*pred, y_test);
    FeatureMatrix jt = g_test;
    for (size_t f = 0; f < h_test.features(); ++f) jt.columns.push_back(h_test.columns[f]);
    jt.names = joined.names;
    auto pp = PredictRaw(*plain, jt);
    plain_test_auc = *consort::fl::Auc(*pp, y_test);
  }
  std::printf("plaintext GBDT: %.4f s per tree (%.3f s total)\n", plain_s / trees, plain_s);
  std::printf("SecureBoost:    %.3f s per tree (mean of %d; min %.3f, max %.3f), setup %.3f s, "
              "total %.2f s wall, %.2f s CPU (CPU/wall %.2f)\n",
              sum / trees, trees,
              *std::min_element(stats.tree_seconds.begin(), stats.tree_seconds.end()),
              *std::max_element(stats.tree_seconds.begin(), stats.tree_seconds.end()),
              stats.setup_seconds, wall, cpu, cpu / wall);
  std::printf("  guest: encrypt %.2f s (%.2f CPU-s), decrypt %.2f s (%.2f CPU-s), waiting for host "
              "%.2f s (%.2f CPU-s, host + noise producer); ciphertexts sent %llu, received %llu\n",
              stats.encrypt_seconds, stats.encrypt_cpu, stats.decrypt_seconds, stats.decrypt_cpu,
              stats.wait_seconds, stats.wait_cpu,
              static_cast<unsigned long long>(stats.ciphertexts_sent),
              static_cast<unsigned long long>(stats.ciphertexts_received));
  std::printf("  host splits %zu; training scores equal to plaintext GBDT: %zu / %zu rows\n",
              host_model->splits.size(), same, raw.size());
  std::printf("AUC train: SecureBoost %.4f, plaintext %.4f | held-out (joint predict %.2f s): "
              "SecureBoost %.4f, plaintext %.4f\n",
              *consort::fl::Auc(raw, y_train), *consort::fl::Auc(plain_raw, y_train), predict_s,
              test_auc, plain_test_auc);
  std::printf("load average after: %s\n", LoadAvg().c_str());
  return 0;
}
