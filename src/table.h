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

#include "mapped_file.h"
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

// Read every entry of the table held by `file`, in key order, checking each block's CRC, the
// block structure, and that keys strictly increase.
Status ForEachTableEntry(const MappedFile& file, const TableVisitor& visit);

// Decode the entries of one block's contents (after decompression), for tests and fuzzing.
Status ForEachBlockEntry(std::string_view contents, std::string* key_buffer,
                         const TableVisitor& visit);

}  // namespace ckptio
