#include "consort/engine/catalog.h"

namespace consort::engine {

StatusOr<ColumnInfo> DatasetInfo::Column(const std::string& column) const {
  std::string names;
  for (const auto& c : columns) {
    if (c.name == column) return c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  return absl::NotFoundError("dataset '" + owner + "/" + name + "' has no column '" + column +
                             "' (columns: " + names + ")");
}

Json DatasetInfo::ToJson() const {
  Json cols = Json::array();
  for (const auto& c : columns) cols.push_back({{"name", c.name}, {"type", c.type}});
  return {{"owner", owner}, {"name", name}, {"columns", cols}, {"rows", rows},
          {"description", description}};
}

StatusOr<DatasetInfo> DatasetInfo::FromJson(const Json& j) {
  DatasetInfo d;
  CONSORT_ASSIGN_OR_RETURN(d.owner, GetString(j, "owner", "$"));
  CONSORT_ASSIGN_OR_RETURN(d.name, GetString(j, "name", "$"));
  if (j.contains("description")) {
    CONSORT_ASSIGN_OR_RETURN(d.description, GetString(j, "description", "$"));
  }
  if (!j.contains("rows") || !j["rows"].is_number_integer() || j["rows"].get<int64_t>() < 0) {
    return absl::InvalidArgumentError("$.rows must be a non-negative integer");
  }
  d.rows = j["rows"].get<int64_t>();
  CONSORT_ASSIGN_OR_RETURN(const Json* cols, GetArray(j, "columns", "$"));
  for (size_t i = 0; i < cols->size(); ++i) {
    std::string path = "$.columns[" + std::to_string(i) + "]";
    ColumnInfo c;
    CONSORT_ASSIGN_OR_RETURN(c.name, GetString((*cols)[i], "name", path));
    CONSORT_ASSIGN_OR_RETURN(c.type, GetString((*cols)[i], "type", path));
    if (c.type != "int64" && c.type != "float64" && c.type != "string") {
      return absl::InvalidArgumentError(path + ".type must be int64, float64 or string");
    }
    d.columns.push_back(std::move(c));
  }
  return d;
}

}  // namespace consort::engine
