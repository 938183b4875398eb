// A tensor's dimensions. Opening an index builds one per entry: as a std::vector that was one
// allocation per entry on open and one free per entry on close (measured: about a fifth of
// opening and closing a 20,000-key index). Dims keeps up to kInline dimensions in place, which
// covers nearly every tensor, and allocates only beyond that. DimsView is a read-only view over
// either Dims or a std::vector, for the functions that only read dimensions.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace ckptio {

class DimsView {
 public:
  DimsView() = default;
  DimsView(const int64_t* data, size_t size) : data_(data), size_(size) {}
  DimsView(const std::vector<int64_t>& dims) : data_(dims.data()), size_(dims.size()) {}  // NOLINT

  const int64_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const int64_t* begin() const { return data_; }
  const int64_t* end() const { return data_ + size_; }
  int64_t operator[](size_t i) const { return data_[i]; }

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

inline bool operator==(DimsView a, DimsView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
inline bool operator!=(DimsView a, DimsView b) { return !(a == b); }

class Dims {
 public:
  static constexpr size_t kInline = 6;

  Dims() = default;
  Dims(const std::vector<int64_t>& dims) { assign(dims.data(), dims.size()); }  // NOLINT
  explicit Dims(DimsView dims) { assign(dims.data(), dims.size()); }
  Dims(const Dims& other) { assign(other.data(), other.size()); }
  Dims(Dims&& other) noexcept { take(&other); }
  Dims& operator=(const Dims& other) {
    if (this != &other) assign(other.data(), other.size());
    return *this;
  }
  Dims& operator=(Dims&& other) noexcept {
    if (this != &other) {
      heap_.reset();
      take(&other);
    }
    return *this;
  }

  operator DimsView() const { return {data(), size_}; }  // NOLINT

  const int64_t* data() const { return heap_ ? heap_.get() : inline_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const int64_t* begin() const { return data(); }
  const int64_t* end() const { return data() + size_; }
  int64_t operator[](size_t i) const { return data()[i]; }

  void clear() { size_ = 0; }
  void push_back(int64_t d) {
    if (size_ == capacity()) grow(size_ * 2);
    mutable_data()[size_++] = d;
  }

 private:
  size_t capacity() const { return heap_ ? heap_capacity_ : kInline; }
  int64_t* mutable_data() { return heap_ ? heap_.get() : inline_; }

  void grow(size_t capacity) {
    std::unique_ptr<int64_t[]> bigger(new int64_t[capacity]);
    if (size_ != 0) std::memcpy(bigger.get(), data(), size_ * sizeof(int64_t));
    heap_ = std::move(bigger);
    heap_capacity_ = capacity;
  }

  void assign(const int64_t* dims, size_t n) {
    size_ = 0;
    if (n > capacity()) grow(n);
    if (n != 0) std::memcpy(mutable_data(), dims, n * sizeof(int64_t));
    size_ = n;
  }

  void take(Dims* other) {
    size_ = other->size_;
    if (other->heap_) {
      heap_ = std::move(other->heap_);
      heap_capacity_ = other->heap_capacity_;
    } else if (size_ != 0) {
      std::memcpy(inline_, other->inline_, size_ * sizeof(int64_t));
    }
    other->size_ = 0;
  }

  size_t size_ = 0;
  size_t heap_capacity_ = 0;
  std::unique_ptr<int64_t[]> heap_;  // null while the dimensions fit inline_
  int64_t inline_[kInline];
};

}  // namespace ckptio
