// Decompressor for Snappy's raw format (the block format TF's tables may use, type byte 1).
// Written here rather than linking libsnappy: it is ~80 lines, needs no system package, and a
// reader of untrusted files wants every length checked against the input it came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "status.h"

namespace ckptio {
namespace snappy {

// Decompress [data, data+n) into *out. Rejects malformed input, including claimed lengths that
// no valid snappy stream of this size could produce (so no absurd allocation happens).
Status Uncompress(const uint8_t* data, size_t n, std::string* out);

}  // namespace snappy
}  // namespace ckptio
