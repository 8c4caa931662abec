#include "consort/fl/internal/local_run.h"

#include <chrono>
#include <thread>

#include "consort/mpc/dealer.h"
#include "consort/mpc/three_party.h"
#include "consort/mpc/two_party.h"

namespace consort::fl::internal {

LocalHeteroRun RunHeteroLrLocal(HeteroLrVariant variant, const Matrix& guest_x,
                                const std::vector<double>& labels, const Matrix& host_x,
                                const LrParams& params, const PaillierOptions& paillier,
                                MpcSigmoid sigmoid, const HeteroLrHooks& guest_hooks,
                                const HeteroLrHooks& host_hooks) {
  LocalHeteroRun out;
  auto [lg, lh] = net::CreateInMemoryLinkPair("guest", "host");
  const auto start = std::chrono::steady_clock::now();
  if (variant == HeteroLrVariant::kPaillier) {
    std::thread host([&, &lh = lh] {
      out.host = TrainHeteroLrPaillier(HeteroRole::kHost, *lh, host_x, nullptr, params, paillier,
                                       host_hooks);
      if (!out.host.ok()) lh->Close();
    });
    out.guest = TrainHeteroLrPaillier(HeteroRole::kGuest, *lg, guest_x, &labels, params, paillier,
                                      guest_hooks);
    if (!out.guest.ok()) lg->Close();
    host.join();
  } else {
    auto [d0, p0d] = net::CreateInMemoryLinkPair("dealer", "guest");
    auto [d1, p1d] = net::CreateInMemoryLinkPair("dealer", "host");
    mpc::Dealer dealer;
    Status dealer_status;
    std::thread dealer_thread([&, &d0 = d0, &d1 = d1] {
      dealer_status = mpc::RunDealer(dealer, *d0, *d1);
    });
    auto party = [&](int p, net::Link& peer, net::Link& to_dealer) -> StatusOr<HeteroLrResult> {
      CONSORT_ASSIGN_OR_RETURN(auto src, mpc::ConnectToDealer(p, to_dealer));
      CONSORT_ASSIGN_OR_RETURN(mpc::FixedPoint fxp, mpc::FixedPoint::Create());
      CONSORT_ASSIGN_OR_RETURN(auto be, mpc::TwoPartyBackend::Create(p, peer, std::move(src), fxp));
      MpcOptions opt;
      opt.sigmoid = sigmoid;
      auto r = p == 0
                   ? TrainHeteroLrMpc(*be, HeteroRole::kGuest, {&peer}, guest_x, &labels, params,
                                      opt, guest_hooks)
                   : TrainHeteroLrMpc(*be, HeteroRole::kHost, {&peer}, host_x, nullptr, params,
                                      opt, host_hooks);
      CONSORT_RETURN_IF_ERROR(be->Close());
      return r;
    };
    std::thread host([&, &lh = lh, &p1d = p1d] {
      out.host = party(1, *lh, *p1d);
      if (!out.host.ok()) {
        lh->Close();
        p1d->Close();
      }
    });
    out.guest = party(0, *lg, *p0d);
    if (!out.guest.ok()) {
      lg->Close();
      p0d->Close();
    }
    host.join();
    dealer_thread.join();
    out.dealer_bytes = d0->bytes_sent() + d1->bytes_sent() + p0d->bytes_sent() + p1d->bytes_sent();
  }
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

LocalThreePartyRun RunHeteroLrLocalThreeParty(const Matrix& guest_x,
                                              const std::vector<double>& labels,
                                              const Matrix& host1_x, const Matrix& host2_x,
                                              const LrParams& params, MpcSigmoid sigmoid) {
  LocalThreePartyRun out;
  out.hosts.assign(2, absl::UnknownError("not run"));
  auto [a01, a10] = net::CreateInMemoryLinkPair("guest", "host1");
  auto [a12, a21] = net::CreateInMemoryLinkPair("host1", "host2");
  auto [a20, a02] = net::CreateInMemoryLinkPair("host2", "guest");
  net::Link* next[3] = {a01.get(), a12.get(), a20.get()};
  net::Link* prev[3] = {a02.get(), a10.get(), a21.get()};
  const auto start = std::chrono::steady_clock::now();
  auto party = [&](int p) -> StatusOr<HeteroLrResult> {
    CONSORT_ASSIGN_OR_RETURN(mpc::FixedPoint fxp, mpc::FixedPoint::Create());
    CONSORT_ASSIGN_OR_RETURN(auto be, mpc::ThreePartyBackend::Create(p, *next[p], *prev[p], fxp));
    MpcOptions opt;
    opt.self_party = p;
    opt.guest_party = 0;
    opt.sigmoid = sigmoid;
    if (p == 0) {
      return TrainHeteroLrMpc(*be, HeteroRole::kGuest, {next[0], prev[0]}, guest_x, &labels,
                              params, opt);
    }
    // Host 1's link to the guest is its prev, host 2's its next.
    return TrainHeteroLrMpc(*be, HeteroRole::kHost, {p == 1 ? prev[1] : next[2]},
                            p == 1 ? host1_x : host2_x, nullptr, params, opt);
  };
  auto run = [&](int p, StatusOr<HeteroLrResult>* slot) {
    *slot = party(p);
    if (!slot->ok()) {
      next[p]->Close();
      prev[p]->Close();
    }
  };
  std::thread t1(run, 1, &out.hosts[0]), t2(run, 2, &out.hosts[1]);
  run(0, &out.guest);
  t1.join();
  t2.join();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace consort::fl::internal
