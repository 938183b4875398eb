#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "background.h"

namespace ckptio {

namespace {
Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}
// Files held open for ReadInto beyond those opened with keep_open: a checkpoint of thousands
// of shards must not use up the process's descriptors (its shards beyond this are read through
// their mappings, as before).
constexpr int kMaxHeldOpen = 256;
std::atomic<int> g_held_open{0};

bool TakeHeldOpenSlot() {
  if (g_held_open.fetch_add(1) < kMaxHeldOpen) return true;
  g_held_open.fetch_sub(1);
  return false;
}

}  // namespace

Status MappedFile::Map(const std::string& path, int fd, uint64_t size, const uint8_t** data) {
  *data = nullptr;
  if (size == 0) return Status::OK();
  // Private (copy-on-write) and writable at the OS level, though every numpy view is flagged
  // read-only: libraries that ignore the flag (torch.from_numpy, ctypes) then write into a
  // private copy of the page instead of faulting, and never into the file. Until a page is
  // written it is the page cache's, exactly as with a shared read-only mapping. MAP_NORESERVE:
  // no swap is reserved for pages that are never written.
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  if (m == MAP_FAILED && errno == ENOMEM) {
    // Strict overcommit (vm.overcommit_memory=2) charges a writable private mapping its full
    // size; a read-only one costs nothing, so huge files still open there.
    m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  if (m == MAP_FAILED) return ErrnoStatus("cannot map file", errno).WithFile(path);
  *data = static_cast<const uint8_t*>(m);
  return Status::OK();
}

Status MappedFile::Open(const std::string& path, std::shared_ptr<const MappedFile>* out,
                        bool keep_open) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus("cannot open file", errno).WithFile(path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("cannot stat file", err).WithFile(path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("not a regular file").WithFile(path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint8_t* data = nullptr;
  Status s = Map(path, fd, size, &data);
  const bool counted = s.ok() && !keep_open && size > 0 && TakeHeldOpenSlot();
  if (!s.ok() || (!keep_open && !counted)) {
    ::close(fd);  // the mapping keeps the file alive
    fd = -1;
  }
  CKPTIO_RETURN_IF_ERROR(s);
  MappedFile* file = new MappedFile(path, data, size, /*owned=*/true, fd);
  file->counted_ = counted;
  out->reset(file);
  return Status::OK();
}

Status MappedFile::MapAgain(std::shared_ptr<const MappedFile>* out) const {
  if (fd_ < 0) return Open(path_, out);
  const uint8_t* data = nullptr;
  CKPTIO_RETURN_IF_ERROR(Map(path_, fd_, size_, &data));
  out->reset(new MappedFile(path_, data, size_, /*owned=*/true));
  return Status::OK();
}

std::shared_ptr<const MappedFile> MappedFile::Borrow(std::string path, const uint8_t* data,
                                                     uint64_t size) {
  return std::shared_ptr<const MappedFile>(
      new MappedFile(std::move(path), size ? data : nullptr, size, /*owned=*/false));
}

MappedFile::~MappedFile() {
  if (owned_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (file_view_ != nullptr) ::munmap(const_cast<uint8_t*>(file_view_), size_);
  if (fd_ >= 0) ::close(fd_);
  if (counted_) g_held_open.fetch_sub(1);
}

Status MappedFile::ReadInto(uint64_t offset, uint64_t n, uint8_t* dst) const {
  if (!RangeWithinSize(offset, n)) {
    return Status::Corruption("range lies past the end of the file").WithFile(path_);
  }
  while (n > 0) {
    const size_t step = static_cast<size_t>(std::min<uint64_t>(n, 1ull << 30));
    const ssize_t got = ::pread(fd_, dst, step, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("cannot read file", errno).WithFile(path_);
    }
    if (got == 0) {
      return Status::Corruption("file is shorter than when it was opened (truncated meanwhile?)")
          .WithFile(path_);
    }
    dst += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
  return Status::OK();
}

void MappedFile::Prefetch(uint64_t offset, uint64_t n) const {
  // Hints past this many waiting are dropped (each is only a hint; reads fetch what they need).
  constexpr size_t kMaxWaiting = 64;
  if (data_ == nullptr || n == 0 || !RangeWithinSize(offset, n)) return;
  std::shared_ptr<const MappedFile> self = weak_from_this().lock();
  if (self == nullptr) return PrefetchNow(offset, n);
  const pid_t pid = ::getpid();
  {
    std::lock_guard<std::mutex> lock(BackgroundStateMutex());
    if (!hints_.empty() && hints_.back().offset + hints_.back().n == offset) {
      hints_.back().n += n;  // continues the last one: one request
    } else if (hints_.size() < kMaxWaiting) {
      hints_.push_back({offset, n});
    }
    if (hints_task_pid_ == pid) return;  // the queued task will make it
    hints_task_pid_ = pid;
  }
  if (!RunInBackground([self] { self->PrefetchQueued(); })) PrefetchQueued();
}

void MappedFile::PrefetchQueued() const {
  for (;;) {
    Hint hint;
    {
      std::lock_guard<std::mutex> lock(BackgroundStateMutex());
      if (hints_.empty()) {
        hints_task_pid_ = 0;
        return;
      }
      hint = hints_.front();
      hints_.pop_front();
    }
    PrefetchNow(hint.offset, hint.n);
  }
}

void MappedFile::PrefetchNow(uint64_t offset, uint64_t n) const {
  // The kernel reads at most its read-ahead size (here 8 MiB) per request: one per step.
  constexpr uint64_t kStep = 8 << 20;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  for (uint64_t at = offset; at < offset + n; at += kStep) {
    const uint64_t len = std::min(kStep, offset + n - at);
    // A request walks every page of its range even when all are cached (about as long as
    // copying them): skip ranges whose last page is cached already, as read-ahead fills
    // ranges front to back. One page's residency costs one short call.
    const uint64_t last = (at + len - 1) / page * page;
    unsigned char resident = 0;
    if (::mincore(const_cast<uint8_t*>(data_) + last, 1, &resident) == 0 && (resident & 1)) {
      hints_read_disk_.store(false, std::memory_order_relaxed);
      continue;
    }
    hints_read_disk_.store(true, std::memory_order_relaxed);
    if (fd_ >= 0) {
      ::posix_fadvise(fd_, static_cast<off_t>(at), static_cast<off_t>(len), POSIX_FADV_WILLNEED);
    } else {
      WillNeed(at, len);
    }
  }
}

namespace {

// Fill the page tables of [offset, offset+n) of a mapping at `base` in one call
// (MADV_POPULATE_READ) where the kernel can, else hint it (MADV_WILLNEED).
void PopulateMapping(const uint8_t* base, uint64_t offset, uint64_t n) {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  void* at = const_cast<uint8_t*>(base) + start;
  // Older kernels refuse the advice (EINVAL): fall back to the asynchronous hint. Any other
  // failure (EFAULT past a truncated file's end) is left for the read itself to meet.
  if (::madvise(at, offset + n - start, MADV_POPULATE_READ) != 0 && errno == EINVAL) {
    ::madvise(at, offset + n - start, MADV_WILLNEED);
  }
}

// Whether every page of [offset, offset+n) of a file mapped at `base` is in the page cache.
bool AllCached(const uint8_t* base, uint64_t offset, uint64_t n) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t end = offset + n;
  unsigned char resident[1024];
  for (uint64_t at = offset / page * page; at < end;) {
    const uint64_t len = std::min<uint64_t>(end - at, sizeof(resident) * page);
    if (::mincore(const_cast<uint8_t*>(base) + at, len, resident) != 0) return false;
    const uint64_t pages = (len + page - 1) / page;
    for (uint64_t i = 0; i < pages; ++i) {
      if (!(resident[i] & 1)) return false;
    }
    at += len;
  }
  return true;
}

}  // namespace

const uint8_t* MappedFile::WarmBytes(uint64_t offset, uint64_t n) const {
  if (fd_ < 0 || n == 0 || !RangeWithinSize(offset, n)) return nullptr;
  if (hints_read_disk_.load(std::memory_order_relaxed)) return nullptr;
  std::call_once(file_view_once_, [this] {
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
    if (m != MAP_FAILED) file_view_ = static_cast<const uint8_t*>(m);
  });
  if (file_view_ == nullptr || !AllCached(file_view_, offset, n)) return nullptr;
  PopulateMapping(file_view_, offset, n);
  return file_view_ + offset;
}

void MappedFile::WillNeed(uint64_t offset, uint64_t n) const {
  if (data_ == nullptr || !RangeWithinSize(offset, n)) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  ::madvise(const_cast<uint8_t*>(data_) + start, offset + n - start, MADV_WILLNEED);
}

void MappedFile::Populate(uint64_t offset, uint64_t n) const {
  if (data_ == nullptr || n == 0 || !RangeWithinSize(offset, n)) return;
  PopulateMapping(data_, offset, n);
}

}  // namespace ckptio
