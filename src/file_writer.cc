#include "file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <cerrno>
#include <cstring>
#include <random>

namespace ckptio {

namespace {

constexpr size_t kBufferSize = 1 << 20;

Status Errno(const std::string& what, const std::string& path, int err) {
  return Status::IOError(what + ": " + std::strerror(err)).WithFile(path);
}

Status WriteAll(int fd, const char* p, uint64_t n, const std::string& path) {
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, 1u << 30));
    const ssize_t w = ::write(fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("write failed", path, errno);
    }
    p += w;
    n -= static_cast<uint64_t>(w);
  }
  return Status::OK();
}

}  // namespace

AtomicFile::~AtomicFile() { Discard(); }

Status AtomicFile::Open(const std::string& final_path) {
  final_path_ = final_path;
  std::random_device rd;
  const uint64_t nonce = (uint64_t(rd()) << 32) ^ rd();
  temp_path_ = final_path + ".tempstate" + std::to_string(nonce);
  // 0666 less the umask: the mode any tool's open(path, "w") gives a new file.
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  // Errors name the file the user asked for, never the temporary name.
  if (fd_ < 0) return Errno("cannot create file", final_path_, errno);
  buffer_.reserve(kBufferSize);
  return Status::OK();
}

Status AtomicFile::FlushBuffer() {
  Status s = WriteAll(fd_, buffer_.data(), buffer_.size(), final_path_);
  buffer_.clear();
  return s;
}

Status AtomicFile::Append(const void* data, uint64_t n) {
  const char* p = static_cast<const char*>(data);
  size_ += n;
  if (buffer_.size() + n <= kBufferSize) {
    buffer_.append(p, n);
    return Status::OK();
  }
  CKPTIO_RETURN_IF_ERROR(FlushBuffer());
  if (n < kBufferSize) {
    buffer_.append(p, n);
    return Status::OK();
  }
  return WriteAll(fd_, p, n, final_path_);  // large tensors go straight from their memory
}

Status AtomicFile::AppendFileRange(const std::string& src_path, uint64_t offset, uint64_t n) {
  CKPTIO_RETURN_IF_ERROR(FlushBuffer());
  const int src = ::open(src_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return Errno("cannot open source file", src_path, errno);
  Status s;
  uint64_t done = 0;
#if defined(__linux__) && defined(SYS_copy_file_range)
  while (done < n) {
    loff_t in_off = static_cast<loff_t>(offset + done);
    const ssize_t c = ::syscall(SYS_copy_file_range, src, &in_off, fd_, nullptr,
                                static_cast<size_t>(std::min<uint64_t>(n - done, 1u << 30)), 0u);
    if (c < 0 && errno == EINTR) continue;
    if (c <= 0) break;  // unsupported here (or a short source): finish with plain reads
    done += static_cast<uint64_t>(c);
  }
#endif
  std::string chunk;
  while (s.ok() && done < n) {
    chunk.resize(static_cast<size_t>(std::min<uint64_t>(n - done, kBufferSize)));
    const ssize_t r = ::pread(src, chunk.data(), chunk.size(), static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      s = Errno("read failed", src_path, errno);
    } else if (r == 0) {
      s = Status::Corruption("source file ends before the range to copy").WithFile(src_path);
    } else {
      s = WriteAll(fd_, chunk.data(), static_cast<uint64_t>(r), final_path_);
      done += static_cast<uint64_t>(r);
    }
  }
  ::close(src);
  size_ += done;
  return s;
}

Status AtomicFile::Close(bool sync) {
  Status s = FlushBuffer();
  if (s.ok() && sync && ::fsync(fd_) != 0) s = Errno("fsync failed", final_path_, errno);
  if (::close(fd_) != 0 && s.ok()) s = Errno("close failed", final_path_, errno);
  fd_ = -1;
  return s;
}

Status AtomicFile::CommitAs(const std::string& path) {
  if (::rename(temp_path_.c_str(), path.c_str()) != 0) {
    return Errno("cannot move the finished file into place", path, errno);
  }
  committed_ = true;
  return Status::OK();
}

void AtomicFile::Discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

}  // namespace ckptio
