// Fuzz targets read their input where it lies: a SourceOpener serving named in-memory buffers
// (the readers' own DataSource interface), so no input is ever written to a file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "data_source.h"

// Serves each path of `files` from the bytes given (borrowed: the fuzz input outlives the
// reader); any other path is missing.
inline ckptio::SourceOpener MemoryOpener(std::map<std::string, ckptio::ByteRange> files) {
  return [files = std::move(files)](const std::string& path,
                                    std::shared_ptr<const ckptio::DataSource>* out) {
    auto it = files.find(path);
    if (it == files.end()) return ckptio::Status::NotFound("no such file").WithFile(path);
    *out = std::make_shared<ckptio::MemorySource>(path, it->second);
    return ckptio::Status::OK();
  };
}

inline ckptio::ByteRange Borrowed(const uint8_t* data, size_t size) {
  ckptio::ByteRange r;
  r.data = data;
  r.size = size;
  return r;
}
