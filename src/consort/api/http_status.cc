#include "consort/api/http_status.h"

#include <array>
#include <utility>

namespace consort::api {
namespace {

constexpr std::array<std::pair<absl::StatusCode, const char*>, 17> kCodeNames = {{
    {absl::StatusCode::kOk, "OK"},
    {absl::StatusCode::kCancelled, "CANCELLED"},
    {absl::StatusCode::kUnknown, "UNKNOWN"},
    {absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
    {absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
    {absl::StatusCode::kNotFound, "NOT_FOUND"},
    {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
    {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
    {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
    {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
    {absl::StatusCode::kAborted, "ABORTED"},
    {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE"},
    {absl::StatusCode::kUnimplemented, "UNIMPLEMENTED"},
    {absl::StatusCode::kInternal, "INTERNAL"},
    {absl::StatusCode::kUnavailable, "UNAVAILABLE"},
    {absl::StatusCode::kDataLoss, "DATA_LOSS"},
    {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
}};

}  // namespace

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string StatusCodeName(absl::StatusCode code) {
  for (const auto& [c, name] : kCodeNames) {
    if (c == code) return name;
  }
  return "UNKNOWN";
}

bool ParseStatusCodeName(std::string_view name, absl::StatusCode* code) {
  for (const auto& [c, n] : kCodeNames) {
    if (name == n) {
      *code = c;
      return true;
    }
  }
  return false;
}

Json ErrorJson(const Status& status) { return ErrorJson(status, HttpStatusFor(status.code())); }

Json ErrorJson(const Status& status, int http_status) {
  return {{"error",
           {{"code", StatusCodeName(status.code())},
            {"message", std::string(status.message())},
            {"http_status", http_status}}}};
}

absl::StatusCode StatusCodeForHttp(int http_status) {
  switch (http_status) {
    case 400:
    case 405:
    case 411:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 413:
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 502:
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      if (http_status >= 400 && http_status < 500) return absl::StatusCode::kInvalidArgument;
      return absl::StatusCode::kInternal;
  }
}

Status StatusFromErrorResponse(int http_status, std::string_view body) {
  // The body comes from the network: accept it only if it has exactly the documented shape.
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    auto err = doc.find("error");
    if (err != doc.end() && err->is_object()) {
      auto code = err->find("code");
      auto message = err->find("message");
      absl::StatusCode parsed;
      if (code != err->end() && code->is_string() && message != err->end() &&
          message->is_string() && ParseStatusCodeName(code->get<std::string>(), &parsed) &&
          parsed != absl::StatusCode::kOk) {
        return Status(parsed, message->get<std::string>());
      }
    }
  }
  return Status(StatusCodeForHttp(http_status),
                "HTTP " + std::to_string(http_status) + " without a Consort error body");
}

}  // namespace consort::api
