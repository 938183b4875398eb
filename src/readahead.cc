#include "readahead.h"

#include <algorithm>

namespace ckptio {

namespace {
// A read skipping less than this still counts as sequential (alignment padding, a small tensor
// left out).
constexpr uint64_t kGap = 4 << 20;
}  // namespace

void ReadAhead::Reading(const MappedFile& file, uint64_t offset, uint64_t n) {
  if (file.data() == nullptr) return;
  uint64_t from = 0, to = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t reach = std::max(last_end_, frontier_) + kGap;
    const bool sequential = offset >= last_end_ && offset <= reach;
    last_end_ = offset + n;
    if (!sequential) {
      frontier_ = last_end_;
      return;
    }
    // Whole blocks on a fixed grid: successive reads never request a block twice.
    to = std::min(file.size(), (last_end_ + kWindow) / kBlock * kBlock);
    from = std::max(frontier_, last_end_ / kBlock * kBlock);
    if (to <= from) return;
    frontier_ = to;
  }
  file.Prefetch(from, to - from);
}

}  // namespace ckptio
