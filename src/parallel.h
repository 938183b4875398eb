// The one place ckptio splits work across threads: `count` independent pieces taken in order by
// up to `workers` threads (the caller's thread is one of them). Pieces are handed out one at a
// time, so a slow piece (a cold read) does not hold up the rest.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace ckptio {

// Call piece(i) for every i in [0, count); returns when all are done.
template <typename Piece>
void ParallelFor(uint64_t count, unsigned workers, const Piece& piece) {
  std::atomic<uint64_t> next{0};
  auto work = [&] {
    for (uint64_t i = next++; i < count; i = next++) piece(i);
  };
  std::vector<std::thread> threads;
  const unsigned extra = static_cast<unsigned>(std::min<uint64_t>(workers, count)) - 1;
  threads.reserve(extra);
  for (unsigned i = 0; i < extra; ++i) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread to be had: the workers there are take every piece
    }
  }
  work();
  for (std::thread& t : threads) t.join();
}

}  // namespace ckptio
