#include "natural_order.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>

namespace ckptio {
namespace {

// --- natural order: `ckptio ls` sorts `_variables/2` before `_variables/10` ---------------
//
// The order is that of ckptio.cli._natural, the tuple (text, int, text, int, ..., text) that
// re.split(r"(\d+)", name) gives with its digit runs made ints (digits are Unicode decimals, as
// re's \d and int() take them). Each name becomes a byte string whose memcmp order is that
// tuple order, so the sort compares flat bytes:
//   text: each code point + 1 in `width` big-endian bytes, then `width` zero bytes (the end
//         of a text sorts before any character: a shorter text is smaller, as in Python);
//   int:  the count of its significant digits (2 bytes), then those digits (1 byte each):
//         larger numbers have more digits, and equal values (`01`, `1`) encode alike.
// A tuple that ends sorts before one that goes on, as does the shorter byte string. Ties keep
// the input order (stable sorts on both sides).
constexpr Py_ssize_t kMaxNaturalDigits = 640;  // Python's lowest int() digit limit: beyond, fall back

bool IsDecimal(Py_UCS4 c) { return c < 128 ? (c >= '0' && c <= '9') : Py_UNICODE_ISDECIMAL(c); }

// Bytes of a key at most: every code point and every segment end in `width` bytes, two more
// per digit run.
size_t NaturalKeyBound(Py_ssize_t n, int width) { return (2 * size_t(n) + 1) * (width + 2); }

int DecimalValue(Py_UCS4 c) { return c < 128 ? int(c - '0') : Py_UNICODE_TODECIMAL(c); }

// Write the sort key of `t` at `out` (room for NaturalKeyBound) and return its end, or
// nullptr if a digit run is too long to compare here (int() may refuse it: the caller falls
// back to Python's own sort).
template <typename Char>
char* PutNaturalKey(const Char* t, Py_ssize_t n, int width, char* out) {
  auto put_unit = [&](uint32_t u) {
    for (int b = width - 1; b >= 0; --b) *out++ = static_cast<char>((u >> (8 * b)) & 0xff);
  };
  Py_ssize_t i = 0;
  while (true) {
    if (width == 1) {
      for (; i < n && !IsDecimal(t[i]); ++i) *out++ = static_cast<char>(t[i] + 1);
      *out++ = 0;
    } else {
      for (; i < n && !IsDecimal(t[i]); ++i) put_unit(uint32_t(t[i]) + 1);
      put_unit(0);
    }
    if (i == n) return out;
    Py_ssize_t end = i;
    while (end < n && IsDecimal(t[end])) ++end;
    if (end - i > kMaxNaturalDigits) return nullptr;
    while (i < end && DecimalValue(t[i]) == 0) ++i;
    const Py_ssize_t significant = end - i;
    *out++ = static_cast<char>(significant >> 8);
    *out++ = static_cast<char>(significant & 0xff);
    for (; i < end; ++i) *out++ = static_cast<char>(DecimalValue(t[i]));
  }
}

char* PutNaturalKey(const Text& t, int width, char* out) {
  switch (t.kind) {
    case PyUnicode_1BYTE_KIND:
      return PutNaturalKey(static_cast<const Py_UCS1*>(t.data), t.size, width, out);
    case PyUnicode_2BYTE_KIND:
      return PutNaturalKey(static_cast<const Py_UCS2*>(t.data), t.size, width, out);
    default:
      return PutNaturalKey(static_cast<const Py_UCS4*>(t.data), t.size, width, out);
  }
}

// A stable sort that is quick on nearly sorted input (names come in key order, which is
// mostly their natural order already): the ascending runs, merged pairwise.
template <typename Less>
void RunMergeSort(std::vector<uint32_t>* v, Less less) {
  std::vector<size_t> bounds{0};
  for (size_t i = 1; i < v->size(); ++i) {
    if (less((*v)[i], (*v)[i - 1])) bounds.push_back(i);
  }
  bounds.push_back(v->size());
  while (bounds.size() > 2) {
    std::vector<size_t> merged{0};
    for (size_t k = 0; k + 2 < bounds.size(); k += 2) {
      std::inplace_merge(v->begin() + bounds[k], v->begin() + bounds[k + 1],
                         v->begin() + bounds[k + 2], less);
      merged.push_back(bounds[k + 2]);
    }
    if (merged.back() != v->size()) merged.push_back(v->size());
    bounds = std::move(merged);
  }
}

}  // namespace

bool NaturalOrder(const std::vector<Text>& names, const std::vector<uint64_t>* sizes,
                  std::vector<uint32_t>* order) {
  Py_UCS4 max_char = 0;
  size_t chars = 0;
  for (const Text& t : names) {
    max_char = std::max(max_char, t.max_char);
    chars += static_cast<size_t>(t.size);
  }
  const int width = max_char < 0xff ? 1 : max_char < 0xffff ? 2 : 3;
  std::unique_ptr<char[]> keys(new char[NaturalKeyBound(Py_ssize_t(chars), width) +
                                        names.size() * NaturalKeyBound(0, width)]);
  std::vector<const char*> starts;  // key i is [starts[i], starts[i + 1])
  starts.reserve(names.size() + 1);
  char* end = keys.get();
  for (const Text& t : names) {
    starts.push_back(end);
    end = PutNaturalKey(t, width, end);
    if (end == nullptr) return false;
  }
  starts.push_back(end);
  auto key = [&](uint32_t i) {
    return std::string_view(starts[i], size_t(starts[i + 1] - starts[i]));
  };
  order->resize(names.size());
  for (uint32_t i = 0; i < order->size(); ++i) (*order)[i] = i;
  if (sizes == nullptr) {
    RunMergeSort(order, [&](uint32_t a, uint32_t b) { return key(a) < key(b); });
  } else {
    RunMergeSort(order, [&](uint32_t a, uint32_t b) {
      if ((*sizes)[a] != (*sizes)[b]) return (*sizes)[a] > (*sizes)[b];
      return key(a) < key(b);
    });
  }
  return true;
}

}  // namespace ckptio
