#include "table.h"

#include <algorithm>

#include "coding.h"
#include "crc32c.h"
#include "snappy.h"

namespace ckptio {

namespace {

enum BlockType : uint8_t { kNoCompression = 0, kSnappyCompression = 1 };

// Read a block (one ranged read, block and trailer) and verify its trailer; *contents views
// block->bytes, or block->uncompressed for a snappy block.
Status ReadBlock(const DataSource& source, const BlockHandle& h, Block* block,
                 std::string_view* contents, bool verify_checksum = true) {
  const uint64_t file_body = source.size() - kFooterSize;
  if (h.size > file_body || !RangeWithin(h.offset, h.size + kBlockTrailerSize, file_body)) {
    return Status::Corruption("bad block handle (block lies outside the file)");
  }
  CKPTIO_RETURN_IF_ERROR(source.Read(h.offset, h.size + kBlockTrailerSize, &block->bytes));
  block->offset = h.offset;
  const uint8_t* data = block->bytes.data;
  const uint8_t type = data[h.size];
  if (verify_checksum) {
    const uint32_t stored = crc32c::Unmask(DecodeFixed32(data + h.size + 1));
    const uint32_t actual = crc32c::Extend(crc32c::Value(data, h.size), &type, 1);
    if (stored != actual) return Status::Corruption("block checksum mismatch");
  }
  switch (type) {
    case kNoCompression:
      *contents = std::string_view(reinterpret_cast<const char*>(data), h.size);
      return Status::OK();
    case kSnappyCompression:
      CKPTIO_RETURN_IF_ERROR(snappy::Uncompress(data, h.size, &block->uncompressed));
      *contents = block->uncompressed;
      return Status::OK();
    default:
      return Status::Corruption("bad block type " + std::to_string(type));
  }
}

// Bytewise (memcmp) order, shorter first on a tie: the table's key order.
bool KeyLess(std::string_view a, std::string_view b) { return a.compare(b) < 0; }

}  // namespace

bool DecodeBlockHandle(const uint8_t** p, const uint8_t* limit, BlockHandle* h) {
  const uint8_t* q = GetVarint64(*p, limit, &h->offset);
  if (q == nullptr) return false;
  q = GetVarint64(q, limit, &h->size);
  if (q == nullptr) return false;
  *p = q;
  return true;
}

Status ForEachBlockEntry(std::string_view contents, std::string* key,
                         const TableVisitor& visit, bool check_order) {
  const auto* base = reinterpret_cast<const uint8_t*>(contents.data());
  const size_t size = contents.size();
  if (size < 4) return Status::Corruption("bad block contents (too short)");
  const uint32_t num_restarts = DecodeFixed32(base + size - 4);
  if (num_restarts == 0 || num_restarts > (size - 4) / 4) {
    return Status::Corruption("bad block contents (restart count)");
  }
  const size_t restarts_offset = size - 4 * (size_t(num_restarts) + 1);
  const uint8_t* p = base;
  const uint8_t* limit = base + restarts_offset;
  key->clear();
  bool have_key = false;
  while (p < limit) {
    uint32_t shared, unshared, value_len;
    p = GetVarint32(p, limit, &shared);
    if (p) p = GetVarint32(p, limit, &unshared);
    if (p) p = GetVarint32(p, limit, &value_len);
    if (p == nullptr || shared > key->size() || uint64_t(unshared) + value_len > uint64_t(limit - p)) {
      return Status::Corruption("bad entry in block");
    }
    // The new key is the old one's first `shared` bytes and then `unshared` new ones: it comes
    // after the old key iff those new bytes come after the old key's rest. Their first bytes
    // nearly always differ, which settles it without a call to memcmp.
    if (check_order && have_key) {
      const std::string_view rest = std::string_view(*key).substr(shared);
      const std::string_view added(reinterpret_cast<const char*>(p), unshared);
      const bool after = !rest.empty() && !added.empty() && rest[0] != added[0]
                             ? static_cast<uint8_t>(rest[0]) < static_cast<uint8_t>(added[0])
                             : rest < added;
      if (!after) return Status::Corruption("keys out of order in table");
    }
    have_key = true;
    key->resize(shared);
    key->append(reinterpret_cast<const char*>(p), unshared);
    p += unshared;
    std::string_view value(reinterpret_cast<const char*>(p), value_len);
    p += value_len;
    CKPTIO_RETURN_IF_ERROR(visit(*key, value));
  }
  return Status::OK();
}

Status Table::Open(std::shared_ptr<const DataSource> source, Table* out) {
  const uint64_t file_size = source->size();
  if (file_size < kFooterSize) {
    return Status::Corruption("file is too short to be an sstable");
  }
  ByteRange footer_bytes;
  CKPTIO_RETURN_IF_ERROR(source->Read(file_size - kFooterSize, kFooterSize, &footer_bytes));
  const uint8_t* footer = footer_bytes.data;
  const uint64_t magic = uint64_t(DecodeFixed32(footer + 40)) |
                         (uint64_t(DecodeFixed32(footer + 44)) << 32);
  if (magic != kTableMagic) return Status::Corruption("not an sstable (bad magic number)");
  BlockHandle metaindex, index;
  const uint8_t* p = footer;
  if (!DecodeBlockHandle(&p, footer + 40, &metaindex) ||
      !DecodeBlockHandle(&p, footer + 40, &index)) {
    return Status::Corruption("bad block handle in footer");
  }
  Block index_block;
  std::string_view contents;
  CKPTIO_RETURN_IF_ERROR(ReadBlock(*source, index, &index_block, &contents));
  Table table;
  table.source_ = std::move(source);
  std::string key_buffer;
  uint64_t previous_block_end = 0;
  CKPTIO_RETURN_IF_ERROR(ForEachBlockEntry(
      contents, &key_buffer, [&](std::string_view separator, std::string_view handle_bytes) {
        IndexEntry e;
        const auto* hp = reinterpret_cast<const uint8_t*>(handle_bytes.data());
        if (!DecodeBlockHandle(&hp, hp + handle_bytes.size(), &e.handle)) {
          return Status::Corruption("bad block handle in index block");
        }
        // Data blocks are written back to back; one that starts before its predecessor ends
        // would make a crafted file revisit (and so multiply) the same bytes.
        if (e.handle.offset < previous_block_end ||
            !RangeWithin(e.handle.offset, e.handle.size, file_size - kFooterSize)) {
          return Status::Corruption("bad block handle (overlapping or outside the file)");
        }
        if (!table.index_.empty() && !KeyLess(table.index_.back().separator, separator)) {
          return Status::Corruption("index block keys out of order");
        }
        previous_block_end = e.handle.offset + e.handle.size + kBlockTrailerSize;
        e.separator.assign(separator.data(), separator.size());
        table.index_.push_back(std::move(e));
        return Status::OK();
      }));
  *out = std::move(table);
  return Status::OK();
}

Status Table::ForEach(const TableVisitor& visit) const {
  std::string data_key, previous_key;  // previous_key: the last key of the blocks before
  bool have_previous = false;
  for (const IndexEntry& e : index_) {
    Block block;
    std::string_view contents;
    CKPTIO_RETURN_IF_ERROR(ReadBlock(*source_, e.handle, &block, &contents));
    bool first = true;  // within a block, ForEachBlockEntry checks the order
    CKPTIO_RETURN_IF_ERROR(ForEachBlockEntry(
        contents, &data_key,
        [&](std::string_view key, std::string_view value) {
          if (first && have_previous && !KeyLess(previous_key, key)) {
            return Status::Corruption("keys out of order in table");
          }
          first = false;
          if (KeyLess(e.separator, key)) {
            return Status::Corruption("key beyond its block's index separator");
          }
          return visit(key, value);
        },
        /*check_order=*/true));
    if (!first) {
      previous_key = data_key;  // (the block's last key)
      have_previous = true;
    }
  }
  return Status::OK();
}

Status Table::Get(std::string_view key, Block* block, std::string_view* value,
                  bool* found, bool verify_checksum) const {
  *found = false;
  // The first block whose separator is >= key is the only one that can hold it.
  auto it = std::lower_bound(index_.begin(), index_.end(), key,
                             [](const IndexEntry& e, std::string_view k) {
                               return KeyLess(e.separator, k);
                             });
  if (it == index_.end()) return Status::OK();
  std::string_view contents;
  CKPTIO_RETURN_IF_ERROR(ReadBlock(*source_, it->handle, block, &contents, verify_checksum));
  std::string key_buffer;
  // A linear scan: blocks hold at most a few hundred KiB, and V1 records mostly one per block.
  return ForEachBlockEntry(contents, &key_buffer, [&](std::string_view k, std::string_view v) {
    if (k == key) {
      *value = v;
      *found = true;
    }
    return Status::OK();
  });
}

Status ForEachTableEntry(std::shared_ptr<const DataSource> source, const TableVisitor& visit) {
  Table table;
  CKPTIO_RETURN_IF_ERROR(Table::Open(std::move(source), &table));
  return table.ForEach(visit);
}

}  // namespace ckptio
