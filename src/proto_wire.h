// Minimal protobuf wire-format reader and writer: enough for the few TF messages a checkpoint
// holds, with no protobuf runtime. Every read is bounded by the message's own length.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ckptio {

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  explicit WireReader(std::string_view message)
      : p_(reinterpret_cast<const uint8_t*>(message.data())), limit_(p_ + message.size()) {}

  // Advance to the next field. Returns false at the end of the message or on malformed input;
  // ok() tells the two apart.
  bool Next();
  bool ok() const { return ok_; }

  int field() const { return field_; }
  WireType wire_type() const { return wire_type_; }
  uint64_t varint() const { return varint_; }          // kVarint
  uint32_t fixed32() const { return uint32_t(varint_); }  // kFixed32
  uint64_t fixed64() const { return varint_; }         // kFixed64
  std::string_view bytes() const { return bytes_; }    // kLengthDelimited

 private:
  const uint8_t* p_;
  const uint8_t* limit_;
  bool ok_ = true;
  int field_ = 0;
  WireType wire_type_ = kVarint;
  uint64_t varint_ = 0;
  std::string_view bytes_;
};

// Visit the values of a repeated scalar field that may be packed (proto3 default) or not.
// `visit(uint64_t)` receives varints or fixed values as raw bits. Returns false on bad input.
template <typename Visit>
bool ForEachPackedOrSingle(const WireReader& r, WireType element_type, Visit visit);

// Writers (append to *out).
void PutTag(std::string* out, int field, WireType type);
void PutVarintField(std::string* out, int field, uint64_t v);
void PutFixed32Field(std::string* out, int field, uint32_t v);
void PutBytesField(std::string* out, int field, std::string_view bytes);

}  // namespace ckptio

#include "proto_wire_inl.h"
