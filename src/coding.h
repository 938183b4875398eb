// Little-endian fixed-width integers and LEB128 varints.
// Decoders take (p, limit) and return nullptr instead of reading past limit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace ckptio {

inline uint32_t DecodeFixed32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t DecodeFixed64(const uint8_t* p) {
  return uint64_t(DecodeFixed32(p)) | (uint64_t(DecodeFixed32(p + 4)) << 32);
}

// On success store the value in *v and return the byte after it.
const uint8_t* GetVarint32Slow(const uint8_t* p, const uint8_t* limit, uint32_t* v);
const uint8_t* GetVarint64Slow(const uint8_t* p, const uint8_t* limit, uint64_t* v);
// Inline for the one-byte case, as GetVarint64 below: block entries' lengths mostly are.
inline const uint8_t* GetVarint32(const uint8_t* p, const uint8_t* limit, uint32_t* v) {
  if (p < limit && *p < 0x80) {
    *v = *p;
    return p + 1;
  }
  return GetVarint32Slow(p, limit, v);
}
// Inline for the one-byte case, which is most tags and small values in an index.
inline const uint8_t* GetVarint64(const uint8_t* p, const uint8_t* limit, uint64_t* v) {
  if (p < limit && *p < 0x80) {
    *v = *p;
    return p + 1;
  }
  return GetVarint64Slow(p, limit, v);
}

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint64(std::string* dst, uint64_t v);
int VarintLength(uint64_t v);

// Overflow-safe "does [offset, offset+n) lie within [0, size)".
inline bool RangeWithin(uint64_t offset, uint64_t n, uint64_t size) {
  return n <= size && offset <= size - n;
}

}  // namespace ckptio
