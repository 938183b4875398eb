// TF's OrderedCode encoding, used for the keys of tensor slices: a partitioned tensor's slice
// entries in a V2 bundle, and every record of a V1 checkpoint.
//
//   key = NumIncreasing(0) String(name) NumIncreasing(rank) {SignedNum(start) SignedNum(length)}*
//
// A full dimension is encoded as start 0, length -1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bundle_proto.h"

namespace ckptio {

void WriteNumIncreasing(std::string* dst, uint64_t v);
void WriteSignedNumIncreasing(std::string* dst, int64_t v);
void WriteEscapedString(std::string* dst, std::string_view s);

// Each reader consumes from the front of *src and returns false on malformed input.
bool ReadNumIncreasing(std::string_view* src, uint64_t* v);
bool ReadSignedNumIncreasing(std::string_view* src, int64_t* v);
bool ReadEscapedString(std::string_view* src, std::string* s);

std::string EncodeTensorNameSlice(std::string_view name, const TensorSlice& slice);
bool DecodeTensorNameSlice(std::string_view key, std::string* name, TensorSlice* slice);

}  // namespace ckptio
