#include "consort/api/routes.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "consort/api/openapi.h"

namespace consort::api {
namespace {

using absl::StatusCode;

TEST(Routes, TableMirrorsMethodsMd) {
  // coordinator/methods.md, REST column.
  const std::set<std::tuple<std::string, std::string, std::string>> expected = {
      {"GET", "/v1/info", "info"},
      {"POST", "/v1/invites", "invite.create"},
      {"POST", "/v1/tokens", "token.create"},
      {"GET", "/v1/tokens", "token.list"},
      {"POST", "/v1/tokens/{name}/revoke", "token.revoke"},
      {"POST", "/v1/nodes/register", "node.register"},
      {"GET", "/v1/nodes", "members.list"},
      {"GET", "/v1/datasets", "dataset.list"},
      {"GET", "/v1/operators", "operator.list"},
      {"POST", "/v1/jobs", "job.submit"},
      {"GET", "/v1/jobs", "job.list"},
      {"GET", "/v1/jobs/{id}", "job.get"},
      {"POST", "/v1/jobs/{id}/approve", "job.approve"},
      {"POST", "/v1/jobs/{id}/reject", "job.reject"},
      {"POST", "/v1/jobs/{id}/cancel", "job.cancel"},
      {"POST", "/v1/jobs/{id}/retry", "job.retry"},
      {"GET", "/v1/models", "model.list"},
      {"GET", "/v1/audit", "audit.range"},
      {"GET", "/v1/health", ""},
      {"GET", "/openapi.json", ""},
  };
  std::set<std::tuple<std::string, std::string, std::string>> actual;
  for (const Route& r : RouteTable()) actual.insert({r.http_method, r.path, r.method});
  EXPECT_EQ(actual, expected);
}

TEST(Routes, OnlyRegistrationAndPublicReadsSkipTheBearerToken) {
  std::set<std::string> not_bearer;
  for (const Route& r : RouteTable()) {
    if (r.auth != RouteAuth::kBearer) not_bearer.insert(r.http_method + " " + r.path);
    if (r.path == "/v1/nodes/register") {
      EXPECT_EQ(r.auth, RouteAuth::kInviteInBody);
    }
  }
  EXPECT_EQ(not_bearer, (std::set<std::string>{"GET /v1/info", "GET /v1/operators",
                                               "GET /openapi.json", "GET /v1/health",
                                               "POST /v1/nodes/register"}));
}

TEST(Routes, MatchesPathParametersAndMethods) {
  RouteMatch m = MatchRoute("GET", "/v1/jobs/abc123");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "job.get");
  EXPECT_EQ(m.path_params.at("id"), "abc123");

  m = MatchRoute("POST", "/v1/jobs/abc/approve");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "job.approve");
  EXPECT_EQ(m.path_params.at("id"), "abc");

  m = MatchRoute("POST", "/v1/jobs");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "job.submit");
  m = MatchRoute("GET", "/v1/jobs");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "job.list");
  m = MatchRoute("HEAD", "/v1/info");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "info");
}

TEST(Routes, DistinguishesUnknownPathsFromWrongMethods) {
  RouteMatch m = MatchRoute("GET", "/v1/nope");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_FALSE(m.path_known);

  m = MatchRoute("DELETE", "/v1/jobs");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"POST", "GET"}));

  m = MatchRoute("GET", "/v1/jobs/abc/approve");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"POST"}));

  EXPECT_FALSE(MatchRoute("GET", "/v1/jobs/").path_known);       // empty {id}
  EXPECT_FALSE(MatchRoute("GET", "/v1/jobs//approve").path_known);
  EXPECT_FALSE(MatchRoute("GET", "/v1/info/").path_known);       // trailing slash
  EXPECT_FALSE(MatchRoute("GET", "v1/info").path_known);
  EXPECT_FALSE(MatchRoute("GET", "").path_known);
}

TEST(Routes, PercentDecodesEachSegmentAfterSplitting) {
  RouteMatch m = MatchRoute("GET", "/v1/jobs/a%2Fb");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.path_params.at("id"), "a/b");
  m = MatchRoute("GET", "/v1/%69nfo");  // %69 = 'i'
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "info");
  EXPECT_FALSE(MatchRoute("GET", "/v1/jobs/%zz").path_known);
  EXPECT_FALSE(MatchRoute("GET", "/v1/jobs/%4").path_known);
}

TEST(Routes, ParsesQueryStrings) {
  auto q = ParseQueryString("state=running&limit=5&owner=a%20b+c&flag");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->size(), 4u);
  EXPECT_EQ(q->find("state")->second, "running");
  EXPECT_EQ(q->find("owner")->second, "a b c");
  EXPECT_EQ(q->find("flag")->second, "");
  EXPECT_TRUE(ParseQueryString("").ok());
  EXPECT_TRUE(ParseQueryString("&&").value().empty());
  EXPECT_EQ(ParseQueryString("a=%g1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseQueryString("=x").status().code(), StatusCode::kInvalidArgument);
}

const Route& Find(const std::string& http_method, const std::string& path) {
  for (const Route& r : RouteTable()) {
    if (r.http_method == http_method && r.path == path) return r;
  }
  ADD_FAILURE() << "no route " << http_method << " " << path;
  return RouteTable().front();
}

TEST(Routes, BindsPathAndQueryParametersIntoTheBody) {
  Json body = {{"party", "bank"}};
  ASSERT_TRUE(BindParams(Find("POST", "/v1/jobs/{id}/approve"), {{"id", "j1"}}, {}, body).ok());
  EXPECT_EQ(body, Json({{"party", "bank"}, {"job_id", "j1"}}));

  Json audit = Json::object();
  ASSERT_TRUE(BindParams(Find("GET", "/v1/audit"), {}, {{"from", "7"}, {"limit", "-1"}}, audit)
                  .ok());
  EXPECT_EQ(audit, Json({{"from", 7}, {"limit", -1}}));
  EXPECT_TRUE(audit["from"].is_number_integer());

  Json jobs = Json::object();
  ASSERT_TRUE(BindParams(Find("GET", "/v1/jobs"), {}, {{"state", "running"}}, jobs).ok());
  EXPECT_EQ(jobs, Json({{"state", "running"}}));
}

TEST(Routes, RejectsBadParameters) {
  const Route& audit = Find("GET", "/v1/audit");
  for (const char* bad : {"x", "", "1.5", "+3", " 3", "3 ", "99999999999999999999999"}) {
    Json body = Json::object();
    Status st = BindParams(audit, {}, {{"from", bad}}, body);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("'from'"), std::string::npos) << st;
  }
  Json body = Json::object();
  Status st = BindParams(Find("GET", "/v1/jobs"), {}, {{"stat", "running"}}, body);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'stat'"), std::string::npos) << st;

  st = BindParams(Find("GET", "/v1/jobs"), {}, {{"state", "a"}, {"state", "b"}}, body);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("repeated"), std::string::npos) << st;

  Json contradicting = {{"job_id", "other"}};
  st = BindParams(Find("POST", "/v1/jobs/{id}/cancel"), {{"id", "j1"}}, {}, contradicting);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("job_id"), std::string::npos) << st;

  Json same = {{"job_id", "j1"}};
  EXPECT_TRUE(BindParams(Find("POST", "/v1/jobs/{id}/cancel"), {{"id", "j1"}}, {}, same).ok());

  Json array = Json::array();
  EXPECT_EQ(BindParams(Find("POST", "/v1/jobs"), {}, {}, array).code(),
            StatusCode::kInvalidArgument);
}

// --- OpenAPI ------------------------------------------------------------------------------

// Collects every "$ref" in `j`.
void CollectRefs(const Json& j, std::vector<std::string>* refs) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) refs->push_back(v.get<std::string>());
      CollectRefs(v, refs);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectRefs(v, refs);
  }
}

TEST(OpenApi, EveryRouteIsDocumentedAndNothingElse) {
  Json doc = BuildOpenApiDocument();
  size_t operations = 0;
  for (const Route& r : RouteTable()) {
    std::string verb = r.http_method == "GET" ? "get" : "post";
    ASSERT_TRUE(doc["paths"].contains(r.path)) << r.path;
    ASSERT_TRUE(doc["paths"][r.path].contains(verb)) << r.http_method << " " << r.path;
    const Json& op = doc["paths"][r.path][verb];
    EXPECT_FALSE(op.value("summary", "").empty()) << r.path;
    EXPECT_EQ(op["operationId"], OperationId(r.method, r.path));
    for (const RouteParam& p : r.params) {
      bool found = false;
      for (const Json& param : op["parameters"]) {
        if (param["name"] == p.name) {
          found = true;
          EXPECT_EQ(param["in"], p.in_path ? "path" : "query");
        }
      }
      EXPECT_TRUE(found) << r.path << " parameter " << p.name;
    }
  }
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [verb, op] : item.items()) {
      ++operations;
      std::string upper = verb == "get" ? "GET" : verb == "post" ? "POST" : verb;
      bool in_table = false;
      for (const Route& r : RouteTable()) in_table |= r.path == path && r.http_method == upper;
      EXPECT_TRUE(in_table) << "documented but not served: " << verb << " " << path;
    }
  }
  EXPECT_EQ(operations, RouteTable().size());
}

TEST(OpenApi, DocumentIsStructurallyValid) {
  Json doc = BuildOpenApiDocument();
  // It survives a text round trip (it is served as text).
  Json reparsed = Json::parse(doc.dump());
  EXPECT_EQ(reparsed, doc);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_TRUE(doc["info"]["title"].is_string());
  EXPECT_TRUE(doc["info"]["version"].is_string());
  ASSERT_TRUE(doc["paths"].is_object());
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
  for (const char* schema : {"Error", "JobSummary", "Job", "JobSpec", "DatasetInfo", "Member",
                             "OperatorInfo", "AuditEntry"}) {
    EXPECT_TRUE(doc["components"]["schemas"].contains(schema)) << schema;
  }

  std::set<std::string> operation_ids;
  for (const auto& [path, item] : doc["paths"].items()) {
    EXPECT_EQ(path.front(), '/');
    for (const auto& [verb, op] : item.items()) {
      SCOPED_TRACE(verb + " " + path);
      EXPECT_TRUE(operation_ids.insert(op["operationId"].get<std::string>()).second);
      ASSERT_TRUE(op["responses"].is_object());
      ASSERT_TRUE(op["responses"].contains("200"));
      EXPECT_TRUE(op["responses"]["200"]["content"]["application/json"].contains("schema"));
      EXPECT_TRUE(op["responses"].contains("500"));
      for (const auto& [code, response] : op["responses"].items()) {
        EXPECT_TRUE(response["description"].is_string());
        if (code != "200") {
          EXPECT_EQ(response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error");
        }
      }
      // Path template parameters are declared as required path parameters.
      size_t braces = std::count(path.begin(), path.end(), '{');
      size_t declared = 0;
      for (const Json& p : op.value("parameters", Json::array())) {
        if (p["in"] == "path") {
          ++declared;
          EXPECT_EQ(p["required"], true);
          std::string placeholder = p["name"].get<std::string>();
          placeholder.insert(placeholder.begin(), '{');
          placeholder.push_back('}');
          EXPECT_NE(path.find(placeholder), std::string::npos);
        }
      }
      EXPECT_EQ(declared, braces);
      if (verb == "post") {
        EXPECT_TRUE(op["requestBody"]["content"].contains("application/json"));
      }
      ASSERT_TRUE(op["security"].is_array());
    }
  }

  // Every $ref resolves to a component schema.
  std::vector<std::string> refs;
  CollectRefs(doc, &refs);
  EXPECT_FALSE(refs.empty());
  for (const std::string& ref : refs) {
    const std::string prefix = "#/components/schemas/";
    ASSERT_EQ(ref.rfind(prefix, 0), 0u) << ref;
    EXPECT_TRUE(doc["components"]["schemas"].contains(ref.substr(prefix.size()))) << ref;
  }
}

TEST(OpenApi, SecurityMatchesTheRouteTable) {
  Json doc = BuildOpenApiDocument();
  for (const Route& r : RouteTable()) {
    const Json& op = doc["paths"][r.path][r.http_method == "GET" ? "get" : "post"];
    const Json bearer = Json::array({{{"bearerAuth", Json::array()}}});
    switch (r.auth) {
      case RouteAuth::kBearer:
        EXPECT_EQ(op["security"], bearer) << r.path;
        EXPECT_TRUE(op["responses"].contains("401")) << r.path;
        break;
      case RouteAuth::kPublic:
        EXPECT_EQ(op["security"].size(), 2u) << r.path;
        EXPECT_EQ(op["security"][0], Json::object());
        break;
      case RouteAuth::kInviteInBody:
        EXPECT_EQ(op["security"], Json::array()) << r.path;
        break;
    }
  }
}

// A second opinion from an independent validator, when the machine has it (Debian's python3
// with the openapi-spec-validator package); skipped otherwise.
TEST(OpenApi, PassesOpenApiSpecValidatorWhenInstalled) {
  if (std::system("python3 -c 'import openapi_spec_validator' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 openapi_spec_validator not installed";
  }
  auto path = std::filesystem::temp_directory_path() /
              ("consort_openapi_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(path);
    out << BuildOpenApiDocument().dump(2);
  }
  std::string cmd =
      "python3 -c 'import json,sys; from openapi_spec_validator import validate; "
      "validate(json.load(open(sys.argv[1])))' " +
      path.string() + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::filesystem::remove(path);
  EXPECT_EQ(rc, 0) << "openapi-spec-validator rejected the document";
}

TEST(OpenApi, OperationIds) {
  EXPECT_EQ(OperationId("job.get", "/v1/jobs/{id}"), "jobGet");
  EXPECT_EQ(OperationId("invite.create", "/v1/invites"), "inviteCreate");
  EXPECT_EQ(OperationId("", "/v1/health"), "health");
  EXPECT_EQ(OperationId("", "/openapi.json"), "openapi");
}

}  // namespace
}  // namespace consort::api
