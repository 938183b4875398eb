#include "data_source.h"

#include "coding.h"

namespace ckptio {

Status MappedSource::Open(const std::string& path, std::shared_ptr<const DataSource>* out) {
  std::shared_ptr<const MappedFile> file;
  CKPTIO_RETURN_IF_ERROR(MappedFile::Open(path, &file));
  *out = std::make_shared<MappedSource>(std::move(file));
  return Status::OK();
}

Status MappedSource::Read(uint64_t offset, uint64_t n, ByteRange* out) const {
  if (!RangeWithin(offset, n, file_->size())) {
    return Status::Corruption("range lies past the end of the file").WithFile(file_->path());
  }
  out->owner = file_;
  out->data = file_->data() == nullptr ? nullptr : file_->data() + offset;
  out->size = n;
  return Status::OK();
}

Status MemorySource::Read(uint64_t offset, uint64_t n, ByteRange* out) const {
  if (!RangeWithin(offset, n, bytes_.size)) {
    return Status::Corruption("range lies past the end of the file").WithFile(path_);
  }
  out->owner = bytes_.owner;
  out->data = bytes_.data == nullptr ? nullptr : bytes_.data + offset;
  out->size = n;
  return Status::OK();
}

Status MappedSource::Independent(std::shared_ptr<const DataSource>* out) const {
  std::shared_ptr<const MappedFile> again;
  CKPTIO_RETURN_IF_ERROR(file_->MapAgain(&again));
  *out = std::make_shared<MappedSource>(std::move(again));
  return Status::OK();
}

Status OpenMappedSource(const std::string& path, std::shared_ptr<const DataSource>* out) {
  return MappedSource::Open(path, out);
}

}  // namespace ckptio
