// Fuzz target: protobuf wire decoding of every message a checkpoint holds (bundle header and
// entries, shapes, slices, OrderedCode slice keys, V1 TensorProto values).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bundle_proto.h"
#include "dtypes.h"
#include "ordered_code.h"
#include "tensor_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ckptio;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  BundleHeader header;
  (void)ParseBundleHeader(bytes, &header);
  BundleEntry entry;
  const bool parsed = ParseBundleEntry(bytes, &entry).ok();
  if (parsed) {
    (void)SerializeBundleEntry(entry);
  }
  // The fast path of opening an index takes only entries the full parser reads alike.
  BundleEntry fast;
  if (ParseBundleEntryFast(bytes, &fast)) {
    const bool same = parsed && fast.dtype == entry.dtype &&
                      fast.shape.dims == entry.shape.dims &&
                      fast.shape.unknown_rank == entry.shape.unknown_rank &&
                      fast.shard_id == entry.shard_id && fast.offset == entry.offset &&
                      fast.size == entry.size && fast.crc32c == entry.crc32c &&
                      fast.slices.empty() && entry.slices.empty();
    if (!same) __builtin_trap();
  }
  TensorShape shape;
  (void)ParseTensorShape(bytes, &shape);
  TensorSlice slice;
  (void)ParseTensorSlice(bytes, &slice);
  std::string name;
  if (DecodeTensorNameSlice(bytes, &name, &slice)) {
    (void)EncodeTensorNameSlice(name, slice);
  }
  if (size >= 2) {
    // First byte picks a dtype, second an element count; the rest is the TensorProto.
    const int64_t dtype = data[0] % 34;
    const uint64_t n = data[1];
    const std::string_view proto = bytes.substr(2);
    const DataTypeInfo type = GetDataTypeInfo(dtype);
    if (type.storage == Storage::kFixed) {
      std::vector<uint8_t> out(n * uint64_t(type.elem_size) + 1);
      (void)DecodeTensorProtoValues(proto, dtype, n, out.data());
    }
    std::vector<std::string> strings;
    (void)DecodeTensorProtoStrings(proto, n, &strings);
  }
  return 0;
}
