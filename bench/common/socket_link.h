#pragma once
// A net::Link over a connected stream socket (socketpair or TCP), length-prefixed frames.
// Benchmark scaffolding: no TLS, no authentication; production traffic uses PeerTransport.

#include <memory>
#include <string>

#include "consort/net/link.h"

namespace consort::bench {

// Takes ownership of `fd` (closed on destruction). Frames: u32 little-endian length, payload.
std::unique_ptr<net::Link> CreateSocketLink(int fd, std::string peer);

}  // namespace consort::bench
