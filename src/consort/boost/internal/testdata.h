#pragma once
// FATE's hetero example sets (see /work/shared/data/fate/README.md) for boost tests and the
// boost bench: the guest file (id, y, x0..) and the host file (id, x0..), same ids, same order.
// Directory: $CONSORT_FATE_DATA or /work/shared/data/fate. Header-only, tests/bench only.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "consort/boost/quantile_bins.h"
#include "consort/data/csv.h"

namespace consort::boost::testdata {

struct Hetero {
  std::shared_ptr<const data::Table> guest_table, host_table;
  FeatureMatrix guest, host;  // features only (no id, no label)
  std::vector<double> labels;
};

inline std::string FateDir() {
  const char* d = std::getenv("CONSORT_FATE_DATA");
  return d != nullptr ? d : "/work/shared/data/fate";
}

inline std::vector<std::string> FeatureColumns(const data::Table& t) {
  std::vector<std::string> out;
  for (const auto& c : t.schema().columns()) {
    if (c.name != "id" && c.name != "y") out.push_back(c.name);
  }
  return out;
}

// name: "breast" or "default_credit".
inline StatusOr<Hetero> LoadHetero(const std::string& name) {
  Hetero h;
  CONSORT_ASSIGN_OR_RETURN(data::Table g, data::ReadCsv(FateDir() + "/" + name + "_hetero_guest.csv"));
  CONSORT_ASSIGN_OR_RETURN(data::Table s, data::ReadCsv(FateDir() + "/" + name + "_hetero_host.csv"));
  h.guest_table = std::make_shared<data::Table>(std::move(g));
  h.host_table = std::make_shared<data::Table>(std::move(s));
  CONSORT_ASSIGN_OR_RETURN(h.guest, TableToFeatures(*h.guest_table, FeatureColumns(*h.guest_table)));
  CONSORT_ASSIGN_OR_RETURN(h.host, TableToFeatures(*h.host_table, FeatureColumns(*h.host_table)));
  CONSORT_ASSIGN_OR_RETURN(FeatureMatrix y, TableToFeatures(*h.guest_table, {"y"}));
  h.labels = y.columns[0];
  return h;
}

// Guest columns then host columns (host names prefixed "host.").
inline FeatureMatrix Joined(const Hetero& h) {
  FeatureMatrix x = h.guest;
  for (size_t f = 0; f < h.host.features(); ++f) {
    x.names.push_back("host." + h.host.names[f]);
    x.columns.push_back(h.host.columns[f]);
  }
  return x;
}

}  // namespace consort::boost::testdata
