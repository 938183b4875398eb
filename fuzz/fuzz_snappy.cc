// Fuzz target: the snappy decompressor (index blocks of type 1).
#include <cstddef>
#include <cstdint>
#include <string>

#include "snappy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out;
  (void)ckptio::snappy::Uncompress(data, size, &out);
  return 0;
}
