#include "consort/fl/hetero_lr.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <set>

#include "consort/crypto/paillier.h"
#include "consort/fl/internal/checkpoint.h"
#include "consort/fl/internal/lr_loop.h"
#include "consort/fl/internal/shared_ops.h"
#include "consort/fl/internal/wire.h"
#include "consort/fl/metrics.h"
#include "consort/mpc/functions.h"

namespace consort::fl {
namespace {

using internal::RecvDoubles;
using internal::SendDoubles;

const char* VariantName(HeteroLrVariant v) {
  return v == HeteroLrVariant::kMpc ? "mpc" : "paillier";
}

Status CheckLocal(HeteroRole role, const Matrix& x, const std::vector<double>* labels) {
  if (x.data.size() != x.rows * x.cols) return absl::InvalidArgumentError("hetero lr: bad matrix");
  if (x.rows < 2) return absl::InvalidArgumentError("hetero lr: fewer than 2 aligned rows");
  for (double v : x.data) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("hetero lr: non-finite feature");
  }
  if (role == HeteroRole::kGuest) {
    if (labels == nullptr || labels->size() != x.rows) {
      return absl::InvalidArgumentError("hetero lr: the guest needs one label per row");
    }
    for (double y : *labels) {
      if (y != 0.0 && y != 1.0) return absl::InvalidArgumentError("hetero lr: label not 0/1");
    }
  } else if (labels != nullptr) {
    return absl::InvalidArgumentError("hetero lr: the host has no labels");
  }
  return OkStatus();
}

// Hellos: the guest exchanges one with every host (rows, variant, params and options must
// match), then sends every host the column count of each backend party. Returns the column
// counts indexed by backend party (`num_parties` entries).
struct Layout {
  std::vector<size_t> cols;  // per backend party
  int resume_epoch = 0;      // completed epochs to restore from checkpoints (0 = none)
};

StatusOr<Layout> ExchangeHellos(const std::vector<net::Link*>& peers, HeteroRole role,
                                HeteroLrVariant variant, size_t rows, size_t cols,
                                const LrParams& params, const std::string& options,
                                int self_party, int guest_party, int num_parties,
                                const std::vector<int>& checkpoints) {
  const Json mine = {{"protocol", "fl.hetero_lr/1"},
                     {"options", options},
                     {"variant", VariantName(variant)},
                     {"role", role == HeteroRole::kGuest ? "guest" : "host"},
                     {"party_index", self_party},
                     {"rows", rows},
                     {"cols", cols},
                     {"params", LrParamsToJson(params)},
                     {"checkpoints", checkpoints}};
  const bool guest = role == HeteroRole::kGuest;
  auto check = [&](const Json& theirs) -> StatusOr<std::pair<int, size_t>> {
    if (theirs.value("protocol", "") != "fl.hetero_lr/1" || !theirs.contains("rows") ||
        !theirs["rows"].is_number_unsigned() || !theirs.contains("cols") ||
        !theirs["cols"].is_number_unsigned() || !theirs.contains("party_index") ||
        !theirs["party_index"].is_number_integer()) {
      return absl::InvalidArgumentError("hetero lr: malformed hello from peer");
    }
    const std::string expected_role = guest ? "host" : "guest";
    if (theirs.value("role", "") != expected_role) {
      return absl::FailedPreconditionError("hetero lr: peer does not play the " + expected_role);
    }
    if (theirs.value("variant", "") != VariantName(variant)) {
      return absl::FailedPreconditionError("hetero lr: peer runs another variant");
    }
    if (theirs["rows"].get<uint64_t>() != rows) {
      return absl::FailedPreconditionError("hetero lr: peer has " +
                                           std::to_string(theirs["rows"].get<uint64_t>()) +
                                           " aligned rows, this party " + std::to_string(rows));
    }
    if (theirs.value("params", Json()) != mine["params"] ||
        theirs.value("options", Json()) != mine["options"]) {
      return absl::FailedPreconditionError("hetero lr: peer's training parameters differ");
    }
    const int64_t idx = theirs["party_index"].get<int64_t>();
    const size_t c = theirs["cols"].get<uint64_t>();
    if (idx < 0 || idx >= num_parties || idx == self_party || c == 0 || c > (size_t{1} << 20)) {
      return absl::InvalidArgumentError("hetero lr: bad party index or column count from peer");
    }
    return std::make_pair(static_cast<int>(idx), c);
  };
  std::vector<size_t> all(static_cast<size_t>(num_parties), 0);
  all[static_cast<size_t>(self_party)] = cols;
  // Resume from the latest epoch every party has a checkpoint of.
  std::set<int> common(checkpoints.begin(), checkpoints.end());
  auto intersect = [&](const Json& theirs) -> Status {
    const Json& c = theirs.contains("checkpoints") ? theirs["checkpoints"] : Json::array();
    if (!c.is_array() || c.size() > 16) {
      return absl::InvalidArgumentError("hetero lr: malformed checkpoint list from peer");
    }
    std::set<int> other;
    for (const Json& e : c) {
      if (!e.is_number_integer()) {
        return absl::InvalidArgumentError("hetero lr: malformed checkpoint list from peer");
      }
      other.insert(e.get<int>());
    }
    std::set<int> both;
    for (int e : common) {
      if (other.count(e)) both.insert(e);
    }
    common = std::move(both);
    return OkStatus();
  };
  if (guest) {
    if (static_cast<int>(peers.size()) != num_parties - 1) {
      return absl::InvalidArgumentError("hetero lr: the guest needs a link to every host");
    }
    for (net::Link* peer : peers) {
      CONSORT_RETURN_IF_ERROR(internal::SendJson(*peer, mine));
      CONSORT_ASSIGN_OR_RETURN(Json theirs, internal::RecvJson(*peer, "hello"));
      CONSORT_ASSIGN_OR_RETURN(auto ic, check(theirs));
      if (all[static_cast<size_t>(ic.first)] != 0) {
        return absl::InvalidArgumentError("hetero lr: two hosts claim the same party index");
      }
      all[static_cast<size_t>(ic.first)] = ic.second;
      CONSORT_RETURN_IF_ERROR(intersect(theirs));
    }
    const int resume = common.empty() ? 0 : *common.rbegin();
    for (net::Link* peer : peers) {
      CONSORT_RETURN_IF_ERROR(internal::SendJson(*peer, Json{{"cols", all}, {"resume", resume}}));
    }
    return Layout{all, resume};
  }
  if (peers.size() != 1) return absl::InvalidArgumentError("hetero lr: a host links to the guest");
  CONSORT_ASSIGN_OR_RETURN(Json theirs, internal::RecvJson(*peers[0], "hello"));
  CONSORT_RETURN_IF_ERROR(internal::SendJson(*peers[0], mine));
  CONSORT_ASSIGN_OR_RETURN(auto ic, check(theirs));
  if (ic.first != guest_party) {
    return absl::FailedPreconditionError("hetero lr: the guest has another party index");
  }
  CONSORT_ASSIGN_OR_RETURN(Json layout, internal::RecvJson(*peers[0], "layout"));
  if (!layout.contains("cols") || !layout["cols"].is_array() ||
      layout["cols"].size() != static_cast<size_t>(num_parties)) {
    return absl::InvalidArgumentError("hetero lr: malformed layout from the guest");
  }
  for (size_t p = 0; p < all.size(); ++p) {
    const Json& c = layout["cols"][p];
    if (!c.is_number_unsigned() || c.get<uint64_t>() == 0 || c.get<uint64_t>() > (1u << 20)) {
      return absl::InvalidArgumentError("hetero lr: malformed layout from the guest");
    }
    all[p] = c.get<uint64_t>();
  }
  if (all[static_cast<size_t>(self_party)] != cols || all[static_cast<size_t>(guest_party)] != ic.second) {
    return absl::InvalidArgumentError("hetero lr: the guest's layout contradicts the hellos");
  }
  int resume = 0;
  if (layout.contains("resume")) {
    if (!layout["resume"].is_number_integer()) {
      return absl::InvalidArgumentError("hetero lr: malformed layout from the guest");
    }
    resume = layout["resume"].get<int>();
  }
  if (resume != 0 && std::find(checkpoints.begin(), checkpoints.end(), resume) == checkpoints.end()) {
    return absl::InvalidArgumentError("hetero lr: the guest resumes from an epoch this party has "
                                      "no checkpoint of");
  }
  return Layout{all, resume};
}

// This party's scaled features (guest: + a column of ones for the intercept).
struct Prepared {
  internal::Split split;
  Scaler scaler;
  Matrix x;
  bool has_intercept = false;
};

Prepared Prepare(HeteroRole role, const Matrix& raw, const LrParams& params) {
  Prepared p;
  p.split = internal::SplitRows(raw.rows, params.validation_fraction, params.seed);
  p.scaler = Scaler::Fit(raw, p.split.train, params.standardize);
  Matrix x = raw;
  p.scaler.Apply(x);
  p.has_intercept = role == HeteroRole::kGuest && params.fit_intercept;
  if (!p.has_intercept) {
    p.x = std::move(x);
    return p;
  }
  p.x = Matrix{x.rows, x.cols + 1, {}};
  p.x.data.reserve(p.x.rows * p.x.cols);
  for (size_t r = 0; r < x.rows; ++r) {
    for (size_t c = 0; c < x.cols; ++c) p.x.data.push_back(x.at(r, c));
    p.x.data.push_back(1.0);
  }
  return p;
}

std::vector<double> LinearScores(const Matrix& x, const std::vector<size_t>& rows,
                                 const std::vector<double>& w) {
  std::vector<double> u(rows.size(), 0.0);
  for (size_t i = 0; i < rows.size(); ++i) {
    const double* xr = &x.data[rows[i] * x.cols];
    double s = 0;
    for (size_t c = 0; c < x.cols; ++c) s += xr[c] * w[c];
    u[i] = s;
  }
  return u;
}

// The per-batch gradient protocol of one variant: returns this party's gradient sum over the
// batch (sum_r x_r d_r for its own columns).
class BatchGradient {
 public:
  virtual ~BatchGradient() = default;
  virtual StatusOr<std::vector<double>> Compute(const std::vector<size_t>& batch,
                                                const std::vector<double>& u_own) = 0;
  // The total linear score z = sum of every party's u on `rows`, at the guest (empty at the
  // hosts). Leaks: z to the guest.
  virtual StatusOr<std::vector<double>> ScoresToGuest(const std::vector<size_t>& rows,
                                                      const std::vector<double>& u_own) = 0;
};

class MpcGradient : public BatchGradient {
 public:
  // cols[p]: the column count of backend party p; the guest is `guest_party`.
  MpcGradient(mpc::Backend& be, int self_party, int guest_party, std::vector<size_t> cols,
              MpcSigmoid sigmoid)
      : be_(be), me_(self_party), gi_(guest_party), cols_(std::move(cols)), sigmoid_(sigmoid) {}

  Status Setup(const Prepared& prep, const std::vector<double>* labels) {
    const size_t n = prep.x.rows;
    std::span<const double> mine(prep.x.data), none;
    for (size_t p = 0; p < cols_.size(); ++p) {
      CONSORT_ASSIGN_OR_RETURN(
          mpc::Shared xp, be_.InputFixed(static_cast<int>(p), mpc::Shape{n, cols_[p]},
                                         static_cast<int>(p) == me_ ? mine : none));
      x_.push_back(std::move(xp));
    }
    std::span<const double> y = labels ? std::span<const double>(*labels) : none;
    CONSORT_ASSIGN_OR_RETURN(y_, be_.InputFixed(gi_, mpc::Shape{n, 1}, y));
    return OkStatus();
  }

  StatusOr<std::vector<double>> Compute(const std::vector<size_t>& batch,
                                        const std::vector<double>& u_own) override {
    CONSORT_ASSIGN_OR_RETURN(mpc::Shared z, SharedScores(u_own));
    CONSORT_ASSIGN_OR_RETURN(mpc::Shared p, sigmoid_ == MpcSigmoid::kAccurate
                                                ? mpc::Sigmoid(be_, z)
                                                : internal::PiecewiseSigmoidShared(be_, z));
    CONSORT_ASSIGN_OR_RETURN(mpc::Shared d, be_.Sub(p, internal::GatherRows(y_, batch)));
    mpc::Shared xb = internal::GatherRows(x_[0], batch);
    for (size_t q = 1; q < x_.size(); ++q) {
      xb = internal::ConcatCols(xb, internal::GatherRows(x_[q], batch));
    }
    CONSORT_ASSIGN_OR_RETURN(mpc::Shared g, be_.MatMul(internal::Transpose(xb), d));  // 2f bits
    // Leaks: each party's own gradient sum (see the header).
    mpc::RingTensor own;
    size_t offset = 0;
    for (size_t q = 0; q < cols_.size(); ++q) {
      CONSORT_ASSIGN_OR_RETURN(
          mpc::RingTensor t,
          be_.RevealTo(internal::SliceRows(g, offset, offset + cols_[q]), static_cast<int>(q)));
      if (static_cast<int>(q) == me_) own = std::move(t);
      offset += cols_[q];
    }
    const size_t own_cols = cols_[static_cast<size_t>(me_)];
    if (own.data.size() != own_cols) return absl::InternalError("hetero lr: reveal size");
    const double scale = std::ldexp(1.0, -2 * be_.fxp().frac_bits());
    std::vector<double> grad(own_cols);
    for (size_t i = 0; i < own_cols; ++i) {
      grad[i] = static_cast<double>(static_cast<int64_t>(own.data[i])) * scale;
    }
    return grad;
  }

  StatusOr<std::vector<double>> ScoresToGuest(const std::vector<size_t>& rows,
                                              const std::vector<double>& u_own) override {
    CONSORT_ASSIGN_OR_RETURN(mpc::Shared z, SharedScores(u_own));
    CONSORT_ASSIGN_OR_RETURN(mpc::RingTensor t, be_.RevealTo(z, gi_));
    if (me_ != gi_) return std::vector<double>();
    if (t.data.size() != rows.size()) return absl::InternalError("hetero lr: reveal size");
    return be_.fxp().Decode(t.data);
  }

 private:
  // [z] = sum over parties of Input_p(u_p): no messages in 2PC.
  StatusOr<mpc::Shared> SharedScores(const std::vector<double>& u_own) {
    const mpc::Shape shape{u_own.size(), 1};
    std::span<const double> none;
    mpc::Shared z;
    for (size_t p = 0; p < cols_.size(); ++p) {
      CONSORT_ASSIGN_OR_RETURN(
          mpc::Shared up,
          be_.InputFixed(static_cast<int>(p), shape,
                         static_cast<int>(p) == me_ ? std::span<const double>(u_own) : none));
      if (p == 0) {
        z = std::move(up);
      } else {
        CONSORT_ASSIGN_OR_RETURN(z, be_.Add(z, up));
      }
    }
    return z;
  }

  mpc::Backend& be_;
  int me_, gi_;
  std::vector<size_t> cols_;
  MpcSigmoid sigmoid_;
  std::vector<mpc::Shared> x_;
  mpc::Shared y_;
};

constexpr int kPaillierFracBits = 16;

StatusOr<int64_t> ToFixed(double v) {
  const double s = std::ldexp(v, kPaillierFracBits);
  if (!(std::fabs(s) < std::ldexp(1.0, 62))) {
    return absl::InvalidArgumentError("hetero lr: value out of the fixed-point range");
  }
  return static_cast<int64_t>(std::llround(s));
}

// sum_i k_i [[c_i]] for small signed k_i with only cheap ciphertext products: Pippenger-style
// buckets per w-bit window of |k_i| (B + 2^(w+1) products per window instead of ~1.5 bits(k)
// per term), positive and negative weights summed apart and the negative sum negated once.
// (MultiplyScalar with a negative int64 would exponentiate by n - |k|, a full-size exponent.)
crypto::PaillierCiphertext WeightedSum(const crypto::PaillierPublicKey& pk,
                                       const std::vector<crypto::PaillierCiphertext>& cts,
                                       const std::vector<int64_t>& k) {
  constexpr int kWindow = 5;
  auto multi_exp = [&](bool negative) {
    uint64_t max_abs = 0;
    std::vector<uint64_t> mag(k.size(), 0);
    for (size_t i = 0; i < k.size(); ++i) {
      if ((k[i] < 0) != negative || k[i] == 0) continue;
      mag[i] = k[i] < 0 ? 0 - static_cast<uint64_t>(k[i]) : static_cast<uint64_t>(k[i]);
      max_abs = std::max(max_abs, mag[i]);
    }
    crypto::PaillierCiphertext result = pk.Zero();
    if (max_abs == 0) return result;
    int bits = 0;
    while (bits < 64 && (max_abs >> bits) != 0) ++bits;
    const int windows = (bits + kWindow - 1) / kWindow;
    std::vector<crypto::PaillierCiphertext> buckets(size_t{1} << kWindow);
    std::vector<bool> used(buckets.size());
    bool first = true;
    for (int j = windows - 1; j >= 0; --j) {
      if (!first) result = pk.MultiplyScalar(result, int64_t{1} << kWindow);
      std::fill(used.begin(), used.end(), false);
      for (size_t i = 0; i < k.size(); ++i) {
        const size_t v = (mag[i] >> (kWindow * j)) & ((size_t{1} << kWindow) - 1);
        if (v == 0) continue;
        if (used[v]) {
          pk.AddInPlace(buckets[v], cts[i]);
        } else {
          buckets[v] = cts[i];
          used[v] = true;
        }
      }
      // sum_v v * bucket[v] by running sums from the top bucket down.
      crypto::PaillierCiphertext running = pk.Zero(), sum = pk.Zero();
      bool any = false;
      for (size_t v = buckets.size() - 1; v >= 1; --v) {
        if (used[v]) {
          pk.AddInPlace(running, buckets[v]);
          any = true;
        }
        if (any) pk.AddInPlace(sum, running);
      }
      pk.AddInPlace(result, sum);
      first = false;
    }
    return result;
  };
  crypto::PaillierCiphertext pos = multi_exp(false);
  crypto::PaillierCiphertext neg = multi_exp(true);
  return pk.Add(pos, pk.Negate(neg));
}

class PaillierGradient : public BatchGradient {
 public:
  PaillierGradient(net::Link& peer, HeteroRole role, const PaillierOptions& opt)
      : peer_(peer), guest_(role == HeteroRole::kGuest), opt_(opt) {}

  Status Setup(const Prepared& prep, size_t peer_cols, const std::vector<double>* labels) {
    peer_cols_ = peer_cols;
    if (opt_.key_bits < crypto::kPaillierMinBits && !opt_.insecure_small_keys_for_testing) {
      return absl::InvalidArgumentError("hetero lr: paillier key_bits below the minimum");
    }
    auto sk = opt_.insecure_small_keys_for_testing
                  ? crypto::PaillierSecretKey::GenerateForTesting(opt_.key_bits)
                  : crypto::PaillierSecretKey::Generate(opt_.key_bits);
    if (!sk.ok()) return sk.status();
    sk_ = std::make_unique<crypto::PaillierSecretKey>(std::move(*sk));
    // DJN fixed-base noise (crypto/paillier.h: short-exponent assumption, 256-bit exponents).
    auto noise = crypto::PaillierFastNoise::Create(*sk_);
    if (!noise.ok()) return noise.status();
    noise_ = std::make_unique<crypto::PaillierFastNoise>(std::move(*noise));
    const int min_bits = opt_.insecure_small_keys_for_testing ? 256 : crypto::kPaillierMinBits;
    Bytes mine = sk_->public_key().ToBytes();
    Bytes theirs;
    if (guest_) {
      CONSORT_RETURN_IF_ERROR(peer_.Send(mine));
      CONSORT_ASSIGN_OR_RETURN(theirs, peer_.Recv());
    } else {
      CONSORT_ASSIGN_OR_RETURN(theirs, peer_.Recv());
      CONSORT_RETURN_IF_ERROR(peer_.Send(mine));
    }
    auto pk = crypto::PaillierPublicKey::FromBytes(theirs, min_bits);
    if (!pk.ok()) {
      return absl::InvalidArgumentError("hetero lr: peer's public key: " +
                                        std::string(pk.status().message()));
    }
    peer_pk_ = std::move(*pk);
    // Fresh noise under the peer's key for the masked gradients it decrypts: the peer made the
    // ciphertexts they are computed from, so without it the peer could divide its own noise
    // out and learn about our features.
    auto peer_noise = crypto::PaillierFastNoise::Create(peer_pk_);
    if (!peer_noise.ok()) return peer_noise.status();
    peer_noise_ = std::make_unique<crypto::PaillierFastNoise>(std::move(*peer_noise));
    x_int_.resize(prep.x.data.size());
    cols_ = prep.x.cols;
    for (size_t i = 0; i < x_int_.size(); ++i) {
      CONSORT_ASSIGN_OR_RETURN(x_int_[i], ToFixed(prep.x.data[i]));
    }
    labels_ = labels;
    return OkStatus();
  }

  StatusOr<std::vector<double>> Compute(const std::vector<size_t>& batch,
                                        const std::vector<double>& u_own) override {
    const size_t b = batch.size();
    const crypto::PaillierPublicKey& own_pk = sk_->public_key();
    // Own message: guest [[4a]] with 4a = u_g + 2 - 4y; host [[u_h]]. Both at 2^16 scale.
    std::vector<int64_t> own_int(b);
    std::vector<crypto::PaillierCiphertext> own_ct;
    own_ct.reserve(b);
    for (size_t i = 0; i < b; ++i) {
      const double v = guest_ ? u_own[i] + 2.0 - 4.0 * (*labels_)[batch[i]] : u_own[i];
      CONSORT_ASSIGN_OR_RETURN(own_int[i], ToFixed(v));
      own_ct.push_back(own_pk.Encrypt(own_pk.Encode(own_int[i]), noise_->Generate()));
    }
    std::vector<crypto::PaillierCiphertext> peer_ct;
    if (guest_) {
      CONSORT_ASSIGN_OR_RETURN(peer_ct, internal::RecvCiphertexts(peer_, peer_pk_, b, "[[u_h]]"));
      CONSORT_RETURN_IF_ERROR(internal::SendCiphertexts(peer_, own_pk, own_ct));
    } else {
      CONSORT_RETURN_IF_ERROR(internal::SendCiphertexts(peer_, own_pk, own_ct));
      CONSORT_ASSIGN_OR_RETURN(peer_ct, internal::RecvCiphertexts(peer_, peer_pk_, b, "[[4a]]"));
    }
    // [[4d]] under the peer's key = peer's ciphertext + own plaintext; then the masked
    // encrypted gradient sum_r x_rc [[4d_r]] + r_c.
    std::vector<crypto::PaillierCiphertext> four_d(b);
    for (size_t i = 0; i < b; ++i) {
      four_d[i] = peer_pk_.AddPlaintext(peer_ct[i], peer_pk_.Encode(own_int[i]));
    }
    std::vector<crypto::PaillierPlaintext> masks(cols_);
    std::vector<crypto::PaillierCiphertext> masked(cols_);
    std::vector<int64_t> weights(b);
    for (size_t c = 0; c < cols_; ++c) {
      for (size_t i = 0; i < b; ++i) weights[i] = x_int_[batch[i] * cols_ + c];
      masks[c] = peer_pk_.RandomPlaintext();
      masked[c] = peer_pk_.Rerandomize(
          peer_pk_.AddPlaintext(WeightedSum(peer_pk_, four_d, weights), masks[c]),
          peer_noise_->Generate());
    }
    // Exchange masked gradients (guest first), decrypt the peer's, return them.
    std::vector<crypto::PaillierCiphertext> to_decrypt;
    if (guest_) {
      CONSORT_RETURN_IF_ERROR(internal::SendCiphertexts(peer_, peer_pk_, masked));
      CONSORT_ASSIGN_OR_RETURN(to_decrypt, internal::RecvCiphertexts(peer_, own_pk, peer_cols_,
                                                                     "masked gradient"));
    } else {
      CONSORT_ASSIGN_OR_RETURN(to_decrypt, internal::RecvCiphertexts(peer_, own_pk, peer_cols_,
                                                                     "masked gradient"));
      CONSORT_RETURN_IF_ERROR(internal::SendCiphertexts(peer_, peer_pk_, masked));
    }
    std::vector<crypto::PaillierPlaintext> decrypted;
    for (const auto& ct : to_decrypt) decrypted.push_back(sk_->Decrypt(ct));
    std::vector<crypto::PaillierPlaintext> mine_masked;
    if (guest_) {
      CONSORT_RETURN_IF_ERROR(internal::SendPlaintexts(peer_, own_pk, decrypted));
      CONSORT_ASSIGN_OR_RETURN(mine_masked, internal::RecvPlaintexts(peer_, peer_pk_, cols_,
                                                                     "masked gradient"));
    } else {
      CONSORT_ASSIGN_OR_RETURN(mine_masked, internal::RecvPlaintexts(peer_, peer_pk_, cols_,
                                                                     "masked gradient"));
      CONSORT_RETURN_IF_ERROR(internal::SendPlaintexts(peer_, own_pk, decrypted));
    }
    std::vector<double> grad(cols_);
    const double scale = 0.25 * std::ldexp(1.0, -2 * kPaillierFracBits);
    for (size_t c = 0; c < cols_; ++c) {
      auto v = peer_pk_.DecodeInt64(peer_pk_.SubPlaintexts(mine_masked[c], masks[c]));
      if (!v.ok()) return absl::InvalidArgumentError("hetero lr: gradient out of range");
      grad[c] = static_cast<double>(*v) * scale;
    }
    return grad;
  }

  // The host sends u_h in the clear: the same information as revealing z to the guest.
  StatusOr<std::vector<double>> ScoresToGuest(const std::vector<size_t>& rows,
                                              const std::vector<double>& u_own) override {
    if (!guest_) {
      CONSORT_RETURN_IF_ERROR(SendDoubles(peer_, u_own));
      return std::vector<double>();
    }
    CONSORT_ASSIGN_OR_RETURN(std::vector<double> z, RecvDoubles(peer_, rows.size(), "scores"));
    for (size_t i = 0; i < z.size(); ++i) z[i] += u_own[i];
    return z;
  }

 private:
  net::Link& peer_;
  bool guest_;
  PaillierOptions opt_;
  std::unique_ptr<crypto::PaillierSecretKey> sk_;
  std::unique_ptr<crypto::PaillierFastNoise> noise_;
  std::unique_ptr<crypto::PaillierFastNoise> peer_noise_;  // under peer_pk_, for re-randomizing
  crypto::PaillierPublicKey peer_pk_;
  std::vector<int64_t> x_int_;
  size_t cols_ = 0, peer_cols_ = 0;
  const std::vector<double>* labels_ = nullptr;
};

enum : uint8_t { kContinue = 0, kConverged = 1, kEarlyStop = 2, kImprovedBit = 4 };

// The training loop shared by both variants.
StatusOr<HeteroLrResult> RunTraining(HeteroRole role, const std::vector<net::Link*>& peers,
                                     const Prepared& prep,
                                     const std::vector<double>* labels, const LrParams& params,
                                     BatchGradient& grad_protocol, int max_batches,
                                     const HeteroLrHooks& hooks, const std::string& digest,
                                     int resume_epoch) {
  const bool guest = role == HeteroRole::kGuest;
  HeteroLrResult result;
  std::vector<double> w(prep.x.cols, 0.0), best_w = w;
  internal::StopRule stop(params);
  int first_epoch = 0;
  if (resume_epoch > 0) {
    CONSORT_ASSIGN_OR_RETURN(internal::LrCheckpoint c,
                             internal::LoadCheckpoint(hooks.checkpoint_dir, digest, resume_epoch));
    if (c.w.size() != w.size() || c.best_w.size() != w.size() || resume_epoch > params.epochs) {
      return absl::InvalidArgumentError("hetero lr: checkpoint does not fit this run");
    }
    CONSORT_RETURN_IF_ERROR(stop.Restore(c.stop));
    w = c.w;
    best_w = c.best_w;
    result.report.monitored_loss = c.monitored_loss;
    first_epoch = resume_epoch;
    result.resumed_from_epoch = resume_epoch;
  }
  const std::vector<size_t>& monitor_rows =
      prep.split.validation.empty() ? prep.split.train : prep.split.validation;
  int batches_done = 0;
  bool budget_hit = false;
  for (int epoch = first_epoch; epoch < params.epochs && !budget_hit; ++epoch) {
    const double lr = internal::LearningRate(params, epoch);
    for (const auto& batch :
         internal::EpochBatches(prep.split.train, params.batch_size, params.seed, epoch)) {
      if (hooks.cancelled != nullptr && hooks.cancelled->load()) {
        return absl::CancelledError("hetero lr: cancelled");
      }
      std::vector<double> u = LinearScores(prep.x, batch, w);
      CONSORT_ASSIGN_OR_RETURN(std::vector<double> g, grad_protocol.Compute(batch, u));
      internal::GradientStep(params, lr, batch.size(), g, w, prep.has_intercept);
      if (max_batches > 0 && ++batches_done >= max_batches) {
        budget_hit = true;
        break;
      }
    }
    result.report.epochs_run = epoch + 1;
    auto checkpoint = [&]() -> Status {
      if (hooks.checkpoint_dir.empty() || budget_hit) return OkStatus();
      internal::LrCheckpoint c{epoch + 1, w, best_w, stop.State(), result.report.monitored_loss};
      return internal::SaveCheckpoint(hooks.checkpoint_dir, digest, c);
    };
    if (!stop.monitoring() || budget_hit) {
      CONSORT_RETURN_IF_ERROR(checkpoint());
      if (hooks.progress) hooks.progress(static_cast<double>(epoch + 1) / params.epochs);
      continue;
    }
    // Monitoring: the guest learns z on the monitored rows and decides for everyone.
    std::vector<double> u = LinearScores(prep.x, monitor_rows, w);
    CONSORT_ASSIGN_OR_RETURN(std::vector<double> z, grad_protocol.ScoresToGuest(monitor_rows, u));
    uint8_t decision = kContinue;
    if (guest) {
      std::vector<double> p(z.size()), y(z.size());
      for (size_t i = 0; i < z.size(); ++i) {
        p[i] = internal::Sigmoid(z[i]);
        y[i] = (*labels)[monitor_rows[i]];
      }
      CONSORT_ASSIGN_OR_RETURN(double loss, LogLoss(p, y));
      result.report.monitored_loss.push_back(loss);
      bool improved = false;
      auto d = stop.Observe(loss, &improved);
      decision = d == internal::StopRule::Decision::kEarlyStop   ? kEarlyStop
                 : d == internal::StopRule::Decision::kConverged ? kConverged
                                                                 : kContinue;
      if (improved) decision |= kImprovedBit;
      for (net::Link* peer : peers) CONSORT_RETURN_IF_ERROR(internal::SendByte(*peer, decision));
    } else {
      CONSORT_ASSIGN_OR_RETURN(decision, internal::RecvByte(*peers[0], "decision"));
      if ((decision & ~kImprovedBit) > kEarlyStop) {
        return absl::InvalidArgumentError("hetero lr: malformed decision from peer");
      }
    }
    if (decision & kImprovedBit) best_w = w;
    const uint8_t what = decision & ~kImprovedBit;
    if (what == kEarlyStop) {
      result.report.early_stopped = true;
      w = best_w;
      break;
    }
    if (what == kConverged) {
      result.report.converged = true;
      break;
    }
    CONSORT_RETURN_IF_ERROR(checkpoint());
    if (hooks.progress) hooks.progress(static_cast<double>(epoch + 1) / params.epochs);
  }
  // Final scores for the guest's metrics: the host's partial scores on every row.
  std::vector<size_t> all(prep.x.rows);
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::vector<double> u = LinearScores(prep.x, all, w);
  CONSORT_ASSIGN_OR_RETURN(std::vector<double> z, grad_protocol.ScoresToGuest(all, u));
  if (guest) {
    for (size_t r : prep.split.train) result.train_scores.push_back(internal::Sigmoid(z[r]));
    for (size_t r : prep.split.validation) {
      result.validation_scores.push_back(internal::Sigmoid(z[r]));
    }
  }
  result.model.role = role;
  result.model.scaler = prep.scaler;
  if (prep.has_intercept) {
    result.model.intercept = w.back();
    w.pop_back();
  }
  result.model.weights = std::move(w);
  result.report.train_rows = prep.split.train;
  result.report.validation_rows = prep.split.validation;
  return result;
}

// Binds checkpoints to this party's role, index, data (shape and a hash of the values) and
// the parameters.
std::string CheckpointDigest(HeteroLrVariant variant, HeteroRole role, int self, const Matrix& x,
                             const LrParams& params, const std::string& options) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the feature bits (not a secret digest:
  for (double v : x.data) {             // the file stays in the party's scratch directory)
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; ++i) h = (h ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  return Json{{"variant", VariantName(variant)},
              {"role", role == HeteroRole::kGuest ? "guest" : "host"},
              {"self", self},
              {"rows", x.rows},
              {"cols", x.cols},
              {"data", h},
              {"params", LrParamsToJson(params)},
              {"options", options}}
      .dump();
}

std::vector<int> Checkpoints(const HeteroLrHooks& hooks, const std::string& digest) {
  if (hooks.checkpoint_dir.empty()) return {};
  return internal::ListCheckpoints(hooks.checkpoint_dir, digest);
}

}  // namespace

StatusOr<HeteroLrVariant> ParseHeteroLrVariant(const std::string& name) {
  if (name == "mpc") return HeteroLrVariant::kMpc;
  if (name == "paillier") return HeteroLrVariant::kPaillier;
  return absl::InvalidArgumentError("variant must be \"mpc\" or \"paillier\", not \"" + name +
                                    "\"");
}

StatusOr<MpcSigmoid> ParseMpcSigmoid(const std::string& name) {
  if (name == "accurate") return MpcSigmoid::kAccurate;
  if (name == "piecewise") return MpcSigmoid::kPiecewise;
  return absl::InvalidArgumentError("sigmoid must be \"accurate\" or \"piecewise\", not \"" +
                                    name + "\"");
}

StatusOr<std::vector<double>> HeteroLrPartModel::PartialScores(const Matrix& raw) const {
  if (raw.cols != weights.size() || raw.data.size() != raw.rows * raw.cols) {
    return absl::InvalidArgumentError("hetero lr model: expected " +
                                      std::to_string(weights.size()) + " feature columns, got " +
                                      std::to_string(raw.cols));
  }
  Matrix x = raw;
  scaler.Apply(x);
  std::vector<double> u(x.rows, intercept);
  for (size_t r = 0; r < x.rows; ++r) {
    for (size_t c = 0; c < x.cols; ++c) u[r] += x.at(r, c) * weights[c];
  }
  return u;
}

Bytes HeteroLrPartModel::Serialize() const {
  Json j = {{"role", role == HeteroRole::kGuest ? "guest" : "host"},
            {"scaler", scaler.ToJson()},
            {"weights", weights},
            {"intercept", intercept}};
  return ToBytes(j.dump());
}

StatusOr<HeteroLrPartModel> HeteroLrPartModel::Parse(ByteSpan blob) {
  auto j = ParseJson(ToString(blob), "model");
  if (!j.ok()) return absl::InvalidArgumentError("hetero lr model: " + std::string(j.status().message()));
  try {
    HeteroLrPartModel m;
    const std::string role = j->at("role").get<std::string>();
    if (role != "guest" && role != "host") throw std::runtime_error("bad role");
    m.role = role == "guest" ? HeteroRole::kGuest : HeteroRole::kHost;
    m.weights = j->at("weights").get<std::vector<double>>();
    m.intercept = j->at("intercept").get<double>();
    CONSORT_ASSIGN_OR_RETURN(m.scaler, Scaler::FromJson(j->at("scaler"), m.weights.size()));
    for (double v : m.weights) {
      if (!std::isfinite(v)) throw std::runtime_error("non-finite weight");
    }
    return m;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("hetero lr model: malformed: ") + e.what());
  }
}

StatusOr<HeteroLrResult> TrainHeteroLrMpc(mpc::Backend& backend, HeteroRole role,
                                          const std::vector<net::Link*>& peers, const Matrix& x,
                                          const std::vector<double>* labels,
                                          const LrParams& params, const MpcOptions& options,
                                          const HeteroLrHooks& hooks) {
  CONSORT_RETURN_IF_ERROR(ValidateLrParams(params));
  CONSORT_RETURN_IF_ERROR(CheckLocal(role, x, labels));
  const int k = backend.num_parties();
  if (k < 2) return absl::InvalidArgumentError("hetero lr (mpc): needs two or more parties");
  if (options.guest_party < 0 || options.guest_party >= k) {
    return absl::InvalidArgumentError("hetero lr (mpc): guest_party out of range");
  }
  int self = options.self_party;
  if (self < 0) {
    if (k != 2) return absl::InvalidArgumentError("hetero lr (mpc): self_party is required");
    self = role == HeteroRole::kGuest ? options.guest_party : 1 - options.guest_party;
  }
  if (self >= k || (self == options.guest_party) != (role == HeteroRole::kGuest)) {
    return absl::InvalidArgumentError("hetero lr (mpc): self_party contradicts the role");
  }
  for (net::Link* l : peers) {
    if (l == nullptr) return absl::InvalidArgumentError("hetero lr: null link");
  }
  uint64_t sent0 = 0;
  for (net::Link* l : peers) sent0 += l->bytes_sent();
  Prepared prep = Prepare(role, x, params);
  const std::string opts =
      options.sigmoid == MpcSigmoid::kAccurate ? "sigmoid=accurate" : "sigmoid=piecewise";
  const std::string digest = CheckpointDigest(HeteroLrVariant::kMpc, role, self, x, params, opts);
  CONSORT_ASSIGN_OR_RETURN(
      Layout layout,
      ExchangeHellos(peers, role, HeteroLrVariant::kMpc, x.rows, prep.x.cols, params, opts, self,
                     options.guest_party, k, Checkpoints(hooks, digest)));
  MpcGradient protocol(backend, self, options.guest_party, layout.cols, options.sigmoid);
  CONSORT_RETURN_IF_ERROR(protocol.Setup(prep, labels));
  CONSORT_ASSIGN_OR_RETURN(HeteroLrResult r,
                           RunTraining(role, peers, prep, labels, params, protocol, 0, hooks,
                                       digest, layout.resume_epoch));
  r.bytes_sent = 0;
  for (net::Link* l : peers) r.bytes_sent += l->bytes_sent();
  r.bytes_sent -= sent0;
  return r;
}

StatusOr<HeteroLrResult> TrainHeteroLrPaillier(HeteroRole role, net::Link& peer, const Matrix& x,
                                               const std::vector<double>* labels,
                                               const LrParams& params,
                                               const PaillierOptions& options,
                                               const HeteroLrHooks& hooks) {
  CONSORT_RETURN_IF_ERROR(ValidateLrParams(params));
  CONSORT_RETURN_IF_ERROR(CheckLocal(role, x, labels));
  const uint64_t sent0 = peer.bytes_sent();
  Prepared prep = Prepare(role, x, params);
  const bool guest = role == HeteroRole::kGuest;
  const std::string digest =
      CheckpointDigest(HeteroLrVariant::kPaillier, role, guest ? 0 : 1, x, params, "");
  CONSORT_ASSIGN_OR_RETURN(
      Layout layout,
      ExchangeHellos({&peer}, role, HeteroLrVariant::kPaillier, x.rows, prep.x.cols, params, "",
                     guest ? 0 : 1, 0, 2, Checkpoints(hooks, digest)));
  PaillierGradient protocol(peer, role, options);
  CONSORT_RETURN_IF_ERROR(protocol.Setup(prep, layout.cols[guest ? 1 : 0], labels));
  CONSORT_ASSIGN_OR_RETURN(HeteroLrResult r,
                           RunTraining(role, {&peer}, prep, labels, params, protocol,
                                       options.max_batches, hooks, digest, layout.resume_epoch));
  r.bytes_sent = peer.bytes_sent() - sent0;
  return r;
}

StatusOr<std::vector<double>> PredictHeteroLr(const HeteroLrPartModel& model,
                                              const std::vector<net::Link*>& peers,
                                              const Matrix& x, bool is_receiver) {
  CONSORT_ASSIGN_OR_RETURN(std::vector<double> u, model.PartialScores(x));
  if (peers.empty() || (!is_receiver && peers.size() != 1)) {
    return absl::InvalidArgumentError("hetero lr predict: wrong number of links");
  }
  if (!is_receiver) {
    CONSORT_RETURN_IF_ERROR(SendDoubles(*peers[0], u));
    return std::vector<double>();
  }
  for (net::Link* peer : peers) {
    CONSORT_ASSIGN_OR_RETURN(std::vector<double> other,
                             RecvDoubles(*peer, u.size(), "partial scores"));
    for (size_t i = 0; i < u.size(); ++i) u[i] += other[i];
  }
  for (double& v : u) v = internal::Sigmoid(v);
  return u;
}

}  // namespace consort::fl
