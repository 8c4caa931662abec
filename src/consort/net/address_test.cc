#include "consort/net/address.h"

#include <gtest/gtest.h>

namespace consort::net {
namespace {

constexpr char kOpt[] = "--peer-advertise";

std::string Ok(std::string_view listen, std::string_view advertise, int port) {
  auto a = AdvertisedAddress(listen, advertise, port, kOpt);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : "";
}

absl::StatusCode Code(std::string_view listen, std::string_view advertise) {
  return AdvertisedAddress(listen, advertise, 7500, kOpt).status().code();
}

TEST(AdvertisedAddress, ListenHostWithTheBoundPortByDefault) {
  EXPECT_EQ(Ok("127.0.0.1:0", "", 41234), "127.0.0.1:41234");
  EXPECT_EQ(Ok("10.0.0.5:7500", "", 7500), "10.0.0.5:7500");
  EXPECT_EQ(Ok("[::1]:0", "", 9), "[::1]:9");
  EXPECT_EQ(Ok("node.bank.example:0", "", 80), "node.bank.example:80");
}

TEST(AdvertisedAddress, AdvertiseOverridesHostAndOptionallyPort) {
  EXPECT_EQ(Ok("0.0.0.0:7500", "bank.example", 7500), "bank.example:7500");
  EXPECT_EQ(Ok("0.0.0.0:0", "203.0.113.7", 41000), "203.0.113.7:41000");
  EXPECT_EQ(Ok("0.0.0.0:7500", "gw.bank.example:17500", 7500), "gw.bank.example:17500");
  EXPECT_EQ(Ok("[::]:7500", "[2001:db8::1]", 7500), "[2001:db8::1]:7500");
  EXPECT_EQ(Ok("[::]:7500", "[2001:db8::1]:8000", 7500), "[2001:db8::1]:8000");
}

TEST(AdvertisedAddress, WildcardsWithoutAdvertiseAreFailedPreconditionNamingTheOption) {
  for (const char* listen : {"0.0.0.0:7500", "[::]:0", ":7500", "*:7500"}) {
    auto a = AdvertisedAddress(listen, "", 7500, kOpt);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition) << listen;
    EXPECT_NE(std::string(a.status().message()).find("--peer-advertise"), std::string::npos)
        << a.status();
  }
  EXPECT_EQ(Code("127.0.0.1:0", "0.0.0.0"), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code("127.0.0.1:0", "[::]:7500"), absl::StatusCode::kFailedPrecondition);
}

TEST(AdvertisedAddress, MalformedAdvertiseIsInvalidArgument) {
  for (const char* bad : {":7500", "[]:7500", "host:", "host:0", "host:65536", "host:75x",
                          "2001:db8::1", "[2001:db8::1", "[::1]7500", "[::1]:"}) {
    EXPECT_EQ(Code("127.0.0.1:0", bad), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace consort::net
