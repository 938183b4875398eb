#include "snappy.h"

#include "coding.h"

namespace ckptio {
namespace snappy {

namespace {
// The best case is a 3-byte copy tag producing 64 bytes; anything claiming more than that ratio
// cannot be a valid stream.
constexpr uint64_t kMaxExpansion = 22;
}  // namespace

Status Uncompress(const uint8_t* data, size_t n, std::string* out) {
  const uint8_t* p = data;
  const uint8_t* limit = data + n;
  uint32_t expected;
  p = GetVarint32(p, limit, &expected);
  if (p == nullptr) return Status::Corruption("snappy: bad length preamble");
  if (uint64_t(expected) > uint64_t(limit - p) * kMaxExpansion + 64) {
    return Status::Corruption("snappy: claimed length too large for input");
  }
  out->clear();
  out->resize(expected);
  char* dst = out->data();
  size_t produced = 0;

  while (p < limit) {
    const uint8_t tag = *p++;
    size_t len;
    size_t offset = 0;
    switch (tag & 3) {
      case 0: {  // literal
        len = (tag >> 2) + 1;
        if (len > 60) {
          const size_t extra = len - 60;  // 1..4 little-endian length bytes
          if (size_t(limit - p) < extra) return Status::Corruption("snappy: truncated literal");
          len = 0;
          for (size_t i = 0; i < extra; ++i) len |= size_t(p[i]) << (8 * i);
          len += 1;
          p += extra;
        }
        if (size_t(limit - p) < len) return Status::Corruption("snappy: truncated literal");
        if (expected - produced < len) return Status::Corruption("snappy: output overrun");
        std::memcpy(dst + produced, p, len);
        produced += len;
        p += len;
        continue;
      }
      case 1:
        if (limit - p < 1) return Status::Corruption("snappy: truncated copy");
        len = 4 + ((tag >> 2) & 7);
        offset = (size_t(tag >> 5) << 8) | *p++;
        break;
      case 2:
        if (limit - p < 2) return Status::Corruption("snappy: truncated copy");
        len = 1 + (tag >> 2);
        offset = size_t(p[0]) | (size_t(p[1]) << 8);
        p += 2;
        break;
      default:
        if (limit - p < 4) return Status::Corruption("snappy: truncated copy");
        len = 1 + (tag >> 2);
        offset = DecodeFixed32(p);
        p += 4;
        break;
    }
    if (offset == 0 || offset > produced) return Status::Corruption("snappy: bad copy offset");
    if (expected - produced < len) return Status::Corruption("snappy: output overrun");
    // Copies may overlap their own output (run-length style), so go byte by byte.
    const char* src = dst + produced - offset;
    for (size_t i = 0; i < len; ++i) dst[produced + i] = src[i];
    produced += len;
  }
  if (produced != expected) return Status::Corruption("snappy: output shorter than claimed");
  return Status::OK();
}

}  // namespace snappy
}  // namespace ckptio
