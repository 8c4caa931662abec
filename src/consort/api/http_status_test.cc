#include "consort/api/http_status.h"

#include <gtest/gtest.h>

namespace consort::api {
namespace {

using absl::StatusCode;

TEST(HttpStatus, MapsEveryCanonicalCode) {
  const std::vector<std::pair<StatusCode, int>> table = {
      {StatusCode::kOk, 200},
      {StatusCode::kInvalidArgument, 400},
      {StatusCode::kFailedPrecondition, 400},
      {StatusCode::kOutOfRange, 400},
      {StatusCode::kUnauthenticated, 401},
      {StatusCode::kPermissionDenied, 403},
      {StatusCode::kNotFound, 404},
      {StatusCode::kAlreadyExists, 409},
      {StatusCode::kAborted, 409},
      {StatusCode::kResourceExhausted, 429},
      {StatusCode::kUnimplemented, 501},
      {StatusCode::kUnavailable, 503},
      {StatusCode::kDeadlineExceeded, 504},
      {StatusCode::kInternal, 500},
      {StatusCode::kDataLoss, 500},
      {StatusCode::kUnknown, 500},
      {StatusCode::kCancelled, 500},
  };
  for (const auto& [code, http] : table) {
    EXPECT_EQ(HttpStatusFor(code), http) << absl::StatusCodeToString(code);
  }
}

TEST(HttpStatus, CodeNamesAreUpperSnakeCaseAndRoundTrip) {
  EXPECT_EQ(StatusCodeName(StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_EQ(StatusCodeName(StatusCode::kFailedPrecondition), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
  for (int c = 0; c <= 16; ++c) {
    auto code = static_cast<StatusCode>(c);
    StatusCode back;
    ASSERT_TRUE(ParseStatusCodeName(StatusCodeName(code), &back)) << c;
    EXPECT_EQ(back, code);
  }
  StatusCode ignored;
  EXPECT_FALSE(ParseStatusCodeName("invalid_argument", &ignored));
  EXPECT_FALSE(ParseStatusCodeName("TEAPOT", &ignored));
}

TEST(HttpStatus, ErrorJsonHasTheDocumentedShape) {
  Json j = ErrorJson(absl::NotFoundError("no job abc"));
  EXPECT_EQ(j, Json::parse(R"({"error":{"code":"NOT_FOUND","message":"no job abc",
                               "http_status":404}})"));
  Json k = ErrorJson(absl::InvalidArgumentError("too big"), 413);
  EXPECT_EQ(k["error"]["http_status"], 413);
  EXPECT_EQ(k["error"]["code"], "INVALID_ARGUMENT");
}

TEST(HttpStatus, ErrorBodyRoundTripsToTheSameStatus) {
  for (int c = 1; c <= 16; ++c) {
    Status st(static_cast<StatusCode>(c), "message " + std::to_string(c) + " \"quoted\" ✓");
    Status back = StatusFromErrorResponse(HttpStatusFor(st.code()), ErrorJson(st).dump());
    EXPECT_EQ(back.code(), st.code()) << c;
    EXPECT_EQ(back.message(), st.message());
  }
}

TEST(HttpStatus, ForeignErrorBodiesFallBackToTheHttpStatus) {
  Status st = StatusFromErrorResponse(503, "<html>Bad gateway</html>");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("503"), std::string::npos);
  EXPECT_EQ(StatusFromErrorResponse(404, "").code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromErrorResponse(401, "{}").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusFromErrorResponse(418, "teapot").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromErrorResponse(502, "").code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromErrorResponse(500, "").code(), StatusCode::kInternal);
  // A body claiming success, an unknown code or a mistyped message is not trusted.
  EXPECT_EQ(StatusFromErrorResponse(403, R"({"error":{"code":"OK","message":"x"}})").code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromErrorResponse(409, R"({"error":{"code":"NOPE","message":"x"}})").code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromErrorResponse(400, R"({"error":{"code":"NOT_FOUND","message":7}})").code(),
            StatusCode::kInvalidArgument);
}

TEST(HttpStatus, ReverseMappingOfBareHttpStatuses) {
  EXPECT_EQ(StatusCodeForHttp(400), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForHttp(401), StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusCodeForHttp(403), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForHttp(404), StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeForHttp(409), StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusCodeForHttp(413), StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeForHttp(429), StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeForHttp(501), StatusCode::kUnimplemented);
  EXPECT_EQ(StatusCodeForHttp(503), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForHttp(504), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusCodeForHttp(500), StatusCode::kInternal);
}

}  // namespace
}  // namespace consort::api
