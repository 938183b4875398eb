#include "coding.h"

namespace ckptio {

const uint8_t* GetVarint64Slow(const uint8_t* p, const uint8_t* limit, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && p < limit; shift += 7) {
    uint64_t byte = *p++;
    if (shift == 63 && byte > 1) return nullptr;  // more than 64 bits
    result |= (byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *v = result;
      return p;
    }
  }
  return nullptr;
}

const uint8_t* GetVarint32Slow(const uint8_t* p, const uint8_t* limit, uint32_t* v) {
  uint64_t wide;
  const uint8_t* q = GetVarint64(p, limit, &wide);
  if (q == nullptr || q - p > 5 || wide > 0xffffffffu) return nullptr;
  *v = static_cast<uint32_t>(wide);
  return q;
}

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  PutFixed32(dst, static_cast<uint32_t>(v));
  PutFixed32(dst, static_cast<uint32_t>(v >> 32));
}

void PutVarint64(std::string* dst, uint64_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}

int VarintLength(uint64_t v) {
  int len = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++len;
  }
  return len;
}

}  // namespace ckptio
