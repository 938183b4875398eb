// Template definitions for proto_wire.h.
#pragma once

#include "coding.h"

namespace ckptio {

// A little-endian fixed32 or fixed64 (`type`) at p into *v: the byte after it, or nullptr when
// fewer bytes than its width remain.
inline const uint8_t* GetFixed(const uint8_t* p, const uint8_t* limit, WireType type,
                               uint64_t* v) {
  const size_t width = type == kFixed32 ? 4 : 8;
  if (size_t(limit - p) < width) return nullptr;
  *v = width == 4 ? DecodeFixed32(p) : DecodeFixed64(p);
  return p + width;
}

// Inline: called several times per index entry, the hottest loop of opening a checkpoint.
inline bool WireReader::Next() {
  if (!ok_ || p_ >= limit_) return false;
  uint64_t tag;
  const uint8_t* q = GetVarint64(p_, limit_, &tag);
  if (q == nullptr || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) {
    ok_ = false;
    return false;
  }
  field_ = static_cast<int>(tag >> 3);
  switch (tag & 7) {
    case kVarint:
      wire_type_ = kVarint;
      q = GetVarint64(q, limit_, &varint_);
      break;
    case kLengthDelimited: {
      wire_type_ = kLengthDelimited;
      uint64_t len;
      q = GetVarint64(q, limit_, &len);
      if (q != nullptr && len <= uint64_t(limit_ - q)) {
        bytes_ = std::string_view(reinterpret_cast<const char*>(q), len);
        q += len;
      } else {
        q = nullptr;
      }
      break;
    }
    case kFixed64:
    case kFixed32:
      wire_type_ = static_cast<WireType>(tag & 7);
      q = GetFixed(q, limit_, wire_type_, &varint_);
      break;
    default:  // groups (3, 4) and reserved types never appear in these messages
      q = nullptr;
  }
  if (q == nullptr) {
    ok_ = false;
    return false;
  }
  p_ = q;
  return true;
}


template <typename Visit>
bool ForEachPackedOrSingle(const WireReader& r, WireType element_type, Visit visit) {
  if (r.wire_type() == element_type) {
    visit(r.varint());
    return true;
  }
  if (r.wire_type() != kLengthDelimited) return false;
  const auto* p = reinterpret_cast<const uint8_t*>(r.bytes().data());
  const uint8_t* limit = p + r.bytes().size();
  while (p < limit) {
    uint64_t v;
    p = element_type == kVarint ? GetVarint64(p, limit, &v) : GetFixed(p, limit, element_type, &v);
    if (p == nullptr) return false;
    visit(v);
  }
  return true;
}

}  // namespace ckptio
