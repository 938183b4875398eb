// Decoding TensorProto values (tensor.proto), as V1 checkpoints store them: one typed repeated
// field (float_val, int_val, ...) or raw tensor_content.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dtypes.h"
#include "status.h"

namespace ckptio {

// Decode exactly `n` elements of `dtype` from a serialized TensorProto into `out` (n * elem_size
// bytes, little-endian; narrower integer types are stored as int32 on the wire and narrowed).
Status DecodeTensorProtoValues(std::string_view proto, int64_t dtype, uint64_t n, uint8_t* out);

// If the values are stored exactly as the array's own little-endian bytes (one packed float,
// double or complex field, or tensor_content) set *raw to them; otherwise leave it empty.
// Lets readers hand out zero-copy views of V1 files.
Status FindRawTensorProtoValues(std::string_view proto, int64_t dtype, uint64_t n,
                                std::string_view* raw);

// Decode exactly `n` string elements (string_val).
Status DecodeTensorProtoStrings(std::string_view proto, uint64_t n,
                                std::vector<std::string>* out);

}  // namespace ckptio
