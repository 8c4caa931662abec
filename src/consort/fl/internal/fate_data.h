#pragma once
// Loads the FATE example splits (/work/shared/data/fate, see its README) for tests and
// benchmarks: guest = y + guest features, host = host features, same ids in the same order.

#include <string>
#include <vector>

#include "consort/common/status.h"
#include "consort/data/csv.h"
#include "consort/fl/plaintext_lr.h"
#include "consort/fl/table_matrix.h"

namespace consort::fl::internal {

inline constexpr char kFateDataDir[] = "/work/shared/data/fate/";

struct HeteroSplit {
  std::vector<int64_t> guest_ids, host_ids;
  Matrix guest, host;         // features only
  std::vector<double> labels; // guest side
};

inline StatusOr<std::vector<std::string>> FeatureNames(const data::Table& t) {
  std::vector<std::string> names;
  for (const auto& c : t.schema().columns()) {
    if (c.name != "id" && c.name != "y") names.push_back(c.name);
  }
  return names;
}

// `name` = "breast" or "default_credit".
inline StatusOr<HeteroSplit> LoadFateHetero(const std::string& name) {
  HeteroSplit s;
  CONSORT_ASSIGN_OR_RETURN(data::Table g,
                           data::ReadCsv(std::string(kFateDataDir) + name + "_hetero_guest.csv"));
  CONSORT_ASSIGN_OR_RETURN(data::Table h,
                           data::ReadCsv(std::string(kFateDataDir) + name + "_hetero_host.csv"));
  CONSORT_ASSIGN_OR_RETURN(auto gn, FeatureNames(g));
  CONSORT_ASSIGN_OR_RETURN(auto hn, FeatureNames(h));
  CONSORT_ASSIGN_OR_RETURN(s.guest, TableToMatrix(g, gn));
  CONSORT_ASSIGN_OR_RETURN(s.host, TableToMatrix(h, hn));
  CONSORT_ASSIGN_OR_RETURN(s.labels, TableToLabels(g, "y"));
  CONSORT_ASSIGN_OR_RETURN(const data::Column* gi, g.ColumnByName("id"));
  CONSORT_ASSIGN_OR_RETURN(const data::Column* hi, h.ColumnByName("id"));
  for (size_t r = 0; r < g.num_rows(); ++r) s.guest_ids.push_back(gi->Int64(r));
  for (size_t r = 0; r < h.num_rows(); ++r) s.host_ids.push_back(hi->Int64(r));
  return s;
}

// [guest | host] columns of rows aligned by position.
inline Matrix JoinColumns(const Matrix& a, const Matrix& b) {
  Matrix m{a.rows, a.cols + b.cols, {}};
  m.data.reserve(m.rows * m.cols);
  for (size_t r = 0; r < a.rows; ++r) {
    for (size_t c = 0; c < a.cols; ++c) m.data.push_back(a.at(r, c));
    for (size_t c = 0; c < b.cols; ++c) m.data.push_back(b.at(r, c));
  }
  return m;
}

}  // namespace consort::fl::internal
