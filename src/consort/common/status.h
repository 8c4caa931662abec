#pragma once
// One status type for the whole project: absl::Status / absl::StatusOr<T>.
// Canonical codes are mapped to HTTP exactly once, in api/ (see api/http_status.h).
// A programmer error aborts (CONSORT_CHECK); anything a user or a peer can cause returns a Status.

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace consort {
using Status = absl::Status;
template <typename T>
using StatusOr = absl::StatusOr<T>;
using absl::OkStatus;
}  // namespace consort

#define CONSORT_STATUS_CONCAT_INNER(a, b) a##b
#define CONSORT_STATUS_CONCAT(a, b) CONSORT_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define CONSORT_RETURN_IF_ERROR(expr)              \
  do {                                             \
    ::absl::Status _consort_st = (expr);           \
    if (!_consort_st.ok()) return _consort_st;     \
  } while (0)

// CONSORT_ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define CONSORT_ASSIGN_OR_RETURN(lhs, rexpr) \
  CONSORT_ASSIGN_OR_RETURN_IMPL(CONSORT_STATUS_CONCAT(_consort_sor_, __LINE__), lhs, rexpr)
#define CONSORT_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

// Aborts on a programmer error. Never use for conditions a user or peer can trigger.
#define CONSORT_CHECK(cond)                                                         \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)
