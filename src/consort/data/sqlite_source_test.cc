#include "consort/data/sqlite_source.h"

#include <gtest/gtest.h>

#include "consort/common/files.h"
#include "consort/common/sqlite.h"
#include "consort/data/internal/test_util.h"

namespace consort::data {
namespace {

using internal::TempDir;

class SqliteSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("shop.db");
    auto db = SqlDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(db->Exec(R"sql(
      CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name VARCHAR(40),
        balance DOUBLE PRECISION,
        phone TEXT,
        loose,
        score NUMERIC,
        photo BLOB
      );
      INSERT INTO customers VALUES (1, 'Zoë', 10.5, '0044123', 7, 1, x'00ff');
      INSERT INTO customers VALUES (2, NULL, 3, '555', 2.5, 2, NULL);
      INSERT INTO customers VALUES (3, '北京', NULL, NULL, 'text', NULL, NULL);
      CREATE TABLE empty_untyped (a, b INT);
      CREATE VIEW rich AS SELECT id, name FROM customers WHERE balance > 5;
      CREATE TABLE "we""ird; name" ("odd ""col""" INTEGER);
      INSERT INTO "we""ird; name" VALUES (42);
    )sql")
                    .ok());
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(SqliteSourceTest, MapsDeclaredTypesThenValues) {
  std::vector<std::string> cols = {"id", "name", "balance", "phone", "loose", "score"};
  auto t = ReadSqliteTable(path_, "customers", cols);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_rows(), 3u);
  const Schema& s = t->schema();
  EXPECT_EQ(s.column(0).type, ColumnType::kInt64);    // INTEGER
  EXPECT_EQ(s.column(1).type, ColumnType::kString);   // VARCHAR -> text affinity
  EXPECT_EQ(s.column(2).type, ColumnType::kFloat64);  // DOUBLE
  EXPECT_EQ(s.column(3).type, ColumnType::kString);   // TEXT keeps the leading zeros
  EXPECT_EQ(s.column(4).type, ColumnType::kString);   // untyped: 7, 2.5, 'text' widen to string
  EXPECT_EQ(s.column(5).type, ColumnType::kInt64);    // NUMERIC holding integers
  EXPECT_EQ(t->column(0).Int64(2), 3);
  EXPECT_EQ(t->column(1).String(0), "Zoë");
  EXPECT_TRUE(t->column(1).IsNull(1));
  EXPECT_EQ(t->column(2).Float64(1), 3.0);  // REAL affinity stored 3 as a real
  EXPECT_TRUE(t->column(2).IsNull(2));
  EXPECT_EQ(t->column(3).String(0), "0044123");
  EXPECT_EQ(t->column(4).String(0), "7");
  EXPECT_EQ(t->column(4).String(1), "2.5");
  EXPECT_EQ(t->column(4).String(2), "text");
  EXPECT_TRUE(t->column(5).IsNull(2));
  EXPECT_EQ(t->source(), path_ + ":customers");
  EXPECT_FALSE(t->has_row_lines());
}

TEST_F(SqliteSourceTest, ValuesWidenDeclaredInteger) {
  auto db = SqlDb::Open(path_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE m (n INT, r INT, u);"
                       "INSERT INTO m VALUES (1, 1, NULL), (2, 2.5, NULL), ('x', 3, NULL);")
                  .ok());
  auto t = ReadSqliteTable(path_, "m");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->schema().column(0).type, ColumnType::kString);
  EXPECT_EQ(t->column(0).String(0), "1");
  EXPECT_EQ(t->column(0).String(2), "x");
  EXPECT_EQ(t->schema().column(1).type, ColumnType::kFloat64);
  EXPECT_EQ(t->column(1).Float64(0), 1.0);
  EXPECT_EQ(t->column(1).Float64(1), 2.5);
  EXPECT_EQ(t->schema().column(2).type, ColumnType::kString);  // untyped, all NULL
}

TEST_F(SqliteSourceTest, EmptyTableKeepsDeclaredTypes) {
  auto t = ReadSqliteTable(path_, "empty_untyped");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_rows(), 0u);
  EXPECT_EQ(t->schema().column(0).type, ColumnType::kString);
  EXPECT_EQ(t->schema().column(1).type, ColumnType::kInt64);
}

TEST_F(SqliteSourceTest, MissingTableIsNotFoundAndNamed) {
  auto t = ReadSqliteTable(path_, "clients");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(),
            path_ +
                ": no table 'clients' (tables: 'customers', 'empty_untyped', 'rich', "
                "'we\"ird; name')");
}

TEST_F(SqliteSourceTest, MissingDatabaseIsNotFound) {
  auto t = ReadSqliteTable(dir_.File("nope.db"), "customers");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(FileExists(dir_.File("nope.db")));  // read-only open creates nothing
}

TEST_F(SqliteSourceTest, NotADatabaseIsDataLoss) {
  std::string junk = dir_.Write("junk.db", std::string(4096, 'j'));
  auto t = ReadSqliteTable(junk, "customers");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDataLoss) << t.status();
}

TEST_F(SqliteSourceTest, ProjectionIsPushedDown) {
  // `photo` holds a BLOB, which the reader rejects: a projection without it must not read it.
  auto all = ReadSqliteTable(path_, "customers");
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(all.status().message(),
            path_ + ":customers row 1: column 'photo': BLOB values are not supported");

  std::vector<std::string> cols = {"phone", "ID"};  // order kept; names match like SQLite's
  auto t = ReadSqliteTable(path_, "customers", cols);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_columns(), 2u);
  EXPECT_EQ(t->schema().column(0).name, "phone");
  EXPECT_EQ(t->schema().column(1).name, "id");
  EXPECT_EQ(t->column(1).Int64(1), 2);
}

TEST_F(SqliteSourceTest, ProjectionErrors) {
  std::vector<std::string> unknown = {"id", "email"};
  auto t = ReadSqliteTable(path_, "customers", unknown);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(),
            path_ +
                ":customers: no column 'email' (available: 'id', 'name', 'balance', 'phone', "
                "'loose', 'score', 'photo')");
  std::vector<std::string> twice = {"id", "id"};
  EXPECT_EQ(ReadSqliteTable(path_, "customers", twice).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteSourceTest, NamesAreQuotedNotInjected) {
  auto weird = ReadSqliteTable(path_, "we\"ird; name");
  ASSERT_TRUE(weird.ok()) << weird.status();
  EXPECT_EQ(weird->schema().column(0).name, "odd \"col\"");
  EXPECT_EQ(weird->column(0).Int64(0), 42);

  auto evil = ReadSqliteTable(path_, "customers; DROP TABLE customers; --");
  EXPECT_EQ(evil.status().code(), absl::StatusCode::kNotFound);
  auto still = ReadSqliteTable(path_, "CUSTOMERS", {"id"});  // table names are case-insensitive
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->num_rows(), 3u);
  EXPECT_EQ(ReadSqliteTable(path_, std::string("a\0b", 3)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QuoteSqlIdentifier("a\"b"), "\"a\"\"b\"");
}

TEST_F(SqliteSourceTest, ReadsViews) {
  auto t = ReadSqliteTable(path_, "rich");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->num_rows(), 1u);
  EXPECT_EQ(t->column(0).Int64(0), 1);
}

TEST_F(SqliteSourceTest, InvalidUtf8TextNamesRowAndColumn) {
  auto db = SqlDb::Open(path_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE bad (s TEXT);"
                       "INSERT INTO bad VALUES ('fine'), (CAST(x'61ff62' AS TEXT));")
                  .ok());
  auto t = ReadSqliteTable(path_, "bad");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), path_ + ":bad row 2: column 's': invalid UTF-8 at byte 2");
}

}  // namespace
}  // namespace consort::data
