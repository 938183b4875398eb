#include "bundle_reader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "coding.h"
#include "crc32c.h"
#include "ordered_code.h"
#include "parallel.h"
#include "slice_geometry.h"
#include "table.h"

namespace ckptio {

namespace {

constexpr size_t kMaxRank = 254;                  // TensorShape's own limit
constexpr uint64_t kMaxElements = 1ull << 62;     // beyond this no size fits in 64 bits
constexpr uint64_t kCopyChunk = 1 << 20;          // pread + CRC in cache-sized steps
// Checking that the slices of partitioned tensors do not overlap costs pairs x rank steps. This
// many per checkpoint (well under a second), plus some per index entry, is far beyond any real
// partitioning and bounds what a crafted index can cost (300k copies of one empty slice took
// minutes).
constexpr uint64_t kMaxSliceCheckSteps = 1ull << 28;
constexpr uint64_t kSliceCheckStepsPerEntry = 256;

// Does a fixed-size entry hold exactly its elements? Without multiplying: n * elem_size can
// wrap around 2^64 (2^62 float32s would "need" 0 bytes).
bool FixedSizeMatches(const TensorRecord& r) {
  const uint64_t elem = static_cast<uint64_t>(r.type.elem_size);
  return r.entry.size % elem == 0 && r.entry.size / elem == r.num_elements;
}

std::string ExpectedSize(const TensorRecord& r) {
  const uint64_t elem = static_cast<uint64_t>(r.type.elem_size);
  if (r.num_elements > UINT64_MAX / elem) {
    return std::to_string(r.num_elements) + " x " + std::to_string(elem) + " (over 2^64)";
  }
  return std::to_string(r.num_elements * elem);
}

// The element count of a valid shape; else false, and *why says what is wrong.
bool CountElements(const TensorShape& shape, uint64_t* n, const char** why) {
  auto bad = [why](const char* what) {
    *why = what;
    return false;
  };
  if (shape.unknown_rank) return bad("invalid tensor shape (unknown rank)");
  if (shape.dims.size() > kMaxRank) return bad("invalid tensor shape (rank too large)");
  uint64_t count = 1;
  for (int64_t d : shape.dims) {
    if (d < 0) return bad("invalid tensor shape (negative dimension)");
    const uint64_t ud = static_cast<uint64_t>(d);
    if (ud != 0 && count > kMaxElements / ud) {
      return bad("invalid tensor shape (too many elements)");
    }
    count *= ud;
  }
  *n = count;
  return true;
}

}  // namespace

std::string BundleReader::ShardPath(int64_t shard_id) const {
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), ".data-%05lld-of-%05lld",
                static_cast<long long>(shard_id), static_cast<long long>(header_.num_shards));
  return prefix_ + suffix;
}

Status BundleReader::Open(const std::string& prefix, std::unique_ptr<BundleReader>* out,
                          SourceOpener opener) {
  std::unique_ptr<BundleReader> reader(new BundleReader());
  reader->prefix_ = prefix;
  reader->opener_ = std::move(opener);
  const std::string index_path = reader->index_path();
  std::shared_ptr<const DataSource> source;
  CKPTIO_RETURN_IF_ERROR(reader->opener_(index_path, &source));
  ByteRange bytes;
  CKPTIO_RETURN_IF_ERROR(source->Read(0, source->size(), &bytes));
  // Parsed in one pass and then released: every record copies what it needs.
  Status s = reader->ParseIndex(std::make_shared<MemorySource>(index_path, std::move(bytes)));
  if (s.ok()) s = reader->LinkSlices();
  if (!s.ok()) return s.WithFile(index_path);
  *out = std::move(reader);
  return Status::OK();
}

Status BundleReader::ParseIndex(std::shared_ptr<const DataSource> index) {
  bool have_header = false;
  records_.reserve(index->size() / 32);  // an entry takes a few dozen bytes of index
  CKPTIO_RETURN_IF_ERROR(
      ForEachTableEntry(std::move(index), [&](std::string_view key, std::string_view value) {
        if (!have_header) {
          if (!key.empty()) return Status::Corruption("missing bundle header entry");
          CKPTIO_RETURN_IF_ERROR(ParseBundleHeader(value, &header_));
          have_header = true;
          return Status::OK();
        }
        // Parsed in place: no temporary record to move. The common entry takes the fast path
        // (no Status); slices and anything malformed take the full parser, for its errors.
        TensorRecord& r = records_.emplace_back();
        r.key = keys_.Add(key);
        if (!ParseBundleEntryFast(value, &r.entry)) {
          Status s = ParseBundleEntry(value, &r.entry);
          if (!s.ok()) return s.WithKey(r.key);
          any_partitioned_ = any_partitioned_ || r.partitioned();
        }
        const char* why = nullptr;
        if (!CountElements(r.entry.shape, &r.num_elements, &why)) {
          return Status::Corruption(why).WithKey(r.key);
        }
        r.type = GetDataTypeInfo(r.entry.dtype);
        return Status::OK();
      }));
  if (!have_header) return Status::Corruption("missing bundle header entry (empty index)");
  if (header_.num_shards < 0 || (header_.num_shards == 0 && !records_.empty())) {
    return Status::Corruption("bad num_shards " + std::to_string(header_.num_shards) +
                              " in bundle header");
  }
  if (header_.endianness != 0) {
    return Status::NotSupported("big-endian bundles are not supported");
  }
  if (header_.has_version) CKPTIO_RETURN_IF_ERROR(CheckCheckpointVersion(header_.version));
  return Status::OK();
}

Status BundleReader::LinkSlices() {
  if (!any_partitioned_) return Status::OK();  // (no walk over every record)
  SliceCheckBudget budget{0, kMaxSliceCheckSteps + kSliceCheckStepsPerEntry * uint64_t(records_.size())};
  for (TensorRecord& full : records_) {
    if (!full.partitioned()) continue;
    SliceTiling tiling(full.entry.shape.dims, full.entry.slices.size(), &budget);
    for (const TensorSlice& slice : full.entry.slices) {
      auto bad = [&](const std::string& why) {
        return Status::Corruption("bad slice of partitioned tensor: " + why).WithKey(full.key);
      };
      SliceGeometry g;
      Status s = tiling.Add(slice, &g);
      if (s.code() == Code::kCorruption) return bad(s.message());
      if (!s.ok()) return s.WithKey(full.key);
      const TensorRecord* part = Find(EncodeTensorNameSlice(full.key, slice));
      if (part == nullptr) return bad("no entry for slice " + ShapeString(g.starts) + "+" + ShapeString(g.lengths));
      if (part->partitioned() || part->entry.dtype != full.entry.dtype ||
          part->entry.shape.dims != g.lengths) {
        return bad("slice entry's dtype or shape disagrees");
      }
      // Checked here, not only on read, because the full tensor is allocated before its slices
      // are read: a slice must not claim more elements than its bytes hold.
      if (part->type.storage == Storage::kFixed && !FixedSizeMatches(*part)) {
        return bad("slice entry's size disagrees with its shape");
      }
      full.slice_records.push_back(part);
    }
    full.slices_cover_tensor = tiling.Covers(full.num_elements);
    for (const TensorRecord* part : full.slice_records) {
      const_cast<TensorRecord*>(part)->listed = false;
    }
  }
  return Status::OK();
}

const TensorRecord* BundleReader::Find(std::string_view key) const {
  // Records are in table order, which the table reader checked to be strictly increasing.
  auto it = std::lower_bound(records_.begin(), records_.end(), key,
                             [](const TensorRecord& r, std::string_view k) { return r.key < k; });
  return it != records_.end() && it->key == key ? &*it : nullptr;
}

Status BundleReader::RecordError(Status s, const TensorRecord& r) const {
  if (r.entry.shard_id >= 0 && r.entry.shard_id < header_.num_shards) {
    s.WithFile(ShardPath(r.entry.shard_id));
  }
  return s.WithFile(index_path()).WithKey(r.key);
}

void BundleReader::ForgetShards() const {
  std::lock_guard<std::mutex> lock(shards_mu_);
  shards_.clear();
}

Status BundleReader::Shard(int64_t shard_id, std::shared_ptr<const DataSource>* out) const {
  std::lock_guard<std::mutex> lock(shards_mu_);
  auto it = shards_.find(shard_id);
  if (it == shards_.end()) {
    std::shared_ptr<const DataSource> file;
    Status s = opener_(ShardPath(shard_id), &file);
    if (!s.ok()) {
      return Status(s.code(), "missing or unreadable data shard: " + s.message());
    }
    it = shards_.emplace(shard_id, std::move(file)).first;
  }
  *out = it->second;
  return Status::OK();
}

Status BundleReader::RawData(const TensorRecord& r, ByteRange* bytes) const {
  if (r.entry.shard_id < 0 || r.entry.shard_id >= header_.num_shards) {
    return RecordError(Status::Corruption("shard_id " + std::to_string(r.entry.shard_id) +
                                          " outside num_shards " +
                                          std::to_string(header_.num_shards)),
                       r);
  }
  std::shared_ptr<const DataSource> file;
  Status s = Shard(r.entry.shard_id, &file);
  if (!s.ok()) return RecordError(s, r);
  if (!RangeWithin(r.entry.offset, r.entry.size, file->size())) {
    return RecordError(Status::Corruption("entry [offset " + std::to_string(r.entry.offset) +
                                          ", size " + std::to_string(r.entry.size) +
                                          "] lies past the end of the data file (" +
                                          std::to_string(file->size()) + " bytes)"),
                       r);
  }
  s = file->Read(r.entry.offset, r.entry.size, bytes);
  return s.ok() ? s : RecordError(s, r);
}

Status BundleReader::Data(const TensorRecord& r, ByteRange* bytes) const {
  if (r.partitioned()) {
    return RecordError(Status::InvalidArgument("partitioned tensor has no data of its own"), r);
  }
  if (r.type.storage == Storage::kUnsupported) {
    return RecordError(Status::NotSupported(std::string("cannot read dtype ") + r.type.name +
                                            " (enum " + std::to_string(r.entry.dtype) + ")"),
                       r);
  }
  if (r.type.storage == Storage::kFixed && !FixedSizeMatches(r)) {
    return RecordError(Status::Corruption("invalid size in bundle entry: stored size " +
                                          std::to_string(r.entry.size) + "; expected size " +
                                          ExpectedSize(r)),
                       r);
  }
  return RawData(r, bytes);
}

Status BundleReader::DecodeStrings(const TensorRecord& r, const uint8_t* data,
                                   std::vector<std::string_view>* out) const {
  const uint64_t n = r.num_elements;
  const uint64_t size = r.entry.size;
  auto corrupt = [&](const std::string& why) {
    return RecordError(Status::Corruption("bad string tensor: " + why), r);
  };
  // Each element needs at least one length byte, so this also bounds the allocation below.
  if (n > size) return corrupt("more elements than bytes");
  const uint8_t* p = data;
  const uint8_t* limit = data + size;
  std::vector<uint64_t> lengths(n);
  uint32_t length_crc = 0;
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    p = GetVarint64(p, limit, &lengths[i]);
    if (p == nullptr) return corrupt("truncated length");
    if (lengths[i] > size - total) return corrupt("lengths exceed the entry size");
    total += lengths[i];
    uint8_t le[8];
    const size_t width = lengths[i] <= 0xffffffffu ? 4 : 8;
    for (size_t b = 0; b < width; ++b) le[b] = static_cast<uint8_t>(lengths[i] >> (8 * b));
    length_crc = crc32c::Extend(length_crc, le, width);
  }
  if (limit - p < 4) return corrupt("truncated length checksum");
  const uint32_t stored = crc32c::Unmask(DecodeFixed32(p));
  if (stored != length_crc) {
    return corrupt("the length checksum does not match: expected " + std::to_string(stored) +
                   " but actual is " + std::to_string(length_crc));
  }
  p += 4;
  if (uint64_t(limit - p) != total) return corrupt("string bytes disagree with the entry size");
  out->clear();
  out->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    out->emplace_back(reinterpret_cast<const char*>(p), lengths[i]);
    p += lengths[i];
  }
  return Status::OK();
}

namespace {

// The CRC TF stores for a variant tensor runs over each element's length (as 8 LE bytes), its
// bytes and its own stored checksum, so it must be recomputed element by element.
bool VariantChecksum(const uint8_t* p, uint64_t size, uint64_t n, uint32_t* crc) {
  const uint8_t* limit = p + size;
  uint32_t c = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t len;
    p = GetVarint64(p, limit, &len);
    if (p == nullptr || len > uint64_t(limit - p) || uint64_t(limit - p) - len < 4) return false;
    uint8_t le[8];
    for (int b = 0; b < 8; ++b) le[b] = static_cast<uint8_t>(len >> (8 * b));
    c = crc32c::Extend(c, le, 8);
    c = crc32c::Extend(c, p, len);
    p += len;
    if (crc32c::Unmask(DecodeFixed32(p)) != c) return false;
    c = crc32c::Extend(c, p, 4);
    p += 4;
  }
  *crc = c;
  return p == limit;
}

}  // namespace

namespace {

// Copy [data, data+n) to dst; with `checksum`, its CRC computed in the same pass.
uint32_t CopyAndChecksum(const uint8_t* data, uint64_t n, uint8_t* dst, bool checksum) {
  if (checksum) return crc32c::CopyExtend(0, data, dst, n);
  if (n > 0) std::memcpy(dst, data, n);
  return 0;
}

// Copy [offset, offset+n) of `source` into dst by reading the file (pread: no source pages to
// map), checksumming each cache-sized step right after it lands.
Status ReadAndChecksum(const DataSource& source, uint64_t offset, uint64_t n, uint8_t* dst,
                       bool checksum, uint32_t* crc) {
  *crc = 0;
  for (uint64_t done = 0; done < n; done += kCopyChunk) {
    const uint64_t step = std::min(kCopyChunk, n - done);
    CKPTIO_RETURN_IF_ERROR(source.ReadInto(offset + done, step, dst + done));
    if (checksum) *crc = crc32c::Extend(*crc, dst + done, step);
  }
  return Status::OK();
}

// Large ranges go in blocks shared out to worker threads in file order, so that on a cold file
// one read is in flight per worker (one stream of faults or reads cannot reach the disk's
// parallel rate); the blocks' CRCs are combined at the end. A copy from a file held open reads
// each block straight into its destination (pread), unless the block is warm: then from the
// file's bytes in memory (MappedFile::WarmBytes). Those, blocks of a file not held open, and
// checksum-only passes (through the reader's mapping) are brought in first (one call instead
// of a page fault per few pages), then copied and checksummed in one pass (pread's copy and a
// CRC after it read every byte twice: a warm verified read-all of 2 GB went from 0.83 to 0.93
// of the copy floor). Every bulk read also tells the source where it is (Reading), which keeps a window
// ahead of forward-moving reads requested: the disk stays busy across tensor boundaries. More
// workers than cores on purpose: cold, they mostly wait for the disk.
constexpr uint64_t kMaxBlock = 16 << 20;  // a 4 x 16 MiB window reaches the disk's parallel rate
constexpr uint64_t kMinBlock = 1 << 20;
constexpr uint64_t kParallelFrom = 2 << 20;
constexpr unsigned kWorkers = 4;

// CRC (when `checksum`) of [data, data+n), copied to dst unless dst is null. `source` and
// `offset` locate the bytes in their file (null: the bytes are only in memory).
Status ReadBlocks(const DataSource* source, uint64_t offset, const uint8_t* data, uint64_t n,
                  uint8_t* dst, bool checksum, uint32_t* crc) {
  *crc = 0;
  if (source != nullptr) source->Reading(offset, n);
  const bool direct = dst != nullptr && source != nullptr && source->CanReadInto();
  if (n < kParallelFrom) {
    if (direct) return ReadAndChecksum(*source, offset, n, dst, checksum, crc);
    if (source != nullptr && n >= kMinBlock) source->WillNeed(offset, n);
    if (dst != nullptr) {
      *crc = CopyAndChecksum(data, n, dst, checksum);
    } else if (checksum) {
      *crc = crc32c::Value(data, n);
    }
    return Status::OK();
  }
  // At least one block per worker where the size allows, whole MiBs, at most kMaxBlock.
  const uint64_t per_worker = (n + kWorkers - 1) / kWorkers;
  const uint64_t block =
      std::clamp<uint64_t>((per_worker + kMinBlock - 1) / kMinBlock * kMinBlock, kMinBlock,
                           kMaxBlock);
  const uint64_t blocks = (n + block - 1) / block;
  std::vector<uint32_t> crcs(blocks);
  std::mutex error_mu;
  Status error;
  ParallelFor(blocks, kWorkers, [&](uint64_t b) {
    const uint64_t at = b * block;
    const uint64_t len = std::min(block, n - at);
    const uint8_t* from = direct ? source->WarmBytes(offset + at, len) : nullptr;
    if (direct && from == nullptr) {
      Status s = ReadAndChecksum(*source, offset + at, len, dst + at, checksum, &crcs[b]);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
      }
      return;
    }
    if (from == nullptr) {
      from = data + at;
      if (source != nullptr) source->Populate(offset + at, len);
    }
    if (dst != nullptr) {
      crcs[b] = CopyAndChecksum(from, len, dst + at, checksum);
    } else if (checksum) {
      crcs[b] = crc32c::Value(data + at, len);
    }
  });
  CKPTIO_RETURN_IF_ERROR(error);
  if (!checksum) return Status::OK();
  *crc = crcs[0];
  for (uint64_t b = 1; b < blocks; ++b) {
    *crc = crc32c::Combine(*crc, crcs[b], std::min(block, n - b * block));
  }
  return Status::OK();
}

}  // namespace

Status BundleReader::CheckEntryCrc(const TensorRecord& r, uint32_t actual) const {
  const uint32_t stored = crc32c::Unmask(r.entry.crc32c);
  if (stored == actual) return Status::OK();
  return RecordError(Status::Corruption("checksum does not match: stored " +
                                        std::to_string(stored) +
                                        " vs. calculated on the restored bytes " +
                                        std::to_string(actual)),
                     r);
}

Status BundleReader::Verify(const TensorRecord& r) const {
  if (r.partitioned()) {
    for (const TensorRecord* part : r.slice_records) CKPTIO_RETURN_IF_ERROR(Verify(*part));
    return Status::OK();
  }
  ByteRange bytes;
  uint32_t actual = 0;
  if (r.type.storage == Storage::kUnsupported && r.entry.dtype == DT_VARIANT) {
    // Not readable, but its checksum can still be checked.
    CKPTIO_RETURN_IF_ERROR(RawData(r, &bytes));
    if (!VariantChecksum(bytes.data, r.entry.size, r.num_elements, &actual)) {
      return RecordError(Status::Corruption("bad variant tensor encoding"), r);
    }
  } else {
    CKPTIO_RETURN_IF_ERROR(Data(r, &bytes));
    return VerifyData(r, bytes.data);
  }
  return CheckEntryCrc(r, actual);
}

Status BundleReader::VerifyAll() const {
  // In file order, not key order (TF writes in the order it was given): one forward pass per
  // shard, which the shard reads ahead of.
  std::vector<const TensorRecord*> order;
  order.reserve(records_.size());
  for (const TensorRecord& r : records_) {
    if (!r.partitioned()) order.push_back(&r);
  }
  std::stable_sort(order.begin(), order.end(), [](const TensorRecord* a, const TensorRecord* b) {
    return a->entry.shard_id != b->entry.shard_id ? a->entry.shard_id < b->entry.shard_id
                                                  : a->entry.offset < b->entry.offset;
  });
  for (const TensorRecord* r : order) CKPTIO_RETURN_IF_ERROR(Verify(*r));
  return Status::OK();
}

void BundleReader::WillNeed(const TensorRecord& r) const {
  // Only for whole-tensor passes (verify, copy): a zero-copy view must stay a few-microsecond
  // operation, and madvise on a large range is not.
  std::shared_ptr<const DataSource> file;
  if (r.entry.size >= (1u << 20) && Shard(r.entry.shard_id, &file).ok()) {
    file->WillNeed(r.entry.offset, r.entry.size);
  }
}

void BundleReader::ReadingRecord(const TensorRecord& r) const {
  constexpr uint64_t kWindowBytes = 64 << 20;
  constexpr size_t kWindowRecords = 512;
  const size_t i = static_cast<size_t>(&r - records_.data());
  if (&r < records_.data() || i >= records_.size()) return;
  struct Range {
    int64_t shard;
    uint64_t offset, size;
  };
  std::vector<Range> ranges;
  {
    std::lock_guard<std::mutex> lock(ahead_mu_);
    const bool sequential =
        (last_record_ == SIZE_MAX && i == 0) ||
        (last_record_ != SIZE_MAX && i > last_record_ && i <= std::max(last_record_ + 1, ahead_to_));
    last_record_ = i;
    if (!sequential) {
      ahead_to_ = i + 1;
      return;
    }
    uint64_t bytes = 0;
    size_t j = i + 1;
    for (; j < records_.size() && j - i <= kWindowRecords && bytes < kWindowBytes; ++j) {
      const TensorRecord& next = records_[j];
      if (next.partitioned()) continue;
      bytes += next.entry.size;
      if (j < ahead_to_ || next.entry.size == 0) continue;
      // Neighbours in the same shard and in file order become one request.
      if (!ranges.empty() && ranges.back().shard == next.entry.shard_id &&
          ranges.back().offset + ranges.back().size == next.entry.offset) {
        ranges.back().size += next.entry.size;
      } else {
        ranges.push_back({next.entry.shard_id, next.entry.offset, next.entry.size});
      }
    }
    ahead_to_ = std::max(ahead_to_, j);
  }
  std::shared_ptr<const DataSource> file;
  int64_t file_id = -1;
  for (const Range& range : ranges) {
    if (range.shard < 0 || range.shard >= header_.num_shards) continue;
    if (range.shard != file_id) {
      file.reset();
      if (!Shard(range.shard, &file).ok()) file.reset();  // its own read will report it
      file_id = range.shard;
    }
    if (file != nullptr && RangeWithin(range.offset, range.size, file->size())) {
      file->WillNeed(range.offset, range.size);
    }
  }
}

uint64_t BundleReader::Prefetch(const TensorRecord& r) const {
  if (r.partitioned()) {
    uint64_t bytes = 0;
    for (const TensorRecord* part : r.slice_records) bytes += Prefetch(*part);
    return bytes;
  }
  std::shared_ptr<const DataSource> file;
  if (r.entry.size == 0 || r.entry.shard_id < 0 || r.entry.shard_id >= header_.num_shards ||
      !Shard(r.entry.shard_id, &file).ok() ||
      !RangeWithin(r.entry.offset, r.entry.size, file->size())) {
    return 0;  // its read reports what is wrong
  }
  file->WillNeed(r.entry.offset, r.entry.size);
  return r.entry.size;
}

Status BundleReader::VerifyData(const TensorRecord& r, const uint8_t* data) const {
  ReadingRecord(r);
  uint32_t actual = 0;
  if (r.type.storage == Storage::kString) {
    std::vector<std::string_view> elements;
    CKPTIO_RETURN_IF_ERROR(DecodeStrings(r, data, &elements));
    // The entry CRC continues the (already checked) length CRC over the stored length
    // checksum and the string bytes, which lie contiguously after the varint lengths.
    uint64_t string_bytes = 0;
    for (std::string_view e : elements) string_bytes += e.size();
    const uint64_t varints = r.entry.size - 4 - string_bytes;
    actual = crc32c::Unmask(DecodeFixed32(data + varints));
    actual = crc32c::Extend(actual, data + varints, r.entry.size - varints);
  } else {
    std::shared_ptr<const DataSource> file;
    if (!Shard(r.entry.shard_id, &file).ok()) file.reset();  // Data() opened it already
    CKPTIO_RETURN_IF_ERROR(
        ReadBlocks(file.get(), r.entry.offset, data, r.entry.size, nullptr, true, &actual));
  }
  return CheckEntryCrc(r, actual);
}


Status BundleReader::CopyTo(const TensorRecord& r, const uint8_t* data, uint8_t* dst,
                            bool verify) const {
  ReadingRecord(r);
  std::shared_ptr<const DataSource> file;
  if (!Shard(r.entry.shard_id, &file).ok()) file.reset();  // Data() opened it already
  uint32_t crc = 0;
  Status s = ReadBlocks(file.get(), r.entry.offset, data, r.entry.size, dst, verify, &crc);
  if (!s.ok()) return RecordError(s, r);
  return verify ? CheckEntryCrc(r, crc) : Status::OK();
}

}  // namespace ckptio
