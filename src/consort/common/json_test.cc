#include "consort/common/json.h"

#include <gtest/gtest.h>

namespace consort {
namespace {

TEST(CanonicalJson, SortsKeysAndDropsWhitespace) {
  auto a = ParseJson("{ \"b\": 1,\n \"a\": {\"z\": [1, 2], \"y\": \"x\"} }");
  auto b = ParseJson("{\"a\":{\"y\":\"x\",\"z\":[1,2]},\"b\":1}");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*CanonicalJson(*a), "{\"a\":{\"y\":\"x\",\"z\":[1,2]},\"b\":1}");
  EXPECT_EQ(*CanonicalJson(*a), *CanonicalJson(*b));
}

TEST(CanonicalJson, KeepsUtf8AndEscapesControls) {
  Json j = {{"name", "caf\xc3\xa9\n"}};
  EXPECT_EQ(*CanonicalJson(j), "{\"name\":\"caf\xc3\xa9\\n\"}");
}

TEST(CanonicalJson, RejectsInvalidUtf8) {
  Json j = {{"name", std::string("\xff\xfe")}};
  EXPECT_EQ(CanonicalJson(j).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseJson, ErrorNamesSourceLineAndColumn) {
  auto r = ParseJson("{\n  \"a\": 1,\n  \"b\": }\n", "spec.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("spec.json:3:"), std::string::npos) << r.status();
}

TEST(GetString, NamesMissingAndMistypedFields) {
  Json j = {{"op", 5}};
  auto missing = GetString(j, "name", "$");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("$.name"), std::string::npos);
  auto wrong = GetString(j, "op", "$");
  EXPECT_NE(wrong.status().message().find("must be a string"), std::string::npos);
}

}  // namespace
}  // namespace consort
