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

Status MappedFile::Open(const std::string& path, std::shared_ptr<const MappedFile>* out) {
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
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("cannot map file", err).WithFile(path);
    }
    data = static_cast<const uint8_t*>(m);
  }
  ::close(fd);  // the mapping keeps the file alive
  out->reset(new MappedFile(path, data, size, /*owned=*/true));
  return Status::OK();
}

std::shared_ptr<const MappedFile> MappedFile::Borrow(std::string path, const uint8_t* data,
                                                     uint64_t size) {
  return std::shared_ptr<const MappedFile>(
      new MappedFile(std::move(path), size ? data : nullptr, size, /*owned=*/false));
}

MappedFile::~MappedFile() {
  if (owned_ && data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
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
