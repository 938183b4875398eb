#include "proto_wire.h"

#include "coding.h"

namespace ckptio {

bool WireReader::Next() {
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

void PutTag(std::string* out, int field, WireType type) {
  PutVarint64(out, (uint64_t(field) << 3) | type);
}

void PutVarintField(std::string* out, int field, uint64_t v) {
  PutTag(out, field, kVarint);
  PutVarint64(out, v);
}

void PutFixed32Field(std::string* out, int field, uint32_t v) {
  PutTag(out, field, kFixed32);
  PutFixed32(out, v);
}

void PutBytesField(std::string* out, int field, std::string_view bytes) {
  PutTag(out, field, kLengthDelimited);
  PutVarint64(out, bytes.size());
  out->append(bytes.data(), bytes.size());
}

}  // namespace ckptio
