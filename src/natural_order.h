// The natural order of `ckptio ls`: `_variables/2` before `_variables/10`, as
// ckptio.cli._natural sorts, computed on the names' own code points.
#ifndef CKPTIO_NATURAL_ORDER_H_
#define CKPTIO_NATURAL_ORDER_H_

#include <cstdint>
#include <vector>

#include "py_text.h"

namespace ckptio {

// The natural order of `names`, by descending `sizes` first when given: the permutation, or
// false when a name has a digit run too long to compare here (Python must sort then).
bool NaturalOrder(const std::vector<Text>& names, const std::vector<uint64_t>* sizes,
                  std::vector<uint32_t>* order);

}  // namespace ckptio

#endif  // CKPTIO_NATURAL_ORDER_H_
