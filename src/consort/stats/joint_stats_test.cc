#include "consort/stats/joint_stats.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "consort/engine/operator.h"
#include "consort/engine/testing.h"

namespace consort::stats {
namespace {

using engine::PartyInput;
using engine::testing::CsvTable;
using engine::testing::MakeSpec;
using engine::testing::RunLocally;

const engine::Operator& Op() {
  RegisterStatsOperators();
  return **engine::OperatorRegistry::Global().Find("stats.joint");
}

const std::string kJob(64, 'b');

PartyInput Data(const std::string& ds, std::vector<std::string> cols) {
  PartyInput in;
  in.dataset = ds;
  in.columns = std::move(cols);
  return in;
}
PartyInput Dealer() {
  PartyInput in;
  in.role = "dealer";
  return in;
}

// bank: id, age (int), income (float, negatives allowed); shop: cust, order_value (float),
// w (float), region (string). Keys shuffled, some only on one side.
struct Dataset {
  std::string bank_csv, shop_csv;
  struct BankRow { int64_t age; double income; };
  struct ShopRow { double order_value; double w; std::string region; };
  std::map<std::string, BankRow> bank;
  std::map<std::string, ShopRow> shop;
};

Dataset MakeData(uint64_t seed, int n_common, int n_bank_only, int n_shop_only) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> income(-50, 400), order(0, 120), wdist(-2, 2);
  Dataset d;
  std::vector<std::string> bank_ids, shop_ids;
  for (int i = 0; i < n_common; ++i) {
    bank_ids.push_back("c" + std::to_string(i));
    shop_ids.push_back("c" + std::to_string(i));
  }
  for (int i = 0; i < n_bank_only; ++i) bank_ids.push_back("b" + std::to_string(i));
  for (int i = 0; i < n_shop_only; ++i) shop_ids.push_back("s" + std::to_string(i));
  std::shuffle(bank_ids.begin(), bank_ids.end(), rng);
  std::shuffle(shop_ids.begin(), shop_ids.end(), rng);
  auto fmt = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return std::string(buf);
  };
  d.bank_csv = "id,age,income\n";
  for (const auto& id : bank_ids) {
    Dataset::BankRow r{static_cast<int64_t>(18 + rng() % 60), std::stod(fmt(income(rng)))};
    d.bank[id] = r;
    d.bank_csv += id + "," + std::to_string(r.age) + "," + fmt(r.income) + "\n";
  }
  d.shop_csv = "cust,order_value,w,region\n";
  const char* regions[] = {"north", "south", "east"};
  for (const auto& id : shop_ids) {
    Dataset::ShopRow r{std::stod(fmt(order(rng))), std::stod(fmt(wdist(rng))), regions[rng() % 3]};
    d.shop[id] = r;
    d.shop_csv += id + "," + fmt(r.order_value) + "," + fmt(r.w) + "," + r.region + "\n";
  }
  return d;
}

engine::JobSpec Spec(Json params, std::map<std::string, std::string> outputs = {{"bank", "statistics"}}) {
  return MakeSpec("stats.joint",
                  {{"bank", Data("customers", {"id", "age", "income"})},
                   {"shop", Data("orders", {"cust", "order_value", "w", "region"})},
                   {"tp", Dealer()}},
                  outputs, std::move(params));
}

Json Stats() {
  return Json::parse(R"([
    {"name": "n", "stat": "count"},
    {"stat": "sum", "column": "shop.order_value"},
    {"stat": "sum", "column": "bank.income"},
    {"stat": "min", "column": "bank.income"},
    {"stat": "max", "column": "shop.order_value"},
    {"name": "ages", "stat": "histogram", "column": "bank.age", "edges": [18, 30, 45, 60, 77]},
    {"stat": "weighted_sum", "column": "shop.order_value", "weight": "bank.income",
     "name": "ws"}
  ])");
}

struct Expected {
  int64_t n = 0;
  double sum_order = 0, sum_income = 0, min_income = 1e300, max_order = -1e300, ws = 0;
  std::vector<int64_t> hist = std::vector<int64_t>(4, 0);
};

Expected Plain(const Dataset& d, int min_age, const std::string& region_not) {
  Expected e;
  const std::vector<double> edges = {18, 30, 45, 60, 77};
  for (const auto& [id, b] : d.bank) {
    auto it = d.shop.find(id);
    if (it == d.shop.end()) continue;
    const auto& s = it->second;
    if (b.age < min_age || s.region == region_not) continue;
    ++e.n;
    e.sum_order += s.order_value;
    e.sum_income += b.income;
    e.min_income = std::min(e.min_income, b.income);
    e.max_order = std::max(e.max_order, s.order_value);
    e.ws += s.order_value * b.income;
    for (size_t j = 0; j + 1 < edges.size(); ++j) {
      bool last = j + 2 == edges.size();
      if (b.age >= edges[j] && (b.age < edges[j + 1] || (last && b.age <= edges[j + 1]))) {
        ++e.hist[j];
      }
    }
  }
  return e;
}

void ExpectMatches(const Json& st, const Expected& e) {
  const double ulp = std::ldexp(1.0, -18);
  EXPECT_EQ(st["n"].get<int64_t>(), e.n);
  EXPECT_NEAR(st["sum(shop.order_value)"].get<double>(), e.sum_order, (e.n + 1) * ulp);
  EXPECT_NEAR(st["sum(bank.income)"].get<double>(), e.sum_income, (e.n + 1) * ulp);
  EXPECT_NEAR(st["min(bank.income)"].get<double>(), e.min_income, ulp);
  EXPECT_NEAR(st["max(shop.order_value)"].get<double>(), e.max_order, ulp);
  // Products: encoding error (|x| + |y|) 2^-19 plus one truncation ulp per row.
  EXPECT_NEAR(st["ws"].get<double>(), e.ws, (e.n + 1) * (2 + 520) * ulp);
  std::vector<int64_t> hist;
  for (const auto& c : st["ages"]["counts"]) hist.push_back(c.get<int64_t>());
  EXPECT_EQ(hist, e.hist);
  EXPECT_EQ(st["ages"]["edges"].size(), 5u);
}

TEST(JointStats, TwoPartiesWithDealerMatchPlaintextWithFiltersOnBothSides) {
  Dataset d = MakeData(11, 300, 40, 60);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters",
                  {{"bank", {{{"column", "age"}, {"op", ">="}, {"value", 30}}}},
                   {"shop", {{{"column", "region"}, {"op", "!="}, {"value", "east"}}}}}},
                 {"statistics", Stats()}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  ASSERT_TRUE(out["bank"].summary.contains("statistics")) << out["bank"].summary.dump();
  ExpectMatches(out["bank"].summary["statistics"], Plain(d, 30, "east"));
  EXPECT_EQ(out["bank"].summary["aligned_rows"].get<int64_t>(), 300);
  // Receivers only: the shop and the dealer learn nothing.
  EXPECT_TRUE(out["shop"].summary.is_null());
  EXPECT_TRUE(out["tp"].summary.is_null());
}

TEST(JointStats, NoFiltersAndBothReceivers) {
  Dataset d = MakeData(12, 120, 5, 0);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}}, {"statistics", Stats()}};
  auto out = RunLocally(Op(), kJob, Spec(params, {{"bank", "statistics"}, {"shop", "statistics"}}),
                        {{"bank", CsvTable(d.bank_csv)}, {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  Expected e = Plain(d, 0, "");
  ExpectMatches(out["bank"].summary["statistics"], e);
  ExpectMatches(out["shop"].summary["statistics"], e);
  EXPECT_TRUE(out["tp"].summary.is_null());
}

TEST(JointStats, FilterThatMatchesNothingGivesZeroCountsAndNullExtremes) {
  Dataset d = MakeData(13, 50, 0, 0);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters", {{"bank", {{{"column", "age"}, {"op", ">"}, {"value", 1000}}}}}},
                 {"statistics", Stats()}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_EQ(st["n"].get<int64_t>(), 0);
  EXPECT_NEAR(st["sum(bank.income)"].get<double>(), 0.0, 1e-9);
  EXPECT_TRUE(st["min(bank.income)"].is_null());
  EXPECT_TRUE(st["max(shop.order_value)"].is_null());
}

TEST(JointStats, AlreadyAlignedRows) {
  std::string bank = "age,income\n31,10.5\n45,-3.25\n22,7\n";
  std::string shop = "order_value,w\n1.5,2\n-4,1\n8,0.5\n";
  Json params = {{"aligned", true},
                 {"filters", {{"shop", {{{"column", "w"}, {"op", ">="}, {"value", 1}}}}}},
                 {"statistics", Json::parse(R"([{"name":"n","stat":"count"},
                    {"name":"s","stat":"sum","column":"shop.order_value"},
                    {"name":"ws","stat":"weighted_sum","column":"bank.income","weight":"shop.order_value"}])")}};
  auto spec = MakeSpec("stats.joint",
                       {{"bank", Data("customers", {"age", "income"})},
                        {"shop", Data("orders", {"order_value", "w"})}, {"tp", Dealer()}},
                       {{"shop", "statistics"}}, params);
  auto out = RunLocally(Op(), kJob, spec, {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["shop"].summary["statistics"];
  EXPECT_EQ(st["n"].get<int64_t>(), 2);
  EXPECT_NEAR(st["s"].get<double>(), 1.5 - 4, 1e-5);
  EXPECT_NEAR(st["ws"].get<double>(), 10.5 * 1.5 + -3.25 * -4, 1e-4);
  EXPECT_TRUE(out["bank"].summary.is_null());
}

TEST(JointStats, AlignedWithDifferentRowCountsIsInvalidArgument) {
  Json params = {{"aligned", true}, {"statistics", Json::parse(R"([{"stat":"sum","column":"shop.order_value"}])")}};
  auto spec = MakeSpec("stats.joint",
                       {{"bank", Data("customers", {"age"})},
                        {"shop", Data("orders", {"order_value"})}, {"tp", Dealer()}},
                       {{"bank", "statistics"}}, params);
  auto out = RunLocally(Op(), kJob, spec,
                        {{"bank", CsvTable("age\n1\n2\n")}, {"shop", CsvTable("order_value\n1\n")}});
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out["shop"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(out["tp"].status.ok());
}

TEST(JointStats, ScaleBringsLargeValuesIntoRange) {
  // Incomes in the hundreds of thousands: beyond 2^13 for weighted_sum unless scaled.
  std::string bank = "id,income\na,250000\nb,-120000\nc,90000\n";
  std::string shop = "cust,order_value\nc,3\nb,2\nz,9\na,1.5\n";
  Json stats = Json::parse(R"([{"name":"ws","stat":"weighted_sum","column":"bank.income","weight":"shop.order_value"},
                               {"name":"s","stat":"sum","column":"bank.income"}])");
  auto spec_for = [&](Json scale) {
    Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}}, {"statistics", stats}};
    if (!scale.is_null()) params["scale"] = scale;
    return MakeSpec("stats.joint",
                    {{"bank", Data("customers", {"id", "income"})},
                     {"shop", Data("orders", {"cust", "order_value"})}, {"tp", Dealer()}},
                    {{"bank", "statistics"}}, params);
  };
  auto bad = RunLocally(Op(), kJob, spec_for(nullptr),
                        {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  EXPECT_EQ(bad["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  // Names the column and the line, never the value.
  EXPECT_NE(bad["bank"].status.message().find("income"), std::string::npos);
  EXPECT_NE(bad["bank"].status.message().find(":2"), std::string::npos) << bad["bank"].status;
  EXPECT_EQ(bad["bank"].status.message().find("250000"), std::string::npos);
  auto out = RunLocally(Op(), kJob, spec_for({{"bank.income", 0.001}}),
                        {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_NEAR(st["ws"].get<double>(), 250000 * 1.5 - 120000 * 2 + 90000 * 3, 1.0);
  EXPECT_NEAR(st["s"].get<double>(), 250000 - 120000 + 90000, 0.05);
}

TEST(JointStats, NullsFailUnlessExcluded) {
  std::string bank = "id,income\na,1\nb,\nc,4\n";
  std::string shop = "cust,order_value\na,10\nb,20\nc,30\n";
  auto spec_for = [&](bool exclude) {
    Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                   {"statistics", Json::parse(R"([{"name":"n","stat":"count"},
                      {"name":"s","stat":"sum","column":"shop.order_value"},
                      {"name":"i","stat":"sum","column":"bank.income"}])")}};
    if (exclude) params["nulls"] = "exclude";
    return MakeSpec("stats.joint",
                    {{"bank", Data("customers", {"id", "income"})},
                     {"shop", Data("orders", {"cust", "order_value"})}, {"tp", Dealer()}},
                    {{"bank", "statistics"}}, params);
  };
  auto bad = RunLocally(Op(), kJob, spec_for(false), {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  EXPECT_EQ(bad["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad["bank"].status.message().find("null"), std::string::npos);
  auto out = RunLocally(Op(), kJob, spec_for(true), {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_EQ(st["n"].get<int64_t>(), 2);
  EXPECT_NEAR(st["s"].get<double>(), 40, 1e-5);
  EXPECT_NEAR(st["i"].get<double>(), 5, 1e-5);
}

// Moments over the joined, filtered rows, in plain doubles (sample variance, n - 1).
struct Moments {
  double n = 0, mean_a = 0, mean_b = 0, var_a = 0, var_b = 0, cov = 0;
};
Moments PlainMoments(const std::vector<std::pair<double, double>>& v) {
  Moments m;
  m.n = static_cast<double>(v.size());
  for (auto [a, b] : v) {
    m.mean_a += a / m.n;
    m.mean_b += b / m.n;
  }
  for (auto [a, b] : v) {
    m.var_a += (a - m.mean_a) * (a - m.mean_a) / (m.n - 1);
    m.var_b += (b - m.mean_b) * (b - m.mean_b) / (m.n - 1);
    m.cov += (a - m.mean_a) * (b - m.mean_b) / (m.n - 1);
  }
  return m;
}

TEST(JointStats, ThreeDataPartiesReplicatedSharingMatchPlaintext) {
  Dataset d = MakeData(14, 150, 20, 30);
  // telco: the common ids plus some of its own, shuffled; a numeric score per id.
  std::mt19937_64 rng(99);
  std::vector<std::string> ids;
  for (int i = 0; i < 150; i += 1) {
    if (i % 7 != 3) ids.push_back("c" + std::to_string(i));  // some common ids missing at telco
  }
  for (int i = 0; i < 25; ++i) ids.push_back("t" + std::to_string(i));
  std::shuffle(ids.begin(), ids.end(), rng);
  std::map<std::string, int64_t> score;
  std::string telco = "msisdn,score\n";
  for (const auto& id : ids) {
    score[id] = static_cast<int64_t>(rng() % 200) - 100;
    telco += id + "," + std::to_string(score[id]) + "\n";
  }
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}, {"telco", {"msisdn"}}}},
                 {"filters", {{"bank", {{{"column", "age"}, {"op", "<"}, {"value", 60}}}},
                              {"telco", {{{"column", "score"}, {"op", ">="}, {"value", -50}}}}}},
                 {"statistics", Json::parse(R"([{"name":"n","stat":"count"},
                    {"name":"s","stat":"sum","column":"telco.score"},
                    {"name":"o","stat":"sum","column":"shop.order_value"},
                    {"name":"mx","stat":"max","column":"telco.score"},
                    {"name":"ws","stat":"weighted_sum","column":"shop.order_value","weight":"telco.score"},
                    {"name":"mean","stat":"mean","column":"telco.score"},
                    {"name":"h","stat":"histogram","column":"telco.score","edges":[-100,-25,0,25.5,99]},
                    {"name":"r","stat":"pearson","columns":["shop.order_value","telco.score"]}])")}};
  auto spec = MakeSpec("stats.joint",
                       {{"bank", Data("customers", {"id", "age"})},
                        {"shop", Data("orders", {"cust", "order_value"})},
                        {"telco", Data("lines", {"msisdn", "score"})}},
                       {{"telco", "statistics"}}, params);
  auto out = RunLocally(Op(), kJob, spec, {{"bank", CsvTable(d.bank_csv)},
                                           {"shop", CsvTable(d.shop_csv)},
                                           {"telco", CsvTable(telco)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  int64_t n = 0, s = 0, mx = -1000;
  double o = 0, ws = 0;
  std::vector<std::pair<double, double>> joined;
  std::vector<int64_t> hist(4, 0);
  for (const auto& [id, b] : d.bank) {
    if (!d.shop.count(id) || !score.count(id)) continue;
    if (b.age >= 60 || score[id] < -50) continue;
    ++n;
    s += score[id];
    mx = std::max(mx, score[id]);
    o += d.shop.at(id).order_value;
    ws += d.shop.at(id).order_value * static_cast<double>(score[id]);
    joined.emplace_back(d.shop.at(id).order_value, static_cast<double>(score[id]));
    const double e[] = {-100, -25, 0, 25.5, 99};
    for (int j = 0; j < 4; ++j) {
      double v = static_cast<double>(score[id]);
      if (v >= e[j] && (v < e[j + 1] || (j == 3 && v <= e[4]))) ++hist[j];
    }
  }
  Moments m = PlainMoments(joined);
  const Json& st = out["telco"].summary["statistics"];
  const double ulp = std::ldexp(1.0, -18);
  EXPECT_EQ(st["n"].get<int64_t>(), n);
  EXPECT_NEAR(st["s"].get<double>(), static_cast<double>(s), 1e-9);
  EXPECT_NEAR(st["mx"].get<double>(), static_cast<double>(mx), 1e-9);
  EXPECT_NEAR(st["o"].get<double>(), o, (n + 1) * ulp);
  EXPECT_NEAR(st["ws"].get<double>(), ws, (n + 1) * 300 * ulp);
  EXPECT_NEAR(st["mean"].get<double>(), m.mean_b, 1e-4);
  EXPECT_EQ(st["h"]["counts"].get<std::vector<int64_t>>(), hist);
  EXPECT_NEAR(st["r"]["matrix"][0][1].get<double>(), m.cov / std::sqrt(m.var_a * m.var_b), 1e-4);
  EXPECT_TRUE(out["bank"].summary.is_null());
  EXPECT_TRUE(out["shop"].summary.is_null());
}

Json MomentStats() {
  return Json::parse(R"([
    {"name": "mean_income", "stat": "mean", "column": "bank.income"},
    {"name": "mean_order", "stat": "mean", "column": "shop.order_value"},
    {"name": "var_income", "stat": "variance", "column": "bank.income"},
    {"name": "std_order", "stat": "std", "column": "shop.order_value"},
    {"name": "cov", "stat": "covariance", "columns": ["bank.income", "shop.order_value", "bank.age"]},
    {"name": "r", "stat": "pearson", "columns": ["bank.income", "shop.order_value"]}
  ])");
}

void ExpectMoments(const Json& st, const Moments& m) {
  double sa = std::sqrt(m.var_a), sb = std::sqrt(m.var_b);
  EXPECT_NEAR(st["mean_income"].get<double>(), m.mean_a, 1e-4);
  EXPECT_NEAR(st["mean_order"].get<double>(), m.mean_b, 1e-4);
  EXPECT_NEAR(st["var_income"].get<double>(), m.var_a, 2e-5 * m.var_a + 1e-3);
  EXPECT_NEAR(st["std_order"].get<double>(), sb, 1e-5 * sb + 1e-4);
  const Json& cov = st["cov"];
  ASSERT_EQ(cov["columns"].size(), 3u);
  EXPECT_EQ(cov["columns"][0], "bank.income");
  EXPECT_NEAR(cov["matrix"][0][0].get<double>(), m.var_a, 2e-5 * m.var_a + 1e-3);
  EXPECT_NEAR(cov["matrix"][1][1].get<double>(), m.var_b, 2e-5 * m.var_b + 1e-3);
  EXPECT_NEAR(cov["matrix"][0][1].get<double>(), m.cov, 1e-4 * sa * sb + 1e-3);
  EXPECT_EQ(cov["matrix"][0][1], cov["matrix"][1][0]);
  const Json& r = st["r"]["matrix"];
  EXPECT_NEAR(r[0][0].get<double>(), 1.0, 1e-5);
  EXPECT_NEAR(r[0][1].get<double>(), m.cov / (sa * sb), 1e-4);
}

TEST(JointStats, MomentsWithSecretCountMatchPlaintext) {
  Dataset d = MakeData(15, 400, 50, 30);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters",
                  {{"bank", {{{"column", "age"}, {"op", "<="}, {"value", 65}}}},
                   {"shop", {{{"column", "region"}, {"op", "in"}, {"value", {"north", "south"}}}}}}},
                 {"statistics", MomentStats()}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  std::vector<std::pair<double, double>> joined;
  for (const auto& [id, b] : d.bank) {
    auto it = d.shop.find(id);
    if (it == d.shop.end() || b.age > 65 || it->second.region == "east") continue;
    joined.emplace_back(b.income, it->second.order_value);
  }
  ExpectMoments(out["bank"].summary["statistics"], PlainMoments(joined));
  EXPECT_TRUE(out["shop"].summary.is_null());
}

// Timing at 20k joined rows (all 13 statistics, 2PC + dealer, in-memory links). Disabled by
// default (about 10 s on a loaded 2-core machine); run with
//   consort_stats_test --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
TEST(JointStats, DISABLED_Timing) {
  Dataset d = MakeData(21, 20000, 2000, 2000);
  Json stats = MomentStats();
  for (const auto& e : Stats()) stats.push_back(e);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters", {{"bank", {{{"column", "age"}, {"op", ">="}, {"value", 30}}}}}},
                 {"statistics", stats}};
  auto t0 = std::chrono::steady_clock::now();
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  auto t1 = std::chrono::steady_clock::now();
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  ExpectMatches(out["bank"].summary["statistics"], Plain(d, 30, ""));
  std::printf("stats.joint 20000 rows: %.2f s; bytes sent bank %llu, shop %llu, dealer %llu\n",
              std::chrono::duration<double>(t1 - t0).count(),
              static_cast<unsigned long long>(out["bank"].bytes_sent),
              static_cast<unsigned long long>(out["shop"].bytes_sent),
              static_cast<unsigned long long>(out["tp"].bytes_sent));
}

TEST(JointStats, MomentsWithoutFiltersAndWithScale) {
  Dataset d = MakeData(16, 200, 0, 10);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"scale", {{"bank.income", 0.25}}},
                 {"statistics", MomentStats()}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  std::vector<std::pair<double, double>> joined;
  for (const auto& [id, b] : d.bank) {
    if (d.shop.count(id)) joined.emplace_back(b.income, d.shop.at(id).order_value);
  }
  // With scale 0.25 the encoding error grows 4x on income: still inside the tolerances.
  ExpectMoments(out["bank"].summary["statistics"], PlainMoments(joined));
}

TEST(JointStats, UndefinedMomentsAreNull) {
  // One row passes: mean defined, variance/std/pearson undefined (n - 1 = 0).
  std::string bank = "id,income,age\na,5,30\nb,7,40\n";
  std::string shop = "cust,order_value,w,region\na,1,0,north\nb,2,0,east\n";
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters", {{"shop", {{{"column", "region"}, {"op", "=="}, {"value", "north"}}}}}},
                 {"statistics", Json::parse(R"([
                    {"name":"m","stat":"mean","column":"bank.income"},
                    {"name":"v","stat":"variance","column":"bank.income"},
                    {"name":"r","stat":"pearson","columns":["bank.income","shop.order_value"]}])")}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_NEAR(st["m"].get<double>(), 5.0, 1e-4);
  EXPECT_TRUE(st["v"].is_null()) << st.dump();
  EXPECT_TRUE(st["r"]["matrix"][0][1].is_null()) << st.dump();
  EXPECT_TRUE(st["r"]["matrix"][0][0].is_null()) << st.dump();
}

TEST(JointStats, DuplicateKeysFailUnlessFirstRowIsTaken) {
  std::string bank = "id,income\na,1\nb,2\na,100\nc,4\n";
  std::string shop = "cust,order_value\n A,10\nb,20\nd,5\n";
  auto spec_for = [&](const char* duplicates) {
    Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                   {"align_options", {{"duplicates", duplicates}, {"trim", true}, {"casefold", true}}},
                   {"statistics", Json::parse(R"([{"name":"n","stat":"count"},
                      {"name":"i","stat":"sum","column":"bank.income"},
                      {"name":"o","stat":"sum","column":"shop.order_value"}])")}};
    return MakeSpec("stats.joint",
                    {{"bank", Data("customers", {"id", "income"})},
                     {"shop", Data("orders", {"cust", "order_value"})}, {"tp", Dealer()}},
                    {{"bank", "statistics"}}, params);
  };
  auto bad = RunLocally(Op(), kJob, spec_for("error"), {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  EXPECT_EQ(bad["bank"].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad["bank"].status.message().find("duplicate"), std::string::npos) << bad["bank"].status;
  auto out = RunLocally(Op(), kJob, spec_for("first"), {{"bank", CsvTable(bank)}, {"shop", CsvTable(shop)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_EQ(st["n"].get<int64_t>(), 2);  // a (first row, trimmed and case-folded) and b
  EXPECT_NEAR(st["i"].get<double>(), 3, 1e-5);
  EXPECT_NEAR(st["o"].get<double>(), 30, 1e-5);
}

TEST(JointStats, EmptyIntersection) {
  Dataset d = MakeData(18, 0, 20, 20);
  Json stats = MomentStats();
  for (const auto& e : Stats()) stats.push_back(e);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
                 {"filters", {{"bank", {{{"column", "age"}, {"op", ">="}, {"value", 30}}}}}},
                 {"statistics", stats}};
  auto out = RunLocally(Op(), kJob, Spec(params), {{"bank", CsvTable(d.bank_csv)},
                                                   {"shop", CsvTable(d.shop_csv)}});
  for (const auto& [p, o] : out) ASSERT_TRUE(o.status.ok()) << p << ": " << o.status;
  const Json& st = out["bank"].summary["statistics"];
  EXPECT_EQ(st["n"].get<int64_t>(), 0);
  EXPECT_TRUE(st["mean_income"].is_null());
  EXPECT_TRUE(st["min(bank.income)"].is_null());
  EXPECT_EQ(st["ages"]["counts"], Json::parse("[0,0,0,0]"));
  EXPECT_EQ(out["bank"].summary["aligned_rows"].get<int64_t>(), 0);
}

TEST(JointStats, DealerGoneFailsTheDataParties) {
  Dataset d = MakeData(17, 30, 0, 0);
  Json params = {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}}, {"statistics", Stats()}};
  engine::testing::LocalRunOptions opts;
  opts.fail_party = "tp";
  opts.fail_after_messages = 0;
  opts.link_timeout = std::chrono::milliseconds(5000);
  auto out = RunLocally(Op(), kJob, Spec(params),
                        {{"bank", CsvTable(d.bank_csv)}, {"shop", CsvTable(d.shop_csv)}}, opts);
  EXPECT_EQ(out["bank"].status.code(), absl::StatusCode::kUnavailable) << out["bank"].status;
  EXPECT_EQ(out["shop"].status.code(), absl::StatusCode::kUnavailable) << out["shop"].status;
  EXPECT_TRUE(out["bank"].summary.is_null());
}

// ---- Validation: exact codes, the field named ---------------------------------------------

class JointStatsValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterStatsOperators();  // each test may run in its own process (ctest)
    catalog_.Add({"bank", "customers", {{"id", "string"}, {"age", "int64"}, {"income", "float64"}}, 10, ""});
    catalog_.Add({"shop", "orders",
                  {{"cust", "string"}, {"order_value", "float64"}, {"w", "float64"}, {"region", "string"}},
                  10, ""});
    catalog_.members.insert("tp");
  }
  Status Check(Json params, std::map<std::string, std::string> outputs = {{"bank", "statistics"}}) {
    return engine::ValidateJob(Spec(std::move(params), std::move(outputs)), catalog_);
  }
  static Json Base() {
    return {{"align", {{"bank", {"id"}}, {"shop", {"cust"}}}},
            {"statistics", Json::parse(R"([{"stat":"count"}])")}};
  }
  engine::testing::StaticCatalog catalog_;
};

TEST_F(JointStatsValidate, GoodSpecPasses) {
  Json p = Base();
  p["statistics"] = Stats();
  p["filters"] = {{"shop", {{{"column", "region"}, {"op", "in"}, {"value", {"north", "south"}}}}}};
  EXPECT_TRUE(Check(p).ok()) << Check(p);
}

void ExpectInvalid(const Status& st, const std::string& needle) {
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find(needle), std::string::npos) << st;
}

TEST_F(JointStatsValidate, BadSpecsNameTheField) {
  Json p = Base();
  p["aligned"] = true;
  ExpectInvalid(Check(p), "exactly one of");
  p = Base();
  p.erase("statistics");
  ExpectInvalid(Check(p), "$.params.statistics");
  p = Base();
  p["statistics"] = Json::parse(R"([{"stat":"median","column":"bank.age"}])");
  ExpectInvalid(Check(p), "$.params.statistics[0].stat");
  p["statistics"] = Json::parse(R"([{"stat":"sum","column":"bank.nosuch"}])");
  ExpectInvalid(Check(p), "$.params.statistics[0].column");
  p["statistics"] = Json::parse(R"([{"stat":"sum","column":"shop.region"}])");
  ExpectInvalid(Check(p), "numeric");
  p["statistics"] = Json::parse(R"([{"stat":"sum","column":"nobody.age"}])");
  ExpectInvalid(Check(p), "$.params.statistics[0].column");
  p["statistics"] = Json::parse(R"([{"stat":"histogram","column":"bank.age","edges":[3,2]}])");
  ExpectInvalid(Check(p), "$.params.statistics[0].edges[1]");
  p["statistics"] = Json::parse(R"([{"stat":"count"},{"stat":"count"}])");
  ExpectInvalid(Check(p), "$.params.statistics[1].name");
  p["statistics"] = Json::parse(R"([{"stat":"weighted_sum","column":"bank.age"}])");
  ExpectInvalid(Check(p), "$.params.statistics[0].weight");
  p = Base();
  p["align"] = {{"bank", {"id"}}};
  ExpectInvalid(Check(p), "$.params.align");
  p["align"] = {{"bank", {"id"}}, {"shop", {"order_value"}}};
  ExpectInvalid(Check(p), "types differ");
  p = Base();
  p["filters"] = {{"bank", {{{"column", "age"}, {"op", "~"}, {"value", 3}}}}};
  ExpectInvalid(Check(p), "$.params.filters.bank[0].op");
  p["filters"] = {{"bank", {{{"column", "age"}, {"op", ">"}, {"value", "x"}}}}};
  ExpectInvalid(Check(p), "$.params.filters.bank[0].value");
  p["filters"] = {{"shop", {{{"column", "region"}, {"op", "=="}, {"value", 3}}}}};
  ExpectInvalid(Check(p), "$.params.filters.shop[0].value");
  p = Base();
  p["scale"] = {{"bank.income", -1}};
  ExpectInvalid(Check(p), "$.params.scale.bank.income");
  p = Base();
  p["nulls"] = "skip";
  ExpectInvalid(Check(p), "$.params.nulls");
  p = Base();
  p["bogus"] = 1;
  ExpectInvalid(Check(p), "$.params.bogus");
  ExpectInvalid(Check(Base(), {{"tp", "statistics"}}), "$.outputs.tp");
}

TEST_F(JointStatsValidate, ColumnsMustBeListedInTheSpec) {
  Json p = Base();
  p["statistics"] = Json::parse(R"([{"stat":"sum","column":"bank.income"}])");
  auto spec = MakeSpec("stats.joint",
                       {{"bank", Data("customers", {"id"})},
                        {"shop", Data("orders", {"cust"})}, {"tp", Dealer()}},
                       {{"bank", "statistics"}}, p);
  Status st = engine::ValidateJob(spec, catalog_);
  ExpectInvalid(st, "not listed in $.parties.bank.columns");
}

TEST_F(JointStatsValidate, TwoDataPartiesNeedADealer) {
  auto spec = MakeSpec("stats.joint",
                       {{"bank", Data("customers", {"id"})}, {"shop", Data("orders", {"cust"})}},
                       {{"bank", "statistics"}}, Base());
  ExpectInvalid(engine::ValidateJob(spec, catalog_), "dealer");
}

}  // namespace
}  // namespace consort::stats
