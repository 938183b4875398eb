// Template definitions for proto_wire.h.
#pragma once

#include "coding.h"

namespace ckptio {

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
    case kFixed64:
      wire_type_ = kFixed64;
      if (limit_ - q < 8) {
        q = nullptr;
      } else {
        varint_ = DecodeFixed64(q);
        q += 8;
      }
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
    case kFixed32:
      wire_type_ = kFixed32;
      if (limit_ - q < 4) {
        q = nullptr;
      } else {
        varint_ = DecodeFixed32(q);
        q += 4;
      }
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
    if (element_type == kVarint) {
      p = GetVarint64(p, limit, &v);
      if (p == nullptr) return false;
    } else {
      const size_t width = element_type == kFixed32 ? 4 : 8;
      if (size_t(limit - p) < width) return false;
      v = width == 4 ? DecodeFixed32(p) : DecodeFixed64(p);
      p += width;
    }
    visit(v);
  }
  return true;
}

}  // namespace ckptio
