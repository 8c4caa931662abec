#pragma once
// Test harness: runs one MPC program under every mode (the plaintext reference, the
// two-party backend with an in-process dealer or a dealer over in-memory links, and the
// three-party replicated backend), one thread per party, and reports each party's output, the
// bytes on the links and the rounds. Shared by the value-parameterized suites (a new mode adds
// one enumerator here).

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "consort/mpc/backend.h"

namespace consort::mpc::testing {

// kThreeParty: ThreePartyBackend (three_party.h), parties 0, 1, 2 over in-memory links
// 0-1, 1-2, 2-0; three outputs.
enum class Mode { kPlaintext, kTwoPartyInProcessDealer, kTwoPartyLinkDealer, kThreeParty };
std::string ModeName(Mode m);

// A program returns what this party learns (empty where it learns nothing).
using Program = std::function<StatusOr<std::vector<uint64_t>>(Backend&)>;

struct RunResult {
  std::vector<StatusOr<std::vector<uint64_t>>> outputs;  // per party (one for plaintext)
  uint64_t peer_bytes = 0;    // program only (setup excluded); 3PC: all six directions
  uint64_t dealer_bytes = 0;  // program only (seed messages and kDone excluded)
  uint64_t rounds = 0;        // party 0's count, setup excluded
};

// `plaintext_parties`: the number of parties the plaintext backend accepts inputs from (3 to
// compare with kThreeParty programs that give party 2 an input); ignored by the other modes.
RunResult Run(Mode mode, const Program& program, FixedPointConfig fxp = {},
              int plaintext_parties = 2);

// `values` if `be` holds `party`'s inputs, else an empty span.
template <typename T>
std::span<const T> InputOf(const Backend& be, int party, const std::vector<T>& values) {
  return be.HoldsInputOf(party) ? std::span<const T>(values) : std::span<const T>();
}

// n doubles uniform in [lo, hi), and n uniform ring elements, from a fixed seed.
std::vector<double> Uniform(size_t n, double lo, double hi, uint64_t seed);
std::vector<uint64_t> RandomRing(size_t n, uint64_t seed);

}  // namespace consort::mpc::testing
