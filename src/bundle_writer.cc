#include "bundle_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "coding.h"
#include "crc32c.h"
#include "dtypes.h"
#include "parallel.h"
#include "table_builder.h"

namespace ckptio {

namespace {

std::string DataPath(const std::string& prefix, size_t shard, size_t num_shards) {
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), ".data-%05zu-of-%05zu", shard, num_shards);
  return prefix + suffix;
}

Status CheckShape(const std::vector<int64_t>& dims, uint64_t* n) {
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) return Status::InvalidArgument("negative dimension");
    if (d != 0 && count > (uint64_t(1) << 62) / uint64_t(d)) {
      return Status::InvalidArgument("too many elements");
    }
    count *= uint64_t(d);
  }
  *n = count;
  return Status::OK();
}

}  // namespace

BundleWriter::BundleWriter(std::string prefix, Options options)
    : prefix_(std::move(prefix)), options_(options) {}

BundleWriter::~BundleWriter() { Abort(); }

Status BundleWriter::Fail(Status s) {
  if (!s.ok()) {
    failed_ = true;
    Abort();
  }
  return s;
}

Status BundleWriter::StartShard() {
  auto file = std::make_unique<AtomicFile>();
  // The final name depends on the shard count, known only at Finish(); the temporary name is
  // derived from the prefix so that it sits in the destination directory (same file system).
  CKPTIO_RETURN_IF_ERROR(file->Open(prefix_ + ".data-" + std::to_string(shards_.size())));
  shards_.push_back(std::move(file));
  return Status::OK();
}

Status BundleWriter::Begin(std::string_view name, uint64_t size, BundleEntry* entry) {
  if (finished_ || failed_) return Status::InvalidArgument("writer is already finished");
  if (name.empty()) return Status::InvalidArgument("empty tensor name (reserved for the header)");
  if (entries_.count(std::string(name))) {
    return Status::InvalidArgument("adding duplicate key").WithKey(std::string(name));
  }
  if (shards_.empty() ||
      (options_.max_shard_bytes > 0 && shards_.back()->size() > 0 &&
       shards_.back()->size() + size > options_.max_shard_bytes)) {
    CKPTIO_RETURN_IF_ERROR(Fail(StartShard()));
  }
  entry->shard_id = static_cast<int64_t>(shards_.size() - 1);
  entry->offset = shards_.back()->size();
  entry->size = size;
  return Status::OK();
}

Status BundleWriter::AddFixed(std::string_view name, int64_t dtype,
                              const std::vector<int64_t>& dims, const uint8_t* data,
                              uint64_t size) {
  const DataTypeInfo type = GetDataTypeInfo(dtype);
  uint64_t n = 0;
  Status s = CheckShape(dims, &n);
  if (s.ok() && type.storage != Storage::kFixed) {
    s = Status::InvalidArgument(std::string("dtype ") + type.name + " is not fixed-size");
  }
  if (s.ok() && size != n * uint64_t(type.elem_size)) {
    s = Status::InvalidArgument("byte size disagrees with shape and dtype");
  }
  BundleEntry e;
  if (s.ok()) s = Begin(name, size, &e);
  if (!s.ok()) return s.WithKey(std::string(name));
  e.dtype = dtype;
  e.shape.dims = dims;
  // Large tensors are checksummed on a second thread while they are written (both only read
  // `data`, and the write takes several times longer): the checksum then costs no time.
  constexpr uint64_t kOverlapFrom = 4 << 20;
  uint32_t crc = 0;
  Status written;
  if (size >= kOverlapFrom) {
    ParallelFor(2, 2, [&](uint64_t i) {
      if (i == 0) {
        written = shards_.back()->Append(data, size);
      } else {
        crc = crc32c::Value(data, size);
      }
    });
  } else {
    crc = crc32c::Value(data, size);
    written = shards_.back()->Append(data, size);
  }
  CKPTIO_RETURN_IF_ERROR(Fail(written));
  e.crc32c = crc32c::Mask(crc);
  entries_.emplace(std::string(name), SerializeBundleEntry(e));
  return Status::OK();
}

Status BundleWriter::AddStrings(std::string_view name, const std::vector<int64_t>& dims,
                                const std::vector<std::string_view>& elements) {
  uint64_t n = 0;
  Status s = CheckShape(dims, &n);
  if (s.ok() && n != elements.size()) s = Status::InvalidArgument("element count disagrees with shape");
  if (!s.ok()) return s.WithKey(std::string(name));
  // varint lengths, then the masked CRC of the lengths (each as 4 or 8 LE bytes), then bytes.
  std::string header;
  uint32_t length_crc = 0;
  uint64_t total = 0;
  for (std::string_view e : elements) {
    PutVarint64(&header, e.size());
    uint8_t le[8];
    const size_t width = e.size() <= 0xffffffffu ? 4 : 8;
    for (size_t b = 0; b < width; ++b) le[b] = static_cast<uint8_t>(uint64_t(e.size()) >> (8 * b));
    length_crc = crc32c::Extend(length_crc, le, width);
    total += e.size();
  }
  const size_t varint_bytes = header.size();
  PutFixed32(&header, crc32c::Mask(length_crc));
  BundleEntry entry;
  s = Begin(name, header.size() + total, &entry);
  if (!s.ok()) return s.WithKey(std::string(name));
  entry.dtype = DT_STRING;
  entry.shape.dims = dims;
  uint32_t crc = crc32c::Extend(length_crc,
                                reinterpret_cast<const uint8_t*>(header.data()) + varint_bytes, 4);
  CKPTIO_RETURN_IF_ERROR(Fail(shards_.back()->Append(header.data(), header.size())));
  for (std::string_view e : elements) {
    crc = crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(e.data()), e.size());
    CKPTIO_RETURN_IF_ERROR(Fail(shards_.back()->Append(e.data(), e.size())));
  }
  entry.crc32c = crc32c::Mask(crc);
  entries_.emplace(std::string(name), SerializeBundleEntry(entry));
  return Status::OK();
}

Status BundleWriter::AddCopy(std::string_view name, int64_t dtype,
                             const std::vector<int64_t>& dims, const std::string& src_path,
                             uint64_t offset, uint64_t size, uint32_t masked_crc) {
  BundleEntry e;
  Status s = Begin(name, size, &e);
  if (!s.ok()) return s.WithKey(std::string(name));
  e.dtype = dtype;
  e.shape.dims = dims;
  e.crc32c = masked_crc;
  CKPTIO_RETURN_IF_ERROR(Fail(shards_.back()->AppendFileRange(src_path, offset, size)));
  entries_.emplace(std::string(name), SerializeBundleEntry(e));
  return Status::OK();
}

Status BuildBundleIndex(int64_t num_shards, const std::map<std::string, std::string>& entries,
                        std::string* out) {
  BundleHeader header;
  header.num_shards = num_shards;
  header.version.producer = 1;
  TableBuilder table;
  CKPTIO_RETURN_IF_ERROR(table.Add("", SerializeBundleHeader(header)));
  for (const auto& [key, value] : entries) {
    if (key.empty()) return Status::InvalidArgument("empty tensor name (reserved for the header)");
    CKPTIO_RETURN_IF_ERROR(table.Add(key, value));
  }
  *out = table.Finish();
  return Status::OK();
}

Status BundleWriter::Finish() {
  if (finished_ || failed_) return Status::InvalidArgument("writer is already finished");
  if (shards_.empty()) CKPTIO_RETURN_IF_ERROR(Fail(StartShard()));  // TF always has a data file
  const size_t num_shards = shards_.size();

  std::string bytes;
  Status s = BuildBundleIndex(static_cast<int64_t>(num_shards), entries_, &bytes);
  AtomicFile index;
  if (s.ok()) s = index.Open(prefix_ + ".index");
  if (s.ok()) s = index.Append(bytes.data(), bytes.size());
  if (s.ok()) s = index.Close(options_.sync);
  for (auto& shard : shards_) {
    if (s.ok()) s = shard->Close(options_.sync);
  }
  if (!s.ok()) return Fail(s);

  // Renames: an index left over from an earlier checkpoint under this prefix goes first, so no
  // moment pairs it with new data; the new index comes last, completing the checkpoint.
  const std::string index_path = prefix_ + ".index";
  if (::unlink(index_path.c_str()) != 0 && errno != ENOENT) {
    return Fail(Status::IOError("cannot replace existing index").WithFile(index_path));
  }
  for (size_t i = 0; i < num_shards; ++i) {
    // Each shard's temporary name was chosen before the count was known; point it at its
    // final name now.
    AtomicFile& shard = *shards_[i];
    const std::string final_path = DataPath(prefix_, i, num_shards);
    s = shard.CommitAs(final_path);
    if (!s.ok()) return Fail(s);
  }
  s = index.Commit();
  if (!s.ok()) return Fail(s);
  finished_ = true;
  return Status::OK();
}

void BundleWriter::Abort() {
  for (auto& shard : shards_) shard->Discard();
  shards_.clear();
  entries_.clear();
}

}  // namespace ckptio
