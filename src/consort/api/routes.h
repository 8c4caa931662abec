#pragma once
// The REST route table: one entry per HTTP route, shared by the server (matching, parameter
// binding, authentication) and the OpenAPI generator (documentation), so a route cannot be
// served without being documented. Routes and coordinator methods: coordinator/methods.md.
//
// Path parameters ({id}) and query parameters become fields of the JSON body handed to the
// coordinator method; POST bodies are JSON objects merged with them.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::api {

enum class RouteAuth {
  kPublic,        // no token needed; a token, if sent, is still checked and names the caller
  kBearer,        // `Authorization: Bearer <token>` required (401 otherwise)
  kInviteInBody,  // dispatched as Caller::Anonymous(); the invite token in the body authenticates
};

enum class ParamType { kString, kInteger };

struct RouteParam {
  std::string name;        // as written in the URL: "id", "state"
  bool in_path = false;    // path segment, else query string
  std::string body_field;  // the method body field it fills: "job_id"
  ParamType type = ParamType::kString;
  bool required = false;   // path parameters are always required
  std::string description;
};

struct Route {
  std::string http_method;  // "GET" or "POST"
  std::string path;         // OpenAPI path template: "/v1/jobs/{id}"
  std::string method;       // coordinator method ("job.get"); empty for routes the server answers
  RouteAuth auth = RouteAuth::kBearer;
  std::string summary;
  std::string description;
  std::vector<RouteParam> params;
  Json request_schema;   // JSON Schema of the POST body (null for GET)
  Json response_schema;  // JSON Schema of the 200 body
  std::vector<int> errors;  // HTTP error statuses the route documents
};

// Every route, in documentation order. Immutable; thread-safe.
const std::vector<Route>& RouteTable();

// Largest accepted request body (larger -> 413).
inline constexpr size_t kMaxRequestBodyBytes = 4 << 20;

// Result of matching a request line against the table.
struct RouteMatch {
  const Route* route = nullptr;         // null if nothing matched
  bool path_known = false;              // some route has this path (-> 405 rather than 404)
  std::vector<std::string> allowed;     // methods of the routes with this path (for Allow:)
  std::map<std::string, std::string> path_params;  // "id" -> "ab12..."
};

// Matches `http_method` ("HEAD" counts as "GET") and a raw (still percent-encoded) `path`
// without query string; each segment is decoded before it is compared or bound.
RouteMatch MatchRoute(std::string_view http_method, std::string_view path);

// Splits a raw query string ("state=running&limit=5", without '?') into decoded name/value
// pairs ('+' is a space, %XX escapes). InvalidArgument for a malformed escape.
StatusOr<std::multimap<std::string, std::string>> ParseQueryString(std::string_view query);

// Binds a matched route's path and query parameters into `body` (a JSON object, the POST body or
// {}). InvalidArgument naming the parameter for an unknown, repeated, missing or mistyped query
// parameter, or a body field that contradicts a path parameter.
Status BindParams(const Route& route, const std::map<std::string, std::string>& path_params,
                  const std::multimap<std::string, std::string>& query, Json& body);

}  // namespace consort::api
