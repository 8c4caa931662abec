// consort_fl_lr_bench [--data=default_credit|breast] [--variant=all|mpc|mpc-piecewise|mpc-3pc|paillier|plain]
//   [--epochs=5] [--batch=1024] [--lr=0.15] [--val=0.2] [--paillier_batches=3]
//   [--paillier_bits=2048]
// Trains the plaintext reference, then each federated variant, on the same split and batches;
// prints seconds per epoch, train / held-out AUC and KS, bytes, and the load average (the
// machine is shared: figures are "loaded machine"). The Paillier variant runs only
// --paillier_batches batches (0 = all epochs) and reports the per-epoch time extrapolated from
// them (stated in the output).

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "bench/common/flags.h"
#include "consort/fl/internal/fate_data.h"
#include "consort/fl/internal/local_run.h"
#include "consort/fl/metrics.h"

using namespace consort;
using namespace consort::fl;

namespace {

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  }
  return def;
}

std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::vector<double> Pick(const std::vector<double>& v, const std::vector<size_t>& rows) {
  std::vector<double> o;
  for (size_t r : rows) o.push_back(v[r]);
  return o;
}

void PrintMetrics(const char* what, const std::vector<double>& p, const std::vector<double>& y) {
  if (p.empty()) return;
  auto m = EvaluateBinary(p, y);
  if (!m.ok()) {
    std::printf("  %s: %s\n", what, std::string(m.status().message()).c_str());
    return;
  }
  std::printf("  %-10s AUC %.4f  KS %.4f  log-loss %.4f  acc@0.5 %.4f\n", what, m->auc, m->ks,
              m->log_loss, m->at_half.accuracy);
}

}  // namespace

constexpr char kUsage[] =
    "usage: consort_fl_lr_bench [--data=default_credit|breast] "
    "[--variant=all|mpc|mpc-piecewise|mpc-3pc|paillier|plain] [--epochs=5] [--batch=1024] "
    "[--lr=0.15] [--val=0.2] [--paillier_batches=3] [--paillier_bits=2048]";

int main(int argc, char** argv) {
  if (consort::bench::WantsHelp(argc, argv)) consort::bench::ExitWithUsage(kUsage, "");
  const std::string data = Flag(argc, argv, "data", "default_credit");
  const std::string variant = Flag(argc, argv, "variant", "all");
  LrParams p;
  p.epochs = std::stoi(Flag(argc, argv, "epochs", "5"));
  p.batch_size = std::stoul(Flag(argc, argv, "batch", "1024"));
  p.learning_rate = std::stod(Flag(argc, argv, "lr", "0.15"));
  p.validation_fraction = std::stod(Flag(argc, argv, "val", "0.2"));
  PaillierOptions popt;
  popt.max_batches = std::stoi(Flag(argc, argv, "paillier_batches", "3"));
  popt.key_bits = std::stoi(Flag(argc, argv, "paillier_bits", "2048"));

  auto s = internal::LoadFateHetero(data);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
    return 1;
  }
  const size_t train_rows = s->guest.rows - static_cast<size_t>(p.validation_fraction * s->guest.rows + 0.5);
  const size_t batches_per_epoch =
      p.batch_size == 0 ? 1 : (train_rows + p.batch_size - 1) / p.batch_size;
  std::printf("fl hetero LR bench: %s, %zu rows (guest %zu + host %zu features), %d epochs, batch %zu "
              "(%zu batches/epoch), lr %.3g, validation %.2f\n",
              data.c_str(), s->guest.rows, s->guest.cols, s->host.cols, p.epochs, p.batch_size,
              batches_per_epoch, p.learning_rate, p.validation_fraction);
  std::printf("load average before: %s (2-core machine, shared: loaded machine)\n",
              LoadAvg().c_str());

  // Plaintext reference on the joined columns.
  {
    Matrix x = internal::JoinColumns(s->guest, s->host);
    auto t0 = std::chrono::steady_clock::now();
    auto m = TrainPlaintextLr(x, s->labels, p);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!m.ok()) return 1;
    std::printf("plaintext: %.4f s/epoch (%d epochs, %.3f s)\n", sec / m->report.epochs_run,
                m->report.epochs_run, sec);
    std::vector<double> prob = m->PredictProba(x);
    PrintMetrics("train", Pick(prob, m->report.train_rows), Pick(s->labels, m->report.train_rows));
    PrintMetrics("held-out", Pick(prob, m->report.validation_rows),
                 Pick(s->labels, m->report.validation_rows));
  }
  struct Config {
    HeteroLrVariant v;
    MpcSigmoid sigmoid;
    const char* name;
  };
  for (const Config& cfg : {Config{HeteroLrVariant::kMpc, MpcSigmoid::kAccurate, "mpc"},
                            Config{HeteroLrVariant::kMpc, MpcSigmoid::kPiecewise, "mpc-piecewise"},
                            Config{HeteroLrVariant::kPaillier, MpcSigmoid::kAccurate, "paillier"}}) {
    const HeteroLrVariant v = cfg.v;
    const bool is_mpc = v == HeteroLrVariant::kMpc;
    if (variant != "all" && variant != cfg.name) continue;
    auto run = internal::RunHeteroLrLocal(v, s->guest, s->labels, s->host, p, popt, cfg.sigmoid);
    if (!run.guest.ok() || !run.host.ok()) {
      std::printf("%s: failed: %s / %s\n", is_mpc ? "mpc" : "paillier",
                  std::string(run.guest.status().message()).c_str(),
                  std::string(run.host.status().message()).c_str());
      continue;
    }
    const auto& g = *run.guest;
    if (!is_mpc && popt.max_batches > 0) {
      const double per_batch = run.seconds / popt.max_batches;
      std::printf("paillier (%d-bit keys): %.3f s per batch over %d batches (incl. key generation "
                  "and setup) -> %.1f s/epoch extrapolated (%zu batches/epoch); guest sent %.1f MB, "
                  "host %.1f MB\n",
                  popt.key_bits, per_batch, popt.max_batches, per_batch * batches_per_epoch,
                  batches_per_epoch, g.bytes_sent / 1e6, run.host->bytes_sent / 1e6);
      continue;
    }
    std::printf("%s: %.3f s/epoch (%d epochs, %.3f s incl. setup); guest sent %.1f MB, host %.1f "
                "MB, dealer links %.1f MB\n",
                !is_mpc ? "paillier"
                : cfg.sigmoid == MpcSigmoid::kAccurate ? "mpc (2PC + dealer, mpc::Sigmoid)"
                                                       : "mpc (2PC + dealer, piecewise sigmoid)",
                run.seconds / g.report.epochs_run,
                g.report.epochs_run, run.seconds, g.bytes_sent / 1e6, run.host->bytes_sent / 1e6,
                run.dealer_bytes / 1e6);
    PrintMetrics("train", g.train_scores, Pick(s->labels, g.report.train_rows));
    PrintMetrics("held-out", g.validation_scores, Pick(s->labels, g.report.validation_rows));
  }
  if (variant == "all" || variant == "mpc-3pc") {
    // A guest and two hosts (the host's columns split in two) on three-party sharing.
    const size_t half = s->host.cols / 2;
    auto run = internal::RunHeteroLrLocalThreeParty(s->guest, s->labels, s->host.Columns(0, half),
                                                    s->host.Columns(half, s->host.cols), p);
    if (!run.guest.ok()) {
      std::printf("mpc-3pc: failed: %s\n", std::string(run.guest.status().message()).c_str());
    } else {
      const auto& g = *run.guest;
      std::printf("mpc-3pc (guest + 2 hosts, replicated sharing, mpc::Sigmoid): %.3f s/epoch "
                  "(%d epochs, %.3f s incl. setup); guest sent %.1f MB\n",
                  run.seconds / g.report.epochs_run, g.report.epochs_run, run.seconds,
                  g.bytes_sent / 1e6);
      PrintMetrics("train", g.train_scores, Pick(s->labels, g.report.train_rows));
      PrintMetrics("held-out", g.validation_scores, Pick(s->labels, g.report.validation_rows));
    }
  }
  std::printf("load average after: %s\n", LoadAvg().c_str());
  return 0;
}
