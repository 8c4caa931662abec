#include "consort/data/describe.h"

#include <gtest/gtest.h>

#include "consort/crypto/hash.h"
#include "consort/data/csv.h"
#include "consort/data/internal/test_util.h"

namespace consort::data {
namespace {

using internal::TempDir;

TEST(DescribeTable, ListsColumnsTypesAndRowCountOnly) {
  auto t = ParseCsv("id,name,balance\n1,secret-name,2.5\n2,other,3\n", "c.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  auto canonical = CanonicalJson(DescribeTable(*t));
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(*canonical,
            "{\"columns\":[{\"name\":\"id\",\"type\":\"int64\"},"
            "{\"name\":\"name\",\"type\":\"string\"},"
            "{\"name\":\"balance\",\"type\":\"float64\"}],\"rows\":2}");
  EXPECT_EQ(canonical->find("secret"), std::string::npos);
}

TEST(DescribeTable, EmptyTable) {
  auto t = ParseCsv("a\n", "c.csv");
  ASSERT_TRUE(t.ok());
  Json j = DescribeTable(*t);
  EXPECT_EQ(j["rows"], 0);
  EXPECT_EQ(j["columns"].size(), 1u);
}

TEST(FileFingerprint, KnownAnswers) {
  TempDir dir;
  auto abc = FileFingerprint(dir.Write("abc.csv", "abc"));
  ASSERT_TRUE(abc.ok()) << abc.status();
  // FIPS 180-2 appendix B.1.
  EXPECT_EQ(*abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto empty = FileFingerprint(dir.Write("empty.csv", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(FileFingerprint, StreamsLargeFilesAndSeesChanges) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 300000; ++i) content += std::to_string(i) + ",row\n";  // > 2 MiB
  std::string path = dir.Write("big.csv", content);
  auto before = FileFingerprint(path);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, crypto::Sha256Hex(content));
  content[content.size() / 2] ^= 1;
  dir.Write("big.csv", content);
  auto after = FileFingerprint(path);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before);
  EXPECT_EQ(*after, crypto::Sha256Hex(content));
}

TEST(FileFingerprint, Errors) {
  TempDir dir;
  EXPECT_EQ(FileFingerprint(dir.File("missing.csv")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FileFingerprint(dir.path()).status().code(), absl::StatusCode::kInvalidArgument);
}

std::string Le64(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}

TEST(TableContentFingerprint, KnownEncoding) {
  auto t = ParseCsv("a,s\n-2,xy\n,\n", "t.csv");  // row 2: both null
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->schema().column(0).type, ColumnType::kInt64);
  std::string enc = std::string("consort.table-content.v1", 24) + '\0' + Le64(2) + Le64(1) +
                    "a" + '\1' + Le64(1) + "s" + '\3';
  enc += '\1' + Le64(static_cast<uint64_t>(int64_t{-2})) + '\3' + Le64(2) + "xy";
  enc += std::string(2, '\0');
  enc += Le64(2);
  EXPECT_EQ(TableContentFingerprint(*t), "content:" + crypto::Sha256Hex(enc));
  EXPECT_TRUE(IsContentFingerprint(TableContentFingerprint(*t)));
  EXPECT_FALSE(IsContentFingerprint(crypto::Sha256Hex(enc)));
}

TEST(TableContentFingerprint, IndependentOfBatchesSensitiveToContent) {
  auto t = ParseCsv("id,name,x\n1,a,0.5\n2,,1.5\n3,c,\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string fp = TableContentFingerprint(*t);
  TableContentHasher h(t->schema());
  for (uint32_t r = 0; r < 3; ++r) h.Update(*t->SelectRows(std::vector<uint32_t>{r}));
  EXPECT_EQ(h.Finish(), fp);
  TableContentHasher none(t->schema());
  EXPECT_NE(none.Finish(), fp);

  for (const char* other : {"id,name,x\n1,a,0.5\n2,,1.5\n3,d,\n",      // a value
                            "id,name,x\n1,a,0.5\n3,c,\n2,,1.5\n",       // row order
                            "id,nom,x\n1,a,0.5\n2,,1.5\n3,c,\n",        // a name
                            "id,name,x\n1.0,a,0.5\n2,,1.5\n3,c,\n",     // a type
                            "id,name,x\n1,a,0.5\n2,,1.5\n3,c,\n3,c,\n"}) {  // a row
    auto u = ParseCsv(other, "t.csv");
    ASSERT_TRUE(u.ok()) << u.status();
    EXPECT_NE(TableContentFingerprint(*u), fp) << other;
  }
}

}  // namespace
}  // namespace consort::data
