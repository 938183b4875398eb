// Read-ahead for bulk reads of mapped files. A bulk read (a verified copy, a checksum pass)
// tells its file where it is reading; while reads move forward through the file, a bounded
// window beyond the current read is requested from the kernel without waiting. On a cold file
// the disk then has reads in flight across tensor boundaries: tensor after tensor, per-tensor
// bursts leave it idle between tensors (measured: a read-all of 489 tensors ran at a single
// stream's rate, about half of what parallel reads of the whole file reach).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "mapped_file.h"

namespace ckptio {

class ReadAhead {
 public:
  // Kept requested ahead of a forward-moving read, in steps of kBlock on a fixed grid.
  static constexpr uint64_t kWindow = 64 << 20;
  static constexpr uint64_t kBlock = 8 << 20;

  // A bulk read of [offset, offset+n) of `file` starts. If it continues the previous one (it
  // begins where that ended, a little past it, or inside the window already requested), the
  // window beyond it is requested; otherwise nothing is, and the next read is judged against
  // this one.
  void Reading(const MappedFile& file, uint64_t offset, uint64_t n);

 private:
  std::mutex mu_;
  uint64_t last_end_ = 0;  // where the previous bulk read ended (a read from 0 is sequential)
  uint64_t frontier_ = 0;  // requested up to here
};

}  // namespace ckptio
