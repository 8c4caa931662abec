#include "consort/data/internal/sqlite_table.h"

#include <algorithm>
#include <cctype>

#include "consort/data/internal/text.h"
#include "consort/data/sqlite_source.h"

namespace consort::data::internal {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Upper(a) == Upper(b);
}

enum class Affinity { kInteger, kText, kBlob, kReal, kNumeric };

// SQLite's rules for a declared type, applied in this order (datatype3.html section 3.1).
Affinity AffinityOf(std::string_view declared) {
  std::string t = Upper(declared);
  auto has = [&](const char* s) { return t.find(s) != std::string::npos; };
  if (has("INT")) return Affinity::kInteger;
  if (has("CHAR") || has("CLOB") || has("TEXT")) return Affinity::kText;
  if (has("BLOB") || t.empty()) return Affinity::kBlob;
  if (has("REAL") || has("FLOA") || has("DOUB")) return Affinity::kReal;
  return Affinity::kNumeric;
}

}  // namespace

StatusOr<SqliteSelection> ResolveSqliteSelection(SqlDb& db, const std::string& label,
                                                 std::string_view table,
                                                 const std::vector<std::string>& columns) {
  if (table.empty() || table.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(label + ": invalid table name");
  }
  // Resolve the name through a bound parameter; only a name that exists reaches the SQL text.
  CONSORT_ASSIGN_OR_RETURN(
      auto found, db.Query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                           "AND name = ?1 COLLATE NOCASE ORDER BY name = ?1 DESC LIMIT 1",
                           {std::string(table)}));
  if (found.empty()) {
    CONSORT_ASSIGN_OR_RETURN(
        auto all, db.Query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND "
                           "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT 50"));
    std::string list;
    for (size_t i = 0; i < all.size(); ++i) {
      list += (i ? ", '" : "'") + AsText(all[i][0]) + "'";
    }
    return absl::NotFoundError(label + ": no table '" + std::string(table) +
                               "' (tables: " + (list.empty() ? "none" : list) + ")");
  }
  SqliteSelection sel;
  sel.table = AsText(found[0][0]);
  sel.source = label + ":" + sel.table;

  CONSORT_ASSIGN_OR_RETURN(
      auto info,
      db.Query("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", {sel.table}));
  std::vector<std::pair<std::string, std::string>> all_columns;  // name, declared type
  for (const auto& row : info) all_columns.emplace_back(AsText(row[0]), AsText(row[1]));

  std::vector<size_t> picked;
  if (columns.empty()) {
    for (size_t i = 0; i < all_columns.size(); ++i) picked.push_back(i);
  } else {
    for (const std::string& want : columns) {
      auto it = std::find_if(all_columns.begin(), all_columns.end(),
                             [&](const auto& c) { return EqualsIgnoreAsciiCase(c.first, want); });
      if (it == all_columns.end()) {
        std::string list;
        for (size_t i = 0; i < all_columns.size(); ++i) {
          list += (i ? ", '" : "'") + all_columns[i].first + "'";
        }
        return absl::NotFoundError(sel.source + ": no column '" + want + "' (available: " +
                                   list + ")");
      }
      size_t idx = static_cast<size_t>(it - all_columns.begin());
      if (std::find(picked.begin(), picked.end(), idx) != picked.end()) {
        return absl::InvalidArgumentError(sel.source + ": column '" + want +
                                          "' requested twice");
      }
      picked.push_back(idx);
    }
  }
  if (picked.empty()) return absl::InvalidArgumentError(sel.source + ": table has no columns");

  sel.select_sql = "SELECT ";
  for (size_t k = 0; k < picked.size(); ++k) {
    sel.names.push_back(all_columns[picked[k]].first);
    sel.declared.push_back(all_columns[picked[k]].second);
    sel.select_sql += (k ? ", " : "") + QuoteSqlIdentifier(sel.names.back());
  }
  sel.select_sql += " FROM " + QuoteSqlIdentifier(sel.table);
  return sel;
}

StatusOr<std::vector<ColumnType>> InferSqliteTypes(SqlDb& db, const SqliteSelection& sel,
                                                   const std::vector<size_t>& indices) {
  if (indices.empty()) return std::vector<ColumnType>();
  // One aggregate pass inside SQLite finds which storage classes each column holds; with the
  // declared affinity this fixes every column's type before the rows are read.
  std::string probe = "SELECT ";
  for (size_t k = 0; k < indices.size(); ++k) {
    std::string q = QuoteSqlIdentifier(sel.names.at(indices[k]));
    probe += std::string(k ? ", " : "") + "max(typeof(" + q + ") = 'integer'), max(typeof(" + q +
             ") = 'real'), max(typeof(" + q + ") = 'text')";
  }
  probe += " FROM " + QuoteSqlIdentifier(sel.table);
  CONSORT_ASSIGN_OR_RETURN(auto seen, db.Query(probe));
  if (seen.size() != 1 || seen[0].size() != 3 * indices.size()) {
    return absl::InternalError(sel.source + ": unexpected type probe result");
  }
  std::vector<ColumnType> types;
  for (size_t k = 0; k < indices.size(); ++k) {
    const bool has_int = AsInt(seen[0][3 * k]) == 1;
    const bool has_real = AsInt(seen[0][3 * k + 1]) == 1;
    const bool has_text = AsInt(seen[0][3 * k + 2]) == 1;
    // Widening order int64 < float64 < string: the wider of the declared and observed types.
    int rank = -1;
    switch (AffinityOf(sel.declared.at(indices[k]))) {
      case Affinity::kInteger:
        rank = 0;
        break;
      case Affinity::kReal:
        rank = 1;
        break;
      case Affinity::kText:
        rank = 2;
        break;
      case Affinity::kBlob:
      case Affinity::kNumeric:
        break;
    }
    if (has_int) rank = std::max(rank, 0);
    if (has_real) rank = std::max(rank, 1);
    if (has_text || rank < 0) rank = 2;  // text values, or an untyped column without values
    static constexpr ColumnType kByRank[] = {ColumnType::kInt64, ColumnType::kFloat64,
                                             ColumnType::kString};
    types.push_back(kByRank[rank]);
  }
  return types;
}

Status AppendSqliteValue(Column& column, const std::string& name, const SqlValue& v,
                         const std::string& source, uint64_t row) {
  auto where = [&] { return source + " row " + std::to_string(row) + ": column '" + name + "'"; };
  if (std::holds_alternative<std::monostate>(v)) {
    column.AppendNull();
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    switch (column.type()) {
      case ColumnType::kInt64:
        column.AppendInt64(*i);
        break;
      case ColumnType::kFloat64:
        column.AppendFloat64(static_cast<double>(*i));
        break;
      case ColumnType::kString:
        column.AppendString(std::to_string(*i));
        break;
    }
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (column.type() == ColumnType::kFloat64) {
      column.AppendFloat64(*d);
    } else if (column.type() == ColumnType::kString) {
      Column tmp(ColumnType::kFloat64);
      tmp.AppendFloat64(*d);
      column.AppendString(tmp.ToText(0));
    } else {
      return absl::InvalidArgumentError(where() + ": REAL value in an int64 column");
    }
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    if (auto bad = FindInvalidUtf8(*s)) {
      return absl::InvalidArgumentError(where() + ": invalid UTF-8 at byte " +
                                        std::to_string(*bad + 1));
    }
    if (column.type() != ColumnType::kString) {
      return absl::InvalidArgumentError(where() + ": TEXT value in a" +
                                        (column.type() == ColumnType::kInt64 ? "n int64"
                                                                             : " float64") +
                                        " column");
    }
    column.AppendString(*s);
  } else {
    return absl::InvalidArgumentError(where() + ": BLOB values are not supported");
  }
  return OkStatus();
}

}  // namespace consort::data::internal
