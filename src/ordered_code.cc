#include "ordered_code.h"

namespace ckptio {

namespace {

// Header bits XORed into the first two bytes of a signed number of each encoded length.
constexpr uint8_t kHeaderByte0[11] = {0, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff, 0xff, 0xff};
constexpr uint8_t kHeaderByte1[11] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xc0};
// The same header bits as seen in the last 8 bytes of the encoding, to strip after decoding.
constexpr uint64_t kLengthToMask[11] = {0,
                                        0x80ull,
                                        0xc000ull,
                                        0xe00000ull,
                                        0xf0000000ull,
                                        0xf800000000ull,
                                        0xfc0000000000ull,
                                        0xfe000000000000ull,
                                        0xff00000000000000ull,
                                        0x8000000000000000ull,
                                        0};
constexpr size_t kMaxSignedLength = 10;
constexpr uint64_t kSliceKeyMaxRank = 64;  // TF's TensorShape allows at most 254; keys far less

int Log2Floor(uint64_t x) { return 63 - __builtin_clzll(x); }

}  // namespace

void WriteNumIncreasing(std::string* dst, uint64_t v) {
  uint8_t buf[9];
  int n = 0;
  for (uint64_t x = v; x != 0; x >>= 8) ++n;
  buf[0] = static_cast<uint8_t>(n);
  for (int i = 0; i < n; ++i) buf[1 + i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
  dst->append(reinterpret_cast<const char*>(buf), 1 + n);
}

void WriteSignedNumIncreasing(std::string* dst, int64_t v) {
  const uint64_t x = v < 0 ? ~static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  if (x < 64) {
    dst->push_back(static_cast<char>(0x80 ^ static_cast<uint8_t>(v)));
    return;
  }
  const size_t len = static_cast<size_t>((Log2Floor(x) + 1) / 7 + 1);
  uint8_t buf[kMaxSignedLength];
  const uint8_t sign = v < 0 ? 0xff : 0x00;
  buf[0] = buf[1] = sign;
  for (int i = 0; i < 8; ++i) buf[2 + i] = static_cast<uint8_t>(uint64_t(v) >> (8 * (7 - i)));
  uint8_t* begin = buf + kMaxSignedLength - len;
  begin[0] ^= kHeaderByte0[len];
  begin[1] ^= kHeaderByte1[len];
  dst->append(reinterpret_cast<const char*>(begin), len);
}

void WriteEscapedString(std::string* dst, std::string_view s) {
  for (char c : s) {
    dst->push_back(c);
    if (c == '\0') dst->push_back('\xff');
    if (c == '\xff') dst->push_back('\0');
  }
  dst->append("\0\1", 2);
}

bool ReadNumIncreasing(std::string_view* src, uint64_t* v) {
  if (src->empty()) return false;
  const size_t n = static_cast<uint8_t>((*src)[0]);
  if (n > 8 || src->size() < 1 + n) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; ++i) x = (x << 8) | static_cast<uint8_t>((*src)[1 + i]);
  *v = x;
  src->remove_prefix(1 + n);
  return true;
}

bool ReadSignedNumIncreasing(std::string_view* src, int64_t* v) {
  if (src->empty()) return false;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>((*src)[i]); };
  const uint64_t xor_mask = (byte(0) & 0x80) ? 0 : ~0ull;
  const uint8_t first = byte(0) ^ static_cast<uint8_t>(xor_mask);
  size_t len;
  uint64_t x;
  if (first != 0xff) {
    len = static_cast<size_t>(7 - Log2Floor(first ^ 0xffu));
    if (src->size() < len) return false;
    x = xor_mask;
    for (size_t i = 0; i < len; ++i) x = (x << 8) | byte(i);
  } else {
    len = 8;
    if (src->size() < 2) return false;
    const uint8_t second = byte(1) ^ static_cast<uint8_t>(xor_mask);
    if (second >= 0x80) {
      if (second < 0xc0) {
        len = 9;
      } else {
        if (src->size() < 3) return false;
        const uint8_t third = byte(2) ^ static_cast<uint8_t>(xor_mask);
        if (second != 0xc0 || third >= 0x80) return false;
        len = 10;
      }
    }
    if (src->size() < len) return false;
    x = 0;
    for (size_t i = len - 8; i < len; ++i) x = (x << 8) | byte(i);
  }
  x ^= kLengthToMask[len];
  *v = static_cast<int64_t>(x);
  src->remove_prefix(len);
  return true;
}

bool ReadEscapedString(std::string_view* src, std::string* s) {
  s->clear();
  for (size_t i = 0; i < src->size(); ++i) {
    const char c = (*src)[i];
    if (c != '\0' && c != '\xff') {
      s->push_back(c);
      continue;
    }
    if (i + 1 >= src->size()) return false;
    const char next = (*src)[i + 1];
    if (c == '\0' && next == '\1') {
      src->remove_prefix(i + 2);
      return true;
    }
    if (c == '\0' && next == '\xff') {
      s->push_back('\0');
    } else if (c == '\xff' && next == '\0') {
      s->push_back('\xff');
    } else {
      return false;
    }
    ++i;
  }
  return false;
}

std::string EncodeTensorNameSlice(std::string_view name, const TensorSlice& slice) {
  std::string key;
  WriteNumIncreasing(&key, 0);
  WriteEscapedString(&key, name);
  WriteNumIncreasing(&key, slice.size());
  for (const Extent& e : slice) {
    WriteSignedNumIncreasing(&key, e.start);
    WriteSignedNumIncreasing(&key, e.length);
  }
  return key;
}

bool DecodeTensorNameSlice(std::string_view key, std::string* name, TensorSlice* slice) {
  uint64_t zero, rank;
  if (!ReadNumIncreasing(&key, &zero) || zero != 0) return false;
  if (!ReadEscapedString(&key, name)) return false;
  if (!ReadNumIncreasing(&key, &rank) || rank > kSliceKeyMaxRank) return false;
  slice->assign(rank, Extent());
  for (Extent& e : *slice) {
    if (!ReadSignedNumIncreasing(&key, &e.start) || !ReadSignedNumIncreasing(&key, &e.length)) {
      return false;
    }
  }
  return key.empty();
}

}  // namespace ckptio
