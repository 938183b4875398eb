// Where a checkpoint's bytes come from. Readers ask a DataSource for (offset, size) ranges and
// get back bytes that keep their storage alive: a memory-mapped local file hands out views of
// the mapping; a remote source (object storage, fetched by the Python layer) hands out the
// buffers it downloaded. One reader, two kinds of source.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "mapped_file.h"
#include "readahead.h"
#include "status.h"

namespace ckptio {

// Bytes plus whatever keeps them valid (a mapping, a downloaded buffer).
struct ByteRange {
  std::shared_ptr<const void> owner;
  const uint8_t* data = nullptr;
  uint64_t size = 0;
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual const std::string& path() const = 0;
  virtual uint64_t size() const = 0;
  // On success fill *out with exactly n bytes starting at offset (callers check the range
  // against size() first).
  virtual Status Read(uint64_t offset, uint64_t n, ByteRange* out) const = 0;
  // A hint that [offset, offset+n) will be read soon.
  virtual void WillNeed(uint64_t offset, uint64_t n) const { (void)offset, (void)n; }
  // Bring [offset, offset+n) in now, ready to read without faults (a block of a bulk copy).
  virtual void Populate(uint64_t offset, uint64_t n) const { (void)offset, (void)n; }
  // A bulk read (copy, checksum) of [offset, offset+n) starts: a source may read ahead of it.
  virtual void Reading(uint64_t offset, uint64_t n) const { (void)offset, (void)n; }
  // Where a bulk copy of [offset, offset+n) is better made from memory than by reading the
  // file (the range is warm, see MappedFile::WarmBytes): the file's bytes, ready to copy. Null
  // otherwise.
  virtual const uint8_t* WarmBytes(uint64_t offset, uint64_t n) const {
    return (void)offset, (void)n, nullptr;
  }
  // Whether ReadInto works here (a local file held open).
  virtual bool CanReadInto() const { return false; }
  // Copy [offset, offset+n) into dst by reading the file itself, not through a mapping.
  virtual Status ReadInto(uint64_t offset, uint64_t n, uint8_t* dst) const {
    (void)offset, (void)n, (void)dst;
    return Status::NotSupported("no direct reads from this source");
  }
  // A source over the same bytes whose ranges share no memory with this one's, so that a write
  // into a view of one (through torch, ctypes) never shows in the other; nullptr where the
  // ranges handed out are already buffers of their own.
  virtual Status Independent(std::shared_ptr<const DataSource>* out) const {
    out->reset();
    return Status::OK();
  }
};

// A local file, memory-mapped once; ranges are zero-copy views of the mapping.
class MappedSource : public DataSource {
 public:
  static Status Open(const std::string& path, std::shared_ptr<const DataSource>* out);
  explicit MappedSource(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  const std::string& path() const override { return file_->path(); }
  uint64_t size() const override { return file_->size(); }
  Status Read(uint64_t offset, uint64_t n, ByteRange* out) const override;
  void WillNeed(uint64_t offset, uint64_t n) const override { file_->Prefetch(offset, n); }
  void Populate(uint64_t offset, uint64_t n) const override { file_->Populate(offset, n); }
  void Reading(uint64_t offset, uint64_t n) const override { ahead_.Reading(*file_, offset, n); }
  bool CanReadInto() const override { return file_->can_read_into(); }
  const uint8_t* WarmBytes(uint64_t offset, uint64_t n) const override {
    return file_->WarmBytes(offset, n);
  }
  Status ReadInto(uint64_t offset, uint64_t n, uint8_t* dst) const override {
    return file_->ReadInto(offset, n, dst);
  }
  Status Independent(std::shared_ptr<const DataSource>* out) const override;

 private:
  std::shared_ptr<const MappedFile> file_;
  mutable ReadAhead ahead_;
};

// Bytes already in memory (a fetched index, a fuzz input); ranges are views sharing `bytes`'s
// owner.
class MemorySource : public DataSource {
 public:
  MemorySource(std::string path, ByteRange bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}
  const std::string& path() const override { return path_; }
  uint64_t size() const override { return bytes_.size; }
  Status Read(uint64_t offset, uint64_t n, ByteRange* out) const override;

 private:
  std::string path_;
  ByteRange bytes_;
};

// Opens the source for a path; the default maps local files.
using SourceOpener =
    std::function<Status(const std::string& path, std::shared_ptr<const DataSource>* out)>;
Status OpenMappedSource(const std::string& path, std::shared_ptr<const DataSource>* out);

}  // namespace ckptio
