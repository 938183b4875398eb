// A private (copy-on-write) memory map of a whole file, shared by every view into it. Views
// are read-only numpy arrays; a write that bypasses the flag changes this process's copy only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "status.h"

namespace ckptio {

class MappedFile : public std::enable_shared_from_this<MappedFile> {
 public:
  // On success store the mapping in *out. Empty files map to (nullptr, 0).
  // keep_open: hold the file open, so that MapAgain works even after the path is gone.
  // Without it the file is still held open while few files are (see kMaxHeldOpen), for
  // ReadInto: bulk copies then read the file straight into their destination.
  static Status Open(const std::string& path, std::shared_ptr<const MappedFile>* out,
                     bool keep_open = false);
  // A second, independent private mapping of the same file (opened with keep_open): writes
  // into one are not seen through the other.
  Status MapAgain(std::shared_ptr<const MappedFile>* out) const;
  // View memory owned elsewhere as if it were a mapped file (fuzzing, tests).
  static std::shared_ptr<const MappedFile> Borrow(std::string path, const uint8_t* data,
                                                  uint64_t size);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool RangeWithinSize(uint64_t offset, uint64_t n) const { return n <= size_ && offset <= size_ - n; }

  // Tell the kernel a range will be read front to back soon (bulk copies and verification).
  void WillNeed(uint64_t offset, uint64_t n) const;
  // Read a range into the page cache and map it now, in one call (MADV_POPULATE_READ, else a
  // WILLNEED hint): a block copy then takes no page faults, and several threads populating
  // their own blocks keep several reads in flight on a cold file.
  void Populate(uint64_t offset, uint64_t n) const;
  // The bytes of [offset, offset+n) as the file holds them, mapped in and ready to copy, when
  // the range is warm; null otherwise. Warm: every page in the page cache (mincore), and the
  // file's last read-ahead hint found its range cached too. While hints have to read from disk,
  // the pages just ahead of a reader are cached but the file is being read cold; a copy
  // through a mapping then costs more than reading the file (page tables filled, then torn
  // down: measured, a cold 2 GB read-all took 5-8% longer), while warm it saves a pass. The
  // bytes come from a second, shared read-only mapping (made on first use, held open files
  // only): the private one shows what writes into views changed, and a copy, like a read of
  // the file, must not.
  const uint8_t* WarmBytes(uint64_t offset, uint64_t n) const;

  // Whether ReadInto works (the file is held open).
  bool can_read_into() const { return fd_ >= 0; }
  // pread [offset, offset+n) of the file into dst: no mapping of the source pages (no page
  // tables to fill and tear down), the kernel copies from its cache into dst.
  Status ReadInto(uint64_t offset, uint64_t n, uint8_t* dst) const;
  // Start reading [offset, offset+n) into the page cache without waiting (POSIX_FADV_WILLNEED
  // on the held file, else MADV_WILLNEED on the mapping). The hint is made on the background
  // thread (see background.h), in the order asked, holding the file open until it is made;
  // in the caller's thread where that thread cannot be had or the file has no shared owner.
  void Prefetch(uint64_t offset, uint64_t n) const;

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size, bool owned, int fd = -1)
      : path_(std::move(path)), data_(data), size_(size), owned_(owned), fd_(fd) {}
  static Status Map(const std::string& path, int fd, uint64_t size, const uint8_t** data);
  void PrefetchNow(uint64_t offset, uint64_t n) const;
  void PrefetchQueued() const;
  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
  bool owned_;
  int fd_;  // -1 when not held open
  bool counted_ = false;  // fd_ counts against kMaxHeldOpen

  // Hints waiting for the background thread, and whether a task to make them is queued there
  // (by which process: a forked child's file has no task of its own yet). Guarded by
  // BackgroundStateMutex(), which fork() never leaves held.
  struct Hint {
    uint64_t offset, n;
  };
  mutable std::deque<Hint> hints_;
  // Whether the last hint made had to read from disk (its range was not cached).
  mutable std::atomic<bool> hints_read_disk_{false};
  // The shared read-only mapping of WarmBytes (null until made, or when it cannot be).
  mutable std::once_flag file_view_once_;
  mutable const uint8_t* file_view_ = nullptr;
  mutable pid_t hints_task_pid_ = 0;  // 0: no task queued
};

}  // namespace ckptio
