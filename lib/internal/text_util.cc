#include "internal/text_util.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace residency::internal {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

size_t FirstNonUtf8Byte(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {  // eight ASCII bytes at a time
      uint64_t w;
      std::memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return i;
    }
    if (i + 1 >= n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (i + k >= n || (s[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

void LineColumnAt(std::string_view text, size_t offset, int* line, int* column) {
  int l = 1, c = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++l;
      c = 1;
    } else {
      ++c;
    }
  }
  *line = l;
  *column = c;
}

std::string NotUtf8Message(size_t offset) {
  return "not UTF-8 text at byte " + std::to_string(offset);
}

std::string Excerpt(std::string_view s, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '`' && c != '\\') {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c >= 0x80) {
      // A whole UTF-8 sequence (not a control character) is kept as it is.
      size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      if (len > 0 && i + len <= s.size() &&
          FirstNonUtf8Byte(s.substr(i, len)) == std::string_view::npos) {
        uint32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (size_t k = 1; k < len; ++k)
          cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        if (cp >= 0xA0 && cp != 0x2028 && cp != 0x2029) {
          out.append(s.data() + i, len);
          i += len;
          continue;
        }
      }
    }
    out += "\\x";
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
    ++i;
  }
  if (i < s.size()) out += "\xE2\x80\xA6";  // an ellipsis: cut here
  return out;
}

}  // namespace residency::internal

namespace residency {

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 256) return "";  // a hint for a typo, not for a blob
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    if (c.size() > 256) continue;
    size_t d = internal::EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

std::string DidYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates) {
  std::string hint = DidYouMean(word, candidates);
  return hint.empty() ? hint : " (did you mean `" + hint + "`?)";
}

bool IsLanguageCode(std::string_view code) {
  return code.size() >= 2 && code.size() <= 3 &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

}  // namespace residency
