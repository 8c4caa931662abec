#include "consort/data/csv_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "consort/data/describe.h"
#include "consort/data/internal/test_util.h"

namespace consort::data {
namespace {

using internal::TempDir;

// Every batch of `path`, checking the batch-size bound; appends into one table's worth of
// text per column plus the row lines.
struct Streamed {
  Status status;
  size_t batches = 0;
  Schema schema;
  std::vector<std::vector<std::string>> cells;  // [column][row], "<null>" for null
  std::vector<uint32_t> lines;
};

Streamed StreamAll(const std::string& path, CsvStreamOptions options) {
  Streamed out;
  auto reader = OpenCsvReader(path, options);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  Table batch;
  while (true) {
    StatusOr<bool> more = (*reader)->Next(&batch);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) break;
    EXPECT_GE(batch.num_rows(), 1u);
    EXPECT_LE(batch.num_rows(), options.batch_rows);
    if (out.batches == 0) {
      out.schema = batch.schema();
      out.cells.resize(batch.num_columns());
    }
    EXPECT_EQ(batch.schema(), out.schema);
    ++out.batches;
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      for (size_t c = 0; c < batch.num_columns(); ++c) {
        out.cells[c].push_back(batch.column(c).IsNull(r) ? "<null>" : batch.column(c).ToText(r));
      }
      out.lines.push_back(batch.row_line(r));
    }
  }
  // The end is sticky.
  StatusOr<bool> again = (*reader)->Next(&batch);
  EXPECT_TRUE(again.ok() && !*again);
  return out;
}

void ExpectSameAsReadCsv(const std::string& path, size_t batch_rows,
                         const CsvReadOptions& read = {}) {
  auto whole = ReadCsv(path, read);
  ASSERT_TRUE(whole.ok()) << whole.status();
  CsvStreamOptions options;
  options.read = read;
  options.batch_rows = batch_rows;
  Streamed s = StreamAll(path, options);
  ASSERT_TRUE(s.status.ok()) << s.status;
  ASSERT_EQ(s.lines.size(), whole->num_rows());
  if (whole->num_rows() == 0) return;
  EXPECT_EQ(s.schema, whole->schema());
  EXPECT_EQ(s.batches, (whole->num_rows() + batch_rows - 1) / batch_rows);
  for (size_t r = 0; r < whole->num_rows(); ++r) {
    EXPECT_EQ(s.lines[r], whole->row_line(r));
    for (size_t c = 0; c < whole->num_columns(); ++c) {
      const Column& col = whole->column(c);
      EXPECT_EQ(s.cells[c][r], col.IsNull(r) ? "<null>" : col.ToText(r)) << "row " << r;
    }
  }
}

TEST(CsvReader, BatchesConcatenateToReadCsvWithInferredTypes) {
  TempDir dir;
  std::string text = "\xEF\xBB\xBFid,score,name,note\r\n";
  std::mt19937 rng(7);
  for (int i = 0; i < 2500; ++i) {
    text += std::to_string(i * 3 - 100) + "," + std::to_string(rng() % 1000) + ".5,";
    text += (i % 7 == 0 ? "\"multi\nline, \"\"quoted\"\"\"" : "n" + std::to_string(i));
    text += (i % 5 == 0 ? ",\r\n" : ",x\n");
    if (i % 300 == 0) text += "\n";  // blank lines are skipped in a multi-column table
  }
  std::string path = dir.Write("t.csv", text);
  for (size_t b : {size_t{1}, size_t{2}, size_t{999}, size_t{2500}, size_t{100000}}) {
    SCOPED_TRACE(b);
    ExpectSameAsReadCsv(path, b);
  }
}

TEST(CsvReader, ForcedTypesNeedNoInferencePassAndMatchReadCsv) {
  TempDir dir;
  std::string path = dir.Write("t.csv", "phone,amount\n0044,1\n+1,2.5\n");
  CsvReadOptions read;
  read.column_types = {{"phone", ColumnType::kString}, {"amount", ColumnType::kFloat64}};
  ExpectSameAsReadCsv(path, 1, read);
  ExpectSameAsReadCsv(path, 10, read);
}

TEST(CsvReader, SingleColumnBlankLineIsNullAndHeaderOnlyHasNoBatch) {
  TempDir dir;
  ExpectSameAsReadCsv(dir.Write("a.csv", "k\na\n\nb"), 1);
  CsvStreamOptions options;
  Streamed s = StreamAll(dir.Write("h.csv", "k,v\n"), options);
  EXPECT_TRUE(s.status.ok()) << s.status;
  EXPECT_EQ(s.batches, 0u);
}

TEST(CsvReader, ErrorsAreReadCsvErrors) {
  TempDir dir;
  const std::vector<std::string> bad = {
      "",                                   // file is empty
      "a,b\n1,2\n3\n",                      // field count
      "a,b\n1,\"x\n",                       // unterminated quote
      "a,b\n1,x\xff\n",                     // invalid UTF-8
      "a,a\n1,2\n",                         // duplicate header
      "a,b\n1,x\"y\n",                      // quote inside unquoted field
  };
  for (const std::string& text : bad) {
    std::string path = dir.Write("bad.csv", text);
    auto whole = ReadCsv(path, {});
    ASSERT_FALSE(whole.ok());
    for (size_t b : {size_t{1}, size_t{64}}) {
      CsvStreamOptions options;
      options.batch_rows = b;
      Streamed s = StreamAll(path, options);
      EXPECT_EQ(s.status.code(), whole.status().code()) << text;
      EXPECT_EQ(s.status.message(), whole.status().message()) << text;
    }
  }
  // With forced types the value error comes while streaming, naming line and column.
  std::string path = dir.Write("typed.csv", "id\n1\n2\nx\n");
  CsvStreamOptions options;
  options.read.column_types = {{"id", ColumnType::kInt64}};
  options.read.source_name = "typed.csv";
  options.batch_rows = 1;
  Streamed s = StreamAll(path, options);
  EXPECT_EQ(s.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status.message(), "typed.csv:4: column 'id': value is not an int64");
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(StreamAll(dir.File("missing.csv"), {}).status.code(), absl::StatusCode::kNotFound);
  options.batch_rows = 0;
  EXPECT_EQ(StreamAll(path, options).status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(CsvReader, FingerprintIsCheckedWhileStreaming) {
  TempDir dir;
  std::string path = dir.Write("t.csv", "id,v\n1,a\n2,b\n3,c\n");
  auto fp = FileFingerprint(path);
  ASSERT_TRUE(fp.ok());
  CsvStreamOptions options;
  options.batch_rows = 2;
  options.expected_fingerprint = *fp;
  Streamed good = StreamAll(path, options);
  EXPECT_TRUE(good.status.ok()) << good.status;
  EXPECT_EQ(good.lines.size(), 3u);

  options.expected_fingerprint = std::string(64, '0');
  options.read.source_name = "t.csv";
  Streamed changed = StreamAll(path, options);
  EXPECT_EQ(changed.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(changed.status.message(), "t.csv: the file changed since it was registered");
  // A parse error in a changed file is reported as the change.
  std::string broken = dir.Write("b.csv", "id,v\n1,a\n2\n");
  options.read.column_types = {{"id", ColumnType::kInt64}, {"v", ColumnType::kString}};
  Streamed s = StreamAll(broken, options);
  EXPECT_EQ(s.status.code(), absl::StatusCode::kFailedPrecondition) << s.status;
}

}  // namespace
}  // namespace consort::data
