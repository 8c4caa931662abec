#include "consort/data/sqlite_source.h"

#include <limits>

#include "consort/common/sqlite.h"
#include "consort/data/internal/sqlite_table.h"

namespace consort::data {

std::string QuoteSqlIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

StatusOr<Table> ReadSqliteTable(const std::string& db_path, std::string_view table,
                                const std::vector<std::string>& columns) {
  if (table.empty() || table.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(db_path + ": invalid table name");
  }
  CONSORT_ASSIGN_OR_RETURN(SqlDb db, SqlDb::Open(db_path, /*read_only=*/true));
  // One read transaction: the type probe and the row scan see the same snapshot even if another
  // connection writes meanwhile. Closing the connection ends it.
  CONSORT_RETURN_IF_ERROR(db.Exec("BEGIN"));
  CONSORT_ASSIGN_OR_RETURN(internal::SqliteSelection sel,
                           internal::ResolveSqliteSelection(db, db_path, table, columns));
  std::vector<size_t> all(sel.names.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = k;
  CONSORT_ASSIGN_OR_RETURN(std::vector<ColumnType> types,
                           internal::InferSqliteTypes(db, sel, all));
  std::vector<ColumnSpec> specs;
  std::vector<Column> out;
  for (size_t k = 0; k < sel.names.size(); ++k) {
    specs.push_back({sel.names[k], types[k]});
    out.emplace_back(types[k]);
  }

  CONSORT_ASSIGN_OR_RETURN(SqlStatement stmt, db.Prepare(sel.select_sql));
  size_t rows = 0;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) break;
    if (rows >= std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(sel.source + ": too many rows (the limit is 2^32 - 1)");
    }
    ++rows;
    for (size_t k = 0; k < out.size(); ++k) {
      CONSORT_RETURN_IF_ERROR(internal::AppendSqliteValue(
          out[k], specs[k].name, stmt.Column(static_cast<int>(k)), sel.source, rows));
    }
  }
  CONSORT_ASSIGN_OR_RETURN(Schema schema, Schema::Make(std::move(specs)));
  return Table::Make(std::move(schema), std::move(out), sel.source);
}

}  // namespace consort::data
