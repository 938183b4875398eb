// Fuzz target: a whole V2 bundle. Input = fixed32 LE index length, the index bytes, then the
// bytes of the single data shard. Exercises entries, slices, string tensors and checksums.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bundle_reader.h"
#include "coding.h"
#include "memory_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ckptio;
  if (size < 4) return 0;
  const uint64_t index_size = DecodeFixed32(data);
  if (index_size > size - 4) return 0;
  SourceOpener opener = MemoryOpener({
      {"b.index", Borrowed(data + 4, index_size)},
      {"b.data-00000-of-00001", Borrowed(data + 4 + index_size, size - 4 - index_size)},
  });
  std::unique_ptr<BundleReader> reader;
  if (!BundleReader::Open("b", &reader, opener).ok()) return 0;
  for (const TensorRecord& r : reader->records()) {
    (void)reader->Verify(r);
    if (r.partitioned()) continue;
    ByteRange bytes;
    if (!reader->Data(r, &bytes).ok()) continue;
    if (r.type.storage == Storage::kString) {
      std::vector<std::string_view> elements;
      (void)reader->DecodeStrings(r, bytes.data, &elements);
    } else if (r.type.storage == Storage::kFixed) {
      std::vector<uint8_t> copy(r.entry.size);
      (void)reader->CopyTo(r, bytes.data, copy.data(), true);
    }
  }
  return 0;
}
