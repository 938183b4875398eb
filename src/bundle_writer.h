// Writes V2 checkpoints (TensorBundle) that TensorFlow reads back: data shards of raw tensor
// bytes and an index table of BundleEntryProtos, byte-identical to TF's own writer for the same
// tensors added in the same order.
//
// Memory stays bounded by one tensor: bytes go to the data file as they are added; only the
// small entries wait, sorted, for Finish(). Nothing appears under the final names until
// Finish() renames the completed files into place (data shards first, the index last).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_proto.h"
#include "file_writer.h"
#include "status.h"

namespace ckptio {

// The bytes of a bundle index, as TF writes it: the header (num_shards, version {producer: 1})
// under the empty key, then each (key, serialized BundleEntryProto) in key order.
Status BuildBundleIndex(int64_t num_shards, const std::map<std::string, std::string>& entries,
                        std::string* out);

class BundleWriter {
 public:
  struct Options {
    // Start a new data shard before a tensor that would take the current one past this size
    // (0: a single shard, as TF's own BundleWriter writes).
    uint64_t max_shard_bytes = 0;
    bool sync = false;  // fsync every file before renaming it into place
  };

  BundleWriter(std::string prefix, Options options);
  ~BundleWriter();  // an unfinished writer removes its temporary files

  // Raw little-endian elements of a fixed-size dtype (size must be elements * width).
  Status AddFixed(std::string_view name, int64_t dtype, const std::vector<int64_t>& dims,
                  const uint8_t* data, uint64_t size);
  // A string tensor's elements in row-major order.
  Status AddStrings(std::string_view name, const std::vector<int64_t>& dims,
                    const std::vector<std::string_view>& elements);
  // An entry copied verbatim from another bundle's data file (kernel copy where possible):
  // its stored size and masked CRC carry over unchanged.
  Status AddCopy(std::string_view name, int64_t dtype, const std::vector<int64_t>& dims,
                 const std::string& src_path, uint64_t offset, uint64_t size,
                 uint32_t masked_crc);

  // Write the index and move every file into place. After an error nothing is left behind.
  Status Finish();
  void Abort();

  const std::string& prefix() const { return prefix_; }

 private:
  Status Begin(std::string_view name, uint64_t size, BundleEntry* entry);
  Status StartShard();
  Status Fail(Status s);

  std::string prefix_;
  Options options_;
  std::vector<std::unique_ptr<AtomicFile>> shards_;
  std::map<std::string, std::string> entries_;  // key -> serialized BundleEntryProto
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace ckptio
