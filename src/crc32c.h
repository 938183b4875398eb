// CRC-32C (Castagnoli), as used by TensorFlow for tables and bundle entries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ckptio {
namespace crc32c {

// Continue a CRC computed over earlier bytes with n more bytes.
uint32_t Extend(uint32_t crc, const uint8_t* data, size_t n);
inline uint32_t Value(const uint8_t* data, size_t n) { return Extend(0, data, n); }

// Extend over src[0, n) while copying it to dst (which must not overlap src), in one pass over
// src: a copy and its CRC for about the cost of the copy alone.
uint32_t CopyExtend(uint32_t crc, const uint8_t* src, uint8_t* dst, size_t n);

// TF stores masked CRCs: a CRC over data that itself contains CRCs is otherwise weak.
constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + kMaskDelta; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// The table-driven path, always available; tests compare it with the hardware path.
uint32_t ExtendPortable(uint32_t crc, const uint8_t* data, size_t n);

// The CRC of A followed by B, from crc(A), crc(B) and B's length: lets parts of a buffer be
// checksummed in parallel.
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// True when Extend uses a CPU instruction rather than tables (reported for diagnostics).
bool IsHardwareAccelerated();

}  // namespace crc32c
}  // namespace ckptio
