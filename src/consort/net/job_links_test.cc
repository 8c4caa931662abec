#include "consort/net/job_links.h"

#include <map>
#include <thread>

#include <gtest/gtest.h>

namespace consort::net {
namespace {

// Hands out our ends of in-memory pairs to "b" and "c"; keeps the far ends; counts connects.
struct Peers {
  std::map<std::string, std::unique_ptr<Link>> far;
  int connects = 0;
  JobLinks::Connector connector() {
    return [this](const std::string& peer) -> StatusOr<std::unique_ptr<Link>> {
      if (peer != "b" && peer != "c") return absl::NotFoundError("no peer " + peer);
      ++connects;
      auto [mine, theirs] = CreateInMemoryLinkPair("a", peer);
      far[peer] = std::move(theirs);
      return std::move(mine);
    };
  }
};

TEST(JobLinks, ConnectsOncePerPeerWithTheTimeoutAndKeepsByteCountsAfterClosing) {
  Peers peers;
  JobLinks links(peers.connector(), std::chrono::milliseconds(1234));
  auto b1 = links.Get("b");
  ASSERT_TRUE(b1.ok()) << b1.status();
  auto b2 = links.Get("b");
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(*b1, *b2);
  EXPECT_EQ(peers.connects, 1);
  EXPECT_EQ((*b1)->timeout(), std::chrono::milliseconds(1234));
  auto c = links.Get("c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(peers.connects, 2);
  EXPECT_EQ(links.Get("d").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE((*b1)->Send(Bytes(10, 1)).ok());
  ASSERT_TRUE((*c)->Send(Bytes(5, 2)).ok());
  ASSERT_TRUE(peers.far["b"]->Send(Bytes(7, 3)).ok());
  ASSERT_TRUE((*b1)->Recv().ok());
  EXPECT_EQ(links.bytes_sent(), 15u);
  EXPECT_EQ(links.bytes_received(), 7u);
  links.CloseAll();
  EXPECT_EQ(links.bytes_sent(), 15u);
  EXPECT_EQ(links.bytes_received(), 7u);
  // The peer sees the close after draining what was sent.
  EXPECT_TRUE(peers.far["b"]->Recv().ok());
  EXPECT_EQ(peers.far["b"]->Recv().status().code(), absl::StatusCode::kUnavailable);
}

TEST(JobLinks, CancelUnblocksAPendingRecvAndRefusesNewLinks) {
  Peers peers;
  JobLinks links(peers.connector(), std::chrono::minutes(5));
  auto b = links.Get("b");
  ASSERT_TRUE(b.ok());
  Status recv_status;
  std::thread waiter([&] { recv_status = (*b)->Recv().status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(links.cancelled());
  links.Cancel();
  waiter.join();
  EXPECT_EQ(recv_status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(links.cancelled());
  EXPECT_EQ(links.Get("c").status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(peers.connects, 1);
}

}  // namespace
}  // namespace consort::net
