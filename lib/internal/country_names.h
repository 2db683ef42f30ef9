// Hints for a country written some other way than as an ISO 3166-1 alpha-2 code.
#ifndef RESIDENCY_LIB_INTERNAL_COUNTRY_NAMES_H_
#define RESIDENCY_LIB_INTERNAL_COUNTRY_NAMES_H_

#include <string>
#include <string_view>

namespace residency::internal {

// The alpha-2 code of a country written as its alpha-3 code or English name (`USA`, `KOR`,
// `Korea`, `South Korea`, `Germany`; case, spaces, `_` and `-` do not matter), or "" when
// `written` is none of these. For "did you mean" hints only: a policy or request must still
// write the alpha-2 code.
std::string CountryAlpha2Hint(std::string_view written);

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_COUNTRY_NAMES_H_
