// Helpers the library uses at its edges and offers to callers: RFC 3339 timestamps as requests,
// policies and decisions write them, and the did-you-mean hints of its error messages.
#ifndef RESIDENCY_UTIL_H_
#define RESIDENCY_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace residency {

// Parses an RFC 3339 timestamp with an explicit offset (`Z` or `+09:00`); a bare date
// `YYYY-MM-DD` is accepted as midnight UTC. Returns InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseTimestamp(std::string_view text);

// Formats as `YYYY-MM-DDTHH:MM:SSZ` (UTC, sub-second digits only when non-zero).
std::string FormatTimestamp(absl::Time t);

// The closest of `candidates` to `word` by edit distance (at most 2, or a third of the word's
// length), or "" when none is that close.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean `X`?)" for DidYouMean's answer, "" when there is none.
std::string DidYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates);

// Whether `code` is a language code as decisions take it (`EvalOptions::lang`): two or three
// lower-case ASCII letters (ISO 639, e.g. `ko`, `en`).
bool IsLanguageCode(std::string_view code);

}  // namespace residency

#endif  // RESIDENCY_UTIL_H_
