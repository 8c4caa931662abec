#include "consort/audit/entry.h"

#include <gtest/gtest.h>

#include <functional>

#include "consort/audit/internal/test_util.h"

namespace consort::audit {
namespace {

using testing::Federation;

Entry SequencedSample(const Federation& f) {
  Entry e = f.Make("job.state", "coordinator", 5, {{"job", "j1"}, {"state", "running"}});
  e.seq = 3;
  e.prev.fill(0xab);
  return e;
}

TEST(AuditEntry, LeafHashIsRfc6962LeafHash) {
  // SHA-256 of the single byte 0x00: the RFC 6962 hash of an empty leaf.
  EXPECT_EQ(HexEncode(LeafHashOf(ByteSpan())),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  Federation f;
  Entry e = SequencedSample(f);
  Bytes prefixed = {0x00};
  Bytes leaf = e.LeafBytes();
  prefixed.insert(prefixed.end(), leaf.begin(), leaf.end());
  EXPECT_EQ(e.LeafHash(), crypto::Sha256(ByteSpan(prefixed)));
  Bytes both(e.prev.begin(), e.prev.end());
  Digest256 lh = e.LeafHash();
  both.insert(both.end(), lh.begin(), lh.end());
  EXPECT_EQ(e.ChainHash(), crypto::Sha256(ByteSpan(both)));
}

TEST(AuditEntry, CanonicalFormIsExact) {
  Federation f;
  Entry e = SequencedSample(f);
  std::string prev_hex;
  for (int i = 0; i < 32; ++i) prev_hex += "ab";
  std::string expected = R"({"author":"coordinator","body":{"job":"j1","state":"running"},)"
                         R"("kind":"job.state","prev":")" +
                         prev_hex + R"(","seq":3,"sig":")" + crypto::EncodeSignature(e.sig) +
                         R"(","time_ms":5})";
  EXPECT_EQ(ToString(e.LeafBytes()), expected);
  EXPECT_EQ(ToString(e.SignedBytes()),
            R"({"author":"coordinator","body":{"job":"j1","state":"running"},)"
            R"("kind":"job.state","time_ms":5})");
}

TEST(AuditEntry, RoundTripsThroughJsonText) {
  Federation f;
  Entry e = SequencedSample(f);
  e.body = Json{{"nested", {{"z", 1}, {"a", Json::array({1.5, -2, "x", nullptr, true})}}}};
  e.sig = f.coordinator.SignFor(kEntryPurpose, e.SignedBytes());
  auto parsed = ParseJson(e.ToJson().dump(2));
  ASSERT_TRUE(parsed.ok());
  auto back = Entry::FromJson(*parsed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, e.kind);
  EXPECT_EQ(back->author, e.author);
  EXPECT_EQ(back->time_ms, e.time_ms);
  EXPECT_EQ(back->body, e.body);
  EXPECT_EQ(back->sig, e.sig);
  EXPECT_EQ(back->seq, e.seq);
  EXPECT_EQ(back->prev, e.prev);
  EXPECT_EQ(back->LeafBytes(), e.LeafBytes());
  EXPECT_TRUE(back->VerifyAuthorSignature(f.coordinator.public_key()).ok());

  auto sub = Entry::FromSubmissionJson(e.SubmissionJson());
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_FALSE(sub->sequenced());
  EXPECT_EQ(sub->SignedBytes(), e.SignedBytes());
}

TEST(AuditEntry, SignatureIsBoundToAuthorPartKeyAndPurpose) {
  Federation f;
  Entry e = f.Make("job.approved", "bank", 7, {{"job", "j1"}});
  EXPECT_TRUE(e.VerifyAuthorSignature(f.bank.public_key()).ok());
  EXPECT_EQ(e.VerifyAuthorSignature(f.insurer.public_key()).code(),
            absl::StatusCode::kUnauthenticated);
  // seq/prev are not part of the author's statement.
  e.seq = 9;
  e.prev.fill(1);
  EXPECT_TRUE(e.VerifyAuthorSignature(f.bank.public_key()).ok());
  Entry changed = e;
  changed.body["job"] = "j2";
  EXPECT_EQ(changed.VerifyAuthorSignature(f.bank.public_key()).code(),
            absl::StatusCode::kUnauthenticated);
  // Same bytes signed for another purpose do not verify as an audit entry.
  Entry other = e;
  other.sig = f.bank.SignFor(kHeadPurpose, e.SignedBytes());
  EXPECT_EQ(other.VerifyAuthorSignature(f.bank.public_key()).code(),
            absl::StatusCode::kUnauthenticated);
}

struct BadField {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* expected;  // substring of the error message
};

TEST(AuditEntry, FromJsonRejectsMalformedFieldsNamingThem) {
  Federation f;
  const Json good = SequencedSample(f).ToJson();
  ASSERT_TRUE(Entry::FromJson(good).ok());
  const std::string sig = good["sig"];
  const BadField cases[] = {
      {"not object", [](Json& j) { j = Json::array(); }, "$ must be a JSON object"},
      {"unknown field", [](Json& j) { j["extra"] = 1; }, "unknown field $.extra"},
      {"missing kind", [](Json& j) { j.erase("kind"); }, "missing field $.kind"},
      {"kind type", [](Json& j) { j["kind"] = 5; }, "$.kind must be a string"},
      {"kind upper", [](Json& j) { j["kind"] = "Job.State"; }, "$.kind"},
      {"kind empty segment", [](Json& j) { j["kind"] = "job..state"; }, "$.kind"},
      {"missing author", [](Json& j) { j.erase("author"); }, "missing field $.author"},
      {"author charset", [](Json& j) { j["author"] = "bank corp"; }, "$.author"},
      {"author too long", [](Json& j) { j["author"] = std::string(65, 'a'); }, "$.author"},
      {"time negative", [](Json& j) { j["time_ms"] = -1; }, "$.time_ms"},
      {"time float", [](Json& j) { j["time_ms"] = 5.0; }, "$.time_ms"},
      {"time string", [](Json& j) { j["time_ms"] = "5"; }, "$.time_ms"},
      {"time bool", [](Json& j) { j["time_ms"] = true; }, "$.time_ms"},
      {"missing body", [](Json& j) { j.erase("body"); }, "missing field $.body"},
      {"body array", [](Json& j) { j["body"] = Json::array(); }, "$.body must be an object"},
      {"body bad utf8", [](Json& j) { j["body"] = {{"k", std::string("\xff\xfe")}}; }, "$.body"},
      {"missing sig", [](Json& j) { j.erase("sig"); }, "missing field $.sig"},
      {"sig alphabet",
       [sig](Json& j) {
         std::string bad = sig;
         bad[0] = '!';
         j["sig"] = bad;
       },
       "$.sig"},
      {"sig short", [sig](Json& j) { j["sig"] = sig.substr(0, 80); }, "$.sig"},
      {"sig padded", [sig](Json& j) { j["sig"] = sig + "=="; }, "$.sig"},
      {"missing seq", [](Json& j) { j.erase("seq"); }, "missing field $.seq"},
      {"seq negative", [](Json& j) { j["seq"] = -3; }, "$.seq"},
      {"seq float", [](Json& j) { j["seq"] = 3.5; }, "$.seq"},
      {"seq too big", [](Json& j) { j["seq"] = uint64_t{1} << 63; }, "$.seq"},
      {"missing prev", [](Json& j) { j.erase("prev"); }, "missing field $.prev"},
      {"prev upper", [](Json& j) { j["prev"] = std::string(64, 'A'); }, "$.prev"},
      {"prev short", [](Json& j) { j["prev"] = std::string(62, 'a'); }, "$.prev"},
      {"prev non hex", [](Json& j) { j["prev"] = std::string(64, 'g'); }, "$.prev"},
  };
  for (const auto& c : cases) {
    Json j = good;
    c.mutate(j);
    auto e = Entry::FromJson(j);
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(e.status().message().find(c.expected), std::string_view::npos)
        << c.name << ": " << e.status().message();
  }
}

TEST(AuditEntry, SubmissionMayNotCarrySequencerFields) {
  Federation f;
  Json sub = f.Make("job.approved", "bank", 1, Json::object()).SubmissionJson();
  ASSERT_TRUE(Entry::FromSubmissionJson(sub).ok());
  sub["seq"] = 0;
  auto e = Entry::FromSubmissionJson(sub);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("unknown field $.seq"), std::string_view::npos);
}

TEST(AuditEntry, MakeAuthorPartValidates) {
  Federation f;
  EXPECT_EQ(MakeAuthorPart("Bad Kind", "bank", 1, Json::object(), f.bank).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeAuthorPart("job.state", "", 1, Json::object(), f.bank).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeAuthorPart("job.state", "bank", -1, Json::object(), f.bank).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeAuthorPart("job.state", "bank", 1, Json(3), f.bank).status().code(),
            absl::StatusCode::kInvalidArgument);
  Json big = {{"blob", std::string(kMaxBodyBytes, 'x')}};
  auto too_big = MakeAuthorPart("job.state", "bank", 1, big, f.bank);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.status().message().find("limit"), std::string_view::npos);
}

TEST(AuditEntry, NamesAndKinds) {
  EXPECT_TRUE(IsValidPartyName("bank"));
  EXPECT_TRUE(IsValidPartyName("Hospital-A_2.eu"));
  EXPECT_FALSE(IsValidPartyName("coordinator"));
  EXPECT_FALSE(IsValidPartyName("-bank"));
  EXPECT_FALSE(IsValidPartyName(""));
  EXPECT_FALSE(IsValidPartyName("bank/../x"));
  EXPECT_TRUE(IsValidAuthor("coordinator"));
  EXPECT_TRUE(IsValidKind("node.registered"));
  EXPECT_TRUE(IsValidKind("job_v2.state"));
  EXPECT_FALSE(IsValidKind(".job"));
  EXPECT_FALSE(IsValidKind("job."));
  EXPECT_FALSE(IsValidKind("job-state"));
}

TEST(AuditEntry, NodeRegistrationBodyIsValidated) {
  Federation f;
  Json good = testing::RegistrationBody("bank", f.bank);
  auto r = NodeRegistration::FromBody(good);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signing_key, f.bank.public_key());
  EXPECT_EQ(r->ToBody(), good);
  const BadField cases[] = {
      {"name missing", [](Json& j) { j.erase("name"); }, "missing field $.body.name"},
      {"name reserved", [](Json& j) { j["name"] = "coordinator"; }, "$.body.name"},
      {"key short", [](Json& j) { j["signing_key"] = "AAAA"; }, "$.body.signing_key"},
      {"key type", [](Json& j) { j["signing_key"] = 1; }, "$.body.signing_key"},
      {"fingerprint", [](Json& j) { j["tls_fingerprint"] = "abc"; }, "$.body.tls_fingerprint"},
      {"address empty", [](Json& j) { j["address"] = ""; }, "$.body.address"},
      {"address space", [](Json& j) { j["address"] = "a b:1"; }, "$.body.address"},
  };
  for (const auto& c : cases) {
    Json j = good;
    c.mutate(j);
    auto bad = NodeRegistration::FromBody(j);
    ASSERT_FALSE(bad.ok()) << c.name;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(bad.status().message().find(c.expected), std::string_view::npos)
        << c.name << ": " << bad.status().message();
  }
}

}  // namespace
}  // namespace consort::audit
