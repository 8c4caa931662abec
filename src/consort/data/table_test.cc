#include "consort/data/table.h"

#include <gtest/gtest.h>

namespace consort::data {
namespace {

Table MakePeople() {
  Column id(ColumnType::kInt64), score(ColumnType::kFloat64), name(ColumnType::kString);
  id.AppendInt64(10);
  id.AppendInt64(-20);
  id.AppendNull();
  score.AppendFloat64(1.5);
  score.AppendNull();
  score.AppendFloat64(-0.25);
  name.AppendString("ann");
  name.AppendString("");
  name.AppendNull();
  auto schema = Schema::Make(
      {{"id", ColumnType::kInt64}, {"score", ColumnType::kFloat64}, {"name", ColumnType::kString}});
  EXPECT_TRUE(schema.ok());
  std::vector<Column> cols;
  cols.push_back(std::move(id));
  cols.push_back(std::move(score));
  cols.push_back(std::move(name));
  auto t = Table::Make(*schema, std::move(cols), "people.csv", {2, 3, 7});
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

TEST(Schema, RejectsEmptyAndDuplicateNames) {
  auto empty = Schema::Make({{"a", ColumnType::kInt64}, {"", ColumnType::kString}});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "column 2 has an empty name");
  auto dup = Schema::Make({{"a", ColumnType::kInt64}, {"a", ColumnType::kString}});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dup.status().message(), "duplicate column name 'a'");
  // Names are case-sensitive.
  EXPECT_TRUE(Schema::Make({{"a", ColumnType::kInt64}, {"A", ColumnType::kInt64}}).ok());
}

TEST(Schema, TypeNamesRoundTrip) {
  for (ColumnType t : {ColumnType::kInt64, ColumnType::kFloat64, ColumnType::kString}) {
    auto parsed = ParseColumnType(ColumnTypeName(t));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(ParseColumnType("int").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Column, ValuesNullsAndText) {
  Table t = MakePeople();
  const Column& id = t.column(0);
  EXPECT_EQ(id.Int64(0), 10);
  EXPECT_EQ(id.ToText(1), "-20");
  EXPECT_TRUE(id.IsNull(2));
  EXPECT_EQ(id.ToText(2), "");
  const Column& score = t.column(1);
  EXPECT_EQ(score.ToText(0), "1.5");
  EXPECT_EQ(score.ToText(2), "-0.25");
  EXPECT_TRUE(score.IsNull(1));
  const Column& name = t.column(2);
  EXPECT_EQ(name.String(0), "ann");
  EXPECT_FALSE(name.IsNull(1));  // empty string, not null
  EXPECT_EQ(name.String(1), "");
  EXPECT_TRUE(name.IsNull(2));
}

TEST(Column, FloatTextAlwaysLooksLikeAFloat) {
  Column c(ColumnType::kFloat64);
  for (double v : {1.0, -3.0, 1e20, 0.1, 2.5e-7, 123456789.0}) c.AppendFloat64(v);
  EXPECT_EQ(c.ToText(0), "1.0");
  EXPECT_EQ(c.ToText(1), "-3.0");
  EXPECT_EQ(c.ToText(2), "1e+20");
  EXPECT_EQ(c.ToText(3), "0.1");
  EXPECT_EQ(c.ToText(4), "2.5e-07");
  EXPECT_EQ(c.ToText(5), "123456789.0");
}

TEST(Table, MakeValidatesShape) {
  auto schema = Schema::Make({{"a", ColumnType::kInt64}, {"b", ColumnType::kString}});
  ASSERT_TRUE(schema.ok());
  {
    std::vector<Column> cols;
    cols.emplace_back(ColumnType::kInt64);
    auto t = Table::Make(*schema, std::move(cols));
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
  {
    std::vector<Column> cols;
    cols.emplace_back(ColumnType::kInt64);
    cols.emplace_back(ColumnType::kFloat64);
    auto t = Table::Make(*schema, std::move(cols));
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), "column 'b' holds float64 values but the schema says string");
  }
  {
    std::vector<Column> cols;
    cols.emplace_back(ColumnType::kInt64);
    cols.emplace_back(ColumnType::kString);
    cols[0].AppendInt64(1);
    auto t = Table::Make(*schema, std::move(cols));
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), "column 'b' has 0 rows, expected 1");
  }
  {
    std::vector<Column> cols;
    cols.emplace_back(ColumnType::kInt64);
    cols.emplace_back(ColumnType::kString);
    cols[0].AppendInt64(1);
    cols[1].AppendString("x");
    auto t = Table::Make(*schema, std::move(cols), "s", {1, 2});
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(Table, ColumnLookupNamesColumnAndListsAvailable) {
  Table t = MakePeople();
  auto i = t.ColumnIndex("score");
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(*i, 1u);
  auto missing = t.ColumnByName("phone");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "people.csv: no column 'phone' (available: 'id', 'score', 'name')");
}

TEST(Table, ProjectReordersAndValidates) {
  Table t = MakePeople();
  std::vector<std::string> names = {"name", "id"};
  auto p = t.Project(names);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->num_columns(), 2u);
  EXPECT_EQ(p->schema().column(0).name, "name");
  EXPECT_EQ(p->schema().column(1).type, ColumnType::kInt64);
  EXPECT_EQ(p->column(1).Int64(1), -20);
  EXPECT_EQ(p->num_rows(), 3u);
  EXPECT_EQ(p->row_line(2), 7u);

  std::vector<std::string> unknown = {"id", "zip"};
  EXPECT_EQ(t.Project(unknown).status().code(), absl::StatusCode::kNotFound);
  std::vector<std::string> twice = {"id", "id"};
  EXPECT_EQ(t.Project(twice).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Table, SelectRowsKeepsValuesNullsAndLines) {
  Table t = MakePeople();
  std::vector<uint32_t> rows = {2, 0, 0};
  auto s = t.SelectRows(rows);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->num_rows(), 3u);
  EXPECT_TRUE(s->column(0).IsNull(0));
  EXPECT_TRUE(s->column(2).IsNull(0));
  EXPECT_EQ(s->column(0).Int64(1), 10);
  EXPECT_EQ(s->column(2).String(2), "ann");
  EXPECT_EQ(s->column(1).Float64(0), -0.25);
  EXPECT_EQ(s->row_line(0), 7u);
  EXPECT_EQ(s->row_line(1), 2u);
  EXPECT_EQ(s->source(), "people.csv");

  auto empty = t.SelectRows({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->num_rows(), 0u);
  EXPECT_EQ(empty->schema(), t.schema());

  std::vector<uint32_t> bad = {0, 3};
  auto oob = t.SelectRows(bad);
  EXPECT_EQ(oob.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(oob.status().message(), "row index 3 out of range (3 rows)");
}

TEST(Table, RowLocationUsesLinesWhenKnown) {
  Table t = MakePeople();
  EXPECT_EQ(t.RowLocation(1), "people.csv:3");
  EXPECT_EQ(t.RowLabel(2), "line 7");
  auto schema = Schema::Make({{"a", ColumnType::kInt64}});
  std::vector<Column> cols;
  cols.emplace_back(ColumnType::kInt64);
  cols[0].AppendInt64(5);
  auto no_lines = Table::Make(*schema, std::move(cols), "db.sqlite:t");
  ASSERT_TRUE(no_lines.ok());
  EXPECT_FALSE(no_lines->has_row_lines());
  EXPECT_EQ(no_lines->RowLocation(0), "db.sqlite:t row 1");
}

}  // namespace
}  // namespace consort::data
