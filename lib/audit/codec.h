// Byte-level helpers of the audit log: big-endian integers, strict base64 (RFC 4648 §4, padded),
// CRC-32C. Thread safety: all functions are pure and safe from any thread.
#ifndef RESIDENCY_LIB_AUDIT_CODEC_H_
#define RESIDENCY_LIB_AUDIT_CODEC_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "internal/text_util.h"

namespace residency::audit {

using Hash = std::array<uint8_t, 32>;

inline std::string_view AsView(const Hash& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

inline void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
inline void PutU16(std::string* out, uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}
inline void PutU32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
               static_cast<char>(v)};
  out->append(b, 4);
}
inline void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  out->append(b, 8);
}
inline uint32_t LoadU32(const char* p) {
  auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
inline uint64_t LoadU64(const char* p) { return (uint64_t{LoadU32(p)} << 32) | LoadU32(p + 4); }

// Reads a byte string front to back; every getter returns false (and stays failed) when the
// input is too short.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (remaining() < 1) return Fail();
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    if (remaining() < 2) return Fail();
    auto* u = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
    *v = static_cast<uint16_t>((u[0] << 8) | u[1]);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    if (remaining() < 4) return Fail();
    *v = LoadU32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (remaining() < 8) return Fail();
    *v = LoadU64(in_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool Bytes(size_t n, std::string_view* v) {
    if (remaining() < n) return Fail();
    *v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Fixed(Hash* h) {
    if (remaining() < h->size()) return Fail();
    std::memcpy(h->data(), in_.data() + pos_, h->size());
    pos_ += h->size();
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  bool Fail() {
    pos_ = in_.size();
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

// Standard padded base64. Decode is strict: no whitespace, canonical padding, and re-encoding
// the result gives the input back (non-zero trailing bits are rejected).
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// CRC-32C (Castagnoli); hardware instruction when the CPU has SSE4.2.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// True when `s` is valid UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);
// The offset of the first byte of `s` that does not start a valid UTF-8 sequence; npos when `s`
// is valid UTF-8.
size_t FirstInvalidUtf8(std::string_view s);

using ::residency::internal::Excerpt;  // internal/text_util.h

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);  // lowercase only

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_CODEC_H_
