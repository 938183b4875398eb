// Status: the outcome of an operation that can fail on bad input.
// Carries the file and key it concerns so that every error names them.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace ckptio {

enum class Code {
  kOk = 0,
  kNotFound,         // a file or key that does not exist
  kCorruption,       // the bytes on disk are not a valid checkpoint
  kInvalidArgument,  // the caller asked for something impossible
  kIOError,          // the operating system refused
  kNotSupported,     // valid, but a feature ckptio does not read
};

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }
  bool has_key() const { return has_key_; }

  // Attach context; the innermost (first) context set wins.
  Status& WithFile(const std::string& file) {
    if (!ok() && file_.empty()) file_ = file;
    return *this;
  }
  Status& WithKey(std::string_view key) {
    if (!ok() && !has_key_) {
      key_.assign(key.data(), key.size());
      has_key_ = true;
    }
    return *this;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string file_;
  std::string key_;
  bool has_key_ = false;
};

#define CKPTIO_RETURN_IF_ERROR(expr)        \
  do {                                      \
    ::ckptio::Status _st = (expr);          \
    if (!_st.ok()) return _st;              \
  } while (0)

}  // namespace ckptio
