#include "consort/data/sqlite_reader.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "consort/common/sqlite.h"
#include "consort/data/describe.h"
#include "consort/data/internal/test_util.h"
#include "consort/data/sqlite_source.h"

namespace consort::data {
namespace {

using internal::TempDir;

// Every row of `t` as text ("\\N" for null), to compare tables cell by cell.
std::vector<std::string> RowTexts(const Table& t) {
  std::vector<std::string> rows;
  for (size_t r = 0; r < t.num_rows(); ++r) {
    std::string row;
    for (size_t c = 0; c < t.num_columns(); ++c) {
      row += (c ? "|" : "") + (t.column(c).IsNull(r) ? std::string("\\N") : t.column(c).ToText(r));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<std::string, ColumnType> TypesOf(const Table& t) {
  std::map<std::string, ColumnType> types;
  for (const auto& c : t.schema().columns()) types[c.name] = c.type;
  return types;
}

struct Streamed {
  Status status;
  std::vector<size_t> batch_rows;
  std::vector<std::string> rows;
  Schema schema;
  std::string source;
};

Streamed StreamAll(const std::string& db, std::string_view table,
                   const SqliteStreamOptions& options) {
  Streamed out;
  auto reader = OpenSqliteReader(db, table, options);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  Table batch;
  while (true) {
    auto more = (*reader)->Next(&batch);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) {
      EXPECT_EQ(batch.num_rows(), 0u);
      break;
    }
    if (out.batch_rows.empty()) {
      out.schema = batch.schema();
      out.source = batch.source();
    } else {
      EXPECT_EQ(batch.schema(), out.schema);
    }
    out.batch_rows.push_back(batch.num_rows());
    for (std::string& r : RowTexts(batch)) out.rows.push_back(std::move(r));
  }
  return out;
}

class SqliteReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("shop.db");
    auto db = SqlDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(db->Exec("CREATE TABLE people (id INTEGER, amount REAL, name TEXT, loose, "
                         "photo BLOB)")
                    .ok());
    // 10,000 rows: ints, floats (some stored as integers), strings, an untyped column that
    // widens to string, and NULLs in every column.
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    auto ins = db->Prepare("INSERT INTO people VALUES (?, ?, ?, ?, NULL)");
    ASSERT_TRUE(ins.ok());
    for (int64_t i = 0; i < kRows; ++i) {
      SqlValue id = i % 97 == 5 ? SqlValue() : SqlValue(i * 1'000'003 - 5'000'000);
      SqlValue amount = i % 89 == 3 ? SqlValue() : (i % 3 ? SqlValue(i * 0.25) : SqlValue(i));
      SqlValue name = i % 83 == 1 ? SqlValue() : SqlValue("name-" + std::to_string(i) + "-Zoë");
      SqlValue loose = i % 5 == 0   ? SqlValue(i)
                       : i % 5 == 1 ? SqlValue(i + 0.5)
                       : i % 5 == 2 ? SqlValue()
                                    : SqlValue("t" + std::to_string(i));
      ASSERT_TRUE(ins->BindAll({id, amount, name, loose}).ok());
      ASSERT_TRUE(ins->Step().ok());
      ASSERT_TRUE(ins->Reset().ok());
    }
    ASSERT_TRUE(db->Exec("COMMIT").ok());
  }

  static constexpr int64_t kRows = 10'000;
  TempDir dir_;
  std::string path_;
  const std::vector<std::string> kNoBlob = {"id", "amount", "name", "loose"};
};

TEST_F(SqliteReaderTest, BatchesEqualReadSqliteTableWithRegisteredTypes) {
  auto whole = ReadSqliteTable(path_, "people", kNoBlob);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole->num_rows(), static_cast<size_t>(kRows));
  ASSERT_EQ(whole->schema().column(3).type, ColumnType::kString);  // the widened column
  const std::vector<std::string> expected = RowTexts(*whole);

  for (size_t batch : {size_t{1}, size_t{7}, size_t{4096}}) {
    SCOPED_TRACE("batch_rows " + std::to_string(batch));
    SqliteStreamOptions options;
    options.columns = kNoBlob;
    options.column_types = TypesOf(*whole);
    options.batch_rows = batch;
    // The content fingerprint does not depend on how the rows are split into batches.
    options.expected_fingerprint = TableContentFingerprint(*whole);
    Streamed s = StreamAll(path_, "people", options);
    ASSERT_TRUE(s.status.ok()) << s.status;
    EXPECT_EQ(s.schema, whole->schema());
    EXPECT_EQ(s.source, whole->source());
    EXPECT_EQ(s.rows, expected);
    // Full batches until the last one, which holds the remainder.
    const size_t full = kRows / batch, rest = kRows % batch;
    ASSERT_EQ(s.batch_rows.size(), full + (rest ? 1 : 0));
    for (size_t i = 0; i < full; ++i) ASSERT_EQ(s.batch_rows[i], batch) << i;
    if (rest) {
      EXPECT_EQ(s.batch_rows.back(), rest);
    }
  }

  // Without recorded types the reader infers them exactly as ReadSqliteTable does.
  SqliteStreamOptions inferred;
  inferred.columns = kNoBlob;
  inferred.batch_rows = 1000;
  Streamed s = StreamAll(path_, "people", inferred);
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(s.schema, whole->schema());
  EXPECT_EQ(s.rows, expected);
}

TEST_F(SqliteReaderTest, ProjectionIsPushedDownAndOrdered) {
  // "photo" is never selected, so its (NULL) values and type play no part; the order and the
  // stored spelling of the names are kept.
  std::vector<std::string> cols = {"NAME", "id"};
  auto whole = ReadSqliteTable(path_, "PEOPLE", cols);
  ASSERT_TRUE(whole.ok()) << whole.status();
  SqliteStreamOptions options;
  options.columns = cols;
  options.batch_rows = 333;
  options.source_name = "shop.db";
  Streamed s = StreamAll(path_, "PEOPLE", options);
  ASSERT_TRUE(s.status.ok()) << s.status;
  ASSERT_EQ(s.schema.size(), 2u);
  EXPECT_EQ(s.schema.column(0).name, "name");
  EXPECT_EQ(s.schema.column(1).name, "id");
  EXPECT_EQ(s.schema, whole->schema());
  EXPECT_EQ(s.source, "shop.db:people");
  EXPECT_EQ(s.rows, RowTexts(*whole));

  options.columns = {"id", "email"};
  Streamed missing = StreamAll(path_, "people", options);
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kNotFound);
  options.columns = {"id", "ID"};
  EXPECT_EQ(StreamAll(path_, "people", options).status.code(),
            absl::StatusCode::kInvalidArgument);
  options.columns = {};
  EXPECT_EQ(StreamAll(path_, "clients", options).status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StreamAll(dir_.File("nope.db"), "people", options).status.code(),
            absl::StatusCode::kNotFound);
  options.batch_rows = 0;
  EXPECT_EQ(StreamAll(path_, "people", options).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteReaderTest, BlobAndBadValuesNameColumnAndRowNotValue) {
  {
    auto db = SqlDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE m (n INTEGER, b BLOB, s TEXT);"
                         "INSERT INTO m VALUES (1, NULL, 'a'), (2, NULL, 'b'), (3, x'00ff', 'c'),"
                         " (4, NULL, CAST(x'61ff62' AS TEXT)), ('secret-x', NULL, 'e'),"
                         " (6.5, NULL, 'f');")
                    .ok());
  }
  SqliteStreamOptions options;
  options.source_name = "shop.db";
  options.batch_rows = 2;
  options.columns = {"n", "b"};
  options.column_types = {{"n", ColumnType::kInt64}, {"b", ColumnType::kString}};
  auto reader = OpenSqliteReader(path_, "m", options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Table batch;
  auto first = (*reader)->Next(&batch);
  ASSERT_TRUE(first.ok() && *first) << first.status();
  EXPECT_EQ(batch.num_rows(), 2u);
  auto blob = (*reader)->Next(&batch);
  EXPECT_EQ(blob.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(blob.status().message(),
            "shop.db:m row 3: column 'b': BLOB values are not supported");
  EXPECT_EQ(batch.num_rows(), 0u);
  // The error sticks.
  EXPECT_EQ((*reader)->Next(&batch).status(), blob.status());

  // Registered as int64, now holding text (the value is never printed) or a real.
  options.columns = {"n"};
  options.batch_rows = 7;
  Streamed text = StreamAll(path_, "m", options);
  EXPECT_EQ(text.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status.message(), "shop.db:m row 5: column 'n': TEXT value in an int64 column");
  EXPECT_EQ(text.status.message().find("secret"), std::string_view::npos);
  options.column_types = {{"n", ColumnType::kFloat64}};
  Streamed as_float = StreamAll(path_, "m", options);
  EXPECT_EQ(as_float.status.message(),
            "shop.db:m row 5: column 'n': TEXT value in a float64 column");
  // Inferred like ReadSqliteTable (string: it holds text), the same column streams.
  options.column_types = {};
  Streamed inferred = StreamAll(path_, "m", options);
  ASSERT_TRUE(inferred.status.ok()) << inferred.status;
  EXPECT_EQ(inferred.schema.column(0).type, ColumnType::kString);
  EXPECT_EQ(inferred.rows.back(), "6.5");

  auto db = SqlDb::Open(path_);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("DELETE FROM m WHERE typeof(n) = 'text'").ok());
  options.column_types = {{"n", ColumnType::kInt64}};
  Streamed real = StreamAll(path_, "m", options);
  EXPECT_EQ(real.status.message(), "shop.db:m row 5: column 'n': REAL value in an int64 column");

  options.columns = {"s"};
  options.column_types = {};
  Streamed utf8 = StreamAll(path_, "m", options);
  EXPECT_EQ(utf8.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(utf8.status.message(), "shop.db:m row 4: column 's': invalid UTF-8 at byte 2");
  EXPECT_EQ(ReadSqliteTable(path_, "m", {"s"}).status().message(),
            path_ + ":m row 4: column 's': invalid UTF-8 at byte 2");
}

TEST_F(SqliteReaderTest, ChangedTableIsFailedPreconditionAtTheEnd) {
  auto whole = ReadSqliteTable(path_, "people", kNoBlob);
  ASSERT_TRUE(whole.ok()) << whole.status();
  SqliteStreamOptions options;
  options.columns = kNoBlob;
  options.column_types = TypesOf(*whole);
  options.batch_rows = 4096;
  options.source_name = "shop.db";
  options.expected_fingerprint = TableContentFingerprint(*whole);
  ASSERT_TRUE(IsContentFingerprint(options.expected_fingerprint));
  ASSERT_TRUE(StreamAll(path_, "people", options).status.ok());

  // A write committed by a connection that stays open lives in the WAL: the database file's
  // bytes (and so a file fingerprint) are unchanged, the content fingerprint is not.
  const std::string file_fp = *FileFingerprint(path_);
  auto writer = SqlDb::Open(path_);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Exec("UPDATE people SET name = 'changed' WHERE rowid = 9999").ok());
  EXPECT_EQ(*FileFingerprint(path_), file_fp);

  auto reader = OpenSqliteReader(path_, "people", options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Table batch;
  size_t rows = 0;
  Status end;
  while (true) {
    auto more = (*reader)->Next(&batch);
    if (!more.ok()) {
      end = more.status();
      break;
    }
    ASSERT_TRUE(*more);  // the stream must not end cleanly
    rows += batch.num_rows();
  }
  EXPECT_EQ(end.code(), absl::StatusCode::kFailedPrecondition) << end;
  EXPECT_EQ(end.message(), "shop.db:people: the table changed since it was registered");
  EXPECT_EQ(rows, 8192u);  // the last (partial) batch is withheld
  EXPECT_EQ(batch.num_rows(), 0u);

  // A value that no longer fits its recorded type: FailedPrecondition naming row and column.
  ASSERT_TRUE(writer->Exec("UPDATE people SET id = 'secret' WHERE rowid = 3").ok());
  Streamed misfit = StreamAll(path_, "people", options);
  EXPECT_EQ(misfit.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(misfit.status.message(),
            "shop.db:people: the table changed since it was registered (shop.db:people row 3: "
            "column 'id': TEXT value in an int64 column)");
  // Without a fingerprint the same is the InvalidArgument of a bad value.
  options.expected_fingerprint.clear();
  EXPECT_EQ(StreamAll(path_, "people", options).status.code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteReaderTest, FileFingerprintIsCheckedAtOpen) {
  // Registrations made before content fingerprints recorded the file's SHA-256.
  auto fp = FileFingerprint(path_);
  ASSERT_TRUE(fp.ok()) << fp.status();
  SqliteStreamOptions options;
  options.columns = kNoBlob;
  options.batch_rows = 4096;
  options.source_name = "shop.db";
  options.expected_fingerprint = *fp;
  Streamed same = StreamAll(path_, "people", options);
  ASSERT_TRUE(same.status.ok()) << same.status;
  EXPECT_EQ(same.rows.size(), static_cast<size_t>(kRows));

  {
    auto db = SqlDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("UPDATE people SET name = 'changed' WHERE rowid = 1").ok());
  }  // the last connection checkpoints the change into the database file
  auto changed = OpenSqliteReader(path_, "people", options);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition) << changed.status();
  EXPECT_EQ(changed.status().message(), "shop.db: the database changed since it was registered");
  options.expected_fingerprint.clear();
  EXPECT_TRUE(StreamAll(path_, "people", options).status.ok());
}

TEST_F(SqliteReaderTest, OneSnapshotForTheWholeStream) {
  SqliteStreamOptions options;
  options.columns = {"id"};
  options.batch_rows = 1000;
  options.expected_fingerprint = *FileFingerprint(path_);
  auto reader = OpenSqliteReader(path_, "people", options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Table batch;
  ASSERT_TRUE(*(*reader)->Next(&batch));
  size_t rows = batch.num_rows();
  {
    // The fixture's database is in WAL mode: a writer commits while the stream is open.
    auto db = SqlDb::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO people (id) VALUES (-1)").ok());
    ASSERT_TRUE(db->Exec("DELETE FROM people WHERE rowid > 9000").ok());
  }
  while (true) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    rows += batch.num_rows();
  }
  EXPECT_EQ(rows, static_cast<size_t>(kRows));  // neither the insert nor the delete is seen
}

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

TEST(SqliteReader, HoldsOneBatchNotTheTable) {
  TempDir dir;
  const std::string path = dir.File("big.db");
  constexpr int kBigRows = 4000;
  const std::string filler(4000, 'x');
  {
    auto db = SqlDb::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER, payload TEXT); BEGIN").ok());
    auto ins = db->Prepare("INSERT INTO t VALUES (?, ?)");
    ASSERT_TRUE(ins.ok());
    for (int i = 0; i < kBigRows; ++i) {
      ASSERT_TRUE(ins->BindAll({int64_t{i}, filler + std::to_string(i)}).ok());
      ASSERT_TRUE(ins->Step().ok());
      ASSERT_TRUE(ins->Reset().ok());
    }
    ASSERT_TRUE(db->Exec("COMMIT").ok());
  }
  size_t table_bytes = 0;
  {
    auto whole = ReadSqliteTable(path, "t");
    ASSERT_TRUE(whole.ok());
    table_bytes = whole->MemoryBytes();
  }
  ASSERT_GT(table_bytes, size_t{15} << 20);  // 4000 rows of ~4 KB

  SqliteStreamOptions options;
  options.batch_rows = 50;  // ~200 KB per batch
  const size_t before = HeapInUse();
  auto reader = OpenSqliteReader(path, "t", options);
  ASSERT_TRUE(reader.ok()) << reader.status();
  Table batch;
  size_t peak = 0, rows = 0, largest_batch = 0;
  while (true) {
    auto more = (*reader)->Next(&batch);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    rows += batch.num_rows();
    largest_batch = std::max(largest_batch, batch.MemoryBytes());
    const size_t now = HeapInUse();
    peak = std::max(peak, now > before ? now - before : 0);
  }
  EXPECT_EQ(rows, static_cast<size_t>(kBigRows));
  // 50 rows of ~4 KB, with the value buffers' growth slack (at most doubling).
  EXPECT_LE(largest_batch, 2u * 50u * 4100u);
  // The heap holds one batch plus SQLite's page cache (about 2 MB by default), far from the
  // 16 MB table.
  EXPECT_LT(peak, table_bytes / 4) << "peak " << peak << " table " << table_bytes;
  RecordProperty("peak_heap_growth", std::to_string(peak));
}

}  // namespace
}  // namespace consort::data
