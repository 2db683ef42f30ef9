#include "internal/country_names.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace residency::internal {
namespace {

struct Name {
  const char* key;
  const char* alpha2;
};

constexpr Name kNames[] = {
#include "internal/country_names.inc"
};

}  // namespace

std::string CountryAlpha2Hint(std::string_view written) {
  if (written.size() > 64) return "";
  std::string key;
  bool space = false;
  for (char c : written) {
    if (c == ' ' || c == '\t' || c == '_' || c == '-') {
      space = !key.empty();
      continue;
    }
    if (space) key += ' ';
    space = false;
    key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  auto it = std::lower_bound(std::begin(kNames), std::end(kNames), key,
                             [](const Name& n, const std::string& k) { return n.key < k; });
  if (it == std::end(kNames) || it->key != key) return "";
  return it->alpha2;
}

}  // namespace residency::internal
