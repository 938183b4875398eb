// Builds a table (TF's LevelDB-style SSTable) in memory, byte-identical to what TF's
// TableBuilder writes with TF's options: 256 KiB blocks, restart interval 16 (1 in the index
// block), no compression, shortest separators in the index.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "status.h"

namespace ckptio {

class TableBuilder {
 public:
  static constexpr uint64_t kBlockSize = 256 * 1024;

  // Keys must be added in strictly increasing bytewise order.
  Status Add(std::string_view key, std::string_view value);
  // Append the metaindex, index and footer; returns the whole file.
  std::string Finish();

 private:
  class Block {
   public:
    explicit Block(int restart_interval) : restart_interval_(restart_interval) {}
    void Add(std::string_view key, std::string_view value);
    std::string Finish();  // contents, then reset
    size_t SizeEstimate() const { return buffer_.size() + 4 * restarts_.size() + 4; }
    bool empty() const { return buffer_.empty(); }

   private:
    int restart_interval_;
    std::string buffer_;
    std::string last_key_;
    std::vector<uint32_t> restarts_{0};
    int counter_ = 0;
  };

  void Flush();
  void WriteBlock(Block* block, uint64_t* offset, uint64_t* size);

  std::string out_;
  Block data_{16};
  Block index_{1};
  std::string last_key_;
  uint64_t num_entries_ = 0;
  bool pending_index_entry_ = false;
  uint64_t pending_offset_ = 0, pending_size_ = 0;
};

}  // namespace ckptio
