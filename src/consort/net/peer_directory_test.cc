#include "consort/net/peer_directory.h"

#include <gtest/gtest.h>

namespace consort::net {
namespace {

TEST(StaticPeerDirectory, LooksUpBothWaysAndValidates) {
  StaticPeerDirectory dir;
  std::string fp1(64, 'a'), fp2(64, 'b');
  ASSERT_TRUE(dir.Put({"bank", "10.0.0.1:7000", fp1}).ok());
  EXPECT_EQ(dir.Lookup("bank")->address, "10.0.0.1:7000");
  EXPECT_EQ(*dir.NameForFingerprint(fp1), "bank");
  EXPECT_EQ(dir.NameForFingerprint(fp2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dir.Lookup("shop").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dir.Put({"shop", "h:1", fp1}).code(), absl::StatusCode::kInvalidArgument);  // shared
  EXPECT_EQ(dir.Put({"shop", "h:1", "ABC"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dir.Put({"", "h:1", fp2}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(dir.Put({"shop", "", fp2}).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(dir.Put({"bank", "10.0.0.2:7000", fp2}).ok());  // re-keyed
  EXPECT_EQ(dir.NameForFingerprint(fp1).status().code(), absl::StatusCode::kNotFound);
  dir.Remove("bank");
  EXPECT_EQ(dir.Lookup("bank").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace consort::net
