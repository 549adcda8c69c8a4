// Internal helpers shared by reader.cpp and gguf_file.cpp. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/gguf/gguf.h"

namespace duet::gguf::detail {

// Bytes of one scalar element; 0 for strings, arrays and unknown ids.
size_t scalarSize(ValueType t);

// A name from a hostile file made safe for an error message: at most 80 bytes, control and
// non-ASCII bytes as \xNN, "..." appended when cut.
std::string printable(std::string_view s);

// Fills `index` with the positions of `items` sorted by nameOf (stable), and returns the first
// pair of positions whose names are equal, or {0, 0} when all names are distinct.
template <class Items, class NameOf>
std::pair<size_t, size_t> buildIndex(const Items& items, std::vector<size_t>& index, NameOf nameOf) {
  index.resize(items.size());
  for (size_t k = 0; k < index.size(); ++k) index[k] = k;
  std::stable_sort(index.begin(), index.end(),
                   [&](size_t a, size_t b) { return nameOf(items[a]) < nameOf(items[b]); });
  auto dup = std::adjacent_find(index.begin(), index.end(), [&](size_t a, size_t b) {
    return nameOf(items[a]) == nameOf(items[b]);
  });
  if (dup == index.end()) return {0, 0};
  return {*dup, *(dup + 1)};
}

}  // namespace duet::gguf::detail
