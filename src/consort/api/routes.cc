#include "consort/api/routes.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace consort::api {
namespace {

Json Ref(const std::string& schema) { return {{"$ref", "#/components/schemas/" + schema}}; }

Json Str(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

Json ArrayOf(const Json& items) { return {{"type", "array"}, {"items", items}}; }

// An object schema with the given properties, of which `required` must be present.
Json Obj(Json properties, std::vector<std::string> required) {
  Json j = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) j["required"] = required;
  return j;
}

RouteParam JobIdParam() {
  return {"id", true, "job_id", ParamType::kString, true,
          "Job id: lowercase hex SHA-256 of the spec's canonical JSON (64 characters)."};
}

std::vector<Route> BuildRoutes() {
  std::vector<Route> r;

  r.push_back({"GET", "/v1/health", "", RouteAuth::kPublic, "Liveness check",
               "Answered by the API server itself; says nothing about the database.", {},
               nullptr, Obj({{"status", {{"type", "string"}, {"enum", {"ok"}}}}}, {"status"}),
               {}});

  r.push_back({"GET", "/openapi.json", "", RouteAuth::kPublic, "This OpenAPI document",
               "The OpenAPI 3.0.3 description of every route, generated from the route table.",
               {}, nullptr, {{"type", "object"}}, {}});

  r.push_back({"GET", "/v1/info", "info", RouteAuth::kPublic, "Coordinator identity",
               "The coordinator's name, version, TLS certificate fingerprint (to pin) and "
               "audit-log signing key.",
               {}, nullptr, Ref("Info"), {}});

  r.push_back({"POST", "/v1/tokens", "token.create", RouteAuth::kBearer, "Create an API token",
               "Admin only. Creates a named admin API token; the token is returned once and "
               "stored only as a hash.",
               {},
               Obj({{"name", Str("Token name (1-64 of letters, digits, '_', '-', '.').")}}, {"name"}),
               Obj({{"name", Str("Token name.")},
                    {"token", Str("The bearer token (secret; shown only now).")}},
                   {"name", "token"}),
               {400, 401, 403, 409, 413}});
  r.push_back({"GET", "/v1/tokens", "token.list", RouteAuth::kBearer, "List API tokens",
               "Admin only. Names and creation times; never the tokens.", {}, nullptr,
               Obj({{"tokens", ArrayOf(Obj({{"name", Str("Token name.")},
                                            {"created_at", {{"type", "string"}, {"format", "date-time"}}}},
                                           {"name", "created_at"}))}},
                   {"tokens"}),
               {401, 403}});
  r.push_back({"POST", "/v1/tokens/{name}/revoke", "token.revoke", RouteAuth::kBearer,
               "Revoke an API token", "Admin only. A token cannot revoke itself.",
               {{"name", true, "name", ParamType::kString, true, "Token name."}},
               Obj(Json::object(), {}),
               Obj({{"name", Str("Token name.")}, {"revoked", {{"type", "boolean"}}}}, {"name", "revoked"}),
               {400, 401, 403, 404}});

  r.push_back(
      {"POST", "/v1/invites", "invite.create", RouteAuth::kBearer, "Create a node invite",
       "Admin only. Returns a one-time invite token for the named node; it carries the "
       "coordinator's addresses, certificate fingerprint and signing key.",
       {},
       Obj({{"name", Str("Name of the node (party) to invite.")},
            {"ttl_hours",
             {{"type", "number"}, {"exclusiveMinimum", true}, {"minimum", 0},
              {"description", "Invite lifetime in hours (default: the coordinator's setting)."}}}},
           {"name"}),
       Obj({{"name", Str("The invited node.")},
            {"token", Str("One-time invite token (secret: hand it to the node's operator).")},
            {"expires_at", {{"type", "string"}, {"format", "date-time"}}}},
           {"name", "token", "expires_at"}),
       {400, 401, 403, 409, 413}});

  r.push_back(
      {"POST", "/v1/nodes/register", "node.register", RouteAuth::kInviteInBody,
       "Register a node with an invite",
       "Authenticated by the invite token in the body, not by a bearer token. The entry is the "
       "node's self-signed node.registered audit entry.",
       {},
       Obj({{"token", Str("The invite token.")},
            {"tls_cert_pem", Str("The node's self-signed TLS certificate (PEM).")},
            {"entry", Ref("AuditSubmission")}},
           {"token", "tls_cert_pem", "entry"}),
       Obj({{"name", Str("The registered node.")},
            {"members", ArrayOf(Ref("Member"))},
            {"coordinator_key", Str("The coordinator's Ed25519 public key (base64url).")}},
           {"name", "members", "coordinator_key"}),
       {400, 401, 403, 409, 413}});

  r.push_back({"GET", "/v1/nodes", "members.list", RouteAuth::kBearer, "List federation members",
               "", {}, nullptr, Obj({{"members", ArrayOf(Ref("Member"))}}, {"members"}),
               {401}});

  r.push_back({"GET", "/v1/datasets", "dataset.list", RouteAuth::kBearer,
               "List dataset metadata",
               "Metadata only (owner, name, schema, row count); rows never reach the coordinator.",
               {{"owner", false, "owner", ParamType::kString, false, "Only this party's datasets."}},
               nullptr, Obj({{"datasets", ArrayOf(Ref("DatasetInfo"))}}, {"datasets"}),
               {400, 401}});

  r.push_back({"GET", "/v1/operators", "operator.list", RouteAuth::kPublic, "List operators",
               "Each operator with its security model, parameters and leakage statement.", {},
               nullptr, Obj({{"operators", ArrayOf(Ref("OperatorInfo"))}}, {"operators"}), {}});

  r.push_back({"POST", "/v1/jobs", "job.submit", RouteAuth::kBearer, "Submit a job",
               "Validates the spec against the catalog and proposes it; every data-providing "
               "party must then sign it. The job id is the SHA-256 of the spec's canonical JSON.",
               {}, Obj({{"spec", Ref("JobSpec")}}, {"spec"}),
               Obj({{"job_id", Str("The new job's id.")},
                    {"state", {{"type", "string"}, {"enum", {"proposed"}}}}},
                   {"job_id", "state"}),
               {400, 401, 403, 404, 409, 413}});

  r.push_back({"GET", "/v1/jobs", "job.list", RouteAuth::kBearer, "List jobs",
               "Most recent first (at most 500).",
               {{"state", false, "state", ParamType::kString, false,
                 "Only jobs in this state (proposed, approved, scheduled, running, succeeded, "
                 "failed, rejected, cancelled)."}},
               nullptr, Obj({{"jobs", ArrayOf(Ref("JobSummary"))}}, {"jobs"}), {400, 401}});

  r.push_back({"GET", "/v1/jobs/{id}", "job.get", RouteAuth::kBearer, "Get a job",
               "The job with its spec, signatures, approvals and progress.", {JobIdParam()},
               nullptr, Ref("Job"), {400, 401, 404}});

  r.push_back(
      {"POST", "/v1/jobs/{id}/approve", "job.approve", RouteAuth::kBearer,
       "Relay a party's approval",
       "The signature is the party's Ed25519 SignFor(\"job-approval\", job_id) by its node key "
       "(job_id + \"/attempt/\" + n for the n-th retry); "
       "the coordinator verifies it against the registry.",
       {JobIdParam()},
       Obj({{"party", Str("The approving party.")},
            {"signature", Str("Ed25519 signature, base64url.")},
            {"entry", Ref("AuditSubmission")}},
           {"party", "signature"}),
       Ref("JobSummary"), {400, 401, 403, 404, 409, 413}});

  r.push_back(
      {"POST", "/v1/jobs/{id}/reject", "job.reject", RouteAuth::kBearer, "Relay a party's rejection",
       "The signature is the party's SignFor(\"job-rejection\", job_id + \"\\n\" + reason).",
       {JobIdParam()},
       Obj({{"party", Str("The rejecting party.")},
            {"reason", Str("Why (1 to 1000 characters).")},
            {"signature", Str("Ed25519 signature, base64url.")}},
           {"party", "reason", "signature"}),
       Ref("JobSummary"), {400, 401, 403, 404, 409, 413}});

  r.push_back({"POST", "/v1/jobs/{id}/cancel", "job.cancel", RouteAuth::kBearer, "Cancel a job",
               "Any non-terminal job may be cancelled.", {JobIdParam()},
               Obj({{"reason", Str("Why (optional).")}}, {}), Ref("JobSummary"),
               {400, 401, 403, 404, 413}});

  r.push_back({"POST", "/v1/jobs/{id}/retry", "job.retry", RouteAuth::kBearer, "Retry a failed job",
               "Proposes a failed job again under the same id (attempt + 1); every party signs "
               "the new attempt (standing rules sign automatically); operators that checkpoint "
               "resume from their last checkpoint. Refused while a party has not finished the "
               "previous attempt, and once a party completed the job.",
               {JobIdParam()}, Obj({{"reason", Str("Why (optional; recorded in the audit log).")}}, {}),
               Ref("JobSummary"), {400, 401, 403, 404, 409, 413}});

  r.push_back({"GET", "/v1/models", "model.list", RouteAuth::kBearer, "List model metadata",
               "Metadata only (owner, name, training job, kind, columns, metrics); every party "
               "keeps its part of a model on its own node.",
               {{"owner", false, "owner", ParamType::kString, false, "Only this party's models."}},
               nullptr,
               Obj({{"models",
                     ArrayOf(Obj({{"owner", Str("Party holding this part.")},
                                  {"name", Str("Model name.")},
                                  {"job_id", Str("The training job.")},
                                  {"metadata", {{"type", "object"}}},
                                  {"registered_at", Str("RFC 3339, UTC.")}},
                                 {"owner", "name", "job_id", "metadata", "registered_at"}))}},
                   {"models"}),
               {400, 401}});

  r.push_back({"GET", "/v1/audit", "audit.range", RouteAuth::kBearer, "Read the audit log",
               "Entries [from, from+limit) and the coordinator's signed head.",
               {{"from", false, "from", ParamType::kInteger, false,
                 "First sequence number (default 0)."},
                {"limit", false, "limit", ParamType::kInteger, false,
                 "Maximum number of entries (1 to 1000, default 500)."}},
               nullptr,
               Obj({{"entries", ArrayOf(Ref("AuditEntry"))},
                    {"size", {{"type", "integer"}, {"description", "Entries in the log."}}},
                    {"head", Ref("SignedHead")}},
                   {"entries", "size", "head"}),
               {400, 401}});
  return r;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool IsTemplate(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

// Decodes %XX escapes (and '+' as a space when `plus_is_space`). False on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Matches the raw `path` against `tmpl`, filling `params` with decoded values. Parameters
// match one non-empty segment.
bool MatchPath(std::string_view tmpl, std::string_view path,
               std::map<std::string, std::string>* params) {
  if (path.empty() || path.front() != '/') return false;
  auto t = SplitPath(tmpl);
  auto p = SplitPath(path);
  if (t.size() != p.size()) return false;
  std::map<std::string, std::string> found;
  std::string segment;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!PercentDecode(p[i], /*plus_is_space=*/false, &segment)) return false;
    if (IsTemplate(t[i])) {
      if (segment.empty()) return false;
      found[std::string(t[i].substr(1, t[i].size() - 2))] = segment;
    } else if (t[i] != segment) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

}  // namespace

const std::vector<Route>& RouteTable() {
  static const std::vector<Route>* table = new std::vector<Route>(BuildRoutes());
  return *table;
}

RouteMatch MatchRoute(std::string_view http_method, std::string_view path) {
  std::string_view method = http_method == "HEAD" ? "GET" : http_method;
  RouteMatch m;
  for (const Route& route : RouteTable()) {
    std::map<std::string, std::string> params;
    if (!MatchPath(route.path, path, &params)) continue;
    m.path_known = true;
    if (std::find(m.allowed.begin(), m.allowed.end(), route.http_method) == m.allowed.end()) {
      m.allowed.push_back(route.http_method);
    }
    if (m.route == nullptr && route.http_method == method) {
      m.route = &route;
      m.path_params = std::move(params);
    }
  }
  return m;
}

StatusOr<std::multimap<std::string, std::string>> ParseQueryString(std::string_view query) {
  std::multimap<std::string, std::string> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string name, value;
      if (!PercentDecode(pair.substr(0, eq), true, &name) ||
          (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value))) {
        return absl::InvalidArgumentError("malformed percent-escape in the query string");
      }
      if (name.empty()) return absl::InvalidArgumentError("query parameter without a name");
      out.emplace(std::move(name), std::move(value));
    }
    start = end + 1;
  }
  return out;
}

Status BindParams(const Route& route, const std::map<std::string, std::string>& path_params,
                  const std::multimap<std::string, std::string>& query, Json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  for (const auto& [name, value] : query) {
    auto it = std::find_if(route.params.begin(), route.params.end(), [&](const RouteParam& p) {
      return !p.in_path && p.name == name;
    });
    if (it == route.params.end()) {
      std::string known;
      for (const auto& p : route.params) {
        if (!p.in_path) known += (known.empty() ? "" : ", ") + p.name;
      }
      return absl::InvalidArgumentError("unknown query parameter '" + name + "' for " +
                                        route.http_method + " " + route.path + " (accepted: " +
                                        (known.empty() ? "none" : known) + ")");
    }
  }
  for (const RouteParam& p : route.params) {
    std::string value;
    if (p.in_path) {
      auto it = path_params.find(p.name);
      if (it == path_params.end()) {
        return absl::InvalidArgumentError("missing path parameter '" + p.name + "'");
      }
      value = it->second;
    } else {
      if (query.count(p.name) > 1) {
        return absl::InvalidArgumentError("query parameter '" + p.name + "' is repeated");
      }
      auto it = query.find(p.name);
      if (it == query.end()) {
        if (p.required) {
          return absl::InvalidArgumentError("missing query parameter '" + p.name + "'");
        }
        continue;
      }
      value = it->second;
    }
    Json bound;
    if (p.type == ParamType::kInteger) {
      // Strict decimal: no sign other than '-', no spaces, no trailing characters.
      errno = 0;
      char* end = nullptr;
      long long v = value.empty() ? 0 : std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE ||
          value.front() == '+' || value.front() == ' ') {
        return absl::InvalidArgumentError("parameter '" + p.name + "' must be an integer, got '" +
                                          value.substr(0, 64) + "'");
      }
      bound = static_cast<int64_t>(v);
    } else {
      bound = value;
    }
    auto existing = body.find(p.body_field);
    if (existing != body.end() && *existing != bound) {
      return absl::InvalidArgumentError("body field '" + p.body_field +
                                        "' contradicts the " +
                                        (p.in_path ? "path" : "query") + " parameter '" + p.name +
                                        "'");
    }
    body[p.body_field] = std::move(bound);
  }
  return OkStatus();
}

}  // namespace consort::api
