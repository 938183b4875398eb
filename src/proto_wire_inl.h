// Template definitions for proto_wire.h.
#pragma once

#include "coding.h"

namespace ckptio {

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
