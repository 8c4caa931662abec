#include "consort/fl/table_matrix.h"

#include <cmath>

namespace consort::fl {
namespace {

StatusOr<double> NumericAt(const data::Table& table, const data::Column& col,
                           const std::string& name, size_t row) {
  if (col.IsNull(row)) {
    return absl::InvalidArgumentError("column '" + name + "' is null at " +
                                      table.RowLocation(row));
  }
  double v = col.type() == data::ColumnType::kInt64 ? static_cast<double>(col.Int64(row))
                                                     : col.Float64(row);
  if (!std::isfinite(v)) {
    return absl::InvalidArgumentError("column '" + name + "' is not finite at " +
                                      table.RowLocation(row));
  }
  return v;
}

StatusOr<const data::Column*> NumericColumn(const data::Table& table, const std::string& name) {
  CONSORT_ASSIGN_OR_RETURN(const data::Column* col, table.ColumnByName(name));
  if (col->type() == data::ColumnType::kString) {
    return absl::InvalidArgumentError("column '" + name + "' of " + table.source() +
                                      " is not numeric");
  }
  return col;
}

}  // namespace

StatusOr<Matrix> TableToMatrix(const data::Table& table, const std::vector<std::string>& columns) {
  Matrix m{table.num_rows(), columns.size(), {}};
  m.data.resize(m.rows * m.cols);
  for (size_t c = 0; c < columns.size(); ++c) {
    CONSORT_ASSIGN_OR_RETURN(const data::Column* col, NumericColumn(table, columns[c]));
    for (size_t r = 0; r < m.rows; ++r) {
      CONSORT_ASSIGN_OR_RETURN(m.data[r * m.cols + c], NumericAt(table, *col, columns[c], r));
    }
  }
  return m;
}

StatusOr<std::vector<double>> TableToLabels(const data::Table& table, const std::string& column) {
  CONSORT_ASSIGN_OR_RETURN(const data::Column* col, NumericColumn(table, column));
  std::vector<double> y(table.num_rows());
  for (size_t r = 0; r < y.size(); ++r) {
    CONSORT_ASSIGN_OR_RETURN(y[r], NumericAt(table, *col, column, r));
    if (y[r] != 0.0 && y[r] != 1.0) {
      return absl::InvalidArgumentError("label column '" + column + "' is not 0/1 at " +
                                        table.RowLocation(r));
    }
  }
  return y;
}

}  // namespace consort::fl
