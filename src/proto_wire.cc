#include "proto_wire.h"

#include "coding.h"

namespace ckptio {

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
