#pragma once
// The one place where canonical status codes meet HTTP (STYLE.md "Errors").
//
//   InvalidArgument, FailedPrecondition, OutOfRange -> 400   Unauthenticated   -> 401
//   PermissionDenied -> 403   NotFound -> 404   AlreadyExists, Aborted -> 409
//   ResourceExhausted -> 429  Unimplemented -> 501  Unavailable -> 503  DeadlineExceeded -> 504
//   everything else (Internal, DataLoss, Unknown, Cancelled) -> 500
//
// Error bodies have one shape on the wire:
//   {"error": {"code": "INVALID_ARGUMENT", "message": "...", "http_status": 400}}
// and the client turns them back into a Status with the same code and message.

#include <string>
#include <string_view>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::api {

// The HTTP status for a canonical code (200 for kOk).
int HttpStatusFor(absl::StatusCode code);

// "INVALID_ARGUMENT", "NOT_FOUND", ... (upper snake case canonical name).
std::string StatusCodeName(absl::StatusCode code);
// The inverse of StatusCodeName; false if `name` is not a canonical code name.
bool ParseStatusCodeName(std::string_view name, absl::StatusCode* code);

// The error body for a non-OK status, with http_status = HttpStatusFor(status.code()).
Json ErrorJson(const Status& status);
// The same with an explicit HTTP status, for transport-level errors that have no canonical
// code of their own (405 wrong method, 413 body too large).
Json ErrorJson(const Status& status, int http_status);

// Client side: the Status carried by an error response. Uses the body's code and message when
// the body has the shape above; otherwise derives the code from `http_status` (a proxy's HTML
// error page, say) and says so in the message. Never returns OK.
Status StatusFromErrorResponse(int http_status, std::string_view body);

// The canonical code a bare HTTP error status most likely means (400 -> InvalidArgument, ...).
absl::StatusCode StatusCodeForHttp(int http_status);

}  // namespace consort::api
