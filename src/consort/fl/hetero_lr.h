#pragma once
// Vertical (hetero) federated logistic regression between a guest (labels + some features)
// and one or two hosts (more features) on rows already aligned by PSI (psi/align.h), and joint
// scoring. Each party keeps its own plaintext weights (the guest also the intercept); the model
// is sigmoid(X_g w_g + sum_h X_h w_h + b). Same batches, rates and updates as the plaintext
// reference (plaintext_lr.h) for the same LrParams. Design after FATE's hetero LR (Yang et al.,
// "Federated Machine Learning: Concept and Applications", ACM TIST 2019, and Hardy
// et al., arXiv:1711.10677), with the gradient computed in MPC instead of under Paillier.
//
// Variant kMpc (default: measured faster, see docs/operators/fl-hetero-lr.md), over a k-party
// mpc::Backend: guest + one host on two_party.h with a dealer, guest + two hosts on
// three_party.h (replicated sharing, no dealer):
//   setup   guest <-> each host: hello (protocol, variant, rows, params, options, party index,
//           columns; must match: FailedPrecondition); guest -> hosts: every party's columns.
//           Every X_p and y are secret-shared once (Input: no messages in 2PC).
//   batch   u_p = X_p[batch] w_p locally; [z] = sum_p Input_p(u_p);
//           [p] = sigmoid([z]): by default mpc::Sigmoid (mpc/functions.h: |err| <= 4e-5,
//           26 rounds in 2PC), or the piecewise-linear one (9 knots in [-5, 5],
//           |err| <= 0.012; one LessThanZero over 9B values, one Mul, one Trunc: 10 rounds);
//           [d] = [p] - [y]; [G] = MatMul([X_batch]^T, [d]) (1 round);
//           RevealTo(G_p, p) for every party p; each party steps its own weights.
//   monitor (tolerance / early stopping, and once after the last epoch for the metrics):
//           RevealTo(sum_p Input_p(u_p on the rows), guest); guest -> hosts: decision byte.
//   Leaks: each party learns its own gradient sum X_p^T d per batch (the accepted leakage of
//   FATE's hetero LR). When monitoring, the guest learns z = X w on the monitored rows each
//   epoch, and at the end on all rows; with its own u_g that is the hosts' summed partial
//   score per row (one host: its u_h). The dealer learns only shapes (dealer.h).
// Variant kPaillier (one host; as FATE's two-party hetero LR without arbiter; each party has
// its own Paillier key, crypto/paillier.h), with the first-order Taylor sigmoid(z) ~ 1/2 + z/4:
//   setup   hellos as above + each party's public key.
//   batch   host -> guest: [[u_h]]_H; guest -> host: [[4a]]_G with 4a = u_g + 2 - 4y.
//           guest: [[4d]]_H = [[u_h]]_H + 4a, [[G_g + r_g]]_H = sum_r x_r [[4d_r]]_H + r_g,
//           host:  [[4d]]_G = [[4a]]_G + u_h, [[G_h + r_h]]_G likewise; each sends its masked
//           encrypted gradient to the key owner, who decrypts and returns G + r (r uniform in
//           Z_n: the key owner sees a uniform value); the owner of G removes r.
//   Leaks: as kMpc (own gradient per batch; monitored scores to the guest: the host sends
//   u_h in the clear for the monitored rows, the same information as revealing z).
// Security: semi-honest; kMpc 2PC: no party colludes with the dealer; 3PC: honest majority,
// no two parties collude. 128-bit computational (AES-128 PRG), Paillier 2048-bit by default
// (112-bit; DJN short-exponent noise, see crypto/paillier.h); masks perfect (uniform).
// Fixed point: kMpc 18 fractional bits (mpc default); kPaillier 16.
// Thread safety: one thread per party; the links (and backend) are used only by this call.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "consort/common/bytes.h"
#include "consort/common/json.h"
#include "consort/common/status.h"
#include "consort/fl/plaintext_lr.h"
#include "consort/mpc/backend.h"
#include "consort/net/link.h"

namespace consort::fl {

enum class HeteroLrVariant { kMpc, kPaillier };
// "mpc" / "paillier"; InvalidArgument otherwise.
StatusOr<HeteroLrVariant> ParseHeteroLrVariant(const std::string& name);
inline constexpr HeteroLrVariant kDefaultHeteroLrVariant = HeteroLrVariant::kMpc;

enum class HeteroRole { kGuest, kHost };

// This party's private part of a trained model.
struct HeteroLrPartModel {
  HeteroRole role = HeteroRole::kGuest;
  Scaler scaler;
  std::vector<double> weights;  // one per feature column of this party
  double intercept = 0;         // guest only
  // Linear partial score u = scale(x) w (+ intercept at the guest) per row of raw features.
  // InvalidArgument if the column count differs.
  StatusOr<std::vector<double>> PartialScores(const Matrix& raw) const;
  Bytes Serialize() const;                       // JSON text (private: holds the weights)
  static StatusOr<HeteroLrPartModel> Parse(ByteSpan blob);  // InvalidArgument if malformed
};

struct HeteroLrResult {
  HeteroLrPartModel model;
  LrTrainReport report;
  // Guest only: final probabilities on report.train_rows / report.validation_rows.
  std::vector<double> train_scores, validation_scores;
  // Epochs restored from checkpoints (0 = trained from scratch).
  int resumed_from_epoch = 0;
  // Bytes this party sent on the peer link (and, kMpc, to the dealer through the backend).
  uint64_t bytes_sent = 0;
};

// Optional progress (fraction in [0, 1], from the training thread) and cancellation (polled
// before every batch: Cancelled).
// checkpoint_dir: a directory private to this party and job (Session::ScratchDir) where the
// weights are checkpointed after every epoch; a later run with the same inputs, parameters and
// directory resumes from the last epoch every party completed ("" = off).
struct HeteroLrHooks {
  std::function<void(double)> progress;
  const std::atomic<bool>* cancelled = nullptr;
  std::string checkpoint_dir;
};

struct PaillierOptions {
  int key_bits = 2048;
  // Allows keys below 2048 bits (GenerateForTesting): tests only, never for real data.
  bool insecure_small_keys_for_testing = false;
  // Stop after this many batches in total (0 = no limit): benchmarks time part of an epoch.
  int max_batches = 0;
};

// `x` is this party's raw feature matrix on the aligned rows; `labels` (guest only, {0, 1})
// the guest's labels on the same rows, nullptr at the host. Both parties must pass the same
// params (checked: FailedPrecondition if the peer's differ) and the same number of rows
// (FailedPrecondition otherwise). InvalidArgument on bad params/labels/features or a malformed
// peer message; the link's / backend's status when they fail.
// kMpc: `backend` is this party's backend over k >= 2 parties (two_party.h with a dealer, or
// three_party.h for a guest and two hosts); the guest is its party `guest_party`, this party
// is `self_party` (-1: derived from the role when k = 2). `peers`: at the guest, a link to
// every host; at a host, the link to the guest (these may be the backend's own links: the
// protocol's messages come between backend calls, in the same order at every party). All
// parties must choose the same sigmoid (checked: FailedPrecondition).
enum class MpcSigmoid { kAccurate, kPiecewise };
// "accurate" / "piecewise"; InvalidArgument otherwise.
StatusOr<MpcSigmoid> ParseMpcSigmoid(const std::string& name);
struct MpcOptions {
  int self_party = -1;
  int guest_party = 0;
  MpcSigmoid sigmoid = MpcSigmoid::kAccurate;
};
StatusOr<HeteroLrResult> TrainHeteroLrMpc(mpc::Backend& backend, HeteroRole role,
                                          const std::vector<net::Link*>& peers, const Matrix& x,
                                          const std::vector<double>* labels,
                                          const LrParams& params, const MpcOptions& options = {},
                                          const HeteroLrHooks& hooks = {});
StatusOr<HeteroLrResult> TrainHeteroLrPaillier(HeteroRole role, net::Link& peer, const Matrix& x,
                                               const std::vector<double>* labels,
                                               const LrParams& params,
                                               const PaillierOptions& options = {},
                                               const HeteroLrHooks& hooks = {});

// Joint scoring of aligned rows: every party that is not the receiver sends its partial scores
// (doubles) to the receiver, which returns sigmoid(sum of all partial scores) per row; the
// others get an empty vector. `peers`: at the receiver, a link to every other party of the
// model; elsewhere, the link to the receiver. FailedPrecondition if the row counts differ.
// Leaks: the receiver learns the scores and every other party's partial score per row (with
// one other party that is implied by the score anyway); the senders learn nothing.
StatusOr<std::vector<double>> PredictHeteroLr(const HeteroLrPartModel& model,
                                              const std::vector<net::Link*>& peers,
                                              const Matrix& x, bool is_receiver);

}  // namespace consort::fl
