#include "consort/net/grpc_transport.h"

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/client_callback.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "consort/common/logging.h"
#include "consort/net/internal/mailbox.h"
#include "consort/net/proto/peer.grpc.pb.h"

namespace consort::net {
namespace internal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kJobIdHeader[] = "consort-job-id";
constexpr size_t kMaxJobIdLength = 128;
// How often a blocked server handler re-checks for cancellation and shutdown.
constexpr milliseconds kPollInterval{50};
// After a write fails, how long Send waits for the call's final status (for a precise error).
constexpr milliseconds kFinalStatusWait{2000};

bool ValidJobId(const std::string& id) {
  if (id.empty() || id.size() > kMaxJobIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// One direction of one Link: a client stream to the peer's server (gRPC callback API).
// Send() queues frames (bounded by bytes) and returns; writes are chained from OnWriteDone, one
// in flight at a time. A hold keeps the call open while the application may still write; it is
// released exactly once: after WritesDone, or when the stream fails or is cancelled.
class OutStream final : public grpc::ClientWriteReactor<proto::Frame> {
 public:
  OutStream(std::string peer, std::shared_ptr<grpc::Channel> channel, size_t max_pending_bytes)
      : peer_(std::move(peer)),
        channel_(std::move(channel)),
        stub_(proto::PeerLink::NewStub(channel_)),
        max_pending_bytes_(max_pending_bytes) {}

  ~OutStream() override {
    // gRPC still references ctx_ and this reactor until OnDone.
    Cancel(absl::CancelledError("link destroyed"));
    WaitDone();
  }

  void Start(const std::string& job_id) {
    ctx_.AddMetadata(kJobIdHeader, job_id);
    stub_->async()->Send(&ctx_, &ack_, this);
    AddHold();
    StartCall();
    started_ = true;
  }

  Status Write(ByteSpan message, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ready = cv_.wait_for(lock, timeout, [&] {
      return failed_ || closing_ || pending_bytes_ == 0 ||
             pending_bytes_ + message.size() <= max_pending_bytes_;
    });
    if (closing_) return absl::CancelledError("link to " + peer_ + " closed locally");
    if (failed_) return FailureLocked(lock);
    if (!ready) {
      return absl::DeadlineExceededError("peer " + peer_ + " did not read for " +
                                         std::to_string(timeout.count()) + " ms");
    }
    pending_.emplace_back();
    pending_.back().set_payload(reinterpret_cast<const char*>(message.data()), message.size());
    pending_bytes_ += message.size();
    Act(lock, write_in_flight_ ? Action{} : NextLocked());
    return OkStatus();
  }

  // Flushes queued frames (up to `timeout`), ends the stream cleanly and waits for the final
  // status; cancels the call if the peer does not drain in time. Wakes blocked Writes.
  void Close(milliseconds timeout) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      closing_ = true;
      cv_.notify_all();
      Act(lock, write_in_flight_ ? Action{} : NextLocked());
      if (cv_.wait_for(lock, timeout, [&] { return done_; })) return;
    }
    CONSORT_LOG(WARNING) << "link to " << peer_ << " did not drain within " << timeout.count()
                         << " ms; cancelling";
    Cancel(absl::CancelledError("link to " + peer_ + " closed locally"));
    WaitDone();
  }

  // Breaks the stream now (transport shutdown, destruction). Pending and later Writes fail
  // with `reason` (unless the call already ended on its own).
  void Cancel(Status reason) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!started_ || done_) return;
      if (cancel_reason_.ok()) cancel_reason_ = std::move(reason);
      failed_ = true;
      cv_.notify_all();
      Act(lock, write_in_flight_ ? Action{} : NextLocked());
    }
    ctx_.TryCancel();
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    write_in_flight_ = false;
    if (ok) {
      pending_bytes_ -= pending_.front().payload().size();
      pending_.pop_front();
    } else {
      failed_ = true;  // the call is over; OnDone will bring the status
    }
    cv_.notify_all();
    Act(lock, NextLocked());
  }

  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    final_ = s;
    done_ = true;
    failed_ = true;
    cv_.notify_all();
  }

 private:
  struct Action {
    const proto::Frame* write = nullptr;
    bool writes_done = false;
    bool remove_hold = false;
  };

  // Decides what the stream does next; called with mu_ held and no write in flight.
  Action NextLocked() {
    Action a;
    if (!failed_ && !pending_.empty()) {
      write_in_flight_ = true;
      a.write = &pending_.front();  // deque elements stay put while others are appended
    } else if (!hold_removed_ && (failed_ || (closing_ && pending_.empty()))) {
      hold_removed_ = true;
      a.remove_hold = true;
      a.writes_done = !failed_;
    }
    return a;
  }

  // gRPC calls are made without our lock (reactions may run on other threads meanwhile).
  void Act(std::unique_lock<std::mutex>& lock, Action a) {
    if (!a.write && !a.writes_done && !a.remove_hold) return;
    lock.unlock();
    if (a.write) StartWrite(a.write);
    if (a.writes_done) StartWritesDone();
    if (a.remove_hold) RemoveHold();
    lock.lock();
  }

  void WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!started_) return;
    cv_.wait(lock, [&] { return done_; });
  }

  // The error a Send reports once the stream has failed.
  Status FailureLocked(std::unique_lock<std::mutex>& lock) {
    if (!cancel_reason_.ok()) return cancel_reason_;
    cv_.wait_for(lock, kFinalStatusWait, [&] { return done_; });
    if (!done_) return absl::UnavailableError("stream to peer " + peer_ + " broke");
    std::string detail = final_.error_message();
    switch (final_.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
        return absl::InvalidArgumentError("peer " + peer_ + " rejected a frame: " + detail);
      case grpc::StatusCode::PERMISSION_DENIED:
        return absl::PermissionDeniedError("peer " + peer_ + ": " + detail);
      case grpc::StatusCode::UNAUTHENTICATED:
        return absl::UnauthenticatedError("peer " + peer_ + ": " + detail);
      case grpc::StatusCode::ALREADY_EXISTS:
        return absl::AlreadyExistsError("peer " + peer_ + ": " + detail);
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return absl::ResourceExhaustedError("peer " + peer_ + ": " + detail);
      case grpc::StatusCode::OK:
        return absl::UnavailableError("peer " + peer_ + " ended the link");
      default:
        return absl::UnavailableError("peer " + peer_ + " unreachable or disconnected: " +
                                      detail);
    }
  }

  const std::string peer_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::PeerLink::Stub> stub_;
  const size_t max_pending_bytes_;
  grpc::ClientContext ctx_;
  proto::SendAck ack_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<proto::Frame> pending_;  // front() is the one in flight, if any
  size_t pending_bytes_ = 0;
  bool started_ = false;
  bool write_in_flight_ = false;
  bool closing_ = false;
  bool failed_ = false;
  bool hold_removed_ = false;
  bool done_ = false;
  grpc::Status final_;
  Status cancel_reason_;
};

}  // namespace

using MailboxKey = std::pair<std::string, std::string>;  // (job id, sending party)

// State shared by the transport, its service and its Links (which may outlive the transport).
class TransportCore : public std::enable_shared_from_this<TransportCore> {
 public:
  TransportCore(std::string self, TlsConfig tls, std::shared_ptr<PeerDirectory> dir,
                PeerTransportOptions opts)
      : self_(std::move(self)), tls_(std::move(tls)), dir_(std::move(dir)), opts_(opts) {}

  const std::string& self() const { return self_; }
  PeerDirectory& directory() { return *dir_; }
  const PeerTransportOptions& options() const { return opts_; }

  bool shutting_down() {
    std::lock_guard<std::mutex> lock(mu_);
    return shutdown_;
  }

  void StartReaper() {
    reaper_ = std::thread([this] { ReaperLoop(); });
  }

  // A local Link claims the mailbox for (job, peer), creating it if no frame came yet.
  StatusOr<std::shared_ptr<Mailbox>> AttachLocal(const MailboxKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return absl::FailedPreconditionError("peer transport is shut down");
    Entry& e = mailboxes_[key];
    if (e.local) {
      return absl::AlreadyExistsError("a link for job " + key.first + " with " + key.second +
                                      " is already open");
    }
    if (!e.box) e.box = NewMailbox();
    e.local = true;
    return e.box;
  }

  // An incoming stream starts feeding (job, sender).
  StatusOr<std::shared_ptr<Mailbox>> AttachInbound(const MailboxKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return absl::UnavailableError("peer transport is shutting down");
    auto it = mailboxes_.find(key);
    if (it == mailboxes_.end()) {
      size_t orphans = 0;
      for (const auto& [k, e] : mailboxes_) orphans += (k.second == key.second && !e.local);
      if (orphans >= opts_.max_orphans_per_peer) {
        return absl::ResourceExhaustedError("too many links from " + key.second +
                                            " for jobs not started here");
      }
      it = mailboxes_.emplace(key, Entry{}).first;
      it->second.box = NewMailbox();
    }
    Entry& e = it->second;
    if (e.inbound_seen) {
      return absl::AlreadyExistsError("job " + key.first + " already has a stream from " +
                                      key.second);
    }
    e.inbound_seen = true;
    return e.box;
  }

  // The local Link closed: forget the mailbox (an inbound stream still feeding it fails).
  void DetachLocal(const MailboxKey& key, const std::shared_ptr<Mailbox>& box) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mailboxes_.find(key);
    if (it != mailboxes_.end() && it->second.box == box) mailboxes_.erase(it);
  }

  StatusOr<std::shared_ptr<grpc::Channel>> ChannelFor(const PeerInfo& info) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return absl::FailedPreconditionError("peer transport is shut down");
    auto it = channels_.find(info.name);
    if (it != channels_.end() && it->second.address == info.address &&
        it->second.fingerprint == info.cert_fingerprint) {
      return it->second.channel;
    }
    CONSORT_ASSIGN_OR_RETURN(auto channel,
                             CreatePinnedChannel(info.address, tls_, info.cert_fingerprint));
    channels_[info.name] = ChannelEntry{info.address, info.cert_fingerprint, channel};
    return channel;
  }

  void Register(const std::shared_ptr<OutStream>& s) {
    std::lock_guard<std::mutex> lock(mu_);
    // Prune expired entries so the set stays proportional to live links.
    for (auto it = streams_.begin(); it != streams_.end();) {
      it = it->expired() ? streams_.erase(it) : std::next(it);
    }
    streams_.push_back(s);
  }

  size_t mailbox_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return mailboxes_.size();
  }

  // Stops everything except the gRPC server (owned by PeerTransport).
  void Shutdown() {
    std::vector<std::shared_ptr<Mailbox>> boxes;
    std::vector<std::shared_ptr<OutStream>> streams;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
      for (auto& [k, e] : mailboxes_) boxes.push_back(e.box);
      mailboxes_.clear();
      for (auto& w : streams_) {
        if (auto s = w.lock()) streams.push_back(std::move(s));
      }
      streams_.clear();
      channels_.clear();
    }
    reaper_cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    for (auto& s : streams) s->Cancel(absl::CancelledError("peer transport shut down"));
    for (auto& b : boxes) b->Close(absl::CancelledError("peer transport shut down"));
  }

 private:
  struct Entry {
    std::shared_ptr<Mailbox> box;
    bool local = false;         // a local Link owns it
    bool inbound_seen = false;  // a stream from the peer has attached (only one ever may)
    Clock::time_point created = Clock::now();
  };
  struct ChannelEntry {
    std::string address, fingerprint;
    std::shared_ptr<grpc::Channel> channel;
  };

  std::shared_ptr<Mailbox> NewMailbox() {
    return std::make_shared<Mailbox>(opts_.mailbox_bytes, opts_.mailbox_messages);
  }

  void ReaperLoop() {
    milliseconds period = std::clamp(opts_.orphan_ttl / 4, milliseconds(10), milliseconds(1000));
    std::unique_lock<std::mutex> lock(mu_);
    while (!shutdown_) {
      reaper_cv_.wait_for(lock, period, [&] { return shutdown_; });
      if (shutdown_) break;
      auto now = Clock::now();
      for (auto it = mailboxes_.begin(); it != mailboxes_.end();) {
        if (!it->second.local && now - it->second.created > opts_.orphan_ttl) {
          CONSORT_LOG(INFO) << "dropping messages from " << it->first.second << " for job "
                            << it->first.first << ": no local link within the TTL";
          it->second.box->Close(absl::UnavailableError("dropped: job " + it->first.first +
                                                       " never connected here"));
          it = mailboxes_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  const std::string self_;
  const TlsConfig tls_;
  const std::shared_ptr<PeerDirectory> dir_;
  const PeerTransportOptions opts_;

  std::mutex mu_;
  bool shutdown_ = false;
  std::map<MailboxKey, Entry> mailboxes_;
  std::map<std::string, ChannelEntry> channels_;
  std::vector<std::weak_ptr<OutStream>> streams_;
  std::condition_variable reaper_cv_;
  std::thread reaper_;
};

namespace {

// Receives every peer's streams (sync API: one handler thread per active incoming stream,
// which blocks on the mailbox when it is full; that is what makes flow control push back).
class PeerService final : public proto::PeerLink::Service {
 public:
  explicit PeerService(std::shared_ptr<TransportCore> core) : core_(std::move(core)) {}

  grpc::Status Send(grpc::ServerContext* ctx, grpc::ServerReader<proto::Frame>* reader,
                    proto::SendAck* ack) override {
    auto fp = PeerFingerprint(*ctx);
    if (!fp.ok()) return ToGrpcStatus(fp.status());
    auto sender = core_->directory().NameForFingerprint(*fp);
    if (!sender.ok()) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "certificate is not registered");
    }
    auto md = ctx->client_metadata().equal_range(kJobIdHeader);
    if (md.first == md.second || std::next(md.first) != md.second) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exactly one job id expected");
    }
    std::string job(md.first->second.data(), md.first->second.size());
    if (!ValidJobId(job)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed job id");
    }
    auto box = core_->AttachInbound({job, *sender});
    if (!box.ok()) return ToGrpcStatus(box.status());
    CONSORT_LOG(DEBUG) << "inbound link from " << *sender << " for job " << job;

    proto::Frame frame;
    uint64_t frames = 0;
    while (reader->Read(&frame)) {
      size_t n = frame.payload().size();
      if (n > kMaxMessageBytes) {
        std::string why = "peer " + *sender + " sent a frame of " + std::to_string(n) +
                          " bytes; the limit is " + std::to_string(kMaxMessageBytes);
        (*box)->Close(absl::InvalidArgumentError(why));
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
      }
      const std::string& p = frame.payload();
      Bytes message(p.begin(), p.end());
      while (true) {
        Status st = (*box)->Push(std::move(message), kPollInterval);
        if (st.ok()) break;
        if (st.code() != absl::StatusCode::kDeadlineExceeded) {
          // Closed by the local Link, the orphan reaper or shutdown.
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "receiver ended the link: " +
                                  std::string((*box)->close_reason().message()));
        }
        if (ctx->IsCancelled()) break;  // Read below reports it
        if (core_->shutting_down()) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "peer transport shutting down");
        }
      }
      ++frames;
    }
    if (ctx->IsCancelled()) {
      (*box)->Close(absl::UnavailableError("peer " + *sender + " disconnected"));
      return grpc::Status::CANCELLED;
    }
    (*box)->Close(absl::UnavailableError("peer " + *sender + " closed the link"));
    ack->set_frames(frames);
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<TransportCore> core_;
};

class GrpcLink final : public Link {
 public:
  GrpcLink(std::shared_ptr<TransportCore> core, MailboxKey key, std::shared_ptr<Mailbox> box,
           std::shared_ptr<OutStream> out)
      : core_(std::move(core)), key_(std::move(key)), box_(std::move(box)), out_(std::move(out)) {}
  ~GrpcLink() override { Close(); }

  const std::string& peer() const override { return key_.second; }

  Status Send(ByteSpan message) override {
    if (message.size() > kMaxMessageBytes) {
      return absl::InvalidArgumentError("message of " + std::to_string(message.size()) +
                                        " bytes exceeds the link limit");
    }
    if (closed_) return absl::CancelledError("link closed locally");
    CONSORT_RETURN_IF_ERROR(out_->Write(message, timeout()));
    CountSent(message.size());
    return OkStatus();
  }

  StatusOr<Bytes> Recv() override {
    if (closed_) return absl::CancelledError("link closed locally");
    auto m = box_->Pop(timeout());
    if (m.ok()) CountReceived(m->size());
    return m;
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    box_->Close(absl::CancelledError("link to " + key_.second + " closed locally"));
    core_->DetachLocal(key_, box_);
    out_->Close(timeout());
  }

 private:
  std::shared_ptr<TransportCore> core_;
  MailboxKey key_;
  std::shared_ptr<Mailbox> box_;
  std::shared_ptr<OutStream> out_;
  std::atomic<bool> closed_{false};
};

}  // namespace
}  // namespace internal

StatusOr<std::unique_ptr<PeerTransport>> PeerTransport::Start(
    std::string self_name, std::string listen_address, TlsConfig tls,
    std::shared_ptr<PeerDirectory> directory, PeerTransportOptions options) {
  if (self_name.empty()) return absl::InvalidArgumentError("transport needs a party name");
  if (!directory) return absl::InvalidArgumentError("transport needs a peer directory");
  if (options.mailbox_bytes == 0 || options.mailbox_messages == 0 ||
      options.send_buffer_bytes == 0) {
    return absl::InvalidArgumentError("transport buffers must be non-empty");
  }
  std::shared_ptr<PeerDirectory> dir = directory;
  CONSORT_ASSIGN_OR_RETURN(
      auto creds, MakeServerCredentials(tls, [dir](const std::string& fp) {
        return dir->NameForFingerprint(fp).ok();
      }));

  std::unique_ptr<PeerTransport> t(new PeerTransport());
  t->core_ = std::make_shared<internal::TransportCore>(std::move(self_name), std::move(tls),
                                                       std::move(directory), options);
  t->service_ = std::make_unique<internal::PeerService>(t->core_);
  grpc::ServerBuilder builder;
  ApplyServerDefaults(builder);
  builder.AddListeningPort(listen_address, creds, &t->port_);
  builder.RegisterService(t->service_.get());
  t->server_ = builder.BuildAndStart();
  if (!t->server_ || t->port_ == 0) {
    return absl::UnavailableError("cannot listen on " + listen_address);
  }
  t->core_->StartReaper();
  return t;
}

PeerTransport::~PeerTransport() { Shutdown(); }

const std::string& PeerTransport::self_name() const { return core_->self(); }

size_t PeerTransport::mailbox_count() const { return core_->mailbox_count(); }

StatusOr<std::unique_ptr<Link>> PeerTransport::Connect(const std::string& job_id,
                                                       const std::string& peer) {
  if (!internal::ValidJobId(job_id)) {
    return absl::InvalidArgumentError("job id must be 1-128 characters of [A-Za-z0-9._:-]");
  }
  if (peer == core_->self()) return absl::InvalidArgumentError("cannot link to ourselves");
  CONSORT_ASSIGN_OR_RETURN(PeerInfo info, core_->directory().Lookup(peer));
  CONSORT_ASSIGN_OR_RETURN(auto channel, core_->ChannelFor(info));
  internal::MailboxKey key{job_id, peer};
  CONSORT_ASSIGN_OR_RETURN(auto box, core_->AttachLocal(key));
  auto out = std::make_shared<internal::OutStream>(peer, std::move(channel),
                                                   core_->options().send_buffer_bytes);
  out->Start(job_id);
  core_->Register(out);
  return std::unique_ptr<Link>(
      std::make_unique<internal::GrpcLink>(core_, std::move(key), std::move(box), std::move(out)));
}

void PeerTransport::Shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (core_) core_->Shutdown();
  // Cancels every incoming call now: handlers see the cancellation within kPollInterval and
  // peers see their streams break.
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }
}

}  // namespace consort::net
