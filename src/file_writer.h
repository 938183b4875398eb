// Output files written under a temporary name and renamed into place only when complete, so a
// failure or a killed process never leaves a partial file under the final name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "status.h"

namespace ckptio {

class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Create `<final_path>.tempstate<random>` exclusively.
  Status Open(const std::string& final_path);
  Status Append(const void* data, uint64_t n);
  // Copy n bytes at `offset` of the file `src_path` (in-kernel where the OS can).
  Status AppendFileRange(const std::string& src_path, uint64_t offset, uint64_t n);
  uint64_t size() const { return size_; }
  // Flush, optionally fsync, close; the file stays under its temporary name.
  Status Close(bool sync);
  // Rename to the final path (after Close), or to another path chosen late.
  Status Commit() { return CommitAs(final_path_); }
  Status CommitAs(const std::string& path);
  // Remove the temporary file.
  void Discard();

  const std::string& final_path() const { return final_path_; }

 private:
  Status FlushBuffer();
  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace ckptio
