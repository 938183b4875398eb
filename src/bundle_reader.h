// Reader for V2 checkpoints (TensorBundle): `<prefix>.index` (a table of BundleEntryProtos keyed
// by tensor name) plus `<prefix>.data-NNNNN-of-MMMMM` shards holding raw tensor bytes.
//
// The index is parsed completely on open; data shards are memory-mapped on first use and
// shared with every view handed out, so a view outlives the reader that made it.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bundle_proto.h"
#include "data_source.h"
#include "dtypes.h"
#include "mapped_file.h"
#include "slice_geometry.h"
#include "status.h"

namespace ckptio {

// The bytes of every key of an index, copied once into a few large chunks instead of one heap
// string per key (opening a 20,000-key bundle made 20,000 allocations for keys alone).
// Chunks never move, so views into them stay valid while the arena lives.
class KeyArena {
 public:
  std::string_view Add(std::string_view key) {
    if (key.size() > left_) {
      const size_t n = key.size() > kChunk ? key.size() : kChunk;
      chunks_.emplace_back(new char[n]);
      next_ = chunks_.back().get();
      left_ = n;
    }
    if (!key.empty()) std::memcpy(next_, key.data(), key.size());
    std::string_view view(next_, key.size());
    next_ += key.size();
    left_ -= key.size();
    return view;
  }

 private:
  static constexpr size_t kChunk = 64 << 10;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

// One key of the index other than the header.
struct TensorRecord {
  std::string_view key;  // into the reader's key arena: valid while the reader lives
  BundleEntry entry;
  DataTypeInfo type;
  uint64_t num_elements = 0;
  // False for slice keys owned by a partitioned tensor: TF lists those under the full name.
  bool listed = true;
  // For a partitioned tensor: the record of each entry.slices[i], and whether the slices tile
  // the full shape exactly (no gaps, no overlaps).
  std::vector<const TensorRecord*> slice_records;
  bool slices_cover_tensor = false;

  bool partitioned() const { return !entry.slices.empty(); }
};

class BundleReader {
 public:
  // `prefix` names the bundle: files are `<prefix>.index` and `<prefix>.data-*`, each opened
  // through `opener` (local memory maps by default, or remote ranged reads).
  static Status Open(const std::string& prefix, std::unique_ptr<BundleReader>* out,
                     SourceOpener opener = OpenMappedSource);

  const std::string& prefix() const { return prefix_; }
  std::string index_path() const { return prefix_ + ".index"; }
  std::string ShardPath(int64_t shard_id) const;
  // Reads after this map the shards afresh: views handed out earlier keep their own mapping,
  // so writes into those (through torch, ctypes) are not seen by later reads.
  void ForgetShards() const;
  int64_t num_shards() const { return header_.num_shards; }

  // Every key except the header, in key order.
  const std::vector<TensorRecord>& records() const { return records_; }
  // The record with this exact key, or nullptr.
  const TensorRecord* Find(std::string_view key) const;

  // The bytes of an unpartitioned record, bounds- and size-checked; *bytes.owner keeps them
  // valid (the mapping, or the fetched buffer).
  Status Data(const TensorRecord& r, ByteRange* bytes) const;

  // Check a record's CRC (each slice's, for a partitioned tensor).
  Status Verify(const TensorRecord& r) const;
  // Check every record's CRC (slices once: as records of their own).
  Status VerifyAll() const;
  // Hint that a whole record is about to be read (bulk copies and verification).
  void WillNeed(const TensorRecord& r) const;
  // Ask for a record's bytes (each slice's, for a partitioned tensor) ahead of its read,
  // whatever its size, without waiting; returns the bytes covered.
  uint64_t Prefetch(const TensorRecord& r) const;
  // Check an unpartitioned record's CRC over bytes already fetched with Data().
  Status VerifyData(const TensorRecord& r, const uint8_t* data) const;
  // Copy a record's bytes (`data`, from Data()) into dst, checking the CRC in the same pass
  // when `verify`: each chunk is checksummed while it is still in cache.
  Status CopyTo(const TensorRecord& r, const uint8_t* data, uint8_t* dst, bool verify) const;

  // Split a string tensor's payload into its elements, checking the length checksum.
  Status DecodeStrings(const TensorRecord& r, const uint8_t* data,
                       std::vector<std::string_view>* out) const;

 private:
  BundleReader() = default;
  Status ParseIndex(std::shared_ptr<const DataSource> index);
  Status RawData(const TensorRecord& r, ByteRange* bytes) const;
  Status LinkSlices();
  Status Shard(int64_t shard_id, std::shared_ptr<const DataSource>* out) const;
  Status RecordError(Status s, const TensorRecord& r) const;
  // A bulk read of `r` starts: while reads follow key order (TF's loaders, list-then-load),
  // request the records after it in key order, a bounded window ahead. Key order need not be
  // the files' order (TF writes in the order it was given), so the shards' own forward
  // read-ahead does not cover it.
  void ReadingRecord(const TensorRecord& r) const;
  Status CheckEntryCrc(const TensorRecord& r, uint32_t actual) const;

  std::string prefix_;
  BundleHeader header_;
  std::vector<TensorRecord> records_;
  bool any_partitioned_ = false;  // some record has slices
  KeyArena keys_;
  mutable std::mutex shards_mu_;
  SourceOpener opener_;
  mutable std::unordered_map<int64_t, std::shared_ptr<const DataSource>> shards_;
  mutable std::mutex ahead_mu_;
  mutable size_t last_record_ = SIZE_MAX;  // index of the previous bulk read's record
  mutable size_t ahead_to_ = 0;            // records before this one have been requested
};

}  // namespace ckptio
