// Fuzz target: table footer, index block, data blocks, restart arrays, lookups.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mapped_file.h"
#include "table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = ckptio::MappedFile::Borrow("fuzz.index", data, size);
  ckptio::Table table;
  if (!ckptio::Table::Open(file.get(), &table).ok()) return 0;
  std::string last_key;
  (void)table.ForEach([&](std::string_view key, std::string_view) {
    last_key.assign(key.data(), key.size());
    return ckptio::Status::OK();
  });
  std::string storage;
  std::string_view value;
  bool found;
  (void)table.Get("", &storage, &value, &found);
  (void)table.Get(last_key, &storage, &value, &found);
  return 0;
}
