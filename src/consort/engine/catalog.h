#pragma once
// What the coordinator knows about datasets: metadata only (owner, name, schema, row count).
// Operators validate specs against this view; it never holds rows.

#include <cstdint>
#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::engine {

struct ColumnInfo {
  std::string name;
  std::string type;  // "int64" | "float64" | "string"
};

struct DatasetInfo {
  std::string owner;
  std::string name;
  std::vector<ColumnInfo> columns;
  int64_t rows = 0;
  std::string description;

  // NotFound naming the column and the dataset's columns.
  StatusOr<ColumnInfo> Column(const std::string& column) const;
  Json ToJson() const;
  // Validates untrusted metadata (InvalidArgument naming the field).
  static StatusOr<DatasetInfo> FromJson(const Json& j);
};

class CatalogView {
 public:
  virtual ~CatalogView() = default;
  virtual bool IsMember(const std::string& party) const = 0;
  // NotFound if `owner` has no dataset `name`.
  virtual StatusOr<DatasetInfo> Dataset(const std::string& owner, const std::string& name) const = 0;
};

}  // namespace consort::engine
