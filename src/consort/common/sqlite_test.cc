#include "consort/common/sqlite.h"

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

namespace consort {
namespace {

std::string TempDb(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / ("consort_sqlite_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

TEST(SqlDb, RoundTripsTypedValues) {
  auto db = SqlDb::Open(TempDb("a.db"));
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)").ok());
  ASSERT_TRUE(db->Run("INSERT INTO t VALUES (?, ?, ?, ?)",
                      {int64_t{42}, std::string("x"), Bytes{1, 2}, std::monostate{}})
                  .ok());
  auto rows = db->Query("SELECT i, s, b, n FROM t");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(std::get<int64_t>((*rows)[0][0]), 42);
  EXPECT_EQ(std::get<std::string>((*rows)[0][1]), "x");
  EXPECT_EQ(std::get<Bytes>((*rows)[0][2]), (Bytes{1, 2}));
  EXPECT_TRUE(std::holds_alternative<std::monostate>((*rows)[0][3]));
}

TEST(SqlDb, ConstraintViolationIsAlreadyExists) {
  auto db = SqlDb::Open(TempDb("b.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(db->Run("INSERT INTO t VALUES ('a')").ok());
  EXPECT_EQ(db->Run("INSERT INTO t VALUES ('a')").code(), absl::StatusCode::kAlreadyExists);
}

TEST(SqlDb, TransactionRollsBackOnError) {
  auto db = SqlDb::Open(TempDb("c.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER)").ok());
  Status st = InTransaction(*db, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db->Run("INSERT INTO t VALUES (1)"));
    return absl::InvalidArgumentError("stop");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  auto rows = db->Query("SELECT COUNT(*) FROM t");
  EXPECT_EQ(std::get<int64_t>((*rows)[0][0]), 0);
}

TEST(SqlDb, NestedTransactionUndoesOnlyInnerWork) {
  auto db = SqlDb::Open(TempDb("d.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (k INTEGER)").ok());
  Status st = InTransaction(*db, [&]() -> Status {
    CONSORT_RETURN_IF_ERROR(db->Run("INSERT INTO t VALUES (1)"));
    Status inner = InTransaction(*db, [&]() -> Status {
      CONSORT_RETURN_IF_ERROR(db->Run("INSERT INTO t VALUES (2)"));
      return absl::InvalidArgumentError("inner");
    });
    EXPECT_EQ(inner.code(), absl::StatusCode::kInvalidArgument);
    return OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  auto rows = db->Query("SELECT k FROM t");
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(std::get<int64_t>((*rows)[0][0]), 1);
}

TEST(SqlDb, ReadOnlyOpenOfMissingFileIsNotFound) {
  EXPECT_EQ(SqlDb::Open("/nonexistent/dir/x.db", true).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace consort
