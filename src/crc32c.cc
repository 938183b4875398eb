#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#define CKPTIO_CRC_X86 1
#elif defined(__aarch64__) && (defined(__linux__) || defined(__APPLE__))
// ACLE intrinsics (GCC and clang alike); the CRC extension is switched on per function below.
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#define CKPTIO_CRC_ARM 1
#endif

namespace ckptio {
namespace crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Tables() {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t crc = b;
      for (int i = 0; i < 8; ++i) crc = (crc >> 1) ^ ((crc & 1) ? kPoly : 0);
      t[0][b] = crc;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      for (int k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = GetTables().t;
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= c;
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
  return ~c;
}

namespace {

uint32_t CopyExtendPortable(uint32_t crc, const uint8_t* p, uint8_t* d, size_t n) {
  if (n > 0) std::memcpy(d, p, n);
  return ExtendPortable(crc, p, n);
}

// GF(2) matrix helpers for shifting a CRC register over runs of zero bytes (as zlib's
// crc32_combine does): combining lanes computed in parallel, and CRCs of a split buffer.
uint32_t Gf2Times(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, ++mat) {
    if (vec & 1) sum ^= *mat;
  }
  return sum;
}

void Gf2Square(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = Gf2Times(mat, mat[n]);
}

// Operators for one zero bit (odd) and two zero bits (even).
void ZeroBitOperators(uint32_t* odd, uint32_t* even) {
  odd[0] = kPoly;
  uint32_t row = 1;
  for (int n = 1; n < 32; ++n, row <<= 1) odd[n] = row;
  Gf2Square(even, odd);
}

// Lookup tables applying `len` (a power of two) zero bytes to a raw CRC register, a byte at
// a time.
struct ZerosTable {
  uint32_t t[4][256];
  explicit ZerosTable(size_t len) {
    uint32_t odd[32], even[32];
    ZeroBitOperators(odd, even);
    Gf2Square(odd, even);  // four zero bits
    uint32_t* op = odd;
    do {  // square up to one zero byte, then double per bit of len
      Gf2Square(even, odd);
      op = even;
      len >>= 1;
      if (len == 0) break;
      Gf2Square(odd, even);
      op = odd;
      len >>= 1;
    } while (len);
    for (uint32_t n = 0; n < 256; ++n) {
      for (int k = 0; k < 4; ++k) t[k][n] = Gf2Times(op, n << (8 * k));
    }
  }
  uint32_t Shift(uint32_t crc) const {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
  }
};

#if defined(CKPTIO_CRC_X86)
// The crc32 instruction has a latency of three cycles and a throughput of one: three
// independent lanes over adjacent blocks keep it busy, and their CRCs are combined by shifting.
constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;

// With kCopy, each 8 bytes loaded is also stored to dst: a copy and its CRC in one pass over
// the source (a CRC after the copy reads every byte a second time).
template <bool kCopy>
__attribute__((target("sse4.2"))) uint64_t Lanes(uint64_t crc0, const uint8_t* p, uint8_t* d,
                                                 size_t block, const ZerosTable& zeros) {
  uint64_t crc1 = 0, crc2 = 0;
  for (size_t i = 0; i < block; i += 8) {
    uint64_t a, b, c;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + block + i, 8);
    std::memcpy(&c, p + 2 * block + i, 8);
    crc0 = _mm_crc32_u64(crc0, a);
    crc1 = _mm_crc32_u64(crc1, b);
    crc2 = _mm_crc32_u64(crc2, c);
    if constexpr (kCopy) {
      std::memcpy(d + i, &a, 8);
      std::memcpy(d + block + i, &b, 8);
      std::memcpy(d + 2 * block + i, &c, 8);
    }
  }
  crc0 = zeros.Shift(static_cast<uint32_t>(crc0)) ^ crc1;
  return zeros.Shift(static_cast<uint32_t>(crc0)) ^ crc2;
}

// The CRC of p[0, n) continuing crc; with kCopy, p[0, n) is also copied to d.
template <bool kCopy>
__attribute__((target("sse4.2"))) uint32_t Hardware(uint32_t crc, const uint8_t* p, uint8_t* d,
                                                    size_t n) {
  static const ZerosTable long_zeros(kLong);
  static const ZerosTable short_zeros(kShort);
  uint64_t c = ~crc;
  auto advance = [&](size_t k) {
    p += k;
    if constexpr (kCopy) d += k;
    n -= k;
  };
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
    if constexpr (kCopy) *d = *p;
    advance(1);
  }
  for (; n >= 3 * kLong; advance(3 * kLong)) c = Lanes<kCopy>(c, p, d, kLong, long_zeros);
  for (; n >= 3 * kShort; advance(3 * kShort)) c = Lanes<kCopy>(c, p, d, kShort, short_zeros);
  for (; n >= 8; advance(8)) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    if constexpr (kCopy) std::memcpy(d, &v, 8);
  }
  for (; n; advance(1)) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p);
    if constexpr (kCopy) *d = *p;
  }
  return ~static_cast<uint32_t>(c);
}

uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) {
  return Hardware<false>(crc, p, nullptr, n);
}
uint32_t CopyExtendHardware(uint32_t crc, const uint8_t* p, uint8_t* d, size_t n) {
  return Hardware<true>(crc, p, d, n);
}
bool DetectHardware() { return __builtin_cpu_supports("sse4.2"); }
#elif defined(CKPTIO_CRC_ARM)
#if defined(__clang__)
#define CKPTIO_TARGET_CRC __attribute__((target("crc")))
#else
#define CKPTIO_TARGET_CRC __attribute__((target("+crc")))
#endif
template <bool kCopy>
CKPTIO_TARGET_CRC uint32_t Hardware(uint32_t crc, const uint8_t* p, uint8_t* d, size_t n) {
  uint32_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __crc32cd(c, v);
    if constexpr (kCopy) {
      std::memcpy(d, &v, 8);
      d += 8;
    }
  }
  for (; n; ++p, --n) {
    c = __crc32cb(c, *p);
    if constexpr (kCopy) *d++ = *p;
  }
  return ~c;
}
uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) {
  return Hardware<false>(crc, p, nullptr, n);
}
uint32_t CopyExtendHardware(uint32_t crc, const uint8_t* p, uint8_t* d, size_t n) {
  return Hardware<true>(crc, p, d, n);
}
#if defined(__APPLE__)
bool DetectHardware() { return true; }  // every Apple arm64 CPU has the CRC32 instructions
#else
bool DetectHardware() { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#endif
#else
uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t n) {
  return ExtendPortable(crc, p, n);
}
uint32_t CopyExtendHardware(uint32_t crc, const uint8_t* p, uint8_t* d, size_t n) {
  return CopyExtendPortable(crc, p, d, n);
}
bool DetectHardware() { return false; }
#endif

using ExtendFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

ExtendFn Choose() { return DetectHardware() ? ExtendHardware : ExtendPortable; }

using CopyExtendFn = uint32_t (*)(uint32_t, const uint8_t*, uint8_t*, size_t);

CopyExtendFn ChooseCopy() { return DetectHardware() ? CopyExtendHardware : CopyExtendPortable; }

}  // namespace

uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n) {
  static const ExtendFn fn = Choose();
  return fn(crc, data, n);
}

uint32_t CopyExtend(uint32_t crc, const uint8_t* src, uint8_t* dst, size_t n) {
  static const CopyExtendFn fn = ChooseCopy();
  return fn(crc, src, dst, n);
}

bool IsHardwareAccelerated() { return DetectHardware(); }

uint32_t Combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  if (len2 == 0) return crc1;
  uint32_t odd[32], even[32];
  ZeroBitOperators(odd, even);
  Gf2Square(odd, even);  // four zero bits
  // Apply len2 zero bytes to crc1, one squared operator per bit of len2 (zlib's method).
  do {
    Gf2Square(even, odd);
    if (len2 & 1) crc1 = Gf2Times(even, crc1);
    len2 >>= 1;
    if (len2 == 0) break;
    Gf2Square(odd, even);
    if (len2 & 1) crc1 = Gf2Times(odd, crc1);
    len2 >>= 1;
  } while (len2 != 0);
  return crc1 ^ crc2;
}

}  // namespace crc32c
}  // namespace ckptio
