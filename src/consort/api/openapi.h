#pragma once
// The OpenAPI 3.0.3 document served at GET /openapi.json, generated from RouteTable()
// (api/routes.h): every route with its parameters, request body, 200 response and documented
// error responses (schema Error, see api/http_status.h), and the bearer security scheme.

#include "consort/common/json.h"

namespace consort::api {

// Builds the document. Deterministic; thread-safe.
Json BuildOpenApiDocument();

// The operationId of a route: its coordinator method in lowerCamelCase ("job.get" -> "jobGet"),
// or derived from the path for the server's own routes ("/v1/health" -> "health").
std::string OperationId(const std::string& method, const std::string& path);

}  // namespace consort::api
