// Fuzz target: a V1 checkpoint file (a table of SavedTensorSlices records): meta parsing,
// slice geometry, TensorProto decoding and multi-slice assembly.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "memory_target.h"
#include "v1_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ckptio;
  std::unique_ptr<V1Reader> reader;
  if (!V1Reader::Open({"v1.ckpt"}, &reader, MemoryOpener({{"v1.ckpt", Borrowed(data, size)}})).ok()) {
    return 0;
  }
  for (const V1Tensor& t : reader->tensors()) {
    if (t.type.storage == Storage::kString) {
      std::vector<std::string> values;
      (void)reader->ReadStrings(t, &values);
    } else if (t.type.storage == Storage::kFixed) {
      std::vector<uint8_t> values(t.num_elements * uint64_t(t.type.elem_size));
      (void)reader->ReadFixed(t, values.data());
    }
  }
  (void)reader->VerifyAll();
  return 0;
}
