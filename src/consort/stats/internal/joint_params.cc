#include "consort/stats/internal/joint_params.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace consort::stats::internal {
namespace {

Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(path + ": " + what);
}

bool IsDataParty(const engine::JobSpec& spec, const std::string& p) {
  auto it = spec.parties.find(p);
  return it != spec.parties.end() && it->second.has_data();
}

// "<party>.<column>": the party is the longest prefix before a '.' that names a data party
// (party names may contain dots; a column name may too).
StatusOr<ColumnRef> ParseColumnRef(const engine::JobSpec& spec, const Json& v,
                                   const std::string& path) {
  if (!v.is_string()) return Bad(path, "must be a string \"<party>.<column>\"");
  std::string s = v.get<std::string>();
  std::vector<ColumnRef> found;
  for (size_t dot = s.find('.'); dot != std::string::npos; dot = s.find('.', dot + 1)) {
    std::string party = s.substr(0, dot);
    if (IsDataParty(spec, party) && dot + 1 < s.size()) found.push_back({party, s.substr(dot + 1)});
  }
  if (found.empty()) {
    return Bad(path, "'" + s + "' does not start with a data party's name and a '.'");
  }
  if (found.size() > 1) return Bad(path, "'" + s + "' is ambiguous (party names overlap)");
  return found[0];
}

StatusOr<double> ParseFinite(const Json& v, const std::string& path) {
  if (!v.is_number()) return Bad(path, "must be a number");
  double d = v.get<double>();
  if (!std::isfinite(d)) return Bad(path, "must be finite");
  return d;
}

StatusOr<std::vector<std::string>> ParseStringList(const Json& v, const std::string& path) {
  if (!v.is_array() || v.empty()) return Bad(path, "must be a non-empty array of column names");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) return Bad(path + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

StatusOr<FilterOp> ParseOp(const Json& v, const std::string& path) {
  static const std::map<std::string, FilterOp> kOps = {
      {"<", FilterOp::kLt},  {"<=", FilterOp::kLe}, {">", FilterOp::kGt},
      {">=", FilterOp::kGe}, {"==", FilterOp::kEq}, {"!=", FilterOp::kNe},
      {"in", FilterOp::kIn}, {"not_in", FilterOp::kNotIn}};
  if (v.is_string()) {
    auto it = kOps.find(v.get<std::string>());
    if (it != kOps.end()) return it->second;
  }
  return Bad(path, "must be one of <, <=, >, >=, ==, !=, in, not_in");
}

Status CheckKnownKeys(const Json& obj, const std::vector<std::string>& known,
                      const std::string& path) {
  for (const auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      return absl::InvalidArgumentError("unknown field " + path + "." + k + " (known: " + list +
                                        ")");
    }
  }
  return OkStatus();
}

StatusOr<Statistic> ParseStatistic(const engine::JobSpec& spec, const Json& s,
                                   const std::string& path) {
  static const std::map<std::string, StatKind> kKinds = {
      {"count", StatKind::kCount},           {"sum", StatKind::kSum},
      {"mean", StatKind::kMean},             {"variance", StatKind::kVariance},
      {"std", StatKind::kStd},               {"min", StatKind::kMin},
      {"max", StatKind::kMax},               {"covariance", StatKind::kCovariance},
      {"pearson", StatKind::kPearson},       {"histogram", StatKind::kHistogram},
      {"weighted_sum", StatKind::kWeightedSum}};
  if (!s.is_object()) return Bad(path, "must be an object");
  CONSORT_RETURN_IF_ERROR(
      CheckKnownKeys(s, {"stat", "name", "column", "columns", "weight", "edges"}, path));
  Statistic st;
  if (!s.contains("stat") || !s["stat"].is_string() || !kKinds.count(s["stat"].get<std::string>())) {
    return Bad(path + ".stat",
               "must be one of count, sum, mean, variance, std, min, max, covariance, pearson, "
               "histogram, weighted_sum");
  }
  st.kind = kKinds.at(s["stat"].get<std::string>());
  bool multi = st.kind == StatKind::kCovariance || st.kind == StatKind::kPearson;
  auto forbid = [&](const char* field) -> Status {
    if (s.contains(field)) {
      return Bad(path + "." + field, std::string("is not used by \"") + StatKindName(st.kind) + "\"");
    }
    return OkStatus();
  };
  if (st.kind == StatKind::kCount) {
    CONSORT_RETURN_IF_ERROR(forbid("column"));
    CONSORT_RETURN_IF_ERROR(forbid("columns"));
  } else if (multi) {
    CONSORT_RETURN_IF_ERROR(forbid("column"));
    if (!s.contains("columns") || !s["columns"].is_array() || s["columns"].size() < 2) {
      return Bad(path + ".columns", "must list at least two \"<party>.<column>\"");
    }
    for (size_t i = 0; i < s["columns"].size(); ++i) {
      CONSORT_ASSIGN_OR_RETURN(
          ColumnRef c,
          ParseColumnRef(spec, s["columns"][i], path + ".columns[" + std::to_string(i) + "]"));
      if (std::find(st.columns.begin(), st.columns.end(), c) != st.columns.end()) {
        return Bad(path + ".columns[" + std::to_string(i) + "]", "repeats " + c.Name());
      }
      st.columns.push_back(c);
    }
  } else {
    CONSORT_RETURN_IF_ERROR(forbid("columns"));
    if (!s.contains("column")) return Bad(path + ".column", "is required");
    CONSORT_ASSIGN_OR_RETURN(ColumnRef c, ParseColumnRef(spec, s["column"], path + ".column"));
    st.columns.push_back(c);
  }
  if (st.kind == StatKind::kWeightedSum) {
    if (!s.contains("weight")) return Bad(path + ".weight", "is required");
    CONSORT_ASSIGN_OR_RETURN(st.weight, ParseColumnRef(spec, s["weight"], path + ".weight"));
  } else {
    CONSORT_RETURN_IF_ERROR(forbid("weight"));
  }
  if (st.kind == StatKind::kHistogram) {
    const std::string ep = path + ".edges";
    if (!s.contains("edges") || !s["edges"].is_array() || s["edges"].size() < 2 ||
        s["edges"].size() > 257) {
      return Bad(ep, "must be an array of 2 to 257 increasing numbers");
    }
    for (size_t i = 0; i < s["edges"].size(); ++i) {
      CONSORT_ASSIGN_OR_RETURN(double e, ParseFinite(s["edges"][i], ep + "[" + std::to_string(i) + "]"));
      if (!st.edges.empty() && e <= st.edges.back()) {
        return Bad(ep + "[" + std::to_string(i) + "]", "must be greater than the previous edge");
      }
      st.edges.push_back(e);
    }
  } else {
    CONSORT_RETURN_IF_ERROR(forbid("edges"));
  }
  if (s.contains("name")) {
    if (!s["name"].is_string() || s["name"].get<std::string>().empty() ||
        s["name"].get<std::string>().size() > 128) {
      return Bad(path + ".name", "must be a string of 1 to 128 characters");
    }
    st.name = s["name"].get<std::string>();
  } else {
    st.name = StatKindName(st.kind);
    if (!st.columns.empty()) {
      st.name += "(";
      for (size_t i = 0; i < st.columns.size(); ++i) {
        st.name += (i ? "," : "") + st.columns[i].Name();
      }
      if (st.kind == StatKind::kWeightedSum) st.name += "," + st.weight.Name();
      st.name += ")";
    }
  }
  return st;
}

}  // namespace

const char* StatKindName(StatKind k) {
  switch (k) {
    case StatKind::kCount: return "count";
    case StatKind::kSum: return "sum";
    case StatKind::kMean: return "mean";
    case StatKind::kVariance: return "variance";
    case StatKind::kStd: return "std";
    case StatKind::kMin: return "min";
    case StatKind::kMax: return "max";
    case StatKind::kCovariance: return "covariance";
    case StatKind::kPearson: return "pearson";
    case StatKind::kHistogram: return "histogram";
    case StatKind::kWeightedSum: return "weighted_sum";
  }
  return "?";
}

bool IsSecondOrder(StatKind k) {
  return k == StatKind::kMean || k == StatKind::kVariance || k == StatKind::kStd || k == StatKind::kCovariance ||
         k == StatKind::kPearson || k == StatKind::kWeightedSum;
}

bool NeedsDivision(StatKind k) {
  return k == StatKind::kMean || k == StatKind::kVariance || k == StatKind::kStd ||
         k == StatKind::kCovariance || k == StatKind::kPearson;
}

std::map<ColumnRef, bool> JointParams::ValueColumns() const {
  std::map<ColumnRef, bool> out;
  for (const auto& st : statistics) {
    bool second = IsSecondOrder(st.kind);
    for (const auto& c : st.columns) out[c] = out[c] || second;
    if (st.kind == StatKind::kWeightedSum) out[st.weight] = true;
  }
  return out;
}

StatusOr<JointParams> ParseJointParams(const engine::JobSpec& spec) {
  const Json& p = spec.params;
  if (!p.is_object()) return Bad("$.params", "must be an object");
  CONSORT_RETURN_IF_ERROR(CheckKnownKeys(
      p, {"align", "aligned", "align_options", "filters", "nulls", "scale", "statistics"},
      "$.params"));
  JointParams out;
  std::vector<std::string> data_parties = spec.DataPartyNames();

  bool has_align = p.contains("align");
  bool aligned = p.contains("aligned") && p["aligned"].is_boolean() && p["aligned"].get<bool>();
  if (p.contains("aligned") && !p["aligned"].is_boolean()) {
    return Bad("$.params.aligned", "must be true or false");
  }
  if (has_align == aligned) {
    return Bad("$.params", "give exactly one of \"align\" (PSI alignment on key columns) or "
                           "\"aligned\": true (rows already in the same order)");
  }
  out.aligned = aligned;
  if (has_align) {
    const Json& a = p["align"];
    if (!a.is_object()) return Bad("$.params.align", "must map every data party to its key columns");
    for (const auto& [party, cols] : a.items()) {
      if (!IsDataParty(spec, party)) {
        return Bad("$.params.align." + party, "is not a data party of this job");
      }
      CONSORT_ASSIGN_OR_RETURN(out.keys[party], ParseStringList(cols, "$.params.align." + party));
    }
    for (const auto& dp : data_parties) {
      if (!out.keys.count(dp)) return Bad("$.params.align", "has no key columns for party '" + dp + "'");
    }
    size_t n = out.keys.begin()->second.size();
    for (const auto& [party, cols] : out.keys) {
      if (cols.size() != n) {
        return Bad("$.params.align." + party, "lists " + std::to_string(cols.size()) +
                                                  " key columns, other parties " + std::to_string(n));
      }
    }
  }
  if (p.contains("align_options")) {
    const Json& o = p["align_options"];
    if (!has_align) return Bad("$.params.align_options", "needs \"align\"");
    if (!o.is_object()) return Bad("$.params.align_options", "must be an object");
    CONSORT_RETURN_IF_ERROR(
        CheckKnownKeys(o, {"trim", "casefold", "duplicates"}, "$.params.align_options"));
    for (const char* b : {"trim", "casefold"}) {
      if (!o.contains(b)) continue;
      if (!o[b].is_boolean()) return Bad(std::string("$.params.align_options.") + b, "must be true or false");
      (std::string(b) == "trim" ? out.key_options.trim_whitespace
                                : out.key_options.fold_ascii_case) = o[b].get<bool>();
    }
    if (o.contains("duplicates")) {
      if (o["duplicates"] == "error") {
        out.key_options.duplicates = data::DuplicateKeys::kError;
      } else if (o["duplicates"] == "first") {
        out.key_options.duplicates = data::DuplicateKeys::kDeduplicate;
      } else {
        return Bad("$.params.align_options.duplicates", "must be \"error\" or \"first\"");
      }
    }
  }

  if (p.contains("filters")) {
    const Json& f = p["filters"];
    if (!f.is_object()) return Bad("$.params.filters", "must map parties to lists of filters");
    for (const auto& [party, list] : f.items()) {
      std::string fp = "$.params.filters." + party;
      if (!IsDataParty(spec, party)) return Bad(fp, "is not a data party of this job");
      if (!list.is_array()) return Bad(fp, "must be an array of filters");
      auto& filters = out.filters[party];
      for (size_t i = 0; i < list.size(); ++i) {
        std::string ip = fp + "[" + std::to_string(i) + "]";
        const Json& e = list[i];
        if (!e.is_object()) return Bad(ip, "must be an object {column, op, value}");
        CONSORT_RETURN_IF_ERROR(CheckKnownKeys(e, {"column", "op", "value"}, ip));
        Filter flt;
        if (!e.contains("column") || !e["column"].is_string()) {
          return Bad(ip + ".column", "must be a column name of party '" + party + "'");
        }
        flt.column = e["column"].get<std::string>();
        if (!e.contains("op")) return Bad(ip + ".op", "is required");
        CONSORT_ASSIGN_OR_RETURN(flt.op, ParseOp(e["op"], ip + ".op"));
        if (!e.contains("value")) return Bad(ip + ".value", "is required");
        const Json& v = e["value"];
        bool list_op = flt.op == FilterOp::kIn || flt.op == FilterOp::kNotIn;
        if (list_op) {
          if (!v.is_array() || v.empty() || v.size() > 10000) {
            return Bad(ip + ".value", "must be a non-empty array (at most 10000 values) for in / not_in");
          }
          for (const auto& x : v) flt.values.push_back(x);
        } else {
          flt.values.push_back(v);
        }
        for (size_t k = 0; k < flt.values.size(); ++k) {
          const Json& x = flt.values[k];
          bool ok = x.is_string() || (x.is_number() && std::isfinite(x.get<double>()));
          if (!ok) return Bad(ip + ".value", "must be a finite number or a string");
          bool ordered = flt.op == FilterOp::kLt || flt.op == FilterOp::kLe ||
                         flt.op == FilterOp::kGt || flt.op == FilterOp::kGe;
          if (ordered && !x.is_number()) return Bad(ip + ".value", "must be a number for " + e["op"].get<std::string>());
        }
        filters.push_back(std::move(flt));
      }
    }
  }
  if (p.contains("nulls")) {
    if (p["nulls"] == "error") {
      out.exclude_nulls = false;
    } else if (p["nulls"] == "exclude") {
      out.exclude_nulls = true;
    } else {
      return Bad("$.params.nulls", "must be \"error\" or \"exclude\"");
    }
  }
  if (p.contains("scale")) {
    if (!p["scale"].is_object()) return Bad("$.params.scale", "must map \"<party>.<column>\" to a positive number");
    for (const auto& [name, v] : p["scale"].items()) {
      std::string sp = "$.params.scale." + name;
      CONSORT_ASSIGN_OR_RETURN(ColumnRef c, ParseColumnRef(spec, Json(name), sp));
      CONSORT_ASSIGN_OR_RETURN(double s, ParseFinite(v, sp));
      if (!(s > 0)) return Bad(sp, "must be positive");
      out.scale[c] = s;
    }
  }
  if (!p.contains("statistics") || !p["statistics"].is_array() || p["statistics"].empty() ||
      p["statistics"].size() > 256) {
    return Bad("$.params.statistics", "must be an array of 1 to 256 statistics");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < p["statistics"].size(); ++i) {
    std::string path = "$.params.statistics[" + std::to_string(i) + "]";
    CONSORT_ASSIGN_OR_RETURN(Statistic st, ParseStatistic(spec, p["statistics"][i], path));
    if (!names.insert(st.name).second) {
      return Bad(path + ".name", "'" + st.name + "' is used twice (give each statistic its own name)");
    }
    out.statistics.push_back(std::move(st));
  }
  for (const auto& [c, s] : out.scale) {
    if (!out.ValueColumns().count(c)) {
      return Bad("$.params.scale." + c.Name(), "no statistic reads this column");
    }
  }
  return out;
}

Status ValidateJointParams(const engine::JobSpec& spec, const JointParams& params,
                           const engine::CatalogView& catalog) {
  std::vector<std::string> data_parties = spec.DataPartyNames();
  if (data_parties.size() < 2 || data_parties.size() > 3) {
    return Bad("$.parties", "stats.joint needs two or three data parties");
  }
  for (const auto& [party, kind] : spec.outputs) {
    if (!IsDataParty(spec, party)) {
      return Bad("$.outputs." + party, "only data parties can receive statistics");
    }
  }
  std::map<std::string, engine::DatasetInfo> datasets;
  for (const auto& dp : data_parties) {
    CONSORT_ASSIGN_OR_RETURN(datasets[dp], catalog.Dataset(dp, spec.parties.at(dp).dataset));
  }
  // A column the job reads must be one the party agreed to by listing it (and exist).
  auto column = [&](const std::string& party, const std::string& col,
                    const std::string& path) -> StatusOr<engine::ColumnInfo> {
    const auto& listed = spec.parties.at(party).columns;
    if (std::find(listed.begin(), listed.end(), col) == listed.end()) {
      return Bad(path, "column '" + col + "' of party '" + party + "' is not listed in $.parties." +
                           party + ".columns");
    }
    return datasets.at(party).Column(col);
  };
  if (!params.aligned) {
    const std::string& first = params.keys.begin()->first;
    std::vector<engine::ColumnInfo> first_types;
    for (const auto& [party, cols] : params.keys) {
      for (size_t i = 0; i < cols.size(); ++i) {
        std::string path = "$.params.align." + party + "[" + std::to_string(i) + "]";
        CONSORT_ASSIGN_OR_RETURN(engine::ColumnInfo ci, column(party, cols[i], path));
        if (party == first) {
          first_types.push_back(ci);
        } else if (first_types[i].type != ci.type) {
          return Bad(path, "key column types differ: " + first + "." + first_types[i].name +
                               " is " + first_types[i].type + ", " + party + "." + ci.name +
                               " is " + ci.type);
        }
      }
    }
  }
  for (const auto& [party, filters] : params.filters) {
    for (size_t i = 0; i < filters.size(); ++i) {
      std::string path = "$.params.filters." + party + "[" + std::to_string(i) + "]";
      CONSORT_ASSIGN_OR_RETURN(engine::ColumnInfo ci, column(party, filters[i].column, path + ".column"));
      bool numeric = ci.type != "string";
      for (const auto& v : filters[i].values) {
        if (numeric != v.is_number()) {
          return Bad(path + ".value", "column '" + ci.name + "' is " + ci.type + ", the value is " +
                                          (v.is_number() ? "a number" : "a string"));
        }
      }
    }
  }
  for (size_t i = 0; i < params.statistics.size(); ++i) {
    const Statistic& st = params.statistics[i];
    std::string path = "$.params.statistics[" + std::to_string(i) + "]";
    std::vector<std::pair<ColumnRef, std::string>> refs;
    for (size_t k = 0; k < st.columns.size(); ++k) {
      refs.push_back({st.columns[k], st.columns.size() > 1 || st.kind == StatKind::kCovariance ||
                                             st.kind == StatKind::kPearson
                                         ? path + ".columns[" + std::to_string(k) + "]"
                                         : path + ".column"});
    }
    if (st.kind == StatKind::kWeightedSum) refs.push_back({st.weight, path + ".weight"});
    for (const auto& [c, cpath] : refs) {
      CONSORT_ASSIGN_OR_RETURN(engine::ColumnInfo ci, column(c.party, c.column, cpath));
      if (ci.type != "int64" && ci.type != "float64") {
        return Bad(cpath, c.Name() + " is " + ci.type + "; statistics need a numeric column");
      }
    }
    if (st.kind == StatKind::kHistogram) {
      double s = params.ScaleOf(st.columns[0]);
      for (size_t k = 0; k < st.edges.size(); ++k) {
        if (!(std::fabs(st.edges[k] * s) < kFirstOrderLimit)) {
          return Bad(path + ".edges[" + std::to_string(k) + "]",
                     "is outside the fixed-point range (|edge * scale| < 2^26)");
        }
      }
    }
  }
  return OkStatus();
}

}  // namespace consort::stats::internal
