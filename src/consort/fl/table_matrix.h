#pragma once
// Conversion of a party's table columns to the dense feature matrix the LR trainers use.

#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/table.h"
#include "consort/fl/plaintext_lr.h"

namespace consort::fl {

// The named int64/float64 columns as a rows x columns.size() matrix. NotFound for an unknown
// column; InvalidArgument (naming the column and the row's location, never the value) for a
// string column, a null or a non-finite value.
StatusOr<Matrix> TableToMatrix(const data::Table& table, const std::vector<std::string>& columns);

// A binary label column as doubles: InvalidArgument unless every value is 0 or 1.
StatusOr<std::vector<double>> TableToLabels(const data::Table& table, const std::string& column);

}  // namespace consort::fl
