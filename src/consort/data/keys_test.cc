#include "consort/data/keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "consort/common/sqlite.h"
#include "consort/data/csv.h"
#include "consort/data/internal/test_util.h"
#include "consort/data/sqlite_source.h"

namespace consort::data {
namespace {

Table Csv(std::string_view text, const CsvReadOptions& options = {}) {
  auto t = ParseCsv(text, "customers.csv", options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(t).value() : Table();
}

StatusOr<KeyedRows> Keys(const Table& t, std::vector<std::string> cols, KeyOptions o = {}) {
  return ExtractKeys(t, cols, o);
}

std::string Component(uint8_t tag, std::string_view text) {
  std::string out;
  AppendKeyComponent(out, tag, text);
  return out;
}

TEST(Keys, SerializationIsTagLengthText) {
  EXPECT_EQ(Component(kKeyTagInt64, "7"), std::string("\x01\x01\x00\x00\x00"
                                                      "7",
                                                      6));
  EXPECT_EQ(Component(kKeyTagString, "Zo\xC3\xAB"), std::string("\x03\x04\x00\x00\x00"
                                                                "Zo\xC3\xAB",
                                                                9));
  std::string long_text(300, 'a');
  EXPECT_EQ(Component(kKeyTagString, long_text).substr(0, 5),
            std::string("\x03\x2C\x01\x00\x00", 5));

  Table t = Csv("id,name\n-12,ann\n");
  auto k = Keys(t, {"id", "name"});
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_EQ(k->size(), 1u);
  EXPECT_EQ(k->keys[0], std::string("\x01\x03\x00\x00\x00"
                                    "-12"
                                    "\x03\x03\x00\x00\x00"
                                    "ann",
                                    16));
}

TEST(Keys, CompositeBoundariesAreUnambiguous) {
  Table t = Csv("x,y\na,bc\nab,c\n");
  auto k = Keys(t, {"x", "y"});
  ASSERT_TRUE(k.ok()) << k.status();  // no duplicate error: the two keys differ
  ASSERT_EQ(k->size(), 2u);
  EXPECT_NE(k->keys[0], k->keys[1]);
}

TEST(Keys, IntSevenDiffersFromStringSeven) {
  Table ints = Csv("k\n7\n");
  CsvReadOptions as_text;
  as_text.column_types = {{"k", ColumnType::kString}};
  Table strings = Csv("k\n7\n", as_text);
  auto a = Keys(ints, {"k"});
  auto b = Keys(strings, {"k"});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->keys[0], b->keys[0]);
  EXPECT_EQ(a->keys[0][0], static_cast<char>(kKeyTagInt64));
  EXPECT_EQ(b->keys[0][0], static_cast<char>(kKeyTagString));
  EXPECT_EQ(a->keys[0].substr(1), b->keys[0].substr(1));  // same length and text
}

TEST(Keys, FloatsUseCanonicalText) {
  Table t = Csv("f\n2.50\n-0.0\n1e2\n");
  auto k = Keys(t, {"f"});
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->keys[0], Component(kKeyTagFloat64, "2.5"));
  EXPECT_EQ(k->keys[1], Component(kKeyTagFloat64, "0.0"));
  EXPECT_EQ(k->keys[2], Component(kKeyTagFloat64, "100.0"));
  Table zeros = Csv("f\n0.0\n-0.0\n");
  EXPECT_EQ(Keys(zeros, {"f"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Keys, TrimAndCaseFoldAreOptIn) {
  Table t = Csv("email\n\" Ann@Example.COM\t\"\nann@example.com\n");
  auto plain = Keys(t, {"email"});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->size(), 2u);

  KeyOptions trim_only;
  trim_only.trim_whitespace = true;
  auto trimmed = Keys(t, {"email"}, trim_only);
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(trimmed->keys[0], Component(kKeyTagString, "Ann@Example.COM"));

  KeyOptions both;
  both.trim_whitespace = true;
  both.fold_ascii_case = true;
  auto folded = Keys(t, {"email"}, both);
  EXPECT_EQ(folded.status().code(), absl::StatusCode::kInvalidArgument);  // now duplicates
  EXPECT_EQ(folded.status().message(),
            "customers.csv: duplicate key in column(s) email at lines 2 and 3");
  // Non-ASCII letters are left alone.
  Table u = Csv("n\n\xC3\x89\n\xC3\xA9\n");
  auto nu = Keys(u, {"n"}, both);
  ASSERT_TRUE(nu.ok());
  EXPECT_EQ(nu->size(), 2u);
}

TEST(Keys, EmptyValuesNameLineAndColumn) {
  Table t = Csv("id,phone\n1,555\n2,\n");
  auto k = Keys(t, {"id", "phone"});
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(k.status().message(), "customers.csv:3: column 'phone': empty key value");

  Table quoted_empty = Csv("id,phone\n1,\"\"\n");
  EXPECT_EQ(Keys(quoted_empty, {"phone"}).status().message(),
            "customers.csv:2: column 'phone': empty key value");

  Table blank = Csv("id,phone\n1,555\n\n\n2,\"  \"\n");
  KeyOptions trim;
  trim.trim_whitespace = true;
  EXPECT_TRUE(Keys(blank, {"phone"}).ok());
  EXPECT_EQ(Keys(blank, {"phone"}, trim).status().message(),
            "customers.csv:5: column 'phone': empty key value");
}

TEST(Keys, DuplicateErrorNamesLinesNeverValues) {
  Table t = Csv("id,phone\n1,5550001\n2,5550002\n3,5550001\n4,5550002\n");
  auto k = Keys(t, {"phone"});
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(k.status().message(),
            "customers.csv: duplicate key in column(s) phone at lines 2 and 4");
  EXPECT_EQ(std::string(k.status().message()).find("5550001"), std::string::npos);

  auto composite = Keys(Csv("a,b\nx,1\nx,2\ny,1\nx,2\n"), {"a", "b"});
  EXPECT_EQ(composite.status().message(),
            "customers.csv: duplicate key in column(s) a, b at lines 3 and 5");
}

TEST(Keys, DeduplicateListsEveryRowOfEachKey) {
  Table t = Csv("id,phone\n1,555\n2,777\n3,555\n4,999\n5,555\n6,777\n");
  KeyOptions o;
  o.duplicates = DuplicateKeys::kDeduplicate;
  auto k = Keys(t, {"phone"}, o);
  ASSERT_TRUE(k.ok()) << k.status();
  ASSERT_EQ(k->size(), 3u);
  EXPECT_EQ(k->keys[0], Component(kKeyTagInt64, "555"));
  EXPECT_EQ(k->keys[1], Component(kKeyTagInt64, "777"));
  EXPECT_EQ(k->keys[2], Component(kKeyTagInt64, "999"));
  auto rows = [&](size_t i) {
    auto s = k->RowsFor(i);
    return std::vector<uint32_t>(s.begin(), s.end());
  };
  EXPECT_EQ(rows(0), (std::vector<uint32_t>{0, 2, 4}));
  EXPECT_EQ(rows(1), (std::vector<uint32_t>{1, 5}));
  EXPECT_EQ(rows(2), (std::vector<uint32_t>{3}));
  EXPECT_EQ(k->FirstRow(1), 1u);
  EXPECT_EQ(k->offsets.back(), 6u);
}

TEST(Keys, MatchedKeysSelectTheReceiversRows) {
  // A PSI receiver maps intersected keys back to all of its rows that carry them.
  Table mine = Csv("phone,plan\n111,a\n222,b\n111,c\n333,d\n");
  KeyOptions o;
  o.duplicates = DuplicateKeys::kDeduplicate;
  auto k = Keys(mine, {"phone"}, o);
  ASSERT_TRUE(k.ok());
  Table theirs = Csv("phone\n333\n111\n444\n");
  auto other = Keys(theirs, {"phone"});
  ASSERT_TRUE(other.ok());
  std::set<std::string> peer(other->keys.begin(), other->keys.end());
  std::vector<uint32_t> selected;
  for (size_t i = 0; i < k->size(); ++i) {
    if (peer.count(k->keys[i])) {
      for (uint32_t r : k->RowsFor(i)) selected.push_back(r);
    }
  }
  std::sort(selected.begin(), selected.end());
  auto result = mine.SelectRows(selected);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->num_rows(), 3u);
  EXPECT_EQ(result->column(1).String(0), "a");
  EXPECT_EQ(result->column(1).String(1), "c");
  EXPECT_EQ(result->column(1).String(2), "d");
  EXPECT_EQ(result->row_line(2), 5u);
}

TEST(Keys, ArgumentErrors) {
  Table t = Csv("id,name\n1,a\n");
  EXPECT_EQ(Keys(t, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keys(t, {"id", "id"}).status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = Keys(t, {"phone"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "customers.csv: no column 'phone' (available: 'id', 'name')");
}

TEST(Keys, SqliteRowsAreNumberedWithoutLines) {
  internal::TempDir dir;
  std::string path = dir.File("k.db");
  {
    auto db = SqlDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE t (k TEXT); INSERT INTO t VALUES ('a'), ('b'), ('b');"
                         "CREATE TABLE n (k TEXT); INSERT INTO n VALUES ('a'), (NULL);")
                    .ok());
  }
  auto t = ReadSqliteTable(path, "t");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Keys(*t, {"k"}).status().message(),
            path + ":t: duplicate key in column(s) k at rows 2 and 3");
  auto n = ReadSqliteTable(path, "n");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(Keys(*n, {"k"}).status().message(), path + ":n row 2: column 'k': empty key value");
}

}  // namespace
}  // namespace consort::data
