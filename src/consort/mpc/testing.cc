#include "consort/mpc/testing.h"

#include <random>
#include <thread>

#include "consort/mpc/dealer.h"
#include "consort/mpc/plaintext_backend.h"
#include "consort/mpc/three_party.h"
#include "consort/mpc/two_party.h"
#include "consort/net/link.h"

namespace consort::mpc::testing {

std::string ModeName(Mode m) {
  switch (m) {
    case Mode::kPlaintext: return "Plaintext";
    case Mode::kTwoPartyInProcessDealer: return "TwoPartyInProcessDealer";
    case Mode::kTwoPartyLinkDealer: return "TwoPartyLinkDealer";
    case Mode::kThreeParty: return "ThreeParty";
  }
  return "?";
}

namespace {
// Three parties, one thread each, over in-memory links 0-1, 1-2, 2-0.
RunResult RunThreeParty(const Program& program, FixedPoint fxp) {
  RunResult result;
  result.outputs.assign(3, absl::UnknownError("not run"));
  auto [a01, a10] = net::CreateInMemoryLinkPair("p0", "p1");
  auto [a12, a21] = net::CreateInMemoryLinkPair("p1", "p2");
  auto [a20, a02] = net::CreateInMemoryLinkPair("p2", "p0");
  net::Link* next[3] = {a01.get(), a12.get(), a20.get()};
  net::Link* prev[3] = {a02.get(), a10.get(), a21.get()};
  uint64_t rounds[3] = {0, 0, 0};
  auto party = [&](int p) {
    auto be = ThreePartyBackend::Create(p, *next[p], *prev[p], fxp);
    if (be.ok()) {
      result.outputs[p] = program(**be);
      rounds[p] = (*be)->rounds() - 1;
    } else {
      result.outputs[p] = be.status();
    }
    // A failed party closes its links so that the others fail instead of waiting.
    if (!result.outputs[p].ok()) {
      next[p]->Close();
      prev[p]->Close();
    }
  };
  std::thread t0(party, 0), t1(party, 1), t2(party, 2);
  t0.join();
  t1.join();
  t2.join();
  for (int p = 0; p < 3; ++p) result.peer_bytes += next[p]->bytes_sent() + prev[p]->bytes_sent();
  result.peer_bytes -= kThreePartySetupBytes;
  result.rounds = rounds[0];
  return result;
}
}  // namespace

RunResult Run(Mode mode, const Program& program, FixedPointConfig config,
              int plaintext_parties) {
  RunResult result;
  FixedPoint fxp = FixedPoint::Create(config).value();
  if (mode == Mode::kPlaintext) {
    PlaintextBackend be(fxp, plaintext_parties);
    result.outputs.push_back(program(be));
    return result;
  }
  if (mode == Mode::kThreeParty) return RunThreeParty(program, fxp);
  result.outputs.assign(2, absl::UnknownError("not run"));
  auto [l0, l1] = net::CreateInMemoryLinkPair("p0", "p1");
  auto [d0, p0d] = net::CreateInMemoryLinkPair("dealer", "p0");
  auto [d1, p1d] = net::CreateInMemoryLinkPair("dealer", "p1");
  net::Link* peer[2] = {l0.get(), l1.get()};
  net::Link* to_dealer[2] = {p0d.get(), p1d.get()};
  Dealer dealer;
  Status dealer_status;
  std::thread dealer_thread;
  if (mode == Mode::kTwoPartyLinkDealer) {
    dealer_thread = std::thread([&] { dealer_status = RunDealer(dealer, *d0, *d1); });
  }
  uint64_t rounds[2] = {0, 0};
  auto party = [&](int p) {
    StatusOr<std::unique_ptr<TripleSource>> src =
        mode == Mode::kTwoPartyLinkDealer ? ConnectToDealer(p, *to_dealer[p])
                                          : InProcessTripleSource(p, dealer);
    if (!src.ok()) {
      result.outputs[p] = src.status();
      peer[p]->Close();
      return;
    }
    auto be = TwoPartyBackend::Create(p, *peer[p], std::move(*src), fxp);
    if (!be.ok()) {
      result.outputs[p] = be.status();
      peer[p]->Close();
      return;
    }
    result.outputs[p] = program(**be);
    rounds[p] = (*be)->rounds() - 1;
    Status closed = (*be)->Close();
    if (result.outputs[p].ok() && !closed.ok()) result.outputs[p] = closed;
    // A failed party closes its links so that the other side fails instead of waiting.
    if (!result.outputs[p].ok()) {
      peer[p]->Close();
      to_dealer[p]->Close();
    }
  };
  std::thread t0(party, 0), t1(party, 1);
  t0.join();
  t1.join();
  if (dealer_thread.joinable()) {
    dealer_thread.join();
    constexpr uint64_t kSeedMessages = 2 * (2 + crypto::kPrgSeedBytes);
    result.dealer_bytes = d0->bytes_sent() + d1->bytes_sent() + p0d->bytes_sent() +
                          p1d->bytes_sent() - kSeedMessages - 1;  // and kDone
    if (!dealer_status.ok() && result.outputs[1].ok()) result.outputs[1] = dealer_status;
  }
  result.peer_bytes = l0->bytes_sent() + l1->bytes_sent() - kTwoPartySetupBytes;
  result.rounds = rounds[0];
  return result;
}

std::vector<double> Uniform(size_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint64_t> RandomRing(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = rng();
  return v;
}

}  // namespace consort::mpc::testing
