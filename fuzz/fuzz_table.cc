// Fuzz target: table footer, index block, data blocks, restart arrays, lookups.
#include <cstddef>
#include <cstdint>
#include <string>

#include "memory_target.h"
#include "table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto source = std::make_shared<ckptio::MemorySource>("fuzz.index", Borrowed(data, size));
  ckptio::Table table;
  if (!ckptio::Table::Open(source, &table).ok()) return 0;
  std::string last_key;
  (void)table.ForEach([&](std::string_view key, std::string_view) {
    last_key.assign(key.data(), key.size());
    return ckptio::Status::OK();
  });
  ckptio::Block block;
  std::string_view value;
  bool found;
  (void)table.Get("", &block, &value, &found);
  (void)table.Get(last_key, &block, &value, &found);
  return 0;
}
