#include "consort/net/grpc_transport.h"

#include <grpcpp/client_context.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "consort/crypto/tls_identity.h"
#include "consort/net/proto/peer.grpc.pb.h"

namespace consort::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kJob[] = "job-0123abcd";

struct Party {
  std::string name;
  TlsConfig tls;
  std::string fp;
};

Party NewParty(const std::string& name) {
  auto id = crypto::GenerateTlsIdentity(name);
  CONSORT_CHECK(id.ok());
  Party p{name, TlsConfig{id->key_pem, id->cert_pem}, ""};
  p.fp = *crypto::CertificateFingerprint(p.tls.cert_pem);
  return p;
}

std::string Addr(const PeerTransport& t) { return "127.0.0.1:" + std::to_string(t.port()); }

// Two parties "a" and "b", each with a directory listing the other (correctly, unless a test
// edits the directories).
struct Pair {
  Party a = NewParty("a"), b = NewParty("b");
  std::shared_ptr<StaticPeerDirectory> dir_a = std::make_shared<StaticPeerDirectory>();
  std::shared_ptr<StaticPeerDirectory> dir_b = std::make_shared<StaticPeerDirectory>();
  std::unique_ptr<PeerTransport> ta, tb;

  explicit Pair(PeerTransportOptions opts_a = {}, PeerTransportOptions opts_b = {}) {
    auto sa = PeerTransport::Start("a", "127.0.0.1:0", a.tls, dir_a, opts_a);
    auto sb = PeerTransport::Start("b", "127.0.0.1:0", b.tls, dir_b, opts_b);
    CONSORT_CHECK(sa.ok() && sb.ok());
    ta = std::move(*sa);
    tb = std::move(*sb);
    CONSORT_CHECK(dir_a->Put({"b", Addr(*tb), b.fp}).ok());
    CONSORT_CHECK(dir_b->Put({"a", Addr(*ta), a.fp}).ok());
  }
};

std::unique_ptr<Link> MustConnect(PeerTransport& t, const std::string& peer,
                                  milliseconds timeout = milliseconds(5000),
                                  const std::string& job = kJob) {
  auto l = t.Connect(job, peer);
  CONSORT_CHECK(l.ok());
  (*l)->set_timeout(timeout);
  return std::move(*l);
}

Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i * 31 + seed * 7) ^ (i >> 8));
  return b;
}

// Message i: 4-byte index, then a pattern of varying length.
Bytes Numbered(uint32_t i) {
  Bytes m;
  AppendU32(m, i);
  Bytes body = Pattern(i % 1000, i);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// Sends small messages until one fails or `limit` passes; returns the failure (OK if none).
Status SendUntilFailure(Link& link, milliseconds limit) {
  auto end = Clock::now() + limit;
  Bytes m(100, 1);
  while (Clock::now() < end) {
    Status st = link.Send(m);
    if (!st.ok()) return st;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return OkStatus();
}

template <typename F>
bool WaitFor(F cond, milliseconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return cond();
}

TEST(PeerTransport, MessagesFlowBothWaysInOrder) {
  Pair p;
  auto la = MustConnect(*p.ta, "b");
  auto lb = MustConnect(*p.tb, "a");
  EXPECT_EQ(la->peer(), "b");
  constexpr uint32_t kCount = 1000;
  uint64_t expected_bytes = 0;
  for (uint32_t i = 0; i < kCount; ++i) expected_bytes += Numbered(i).size();

  auto sender = [&](Link& l) {
    for (uint32_t i = 0; i < kCount; ++i) ASSERT_TRUE(l.Send(Numbered(i)).ok()) << i;
  };
  auto receiver = [&](Link& l) {
    for (uint32_t i = 0; i < kCount; ++i) {
      auto m = l.Recv();
      ASSERT_TRUE(m.ok()) << i << ": " << m.status();
      ASSERT_EQ(*m, Numbered(i)) << "message " << i;
    }
  };
  std::thread t1(sender, std::ref(*la)), t2(sender, std::ref(*lb)), t3(receiver, std::ref(*la));
  receiver(*lb);
  t1.join();
  t2.join();
  t3.join();

  // One large message each way.
  Bytes big = Pattern(4u << 20, 99);
  ASSERT_TRUE(la->Send(big).ok());
  ASSERT_TRUE(lb->Send(big).ok());
  auto rb = lb->Recv();
  auto ra = la->Recv();
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(*ra, big);
  EXPECT_EQ(*rb, big);

  EXPECT_EQ(la->bytes_sent(), expected_bytes + big.size());
  EXPECT_EQ(la->messages_sent(), kCount + 1);
  EXPECT_EQ(lb->bytes_received(), expected_bytes + big.size());
  EXPECT_EQ(la->bytes_received(), expected_bytes + big.size());
}

TEST(PeerTransport, SeparateJobsDoNotMix) {
  Pair p;
  auto a1 = MustConnect(*p.ta, "b", milliseconds(5000), "job-1");
  auto a2 = MustConnect(*p.ta, "b", milliseconds(5000), "job-2");
  auto b2 = MustConnect(*p.tb, "a", milliseconds(5000), "job-2");
  auto b1 = MustConnect(*p.tb, "a", milliseconds(5000), "job-1");
  ASSERT_TRUE(a1->Send(ToBytes("one")).ok());
  ASSERT_TRUE(a2->Send(ToBytes("two")).ok());
  EXPECT_EQ(ToString(*b2->Recv()), "two");
  EXPECT_EQ(ToString(*b1->Recv()), "one");
}

TEST(PeerTransport, MessagesBeforeConnectAreBufferedThenPeerCloseDrains) {
  Pair p;
  auto la = MustConnect(*p.ta, "b");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(la->Send(Bytes{static_cast<uint8_t>(i)}).ok());
  la->Close();  // flushes, then ends the stream cleanly
  EXPECT_EQ(la->Send(Bytes{9}).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(la->Recv().status().code(), absl::StatusCode::kCancelled);
  // b has not connected yet: the frames wait in an orphan mailbox.
  ASSERT_TRUE(WaitFor([&] { return p.tb->mailbox_count() == 1; }, milliseconds(3000)));

  auto lb = MustConnect(*p.tb, "a");
  for (int i = 0; i < 3; ++i) {
    auto m = lb->Recv();
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(*m, Bytes{static_cast<uint8_t>(i)});
  }
  auto end = lb->Recv();
  EXPECT_EQ(end.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(end.status().message(), "peer a closed the link");
  lb->Close();
  EXPECT_EQ(p.tb->mailbox_count(), 0u);  // closing releases the mailbox
}

TEST(PeerTransport, UnregisteredClientCertificateIsRefusedAtHandshake) {
  Pair p;
  // b's registry knows "a" by another certificate (say a's old key): a's real one is unknown.
  Party old_a = NewParty("a");
  ASSERT_TRUE(p.dir_b->Put({"a", Addr(*p.ta), old_a.fp}).ok());
  auto lb = MustConnect(*p.tb, "a", milliseconds(300));
  auto la = MustConnect(*p.ta, "b");
  Status st = SendUntilFailure(*la, milliseconds(5000));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(lb->Recv().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(p.tb->mailbox_count(), 1u);  // only b's own, nothing created by a's stream
}

TEST(PeerTransport, ClientRefusesServerWithUnexpectedCertificate) {
  Pair p;
  Party impostor = NewParty("b");
  ASSERT_TRUE(p.dir_a->Put({"b", Addr(*p.tb), impostor.fp}).ok());
  auto lb = MustConnect(*p.tb, "a", milliseconds(300));
  auto la = MustConnect(*p.ta, "b");
  Status st = SendUntilFailure(*la, milliseconds(5000));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(lb->Recv().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(p.tb->mailbox_count(), 1u);
}

TEST(PeerTransport, SenderNameComesFromItsCertificate) {
  // "mallory" connects with its own registered certificate but claims to be "c".
  Party m = NewParty("mallory"), b = NewParty("b"), c = NewParty("c");
  auto dir_b = std::make_shared<StaticPeerDirectory>();
  auto dir_m = std::make_shared<StaticPeerDirectory>();
  auto tb = PeerTransport::Start("b", "127.0.0.1:0", b.tls, dir_b);
  auto tm = PeerTransport::Start("c", "127.0.0.1:0", m.tls, dir_m);  // lies about its name
  ASSERT_TRUE(tb.ok() && tm.ok());
  ASSERT_TRUE(dir_b->Put({"mallory", Addr(**tm), m.fp}).ok());
  ASSERT_TRUE(dir_b->Put({"c", "127.0.0.1:1", c.fp}).ok());
  ASSERT_TRUE(dir_m->Put({"b", Addr(**tb), b.fp}).ok());

  auto from_c = MustConnect(**tb, "c", milliseconds(500));
  auto from_m = MustConnect(**tb, "mallory");
  auto lm = MustConnect(**tm, "b");
  ASSERT_TRUE(lm->Send(ToBytes("i am c")).ok());
  auto got = from_m->Recv();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(ToString(*got), "i am c");  // attributed to mallory, whose certificate it used
  EXPECT_EQ(from_c->Recv().status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PeerTransport, PeerShutdownMidStreamIsUnavailableOnBothCalls) {
  Pair p;
  auto la = MustConnect(*p.ta, "b");
  auto lb = MustConnect(*p.tb, "a");
  std::atomic<bool> stop{false};
  Status send_end;
  Clock::time_point send_failed_at;
  std::thread sender([&] {
    Bytes m = Pattern(64 << 10, 1);
    while (!stop) {
      Status st = la->Send(m);
      if (!st.ok()) {
        send_end = st;
        send_failed_at = Clock::now();
        return;
      }
    }
  });
  // b receives some of it, sends one message back, then its transport goes away.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(lb->Recv().ok());
  ASSERT_TRUE(lb->Send(ToBytes("last words")).ok());
  auto m = la->Recv();
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(ToString(*m), "last words");
  auto t0 = Clock::now();
  p.tb->Shutdown();
  EXPECT_LT(Clock::now() - t0, milliseconds(3000));

  // a's receive side learns that b is gone.
  auto r = la->Recv();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(r.status().message(), "peer b disconnected");
  EXPECT_LT(Clock::now() - t0, milliseconds(5000));

  // a's send side fails too, promptly.
  ASSERT_TRUE(WaitFor([&] { return send_failed_at != Clock::time_point(); }, milliseconds(5000)));
  stop = true;
  sender.join();
  EXPECT_EQ(send_end.code(), absl::StatusCode::kUnavailable) << send_end;
  EXPECT_LT(send_failed_at - t0, milliseconds(5000));

  // b's own link fails locally (after handing over what had already arrived).
  StatusOr<Bytes> rb = lb->Recv();
  for (int i = 0; i < 10000 && rb.ok(); ++i) rb = lb->Recv();
  EXPECT_EQ(rb.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(lb->Send(Bytes{1}).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(p.tb->Connect("job-2", "a").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PeerTransport, OversizedFrameFailsTheStreamAndTheMailbox) {
  Pair p;
  auto la = MustConnect(*p.ta, "b");
  EXPECT_EQ(la->Send(Bytes(kMaxMessageBytes + 1)).code(), absl::StatusCode::kInvalidArgument);

  // A misbehaving (but registered) sender bypasses the Link's own check.
  auto lb = MustConnect(*p.tb, "a", milliseconds(5000), "job-raw");
  auto ch = CreatePinnedChannel(Addr(*p.tb), p.a.tls, p.b.fp);
  ASSERT_TRUE(ch.ok());
  auto stub = proto::PeerLink::NewStub(*ch);
  grpc::ClientContext ctx;
  ctx.AddMetadata("consort-job-id", "job-raw");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  proto::SendAck ack;
  auto w = stub->Send(&ctx, &ack);
  proto::Frame ok_frame, big_frame;
  ok_frame.set_payload("fine");
  big_frame.set_payload(std::string(kMaxMessageBytes + 1, 'x'));
  ASSERT_TRUE(w->Write(ok_frame));
  w->Write(big_frame);
  w->WritesDone();
  grpc::Status st = w->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();

  auto first = lb->Recv();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(ToString(*first), "fine");
  EXPECT_EQ(lb->Recv().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PeerTransport, TimeoutsAreDeadlineExceeded) {
  PeerTransportOptions small;
  small.mailbox_bytes = 1 << 20;
  small.send_buffer_bytes = 1 << 20;
  Pair p(small, small);
  auto la = MustConnect(*p.ta, "b", milliseconds(300));
  auto t0 = Clock::now();
  EXPECT_EQ(la->Recv().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(Clock::now() - t0, milliseconds(290));

  // b never reads: its mailbox fills, flow control stalls a, and a's Send times out.
  auto lb = MustConnect(*p.tb, "a");
  Bytes m(1 << 20, 7);
  Status st;
  int sent = 0;
  for (; sent < 200; ++sent) {
    st = la->Send(m);
    if (!st.ok()) break;
  }
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st << " after " << sent;
  EXPECT_LT(sent, 200);
  // Everything that was accepted is delivered once b reads.
  for (int i = 0; i < sent; ++i) {
    auto r = lb->Recv();
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
  }
  EXPECT_TRUE(la->Send(m).ok());
}

TEST(PeerTransport, ConnectValidatesItsArguments) {
  Pair p;
  EXPECT_EQ(p.ta->Connect(kJob, "nobody").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(p.ta->Connect(kJob, "a").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.ta->Connect("", "b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.ta->Connect("job id", "b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.ta->Connect(std::string(129, 'j'), "b").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto l = MustConnect(*p.ta, "b");
  EXPECT_EQ(p.ta->Connect(kJob, "b").status().code(), absl::StatusCode::kAlreadyExists);
  l->Close();
  EXPECT_TRUE(p.ta->Connect(kJob, "b").ok());  // released by Close
  EXPECT_EQ(PeerTransport::Start("x", "127.0.0.1:0", TlsConfig{"k", "c"},
                                 std::make_shared<StaticPeerDirectory>())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PeerTransport, OrphanMailboxesExpire) {
  PeerTransportOptions short_ttl;
  short_ttl.orphan_ttl = milliseconds(300);
  Pair p({}, short_ttl);
  auto la = MustConnect(*p.ta, "b");
  ASSERT_TRUE(la->Send(ToBytes("anyone?")).ok());
  ASSERT_TRUE(WaitFor([&] { return p.tb->mailbox_count() == 1; }, milliseconds(3000)));
  ASSERT_TRUE(WaitFor([&] { return p.tb->mailbox_count() == 0; }, milliseconds(3000)));
  // The next frames find the mailbox gone and the stream is ended by the receiver.
  Status st = SendUntilFailure(*la, milliseconds(3000));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
}

TEST(PeerTransport, OrphanMailboxesPerPeerAreLimited) {
  PeerTransportOptions limited;
  limited.max_orphans_per_peer = 2;
  Pair p({}, limited);
  std::vector<std::unique_ptr<Link>> links;
  for (int i = 0; i < 3; ++i) {
    links.push_back(MustConnect(*p.ta, "b", milliseconds(5000), "job-" + std::to_string(i)));
    ASSERT_TRUE(links.back()->Send(Bytes{1}).ok());
    if (i < 2) {
      ASSERT_TRUE(WaitFor([&] { return p.tb->mailbox_count() == size_t(i + 1); },
                          milliseconds(3000)));
    }
  }
  Status st = SendUntilFailure(*links[2], milliseconds(3000));
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
  EXPECT_EQ(p.tb->mailbox_count(), 2u);
}

TEST(PeerTransport, ThroughputOf128KiBMessages) {
  Pair p;
  auto la = MustConnect(*p.ta, "b", milliseconds(20000));
  auto lb = MustConnect(*p.tb, "a", milliseconds(20000));
  constexpr int kMessages = 2048;  // 256 MiB
  Bytes m = Pattern(128 << 10, 5);
  ASSERT_TRUE(la->Send(m).ok());  // warm up the connection
  ASSERT_TRUE(lb->Recv().ok());
  auto t0 = Clock::now();
  std::thread sender([&] {
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(la->Send(m).ok());
  });
  for (int i = 0; i < kMessages; ++i) {
    auto r = lb->Recv();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->size(), m.size());
  }
  sender.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double mbps = kMessages * double(m.size()) / secs / 1e6;
  std::printf("[ THROUGHPUT ] %d x 128 KiB over pinned mTLS loopback: %.0f MB/s (%.2f s)\n",
              kMessages, mbps, secs);
  // Loose floor: catches a regression by an order of magnitude without flaking on busy CI.
  EXPECT_GT(mbps, 30.0);
}

// Child-process half of PeerKilled: a node "b" that echoes every message back to "a".
// Skipped unless started by that test (through the environment variable).
constexpr char kChildEnv[] = "CONSORT_NET_ECHO_CHILD";

TEST(PeerTransportChild, EchoNode) {
  const char* spec = std::getenv(kChildEnv);
  if (spec == nullptr) GTEST_SKIP() << "only runs as the child of PeerTransport.PeerKilled";
  std::istringstream in(spec);
  std::string a_address, a_fp;
  in >> a_address >> a_fp;
  Party b = NewParty("b");
  auto dir = std::make_shared<StaticPeerDirectory>();
  ASSERT_TRUE(dir->Put({"a", a_address, a_fp}).ok());
  auto t = PeerTransport::Start("b", "127.0.0.1:0", b.tls, dir);
  ASSERT_TRUE(t.ok());
  auto link = MustConnect(**t, "a", milliseconds(60000));
  std::printf("ECHO-CHILD %d %s\n", (*t)->port(), b.fp.c_str());
  std::fflush(stdout);
  while (true) {
    auto m = link->Recv();
    if (!m.ok() || !link->Send(*m).ok()) break;
  }
}

// Reads one "ECHO-CHILD <port> <fp>" line from `fd` within `limit`.
bool ReadChildLine(int fd, int* port, std::string* fp, milliseconds limit) {
  std::string buf;
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    char c[256];
    ssize_t n = read(fd, c, sizeof(c));
    if (n <= 0) return false;
    buf.append(c, static_cast<size_t>(n));
    size_t at = buf.find("ECHO-CHILD ");
    if (at != std::string::npos && buf.find('\n', at) != std::string::npos) {
      std::istringstream line(buf.substr(at + 11));
      line >> *port >> *fp;
      return *port > 0 && IsFingerprint(*fp);
    }
  }
  return false;
}

TEST(PeerTransport, PeerProcessKilledMidProtocol) {
  Party a = NewParty("a");
  auto dir = std::make_shared<StaticPeerDirectory>();
  auto ta = PeerTransport::Start("a", "127.0.0.1:0", a.tls, dir);
  ASSERT_TRUE(ta.ok());

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  std::string env_var = std::string(kChildEnv) + "=" + Addr(**ta) + " " + a.fp;
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(env_var.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=PeerTransportChild.EchoNode";
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, filter.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, exe, &fa, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  struct Reaper {
    pid_t pid;
    int fd;
    ~Reaper() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      close(fd);
    }
  } reaper{pid, out[0]};

  int port = 0;
  std::string b_fp;
  ASSERT_TRUE(ReadChildLine(out[0], &port, &b_fp, milliseconds(15000)));
  ASSERT_TRUE(dir->Put({"b", "127.0.0.1:" + std::to_string(port), b_fp}).ok());
  auto la = MustConnect(**ta, "b", milliseconds(10000));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(la->Send(Numbered(i)).ok());
    auto echo = la->Recv();
    ASSERT_TRUE(echo.ok()) << echo.status();
    ASSERT_EQ(*echo, Numbered(i));
  }

  auto t0 = Clock::now();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  auto r = la->Recv();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(r.status().message(), "peer b disconnected");
  Status st = SendUntilFailure(*la, milliseconds(5000));
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_LT(Clock::now() - t0, milliseconds(5000));
}

}  // namespace
}  // namespace consort::net
