// Reader for TensorFlow's copy of the LevelDB table (SSTable) format: the container of V2
// `.index` files and V1 checkpoint files.
//
//   [data block][trailer] ... [metaindex block][trailer] [index block][trailer] [footer: 48 B]
//
// Every block read is checked against its CRC (TF cannot turn this off either), and both block
// types, uncompressed and snappy, are accepted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data_source.h"
#include "status.h"

namespace ckptio {

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;  // excludes the 5-byte trailer
};

constexpr size_t kFooterSize = 48;
constexpr size_t kBlockTrailerSize = 5;
constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;

// Decode a handle at [*p, limit); advances *p past it.
bool DecodeBlockHandle(const uint8_t** p, const uint8_t* limit, BlockHandle* h);

// Visits every (key, value) of a table in order. The views are valid only during the call.
using TableVisitor = std::function<Status(std::string_view key, std::string_view value)>;

// A block as read: the bytes the source handed out (a view of a mapping, or an owned buffer),
// and its decompressed contents when it was snappy-compressed.
struct Block {
  ByteRange bytes;
  uint64_t offset = 0;  // where `bytes` start in the table's file
  std::string uncompressed;
};

// An opened table: footer and index block parsed; data blocks read (and CRC-checked) on demand,
// each with one ranged read of its source (like leveldb's Table over a RandomAccessFile).
class Table {
 public:
  // On success fill *out; the table keeps `source` alive. Reads the footer and index block only.
  static Status Open(std::shared_ptr<const DataSource> source, Table* out);

  // Every entry in key order, checking each block's CRC, its structure, and that keys strictly
  // increase across the table.
  Status ForEach(const TableVisitor& visit) const;

  // The value stored under exactly `key`: *found is false when there is none. The value views
  // *block (its source bytes, or its uncompressed copy). Skipping the block checksum is for
  // zero-copy views, whose bytes are checked only when the caller verifies.
  Status Get(std::string_view key, Block* block, std::string_view* value, bool* found,
             bool verify_checksum = true) const;

 private:
  struct IndexEntry {
    std::string separator;  // >= every key of its block, < every key of the next
    BlockHandle handle;
  };
  std::shared_ptr<const DataSource> source_;

 public:
  const std::shared_ptr<const DataSource>& source() const { return source_; }
  std::vector<IndexEntry> index_;
};

// Open the table held by `source` and visit every entry (Table::Open then ForEach).
Status ForEachTableEntry(std::shared_ptr<const DataSource> source, const TableVisitor& visit);

// Decode the entries of one block's contents (after decompression), for tests and fuzzing.
// With `check_order`, each key must come after the one before it in the block ("keys out of
// order in table"), checked on the bytes that differ (no copy of the previous key).
Status ForEachBlockEntry(std::string_view contents, std::string* key_buffer,
                         const TableVisitor& visit, bool check_order = false);

}  // namespace ckptio
