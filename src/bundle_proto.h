// The protobuf messages of a V2 bundle index (tensor_bundle.proto, tensor_shape.proto,
// tensor_slice.proto, versions.proto), decoded from the wire without a protobuf runtime.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dims.h"
#include "status.h"

namespace ckptio {

// Dims outermost first. Only concrete shapes are valid in a checkpoint.
struct TensorShape {
  Dims dims;
  bool unknown_rank = false;
};

// One dimension of a TensorSliceProto. length == kFullExtent means the whole dimension.
constexpr int64_t kFullExtent = -1;
struct Extent {
  int64_t start = 0;
  int64_t length = kFullExtent;
};
using TensorSlice = std::vector<Extent>;

struct VersionDef {
  int64_t producer = 0;
  int64_t min_consumer = 0;
  std::vector<int64_t> bad_consumers;
};

struct BundleHeader {
  int64_t num_shards = 0;
  int64_t endianness = 0;  // 0 little, 1 big
  VersionDef version;
  bool has_version = false;
};

struct BundleEntry {
  int64_t dtype = 0;
  TensorShape shape;
  int64_t shard_id = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc32c = 0;  // masked, as stored
  std::vector<TensorSlice> slices;
};

// Each parser: on success fill *out and return OK; on malformed bytes return Corruption.
Status ParseTensorShape(std::string_view bytes, TensorShape* out);
Status ParseTensorSlice(std::string_view bytes, TensorSlice* out);
Status ParseVersionDef(std::string_view bytes, VersionDef* out);
Status ParseBundleHeader(std::string_view bytes, BundleHeader* out);
Status ParseBundleEntry(std::string_view bytes, BundleEntry* out);

// ParseBundleEntry's happy path for opening an index: into a default-constructed *out, no
// Status. False for anything else (malformed bytes, or an entry with slices): then call
// ParseBundleEntry, which resets *out and parses or reports the error.
bool ParseBundleEntryFast(std::string_view bytes, BundleEntry* out);

// TF's CheckVersions with consumer 1 and min_producer 0 (tensor bundles and V1 files alike).
Status CheckCheckpointVersion(const VersionDef& v);

// Writers, byte-identical to what TF emits (fields in number order, defaults omitted).
std::string SerializeTensorShape(const TensorShape& shape);
std::string SerializeTensorSlice(const TensorSlice& slice);
std::string SerializeBundleHeader(const BundleHeader& header);
std::string SerializeBundleEntry(const BundleEntry& entry);

}  // namespace ckptio
