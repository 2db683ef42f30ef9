// Whether a text (an error, a log line, program output) quotes any part of a private key: its
// PEM base64, its raw 32-byte seed, the seed as hex or as base64.
#ifndef RESIDENCY_TESTS_AUDIT_KEY_LEAK_H_
#define RESIDENCY_TESTS_AUDIT_KEY_LEAK_H_

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "audit/codec.h"

namespace residency::audit::testing {

// The base64 body of a PEM file (the lines between BEGIN and END, joined).
inline std::string PemBody(std::string_view pem) {
  std::string body;
  size_t at = 0;
  while (at < pem.size()) {
    size_t nl = pem.find('\n', at);
    if (nl == std::string_view::npos) nl = pem.size();
    std::string_view line = pem.substr(at, nl - at);
    if (line.substr(0, 5) != "-----") body.append(line.data(), line.size());
    at = nl + 1;
  }
  return body;
}

// The Ed25519 seed of a PKCS#8 PEM private key (its last 32 DER bytes).
inline std::string SeedOf(std::string_view pem) {
  auto der = Base64Decode(PemBody(pem));
  if (!der || der->size() < 32) return "";
  return der->substr(der->size() - 32);
}

inline bool HasWindow(std::string_view text, std::string_view secret, size_t w) {
  if (secret.size() < w) return text.find(secret) != std::string_view::npos;
  for (size_t i = 0; i + w <= secret.size(); ++i) {
    if (text.find(secret.substr(i, w)) != std::string_view::npos) return true;
  }
  return false;
}

// `text`: any string type with data() and size() (std::string, std::string_view, Abseil's
// string_view, which Debian's Abseil keeps distinct).
template <typename Text>
bool LeaksKey(const Text& text_in, std::string_view pem) {
  const std::string_view text(text_in.data(), text_in.size());
  const std::string body = PemBody(pem);
  const std::string seed = SeedOf(pem);
  // The first 22 base64 characters encode the fixed PKCS#8 prefix, not the key.
  if (body.size() > 22 && HasWindow(text, std::string_view(body).substr(22), 8)) return true;
  if (seed.empty()) return false;
  std::string hex = HexEncode(seed), upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  return HasWindow(text, seed, 6) || HasWindow(text, hex, 12) || HasWindow(text, upper, 12) ||
         HasWindow(text, Base64Encode(seed), 8);
}

}  // namespace residency::audit::testing

#endif  // RESIDENCY_TESTS_AUDIT_KEY_LEAK_H_
