#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ckptio {

namespace {
Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
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
  if (!s.ok() || !keep_open) {
    ::close(fd);  // the mapping keeps the file alive
    fd = -1;
  }
  CKPTIO_RETURN_IF_ERROR(s);
  out->reset(new MappedFile(path, data, size, /*owned=*/true, fd));
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
  if (fd_ >= 0) ::close(fd_);
}

void MappedFile::WillNeed(uint64_t offset, uint64_t n) const {
  if (data_ == nullptr || !RangeWithinSize(offset, n)) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  ::madvise(const_cast<uint8_t*>(data_) + start, offset + n - start, MADV_WILLNEED);
}

void MappedFile::Populate(uint64_t offset, uint64_t n) const {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif
  if (data_ == nullptr || n == 0 || !RangeWithinSize(offset, n)) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t start = offset / page * page;
  void* at = const_cast<uint8_t*>(data_) + start;
  // Older kernels refuse the advice (EINVAL): fall back to the asynchronous hint. Any other
  // failure (EFAULT past a truncated file's end) is left for the read itself to meet.
  if (::madvise(at, offset + n - start, MADV_POPULATE_READ) != 0 && errno == EINVAL) {
    ::madvise(at, offset + n - start, MADV_WILLNEED);
  }
}

}  // namespace ckptio
