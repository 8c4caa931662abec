#include "bench/common/process_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <tuple>
#include <utility>

#include "bench/common/socket_link.h"

namespace consort::bench {
namespace {

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w <= 0) return;
    off += static_cast<size_t>(w);
  }
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  ssize_t r;
  while ((r = ::read(fd, buf, sizeof(buf))) > 0) s.append(buf, static_cast<size_t>(r));
  return s;
}

// Reports through a pipe: "<size>\n<bytes>" each, so that a report may hold any text.
std::string Frame(const std::vector<std::string>& reports) {
  std::string out;
  for (const std::string& r : reports) out += std::to_string(r.size()) + "\n" + r;
  return out;
}

// The first n framed reports of s; "" for each one that is missing or cut short.
std::vector<std::string> Unframe(const std::string& s, size_t n) {
  std::vector<std::string> out(n);
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) break;
    char* end = nullptr;
    const unsigned long long len = std::strtoull(s.c_str() + pos, &end, 10);
    if (end != s.c_str() + nl || len > s.size() - nl - 1) break;
    out[i] = s.substr(nl + 1, len);
    pos = nl + 1 + len;
  }
  return out;
}

// Forks k children; child c returns body(c) (per_child reports) through its own pipe and exits.
// The parent runs after_fork() once every child is forked, then collects the reports of all
// children in order and reaps them.
std::vector<std::string> ForkAndCollect(
    int k, size_t per_child, const std::function<std::vector<std::string>(int)>& body,
    const std::function<void()>& after_fork) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<int> read_fds(k);
  std::vector<pid_t> pids(k);
  for (int c = 0; c < k; ++c) {
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    pids[c] = ::fork();
    if (pids[c] < 0) std::abort();
    if (pids[c] == 0) {
      ::close(fds[0]);
      for (int p = 0; p < c; ++p) ::close(read_fds[p]);
      WriteAll(fds[1], Frame(body(c)));
      ::close(fds[1]);
      _exit(0);
    }
    ::close(fds[1]);
    read_fds[c] = fds[0];
  }
  if (after_fork) after_fork();
  std::vector<std::string> reports;
  for (int c = 0; c < k; ++c) {
    const std::vector<std::string> got = Unframe(ReadAll(read_fds[c]), per_child);
    ::close(read_fds[c]);
    ::waitpid(pids[c], nullptr, 0);
    reports.insert(reports.end(), got.begin(), got.end());
  }
  return reports;
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// A connected TCP pair on 127.0.0.1: listen on port 0, connect, accept; TCP_NODELAY on both.
std::pair<int, int> TcpPair() {
  const int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(ls, 1) != 0 || ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("tcp listen");
    std::exit(1);
  }
  const int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("tcp connect");
    std::exit(1);
  }
  const int s = ::accept(ls, nullptr, nullptr);
  ::close(ls);
  if (s < 0) {
    std::perror("tcp accept");
    std::exit(1);
  }
  SetNoDelay(c);
  SetNoDelay(s);
  return {s, c};
}

std::pair<int, int> UnixPair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    std::perror("socketpair");
    std::exit(1);
  }
  return {sv[0], sv[1]};
}

std::vector<std::string> RunInMemory(const std::vector<std::string>& names, const PartyFn& fn) {
  const size_t k = names.size();
  return ForkAndCollect(
      1, k,
      [&](int) {
        std::vector<PartyLinks> links(k);
        for (auto& l : links) l.resize(k);
        for (size_t i = 0; i < k; ++i) {
          for (size_t j = i + 1; j < k; ++j) {
            std::tie(links[i][j], links[j][i]) = net::CreateInMemoryLinkPair(names[i], names[j]);
          }
        }
        std::vector<std::string> reports(k);
        std::vector<std::thread> threads;
        for (size_t p = 1; p < k; ++p) {
          threads.emplace_back([&, p] { reports[p] = fn(static_cast<int>(p), links[p]); });
        }
        reports[0] = fn(0, links[0]);
        for (auto& t : threads) t.join();
        links.clear();
        return reports;
      },
      nullptr);
}

}  // namespace

std::vector<std::string> RunParties(const std::vector<std::string>& names, Transport transport,
                                    const PartyFn& fn) {
  const int k = static_cast<int>(names.size());
  if (k < 2) std::abort();
  if (transport == Transport::kMemory) return RunInMemory(names, fn);
  // fds[i][j]: party i's end of the connection with party j.
  std::vector<std::vector<int>> fds(k, std::vector<int>(k, -1));
  for (int i = 0; i < k; ++i) {
    for (int j = i + 1; j < k; ++j) {
      std::tie(fds[i][j], fds[j][i]) = transport == Transport::kTcp ? TcpPair() : UnixPair();
    }
  }
  auto close_all_but = [&](int keep) {
    for (int i = 0; i < k; ++i) {
      if (i == keep) continue;
      for (int fd : fds[i]) {
        if (fd >= 0) ::close(fd);
      }
    }
  };
  return ForkAndCollect(
      k, 1,
      [&](int c) {
        close_all_but(c);
        std::string report;
        {
          PartyLinks links(k);
          for (int j = 0; j < k; ++j) {
            if (j != c) links[j] = CreateSocketLink(fds[c][j], names[j]);
          }
          report = fn(c, links);
        }
        return std::vector<std::string>{report};
      },
      [&] { close_all_but(-1); });
}

std::vector<std::string> RunInChildren(int k, const std::function<std::string(int)>& fn) {
  return ForkAndCollect(
      k, 1, [&](int c) { return std::vector<std::string>{fn(c)}; }, nullptr);
}

std::string RunInChild(const std::function<std::string()>& fn) {
  return RunInChildren(1, [&](int) { return fn(); })[0];
}

std::string LoadAverage() {
  double l[3] = {0, 0, 0};
  if (::getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace consort::bench
