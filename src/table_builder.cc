#include "table_builder.h"

#include <algorithm>

#include "coding.h"
#include "crc32c.h"
#include "table.h"

namespace ckptio {

namespace {

// A short key k with start <= k < limit (start unchanged when no shorter one is found).
void ShortenSeparator(std::string* start, std::string_view limit) {
  const size_t min_length = std::min(start->size(), limit.size());
  size_t i = 0;
  while (i < min_length && (*start)[i] == limit[i]) ++i;
  if (i >= min_length) return;  // one is a prefix of the other
  const uint8_t byte = static_cast<uint8_t>((*start)[i]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[i])) {
    (*start)[i] = static_cast<char>(byte + 1);
    start->resize(i + 1);
  }
}

// A short key >= key: the first byte that can grow, grown, and the rest cut.
void ShortSuccessor(std::string* key) {
  for (size_t i = 0; i < key->size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>((*key)[i]);
    if (byte != 0xff) {
      (*key)[i] = static_cast<char>(byte + 1);
      key->resize(i + 1);
      return;
    }
  }
}

}  // namespace

void TableBuilder::Block::Add(std::string_view key, std::string_view value) {
  size_t shared = 0;
  if (counter_ < restart_interval_) {
    const size_t n = std::min(last_key_.size(), key.size());
    while (shared < n && last_key_[shared] == key[shared]) ++shared;
  } else {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    counter_ = 0;
  }
  PutVarint64(&buffer_, shared);
  PutVarint64(&buffer_, key.size() - shared);
  PutVarint64(&buffer_, value.size());
  buffer_.append(key.data() + shared, key.size() - shared);
  buffer_.append(value.data(), value.size());
  last_key_.assign(key.data(), key.size());
  ++counter_;
}

std::string TableBuilder::Block::Finish() {
  std::string contents = std::move(buffer_);
  for (uint32_t r : restarts_) PutFixed32(&contents, r);
  PutFixed32(&contents, static_cast<uint32_t>(restarts_.size()));
  buffer_.clear();
  last_key_.clear();
  restarts_.assign(1, 0);
  counter_ = 0;
  return contents;
}

Status TableBuilder::Add(std::string_view key, std::string_view value) {
  if (num_entries_ > 0) {
    if (std::string_view(last_key_).compare(key) >= 0) {
      return Status::InvalidArgument("keys must be added in increasing order");
    }
    // An entry twice the block size gets a block of its own (TF's rule, not LevelDB's).
    if (key.size() + value.size() >= 2 * kBlockSize) Flush();
  }
  if (pending_index_entry_) {
    ShortenSeparator(&last_key_, key);
    std::string handle;
    PutVarint64(&handle, pending_offset_);
    PutVarint64(&handle, pending_size_);
    index_.Add(last_key_, handle);
    pending_index_entry_ = false;
  }
  last_key_.assign(key.data(), key.size());
  ++num_entries_;
  data_.Add(key, value);
  if (data_.SizeEstimate() >= kBlockSize) Flush();
  return Status::OK();
}

void TableBuilder::Flush() {
  if (data_.empty()) return;
  WriteBlock(&data_, &pending_offset_, &pending_size_);
  pending_index_entry_ = true;
}

void TableBuilder::WriteBlock(Block* block, uint64_t* offset, uint64_t* size) {
  const std::string contents = block->Finish();
  *offset = out_.size();
  *size = contents.size();
  out_ += contents;
  const char type = 0;  // uncompressed, as TF writes every table
  uint32_t crc = crc32c::Value(reinterpret_cast<const uint8_t*>(contents.data()), contents.size());
  crc = crc32c::Extend(crc, reinterpret_cast<const uint8_t*>(&type), 1);
  out_.push_back(type);
  PutFixed32(&out_, crc32c::Mask(crc));
}

std::string TableBuilder::Finish() {
  Flush();
  Block metaindex(16);
  uint64_t meta_offset, meta_size, index_offset, index_size;
  WriteBlock(&metaindex, &meta_offset, &meta_size);
  if (pending_index_entry_) {
    ShortSuccessor(&last_key_);
    std::string handle;
    PutVarint64(&handle, pending_offset_);
    PutVarint64(&handle, pending_size_);
    index_.Add(last_key_, handle);
    pending_index_entry_ = false;
  }
  WriteBlock(&index_, &index_offset, &index_size);
  std::string footer;
  PutVarint64(&footer, meta_offset);
  PutVarint64(&footer, meta_size);
  PutVarint64(&footer, index_offset);
  PutVarint64(&footer, index_size);
  footer.resize(40, '\0');
  PutFixed64(&footer, kTableMagic);
  out_ += footer;
  return std::move(out_);
}

}  // namespace ckptio
