#include "consort/psi/align.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "consort/net/link.h"

namespace consort::psi {
namespace {

// Party names -> key lists. `common` keys are held by everyone; each party also gets
// `own` keys nobody else has, plus keys shared with only the next party (not all-party).
struct World {
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> keys;
  std::set<std::string> expected;  // the all-party intersection
};

World MakeWorld(size_t parties, size_t common, size_t own, size_t pairwise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  World w;
  for (size_t p = 0; p < parties; ++p) w.names.push_back("p" + std::to_string(p));
  for (size_t i = 0; i < common; ++i) {
    std::string k = "c" + std::to_string(i) + "-" + std::to_string(rng() % 100000);
    w.expected.insert(k);
    for (auto& n : w.names) w.keys[n].push_back(k);
  }
  for (size_t p = 0; p < parties; ++p) {
    for (size_t i = 0; i < own; ++i) {
      w.keys[w.names[p]].push_back("o" + std::to_string(p) + "-" + std::to_string(i));
    }
    // Shared with the next party only: in every pairwise intersection of the pair, never in
    // the all-party intersection when there are 3+ parties.
    for (size_t i = 0; i < pairwise; ++i) {
      std::string k = "pw" + std::to_string(p) + "-" + std::to_string(i);
      w.keys[w.names[p]].push_back(k);
      w.keys[w.names[(p + 1) % parties]].push_back(k);
      if (parties == 2) w.expected.insert(k);
    }
  }
  for (auto& [n, ks] : w.keys) std::shuffle(ks.begin(), ks.end(), rng);
  return w;
}

struct Outcome {
  StatusOr<std::vector<size_t>> result = absl::UnknownError("not run");
};

std::map<std::string, Outcome> RunAll(const World& w, const std::string& domain,
                                   const std::atomic<bool>* cancelled = nullptr,
                                   const std::string& closer = "") {
  std::map<std::string, std::map<std::string, std::unique_ptr<net::Link>>> links;
  for (size_t i = 0; i < w.names.size(); ++i) {
    for (size_t j = i + 1; j < w.names.size(); ++j) {
      auto [a, b] = net::CreateInMemoryLinkPair(w.names[i], w.names[j]);
      a->set_timeout(std::chrono::milliseconds(20'000));
      b->set_timeout(std::chrono::milliseconds(20'000));
      // "a" is the end held by name_a (its peer() is name_b).
      links[w.names[i]][w.names[j]] = std::move(a);
      links[w.names[j]][w.names[i]] = std::move(b);
    }
  }
  std::map<std::string, Outcome> out;
  for (const auto& n : w.names) out[n];
  std::vector<std::thread> threads;
  for (const auto& n : w.names) {
    threads.emplace_back([&, n] {
      std::map<std::string, net::Link*> peers;
      for (auto& [p, l] : links[n]) peers[p] = l.get();
      if (n == closer) {
        for (auto& [p, l] : peers) l->Close();
      }
      AlignOptions opts;
      opts.domain = domain;
      opts.cancelled = cancelled;
      double last = -1;
      bool monotone = true;
      opts.progress = [&](double f) {
        if (f < last || f < 0 || f > 1) monotone = false;
        last = f;
      };
      out[n].result = AlignByPsi(w.keys.at(n), peers, n, opts);
      EXPECT_TRUE(monotone) << n;
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

void ExpectAligned(const World& w, const std::map<std::string, Outcome>& out) {
  std::vector<std::string> first;
  for (const auto& n : w.names) {
    ASSERT_TRUE(out.at(n).result.ok()) << n << ": " << out.at(n).result.status();
    std::vector<std::string> mine;
    for (size_t k : *out.at(n).result) mine.push_back(w.keys.at(n).at(k));
    EXPECT_EQ(std::set<std::string>(mine.begin(), mine.end()), w.expected) << n;
    EXPECT_EQ(mine.size(), w.expected.size()) << n;
    if (first.empty()) {
      first = mine;
    } else {
      EXPECT_EQ(mine, first) << n << ": order differs from " << w.names[0];
    }
  }
}

TEST(AlignByPsi, TwoPartiesMatchPlaintextInOneOrder) {
  World w = MakeWorld(2, 200, 50, 0, 1);
  ExpectAligned(w, RunAll(w, "job-1"));
}

TEST(AlignByPsi, TwoPartiesUnequalSizesAndPairwiseKeys) {
  World w = MakeWorld(2, 30, 0, 40, 2);
  for (int i = 0; i < 100; ++i) w.keys["p0"].push_back("only-p0-" + std::to_string(i));
  ExpectAligned(w, RunAll(w, "job-2"));
}

TEST(AlignByPsi, ThreePartiesAllPartyIntersectionOnly) {
  World w = MakeWorld(3, 120, 30, 25, 3);
  ExpectAligned(w, RunAll(w, "job-3"));
}

TEST(AlignByPsi, FourParties) {
  World w = MakeWorld(4, 40, 10, 10, 4);
  ExpectAligned(w, RunAll(w, "job-4"));
}

TEST(AlignByPsi, EmptyIntersection) {
  World w = MakeWorld(3, 0, 20, 5, 5);
  ExpectAligned(w, RunAll(w, "job-5"));
}

TEST(AlignByPsi, OrderDependsOnDomainNotOnRowOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<size_t> all(keys.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  auto a = AgreedOrder(keys, all, "d1");
  auto b = AgreedOrder(keys, all, "d2");
  EXPECT_NE(a, b);
  std::vector<std::string> ka, kr;
  for (size_t i : a) ka.push_back(keys[i]);
  std::vector<std::string> rev(keys.rbegin(), keys.rend());
  for (size_t i : AgreedOrder(rev, all, "d1")) kr.push_back(rev[i]);
  EXPECT_EQ(ka, kr);
}

TEST(AlignByPsi, DuplicateKeysAreInvalidArgument) {
  World w = MakeWorld(2, 10, 0, 0, 6);
  w.keys["p0"].push_back(w.keys["p0"][0]);
  auto out = RunAll(w, "job-6");
  EXPECT_EQ(out["p0"].result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(out["p1"].result.ok());
}

TEST(AlignByPsi, NoPeersIsInvalidArgument) {
  AlignOptions opts;
  opts.domain = "d";
  auto r = AlignByPsi({"a"}, {}, "me", opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  auto r2 = AlignByPsi({"a"}, {{"x", nullptr}}, "me", opts);
  EXPECT_EQ(r2.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AlignByPsi, DomainMismatchFailsEverywhere) {
  World w = MakeWorld(2, 10, 0, 0, 7);
  auto [a, b] = net::CreateInMemoryLinkPair("p0", "p1");
  StatusOr<std::vector<size_t>> ra = absl::UnknownError(""), rb = absl::UnknownError("");
  std::thread t([&] {
    AlignOptions o;
    o.domain = "one";
    ra = AlignByPsi(w.keys["p0"], {{"p1", a.get()}}, "p0", o);
  });
  AlignOptions o;
  o.domain = "two";
  rb = AlignByPsi(w.keys["p1"], {{"p0", b.get()}}, "p1", o);
  t.join();
  EXPECT_EQ(ra.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(rb.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(AlignByPsi, PeerGoneIsUnavailableForEveryone) {
  World w = MakeWorld(3, 20, 5, 0, 8);
  auto out = RunAll(w, "job-8", nullptr, "p2");
  EXPECT_EQ(out["p2"].result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(out["p0"].result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(out["p1"].result.status().code(), absl::StatusCode::kUnavailable);
}

TEST(AlignByPsi, CancelledBeforeStart) {
  World w = MakeWorld(2, 20, 5, 0, 9);
  std::atomic<bool> cancelled{true};
  auto out = RunAll(w, "job-9", &cancelled);
  EXPECT_EQ(out["p0"].result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(out["p1"].result.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace consort::psi
