#include "consort/cli/synthetic_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "consort/cli/local_cluster.h"
#include "consort/data/csv.h"

namespace consort::cli {
namespace {

SyntheticData Make(int64_t rows, uint64_t seed) {
  auto d = GenerateSyntheticData({rows, seed});
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(*d);
}

double Fraction(size_t part, int64_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

TEST(SyntheticData, SameSeedGivesIdenticalFiles) {
  SyntheticData a = Make(5000, 42), b = Make(5000, 42);
  EXPECT_EQ(a.bank.ToCsv(), b.bank.ToCsv());
  EXPECT_EQ(a.shop.ToCsv(), b.shop.ToCsv());
  EXPECT_EQ(a.media.ToCsv(), b.media.ToCsv());
}

TEST(SyntheticData, DifferentSeedGivesDifferentFiles) {
  SyntheticData a = Make(5000, 42), b = Make(5000, 43);
  EXPECT_NE(a.bank.ToCsv(), b.bank.ToCsv());
  EXPECT_NE(a.shop.ToCsv(), b.shop.ToCsv());
  EXPECT_NE(a.media.ToCsv(), b.media.ToCsv());
}

TEST(SyntheticData, TablesHaveTheDocumentedShapeAndDistinctKeys) {
  const int64_t n = 4000;
  SyntheticData d = Make(n, 7);
  EXPECT_EQ(d.bank.columns,
            (std::vector<std::string>{"customer_id", "phone", "email", "age_band", "balance"}));
  EXPECT_EQ(d.shop.columns,
            (std::vector<std::string>{"buyer_id", "phone", "email", "orders", "total_spent"}));
  EXPECT_EQ(d.media.columns, (std::vector<std::string>{"viewer_id", "email", "phone", "campaign",
                                                       "minutes_watched"}));
  const std::regex e164(R"(\+447[0-9]{9})");
  for (const SyntheticTable* t : {&d.bank, &d.shop, &d.media}) {
    ASSERT_EQ(t->rows.size(), static_cast<size_t>(n)) << t->party;
    std::set<std::string> phones, emails, ids;
    for (const auto& p : t->Column("phone")) {
      EXPECT_TRUE(std::regex_match(p, e164)) << t->party << ": " << p;
      phones.insert(p);
    }
    for (const auto& e : t->Column("email")) {
      std::string k = NormalizeKey(e, true, true);
      EXPECT_NE(k.find('@'), std::string::npos);
      emails.insert(k);
    }
    for (const auto& i : t->Column(t->columns[0])) ids.insert(i);
    // psi.ecdh rejects duplicate keys by default: every key must be distinct per table.
    EXPECT_EQ(phones.size(), static_cast<size_t>(n)) << t->party;
    EXPECT_EQ(emails.size(), static_cast<size_t>(n)) << t->party;
    EXPECT_EQ(ids.size(), static_cast<size_t>(n)) << t->party;
  }
}

TEST(SyntheticData, OverlapsAreRealistic) {
  const int64_t n = 20000;
  SyntheticData d = Make(n, 42);
  size_t bank_shop =
      PlaintextIntersection(d.bank.Column("phone"), d.shop.Column("phone"), false, false).size();
  size_t bank_media =
      PlaintextIntersection(d.bank.Column("email"), d.media.Column("email"), true, true).size();
  size_t bank_media_raw =
      PlaintextIntersection(d.bank.Column("email"), d.media.Column("email"), false, false).size();
  size_t shop_media =
      PlaintextIntersection(d.shop.Column("phone"), d.media.Column("phone"), false, false).size();
  // 35% planned, less ~3% of shop rows with a changed number.
  EXPECT_GT(Fraction(bank_shop, n), 0.32);
  EXPECT_LT(Fraction(bank_shop, n), 0.355);
  // 25% planned, less ~2% of viewers using another address.
  EXPECT_GT(Fraction(bank_media, n), 0.23);
  EXPECT_LT(Fraction(bank_media, n), 0.255);
  // Mixed case and padding hide a real share of the matches from an exact comparison.
  EXPECT_LT(bank_media_raw, bank_media * 9 / 10);
  EXPECT_GT(bank_media_raw, bank_media / 2);
  // 15% shop-only viewers plus the chance overlap of the bank samples (0.35 * 0.25).
  EXPECT_GT(Fraction(shop_media, n), 0.19);
  EXPECT_LT(Fraction(shop_media, n), 0.26);
}

TEST(SyntheticData, MessyEmailsAreWhereTheDocsSay) {
  SyntheticData d = Make(10000, 3);
  auto messy = [](const SyntheticTable& t, bool* padded) {
    size_t m = 0;
    for (const auto& e : t.Column("email")) {
      m += e != NormalizeKey(e, true, true);
      if (e != NormalizeKey(e, true, false)) *padded = true;
    }
    return m;
  };
  bool bank_padded = false, shop_padded = false, media_padded = false;
  EXPECT_GT(messy(d.bank, &bank_padded), 100u);
  EXPECT_FALSE(bank_padded);
  EXPECT_EQ(messy(d.shop, &shop_padded), 0u);
  EXPECT_GT(messy(d.media, &media_padded), 1000u);
  EXPECT_TRUE(media_padded);
}

TEST(SyntheticData, CsvRoundTripsThroughTheProjectReader) {
  SyntheticData d = Make(500, 11);
  for (const SyntheticTable* t : {&d.bank, &d.shop, &d.media}) {
    auto table = data::ParseCsv(t->ToCsv(), t->file_name());
    ASSERT_TRUE(table.ok()) << table.status();
    ASSERT_EQ(table->num_rows(), t->rows.size());
    for (const char* key : {"phone", "email"}) {
      auto col = table->ColumnByName(key);
      ASSERT_TRUE(col.ok());
      auto want = t->Column(key);
      for (size_t r = 0; r < want.size(); ++r)
        ASSERT_EQ((*col)->String(r), want[r]) << t->party << " row " << r;
    }
  }
}

TEST(SyntheticData, RejectsTooFewRows) {
  EXPECT_EQ(GenerateSyntheticData({5, 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NormalizeKey, TrimsAsciiWhitespaceAndFoldsAsciiCase) {
  EXPECT_EQ(NormalizeKey(" \tOlivia.Smith7@Example.COM  ", true, true),
            "olivia.smith7@example.com");
  EXPECT_EQ(NormalizeKey(" A ", true, false), "A");
  EXPECT_EQ(NormalizeKey(" A ", false, true), " a ");
  EXPECT_EQ(NormalizeKey("\xC3\x89", true, true), "\xC3\x89");  // non-ASCII left as is
}

TEST(PlaintextIntersection, DistinctNormalizedKeysInBoth) {
  std::vector<std::string> a = {"x@a.example", " Y@a.example", "z@a.example", "z@a.example"};
  std::vector<std::string> b = {"y@a.example", "Z@A.example ", "w@a.example"};
  EXPECT_EQ(PlaintextIntersection(a, b, true, true),
            (std::vector<std::string>{"y@a.example", "z@a.example"}));
  EXPECT_TRUE(PlaintextIntersection(a, b, false, false).empty());
}

// `consort demo` end to end: four real processes, two PSI jobs checked against plaintext by the
// demo itself, a rejection, audit verification and a clean shutdown.
TEST(Demo, RunsEndToEndAndMatchesPlaintext) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("consort-demo-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  CommandResult r =
      RunCommand({CONSORT_BINARY, "demo", "--rows", "2000", "--seed", "5", "--dir", dir}, 120);
  ASSERT_EQ(r.exit_code, 0) << r.out << "\n" << r.err;
  auto count = [&](const std::string& s) {
    size_t c = 0;
    for (size_t p = 0; (p = r.out.find(s, p)) != std::string::npos; ++p) ++c;
    return c;
  };
  EXPECT_EQ(count("matches plaintext: yes"), 4u) << r.out;  // two jobs, each in detail and summary
  EXPECT_EQ(count("matches plaintext: NO"), 0u);
  EXPECT_EQ(count("audit log OK"), 3u) << r.out;
  EXPECT_NE(r.out.find("$ consort job approve"), std::string::npos);
  EXPECT_NE(r.out.find("$ consort job reject"), std::string::npos);
  // The audit excerpt shows the coordinator's own approval of job 5 (it deals).
  EXPECT_NE(r.out.find("job.approved      job_id="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" party=coordinator"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("job 5 joint statistics (2 parties, coordinator as dealer)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("bank exit 0, shop exit 0, media exit 0, coordinator exit 0"),
            std::string::npos);
  EXPECT_NE(r.out.find("demo OK"), std::string::npos);
  EXPECT_LT(r.seconds, 60);
  // A chosen directory is kept, and each party's raw data is only in its own home.
  EXPECT_TRUE(std::filesystem::exists(dir + "/bank/data/customers.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/shop/data/buyers.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/media/data/viewers.csv"));
  for (const char* home : {"bank", "shop", "media", "coordinator"}) {
    size_t csvs = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir + "/" + home)) {
      if (e.path().parent_path().filename() == "data") ++csvs;
    }
    EXPECT_EQ(csvs, std::string(home) == "coordinator" ? 0u : 1u) << home;
  }
  std::filesystem::remove_all(dir);
}

TEST(Demo, RefusesANonEmptyDirectory) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("consort-demo-full-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/something") << "x";
  CommandResult r = RunCommand({CONSORT_BINARY, "demo", "--dir", dir, "--rows", "200"}, 60);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/something"));
  std::filesystem::remove_all(dir);
}

TEST(Demo, UsageErrorsAndHelp) {
  CommandResult help = RunCommand({CONSORT_BINARY, "demo", "--help"}, 30);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--rows"), std::string::npos);
  EXPECT_NE(help.out.find("--keep"), std::string::npos);
  EXPECT_EQ(RunCommand({CONSORT_BINARY, "demo", "--rows", "ten"}, 30).exit_code, 2);
  EXPECT_EQ(RunCommand({CONSORT_BINARY, "demo", "--bogus"}, 30).exit_code, 2);
}

}  // namespace
}  // namespace consort::cli
