#pragma once
// ParallelFor: splits [0, n) into `threads` contiguous chunks and runs fn(begin, end, worker)
// on each, worker 0 on the calling thread and the others on threads started for the call.
// Runs everything on the calling thread when threads <= 1 or n < 2 * threads. Returns the
// first error (by worker index) after every chunk has finished. `fn` must be safe to call
// concurrently on disjoint ranges.

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

#include "consort/common/status.h"

namespace consort {

template <typename Fn>
Status ParallelFor(size_t n, int threads, Fn&& fn) {
  if (threads <= 1 || n < 2 * static_cast<size_t>(threads)) return fn(size_t{0}, n, 0);
  const size_t chunk = (n + threads - 1) / threads;
  std::vector<Status> status(threads);
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) {
    const size_t b = std::min(n, w * chunk), e = std::min(n, b + chunk);
    pool.emplace_back([&, b, e, w] { status[w] = fn(b, e, w); });
  }
  status[0] = fn(size_t{0}, std::min(n, chunk), 0);
  for (auto& t : pool) t.join();
  for (auto& s : status) CONSORT_RETURN_IF_ERROR(s);
  return OkStatus();
}

}  // namespace consort
