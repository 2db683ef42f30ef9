// Checks on user text before it is parsed: UTF-8 validity and byte offset -> line:column.
#ifndef RESIDENCY_LIB_INTERNAL_TEXT_UTIL_H_
#define RESIDENCY_LIB_INTERNAL_TEXT_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "residency/util.h"

namespace residency::internal {

// The offset of the first byte of `text` that does not belong to well-formed UTF-8 (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF), or std::string_view::npos.
size_t FirstNonUtf8Byte(std::string_view text);

// 1-based line and column (in bytes) of byte `offset` of `text`.
void LineColumnAt(std::string_view text, size_t offset, int* line, int* column);

// Did-you-mean hints (public: residency/util.h).
using ::residency::DidYouMean;
using ::residency::DidYouMeanSuffix;

// "not UTF-8 text at byte N" (N: 0-based offset), never quoting the bytes themselves.
std::string NotUtf8Message(size_t offset);

// `s` as it may appear inside backticks in a message: at most about `max` bytes (an ellipsis
// marks a cut), with control characters, backticks, backslashes and bytes that are not UTF-8
// written as `\xNN`. Never raw binary. Not for secrets: those are never echoed.
std::string Excerpt(std::string_view s, size_t max = 64);

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_TEXT_UTIL_H_
