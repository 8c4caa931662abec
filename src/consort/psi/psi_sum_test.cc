#include "consort/psi/psi_sum.h"

#include <limits>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "consort/crypto/hash.h"
#include "consort/crypto/paillier.h"
#include "consort/data/csv.h"
#include "consort/engine/operator.h"
#include "consort/engine/testing.h"
#include "consort/psi/ecdh_psi.h"
#include "consort/psi/ecdh_psi_operator.h"
#include "consort/psi/internal/ecdh_psi_wire.h"
#include "consort/psi/internal/psi_sum_wire.h"

namespace consort::psi {
namespace {

using engine::testing::CsvTable;
using engine::testing::RunLocally;

struct Outcome {
  StatusOr<PsiSumResult> a = absl::UnknownError("not run");
  StatusOr<PsiSumResult> b = absl::UnknownError("not run");
};

PsiSumOptions TestOptions(bool b_learns_size = false) {
  PsiSumOptions o;
  o.domain = "test-job";
  o.b_learns_size = b_learns_size;
  o.batch_size = 97;  // several batches, a ragged last one
  o.paillier_bits = 1024;
  o.allow_small_keys_for_testing = true;
  return o;
}

Outcome RunBoth(const std::vector<std::string>& x, const std::vector<std::string>& y,
            const std::vector<int64_t>& v, const PsiSumOptions& opts) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::milliseconds(20000));
  lb->set_timeout(std::chrono::milliseconds(20000));
  Outcome out;
  std::thread tb([&] { out.b = RunPsiSumB(*lb, y, v, opts); });
  out.a = RunPsiSumA(*la, x, opts);
  tb.join();
  return out;
}

struct Case {
  const char* name;
  size_t na, nb, common;
};

class PsiSumCases : public ::testing::TestWithParam<Case> {};

TEST_P(PsiSumCases, SizeAndSumMatchPlaintext) {
  const Case c = GetParam();
  std::mt19937_64 rng(c.na * 7 + c.nb);
  std::vector<std::string> x, y;
  std::vector<int64_t> v;
  __int128 expected = 0;
  for (size_t i = 0; i < c.common; ++i) {
    x.push_back("common" + std::to_string(i));
    y.push_back("common" + std::to_string(i));
    v.push_back(static_cast<int64_t>(rng() % 2000001) - 1000000);  // negatives too
    expected += v.back();
  }
  for (size_t i = c.common; i < c.na; ++i) x.push_back("a" + std::to_string(i));
  for (size_t i = c.common; i < c.nb; ++i) {
    y.push_back("b" + std::to_string(i));
    v.push_back(static_cast<int64_t>(rng() % 1000));
  }
  std::shuffle(x.begin(), x.end(), rng);
  auto out = RunBoth(x, y, v, TestOptions(true));
  ASSERT_TRUE(out.a.ok()) << out.a.status();
  ASSERT_TRUE(out.b.ok()) << out.b.status();
  EXPECT_EQ(out.a->intersection_size, c.common);
  EXPECT_EQ(out.a->peer_size, c.nb);
  ASSERT_TRUE(out.a->sum.has_value());
  EXPECT_EQ(*out.a->sum, static_cast<int64_t>(expected));
  EXPECT_EQ(out.a->sum_decimal, std::to_string(static_cast<int64_t>(expected)));
  EXPECT_EQ(out.b->intersection_size, c.common);
  EXPECT_EQ(out.b->peer_size, c.na);
  EXPECT_TRUE(out.b->sum_decimal.empty());  // B never learns the sum
}

INSTANTIATE_TEST_SUITE_P(
    Sets, PsiSumCases,
    ::testing::Values(Case{"empty", 0, 0, 0}, Case{"a_empty", 0, 20, 0}, Case{"b_empty", 20, 0, 0},
                      Case{"disjoint", 150, 120, 0}, Case{"identical", 130, 130, 130},
                      Case{"one_element", 1, 1, 1}, Case{"partial", 300, 200, 77},
                      Case{"skewed_a_small", 1, 1000, 1}, Case{"skewed_b_small", 1000, 1, 1}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(PsiSum, ThreadCountDoesNotChangeResults) {
  // Same sets under different `threads` for A and B (B also runs that many noise workers):
  // identical size and sum, equal to the plaintext computation.
  std::mt19937_64 rng(42);
  std::vector<std::string> x, y;
  std::vector<int64_t> v;
  int64_t expected = 0;
  for (int i = 0; i < 260; ++i) {
    y.push_back("id" + std::to_string(i));
    v.push_back(static_cast<int64_t>(rng() % 20001) - 10000);
    if (i % 3 == 0) {
      x.push_back(y.back());
      expected += v.back();
    }
  }
  for (int i = 0; i < 40; ++i) x.push_back("only-a" + std::to_string(i));
  for (auto [ta, tb] : {std::pair{1, 2}, std::pair{2, 1}, std::pair{2, 2}, std::pair{3, 4}}) {
    PsiSumOptions oa = TestOptions(true), ob = TestOptions(true);
    oa.threads = ta;
    ob.threads = tb;
    auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
    la->set_timeout(std::chrono::milliseconds(20000));
    lb->set_timeout(std::chrono::milliseconds(20000));
    StatusOr<PsiSumResult> rb = absl::UnknownError("not run");
    std::thread t([&] { rb = RunPsiSumB(*lb, y, v, ob); });
    auto ra = RunPsiSumA(*la, x, oa);
    t.join();
    ASSERT_TRUE(ra.ok()) << ra.status();
    ASSERT_TRUE(rb.ok()) << rb.status();
    EXPECT_EQ(ra->intersection_size, 87u) << ta << "/" << tb;
    EXPECT_EQ(rb->intersection_size, 87u);
    ASSERT_TRUE(ra->sum.has_value());
    EXPECT_EQ(*ra->sum, expected) << ta << "/" << tb;
    EXPECT_EQ(ra->sum_decimal, std::to_string(expected));
  }
}

TEST(PsiSum, SumBeyondInt64IsExact) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  auto out = RunBoth({"k1", "k2", "k3", "x"}, {"k1", "k2", "k3", "y"}, {big, big, big, 5},
                 TestOptions());
  ASSERT_TRUE(out.a.ok()) << out.a.status();
  EXPECT_EQ(out.a->sum_decimal, "27670116110564327421");  // 3 * (2^63 - 1)
  EXPECT_FALSE(out.a->sum.has_value());
  ASSERT_TRUE(out.b.ok()) << out.b.status();
  EXPECT_FALSE(out.b->intersection_size.has_value());  // not asked for
}

std::string Int128Decimal(__int128 v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  unsigned __int128 u = neg ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string s;
  for (; u > 0; u /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  return neg ? "-" + s : s;
}

TEST(PsiSum, RandomSetsWithExtremeValuesMatchPlaintextSum) {
  // B's values all go through the DJN-noise encryption; zero, +-1, INT64_MIN/MAX and uniform
  // 64-bit values; random set sizes and overlaps; B on 2 threads (2 noise workers).
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    auto value = [&]() -> int64_t {
      switch (rng() % 6) {
        case 0: return 0;
        case 1: return static_cast<int64_t>(rng() % 3) - 1;
        case 2: return kMin;
        case 3: return kMax;
        case 4: return static_cast<int64_t>(rng());  // uniform over int64
        default: return -static_cast<int64_t>(rng() % 1000000);
      }
    };
    const size_t na = 50 + rng() % 150, nb = 50 + rng() % 150;
    std::vector<std::string> x, y;
    std::vector<int64_t> v;
    std::map<std::string, int64_t> b_values;
    for (size_t i = 0; i < nb; ++i) {
      y.push_back("k" + std::to_string(rng() % 400) + "-" + std::to_string(i % 2));
      if (b_values.count(y.back())) {
        y.pop_back();
        continue;
      }
      v.push_back(value());
      b_values[y.back()] = v.back();
    }
    std::map<std::string, bool> in_x;
    while (x.size() < na) {
      std::string k = "k" + std::to_string(rng() % 400) + "-" + std::to_string(rng() % 2);
      if (!in_x.emplace(k, true).second) continue;
      x.push_back(k);
    }
    __int128 expected = 0;
    uint64_t common = 0;
    for (const auto& k : x) {
      auto it = b_values.find(k);
      if (it == b_values.end()) continue;
      expected += it->second;
      ++common;
    }
    PsiSumOptions oa = TestOptions(true), ob = TestOptions(true);
    ob.threads = 2;
    auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
    la->set_timeout(std::chrono::milliseconds(20000));
    lb->set_timeout(std::chrono::milliseconds(20000));
    StatusOr<PsiSumResult> rb = absl::UnknownError("not run");
    std::thread t([&] { rb = RunPsiSumB(*lb, y, v, ob); });
    auto ra = RunPsiSumA(*la, x, oa);
    t.join();
    ASSERT_TRUE(ra.ok()) << ra.status();
    ASSERT_TRUE(rb.ok()) << rb.status();
    EXPECT_EQ(ra->intersection_size, common) << "seed " << seed;
    EXPECT_EQ(rb->intersection_size, common);
    EXPECT_EQ(ra->sum_decimal, Int128Decimal(expected)) << "seed " << seed;
    const bool fits = expected >= kMin && expected <= kMax;
    ASSERT_EQ(ra->sum.has_value(), fits);
    if (fits) {
      EXPECT_EQ(*ra->sum, static_cast<int64_t>(expected));
    }
  }
}

TEST(PsiSum, RejectsDuplicatesAndMismatchedValues) {
  auto out = RunBoth({"a", "a"}, {"a"}, {1}, TestOptions());
  EXPECT_EQ(out.a.status().code(), absl::StatusCode::kInvalidArgument);
  auto out2 = RunBoth({"a"}, {"a", "b"}, {1}, TestOptions());
  EXPECT_EQ(out2.b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out2.a.status().code(), absl::StatusCode::kUnavailable);  // peer failed first
}

TEST(PsiSum, HandshakeMismatchIsFailedPrecondition) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  PsiSumOptions oa = TestOptions(false), ob = TestOptions(true);
  StatusOr<PsiSumResult> b = absl::UnknownError("");
  std::thread tb([&] { b = RunPsiSumB(*lb, {"x"}, {1}, ob); });
  auto a = RunPsiSumA(*la, {"x"}, oa);
  tb.join();
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition) << b.status();
}

// A scripted B against the real A: each malformed message must give InvalidArgument.
class ScriptedB {
 public:
  ScriptedB() {
    auto sk = crypto::PaillierSecretKey::GenerateForTesting(1024);
    CONSORT_CHECK(sk.ok());
    sk_ = std::make_unique<crypto::PaillierSecretKey>(std::move(*sk));
  }
  internal::SumHello Hello(uint64_t size) const {
    internal::SumHello h;
    h.version = kPsiSumVersion;
    h.set_size = size;
    h.batch_size = 97;
    h.domain_hash = crypto::Sha256(std::string_view("test-job"));
    h.public_key = sk_->public_key().ToBytes();
    return h;
  }
  const crypto::PaillierPublicKey& pk() const { return sk_->public_key(); }

 private:
  std::unique_ptr<crypto::PaillierSecretKey> sk_;
};

// Runs A with one item against `script` playing B; returns A's status.
Status RunAAgainst(const std::function<void(net::Link&)>& script) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::milliseconds(5000));
  lb->set_timeout(std::chrono::milliseconds(5000));
  std::thread tb([&, l = lb.get()] {
    (void)l->Recv();  // A's hello
    script(*l);
  });
  auto r = RunPsiSumA(*la, {"only"}, TestOptions());
  la->Close();
  tb.join();
  return r.status();
}

TEST(PsiSum, MalformedPeerMessagesAreInvalidArgument) {
  ScriptedB b;
  // A truncated public key.
  Status st = RunAAgainst([&](net::Link& l) {
    auto h = b.Hello(1);
    h.public_key.pop_back();
    (void)l.Send(internal::EncodeSumHello(h));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  // A set size above the limit.
  st = RunAAgainst([&](net::Link& l) {
    (void)l.Send(internal::EncodeSumHello(b.Hello(uint64_t{1} << 40)));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  // A returned batch with the wrong count.
  st = RunAAgainst([&](net::Link& l) {
    (void)l.Send(internal::EncodeSumHello(b.Hello(1)));
    (void)l.Recv();  // A's masked batch
    const size_t t = EcdhPsiReturnBytes(1, 1);
    (void)l.Send(internal::EncodeBatch(internal::kSumReturned, 0, 2, Bytes(2 * t, 7)));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(std::string(st.message()).find("returned batch 0"), std::string::npos) << st;
  // A values batch whose ciphertext is 0 (the point is a valid curve point: A's own).
  st = RunAAgainst([&](net::Link& l) {
    (void)l.Send(internal::EncodeSumHello(b.Hello(1)));
    auto m = l.Recv();
    auto view = internal::DecodeBatch(*m);
    const size_t t = EcdhPsiReturnBytes(1, 1);
    (void)l.Send(internal::EncodeBatch(internal::kSumReturned, 0, 1, Bytes(t, 7)));
    Bytes elem(view->payload.begin(), view->payload.end());
    elem.resize(32 + b.pk().ciphertext_bytes(), 0);
    (void)l.Send(internal::EncodeBatch(internal::kSumValues, 0, 1, elem));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(std::string(st.message()).find("ciphertext"), std::string::npos) << st;
  // A low-order point (u = 0) in a values batch.
  st = RunAAgainst([&](net::Link& l) {
    (void)l.Send(internal::EncodeSumHello(b.Hello(1)));
    (void)l.Recv();
    const size_t t = EcdhPsiReturnBytes(1, 1);
    (void)l.Send(internal::EncodeBatch(internal::kSumReturned, 0, 1, Bytes(t, 7)));
    Bytes elem(32, 0);
    Bytes ct = b.pk().SerializeCiphertext(b.pk().Encrypt(1));
    elem.insert(elem.end(), ct.begin(), ct.end());
    (void)l.Send(internal::EncodeBatch(internal::kSumValues, 0, 1, elem));
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  // A decryption reply of the wrong size.
  st = RunAAgainst([&](net::Link& l) {
    (void)l.Send(internal::EncodeSumHello(b.Hello(0)));
    (void)l.Recv();                                           // masked batch
    const size_t t = EcdhPsiReturnBytes(1, 0);
    (void)l.Send(internal::EncodeBatch(internal::kSumReturned, 0, 1, Bytes(t, 7)));
    (void)l.Recv();                                           // the sum
    (void)l.Send(Bytes{internal::kSumDecrypted, 1, 2, 3});
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
}

TEST(PsiSum, MalformedSumMessageIsInvalidArgumentForB) {
  auto [la, lb] = net::CreateInMemoryLinkPair("a", "b");
  la->set_timeout(std::chrono::milliseconds(5000));
  lb->set_timeout(std::chrono::milliseconds(5000));
  StatusOr<PsiSumResult> b = absl::UnknownError("");
  std::thread tb([&] { b = RunPsiSumB(*lb, {"y"}, {3}, TestOptions()); });
  // Scripted A with an empty set: hello, no masked batches, read B's messages, send junk.
  internal::SumHello h;
  h.version = kPsiSumVersion;
  h.set_size = 0;
  h.batch_size = 97;
  h.domain_hash = crypto::Sha256(std::string_view("test-job"));
  ASSERT_TRUE(la->Send(internal::EncodeSumHello(h)).ok());
  auto hello = la->Recv();
  ASSERT_TRUE(hello.ok());
  auto bh = internal::DecodeSumHello(*hello);
  auto pk = crypto::PaillierPublicKey::FromBytes(bh->public_key, 512);
  ASSERT_TRUE(pk.ok());
  ASSERT_TRUE(la->Recv().ok());  // B's values batch
  Bytes junk{internal::kSumSum};
  junk.resize(1 + pk->ciphertext_bytes(), 0xff);  // >= n^2
  ASSERT_TRUE(la->Send(junk).ok());
  tb.join();
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << b.status();
}

// ---------------------------------------------------------------- the psi.sum operator

engine::JobSpec Spec(const std::string& bank_out, const std::string& shop_out,
                     Json params) {
  return engine::testing::MakeSpec("psi.sum",
                                   {{"bank", {"customers", {"id"}}}, {"shop", {"orders", {"id"}}}},
                                   {{"bank", bank_out}, {"shop", shop_out}}, std::move(params));
}

const engine::Operator& Op() {
  RegisterPsiOperators();
  return **engine::OperatorRegistry::Global().Find("psi.sum");
}

const std::string kJob(64, 'e');

TEST(PsiSumOperator, SumAndSizeMatchPlaintextWithDedupe) {
  // shop (B) has key 2 twice: under "dedupe" its value is 10 + 5.
  auto out = RunLocally(Op(), kJob,
                        Spec("sum", "size", {{"value_column", "amount"}, {"duplicates", "dedupe"}}),
                        {{"bank", CsvTable("id\n1\n2\n3\n9\n")},
                         {"shop", CsvTable("id,amount\n2,10\n3,-4\n4,100\n2,5\n")}});
  ASSERT_TRUE(out["bank"].status.ok()) << out["bank"].status;
  ASSERT_TRUE(out["shop"].status.ok()) << out["shop"].status;
  EXPECT_EQ(out["bank"].summary["intersection_size"], 2);
  EXPECT_EQ(out["bank"].summary["sum"], "11");
  EXPECT_EQ(out["bank"].summary["peer_keys"], 3);
  EXPECT_EQ(out["shop"].summary["intersection_size"], 2);
  EXPECT_FALSE(out["shop"].summary.contains("sum"));
}

TEST(PsiSumOperator, NullValueFailsNamingTheRow) {
  auto out = RunLocally(Op(), kJob, Spec("sum", "", {{"value_column", "amount"}}),
                        {{"bank", CsvTable("id\n1\n")}, {"shop", CsvTable("id,amount\n1,5\n2,\n")}},
                        {std::chrono::milliseconds(3000), ""});
  EXPECT_EQ(out["shop"].status.code(), absl::StatusCode::kInvalidArgument) << out["shop"].status;
  EXPECT_NE(std::string(out["shop"].status.message()).find("test.csv:3"), std::string::npos)
      << out["shop"].status;
}

TEST(PsiSumOperator, ValidateChecksRolesAndTheValueColumn) {
  Op();
  engine::testing::StaticCatalog cat;
  cat.members = {"bank", "shop"};
  cat.datasets[{"bank", "customers"}] = {"bank", "customers", {{"id", "string"}}, 3, ""};
  cat.datasets[{"shop", "orders"}] = {
      "shop", "orders", {{"id", "string"}, {"amount", "int64"}, {"price", "float64"}}, 3, ""};
  EXPECT_TRUE(engine::ValidateJob(Spec("sum", "", {{"value_column", "amount"}}), cat).ok());
  EXPECT_TRUE(engine::ValidateJob(Spec("sum", "size", {{"value_column", "amount"}}), cat).ok());
  Status st = engine::ValidateJob(Spec("sum", "", {{"value_column", "price"}}), cat);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("'price' is float64"), std::string::npos) << st;
  EXPECT_EQ(engine::ValidateJob(Spec("sum", "", {{"value_column", "nope"}}), cat).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine::ValidateJob(Spec("sum", "", Json::object()), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::ValidateJob(Spec("sum", "sum", {{"value_column", "amount"}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::ValidateJob(Spec("size", "", {{"value_column", "amount"}}), cat).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine::ValidateJob(
                Spec("sum", "", {{"value_column", "amount"}, {"paillier_bits", 1024}}), cat)
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort::psi
