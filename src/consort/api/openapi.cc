#include "consort/api/openapi.h"

#include <cctype>
#include <map>

#include "consort/api/http_status.h"
#include "consort/api/routes.h"

namespace consort::api {
namespace {

constexpr char kApiVersion[] = "0.1.0";

Json Ref(const std::string& schema) { return {{"$ref", "#/components/schemas/" + schema}}; }
Json Type(const std::string& t, const std::string& description = "") {
  Json j = {{"type", t}};
  if (!description.empty()) j["description"] = description;
  return j;
}
Json Format(const std::string& t, const std::string& format, const std::string& description) {
  return {{"type", t}, {"format", format}, {"description", description}};
}
Json Hex64(const std::string& description) {
  return {{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}, {"description", description}};
}
Json ArrayOf(const Json& items) { return {{"type", "array"}, {"items", items}}; }
Json MapOf(const Json& values) {
  return {{"type", "object"}, {"additionalProperties", values}};
}
Json Obj(Json properties, std::vector<std::string> required) {
  Json j = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) j["required"] = required;
  return j;
}

Json JobStateSchema() {
  return {{"type", "string"},
          {"enum",
           {"proposed", "approved", "scheduled", "running", "succeeded", "failed", "rejected",
            "cancelled"}}};
}

Json Schemas() {
  Json s = Json::object();
  Json codes = Json::array();
  for (int c = 1; c <= 16; ++c) codes.push_back(StatusCodeName(static_cast<absl::StatusCode>(c)));
  s["Error"] = Obj(
      {{"error", Obj({{"code", {{"type", "string"}, {"enum", codes},
                                {"description", "Canonical status code name."}}},
                      {"message", Type("string", "What went wrong, naming the field or object.")},
                      {"http_status", Type("integer", "The HTTP status of the response.")}},
                     {"code", "message", "http_status"})}},
      {"error"});

  s["Info"] = Obj({{"name", Type("string")},
                   {"version", Type("string")},
                   {"tls_fingerprint", Hex64("SHA-256 of the coordinator's TLS certificate (DER); "
                                             "clients pin it.")},
                   {"signing_key", Type("string", "Ed25519 public key (base64url) that signs the "
                                                  "audit log.")},
                   {"grpc_listen", Type("string", "Node control plane address (host:port).")},
                   {"api_listen", Type("string", "REST API address (host:port).")},
                   {"peer_address",
                    Type("string", "Peer endpoint (pinned mutual TLS) over which the coordinator "
                                   "acts as the MPC dealer of jobs naming party \"coordinator\"; "
                                   "empty when it does not.")},
                   {"hosts_dealer", Type("boolean", "Whether jobs may name the coordinator as "
                                                    "their dealer.")}},
                  {"name", "version", "tls_fingerprint", "signing_key", "grpc_listen",
                   "api_listen", "peer_address", "hosts_dealer"});

  // A data party ({dataset, columns}) or a dataless party in a role ({role}).
  Json party_input = Obj({{"dataset", Type("string")},
                          {"columns", ArrayOf(Type("string"))},
                          {"role", Type("string", "Role of a dataless party, e.g. dealer.")}},
                         {});
  party_input["additionalProperties"] = false;
  s["JobSpec"] = Obj({{"operator", Type("string", "Operator name, e.g. psi.ecdh.")},
                      {"name", Type("string")},
                      {"description", Type("string")},
                      {"parties", MapOf(party_input)},
                      {"outputs", MapOf(Type("string", "Output kind the operator offers."))},
                      {"params", Type("object", "Operator-specific parameters.")},
                      {"nonce", Type("string", "Makes a re-run of the same spec a new job.")}},
                     {"operator", "parties", "outputs"});
  s["JobSpec"]["description"] =
      "The document every involved party signs; its canonical JSON's SHA-256 is the job id.";

  Json summary_props = {
      {"job_id", Hex64("Job id.")},
      {"operator", Type("string")},
      {"name", Type("string")},
      {"state", JobStateSchema()},
      {"reason", Type("string", "Why the job failed, was rejected or cancelled.")},
      {"parties", ArrayOf(Type("string"))},
      {"outputs", MapOf(Type("string"))},
      {"submitted_by", Type("string", "\"node:<name>\" or \"api:<token name>\".")},
      {"created_at", Format("string", "date-time", "RFC 3339, UTC.")},
      {"updated_at", Format("string", "date-time", "RFC 3339, UTC.")},
      {"attempt", Type("integer", "0 for the first run; + 1 per `job retry`.")},
      {"approvals", MapOf({{"type", "string"}, {"enum", {"approved", "rejected", "pending"}}})},
      {"rejections", MapOf(Type("string", "The rejecting party's reason."))},
      {"progress",
       MapOf(Obj({{"run_state", Type("string", "\"\", started, succeeded or failed.")},
                  {"fraction", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
                  {"stage", Type("string")}},
                 {}))}};
  std::vector<std::string> summary_required = {
      "job_id",   "operator", "name",       "state",      "reason",    "parties",
      "outputs",  "submitted_by", "created_at", "updated_at", "attempt", "approvals", "progress"};
  s["JobSummary"] = Obj(summary_props, summary_required);
  Json job_props = summary_props;
  job_props["spec"] = Ref("JobSpec");
  job_props["signatures"] = MapOf(Type("string", "The party's approval signature (base64url)."));
  std::vector<std::string> job_required = summary_required;
  job_required.push_back("spec");
  job_required.push_back("signatures");
  s["Job"] = Obj(job_props, job_required);

  s["DatasetInfo"] = Obj(
      {{"owner", Type("string")},
       {"name", Type("string")},
       {"columns", ArrayOf(Obj({{"name", Type("string")},
                                {"type", {{"type", "string"},
                                          {"enum", {"int64", "float64", "string"}}}}},
                               {"name", "type"}))},
       {"rows", {{"type", "integer"}, {"minimum", 0}}},
       {"description", Type("string")}},
      {"owner", "name", "columns", "rows"});

  s["Member"] = Obj({{"name", Type("string")},
                     {"signing_key", Type("string", "Ed25519 public key (base64url).")},
                     {"tls_fingerprint", Hex64("SHA-256 of the node's TLS certificate (DER).")},
                     {"tls_cert_pem", Type("string", "The node's TLS certificate (PEM).")},
                     {"address", Type("string", "Peer address (host:port); empty until known.")},
                     {"registered_at", Format("string", "date-time", "RFC 3339, UTC.")},
                     {"last_seen", Type("string", "RFC 3339, UTC; empty if never seen.")}},
                    {"name", "signing_key", "tls_fingerprint", "address", "registered_at",
                     "last_seen"});

  s["OperatorInfo"] = Obj({{"name", Type("string")},
                           {"title", Type("string")},
                           {"description", Type("string")},
                           {"security_model", Type("string")},
                           {"parameters", Type("string", "Security parameters.")},
                           {"leaks", Type("string", "What the operator reveals beyond outputs.")},
                           {"outputs", ArrayOf(Type("string"))},
                           {"min_parties", Type("integer")},
                           {"max_parties", Type("integer")},
                           {"roles", ArrayOf(Type("string", "Roles a dataless party may take."))}},
                          {"name", "title", "description", "security_model", "parameters",
                           "leaks", "outputs", "min_parties", "max_parties", "roles"});

  Json author_props = {
      {"kind", {{"type", "string"}, {"pattern", "^[a-z0-9_]+(\\.[a-z0-9_]+)*$"},
                {"maxLength", 64}}},
      {"author", Type("string", "\"coordinator\" or a party name.")},
      {"time_ms", {{"type", "integer"}, {"minimum", 0}}},
      {"body", Type("object")},
      {"sig", Type("string", "Ed25519 signature by the author (base64url).")}};
  s["AuditSubmission"] = Obj(author_props, {"kind", "author", "time_ms", "body", "sig"});
  s["AuditSubmission"]["description"] = "An author-signed audit entry before sequencing.";
  s["AuditSubmission"]["additionalProperties"] = false;
  Json entry_props = author_props;
  entry_props["seq"] = {{"type", "integer"}, {"minimum", 0}};
  entry_props["prev"] = Hex64("Chain hash of entry seq-1.");
  s["AuditEntry"] =
      Obj(entry_props, {"kind", "author", "time_ms", "body", "sig", "seq", "prev"});
  s["AuditEntry"]["description"] = "A sequenced audit-log entry (see audit/entry.h).";
  s["AuditEntry"]["additionalProperties"] = false;

  s["SignedHead"] = Obj({{"size", {{"type", "integer"}, {"minimum", 0}}},
                         {"chain_hash", Hex64("Chain hash of the last entry.")},
                         {"time_ms", Type("integer")},
                         {"sig", Type("string", "Coordinator signature (base64url).")}},
                        {"size", "chain_hash", "time_ms", "sig"});
  return s;
}

std::string ErrorDescription(int status) {
  switch (status) {
    case 400: return "Invalid argument or failed precondition (INVALID_ARGUMENT, "
                     "FAILED_PRECONDITION, OUT_OF_RANGE).";
    case 401: return "Missing or invalid credentials (UNAUTHENTICATED).";
    case 403: return "The caller may not do this (PERMISSION_DENIED).";
    case 404: return "No such object (NOT_FOUND).";
    case 409: return "Conflicts with existing state (ALREADY_EXISTS, ABORTED).";
    case 413: return "Request body larger than 4 MiB (RESOURCE_EXHAUSTED).";
    case 429: return "Too many requests (RESOURCE_EXHAUSTED).";
    case 500: return "Internal error (INTERNAL and other codes).";
    case 503: return "Temporarily unavailable (UNAVAILABLE).";
    default: return "Error.";
  }
}

Json ErrorResponse(int status) {
  return {{"description", ErrorDescription(status)},
          {"content", {{"application/json", {{"schema", Ref("Error")}}}}}};
}

Json Operation(const Route& route) {
  Json op = {{"operationId", OperationId(route.method, route.path)},
             {"summary", route.summary}};
  std::string description = route.description;
  if (!route.method.empty()) {
    if (!description.empty()) description += " ";
    description += "Coordinator method `" + route.method + "`.";
  }
  if (!description.empty()) op["description"] = description;
  op["tags"] = Json::array({route.path.rfind("/v1/", 0) == 0 ? "v1" : "meta"});

  Json params = Json::array();
  for (const RouteParam& p : route.params) {
    params.push_back({{"name", p.name},
                      {"in", p.in_path ? "path" : "query"},
                      {"required", p.in_path || p.required},
                      {"description", p.description},
                      {"schema", Type(p.type == ParamType::kInteger ? "integer" : "string")}});
  }
  if (!params.empty()) op["parameters"] = params;

  if (!route.request_schema.is_null()) {
    op["requestBody"] = {{"required", true},
                         {"content", {{"application/json", {{"schema", route.request_schema}}}}}};
  }
  Json responses = {{"200",
                     {{"description", "Success."},
                      {"content", {{"application/json", {{"schema", route.response_schema}}}}}}}};
  for (int e : route.errors) responses[std::to_string(e)] = ErrorResponse(e);
  responses["500"] = ErrorResponse(500);
  op["responses"] = responses;

  switch (route.auth) {
    case RouteAuth::kBearer:
      op["security"] = Json::array({{{"bearerAuth", Json::array()}}});
      break;
    case RouteAuth::kPublic:
      // Optional: anonymous, or a token that is checked if present.
      op["security"] = Json::array({Json::object(), {{"bearerAuth", Json::array()}}});
      break;
    case RouteAuth::kInviteInBody:
      op["security"] = Json::array();
      break;
  }
  return op;
}

}  // namespace

std::string OperationId(const std::string& method, const std::string& path) {
  std::string source = method;
  if (source.empty()) {
    source = path;
    if (source.rfind("/v1/", 0) == 0) source = source.substr(4);
    auto dot = source.find('.');
    if (dot != std::string::npos) source = source.substr(0, dot);
  }
  std::string out;
  bool upper = false;
  for (char c : source) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = !out.empty();
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

Json BuildOpenApiDocument() {
  Json paths = Json::object();
  for (const Route& route : RouteTable()) {
    std::string verb = route.http_method == "GET" ? "get" : "post";
    paths[route.path][verb] = Operation(route);
  }
  return {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "Consort coordinator API"},
        {"version", kApiVersion},
        {"description",
         "REST API of the Consort coordinator: federation registry, dataset catalog (metadata "
         "only), job lifecycle and audit log. HTTPS only; clients pin the server certificate "
         "by its SHA-256 fingerprint (GET /v1/info). Errors use the Error schema; the HTTP "
         "status follows from the canonical code."}}},
      {"servers", Json::array({{{"url", "/"}}})},
      {"tags", Json::array({{{"name", "v1"}, {"description", "Coordinator methods."}},
                            {{"name", "meta"}, {"description", "The API document itself."}}})},
      {"paths", paths},
      {"components",
       {{"schemas", Schemas()},
        {"securitySchemes",
         {{"bearerAuth",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description", "An API token, e.g. the admin token in <coordinator home>/admin.token."}}}}}}},
  };
}

}  // namespace consort::api
