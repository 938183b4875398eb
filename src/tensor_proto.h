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

// Decode exactly `n` string elements (string_val).
Status DecodeTensorProtoStrings(std::string_view proto, uint64_t n,
                                std::vector<std::string>* out);

}  // namespace ckptio
