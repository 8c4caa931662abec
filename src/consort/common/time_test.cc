#include "consort/common/time.h"

#include <gtest/gtest.h>

namespace consort {
namespace {

TEST(Rfc3339, ParsesAndFormats) {
  auto t = ParseRfc3339("2026-11-22T14:03:07Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1795356187000);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-22T14:03:07Z");
  auto d = ParseRfc3339("2027-01-01");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatRfc3339(*d), "2027-01-01T00:00:00Z");
}

TEST(Rfc3339, RejectsGarbage) {
  EXPECT_EQ(ParseRfc3339("tomorrow").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRfc3339("2026-13-01").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace consort
