#include "tagging/ip_lpm.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace residency::tagging {

bool IpAddress::Parse(std::string_view text, IpAddress* out) {
  *out = IpAddress{};
  char buf[64];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  if (std::memchr(buf, 0, text.size()) != nullptr) return false;  // embedded NUL
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, out->bytes) != 1) return false;
    out->family = Family::kV4;
    return true;
  }
  uint8_t b[16];
  if (inet_pton(AF_INET6, buf, b) != 1) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(b, kMapped, 12) == 0) {
    out->family = Family::kV4;
    std::memcpy(out->bytes, b + 12, 4);
    return true;
  }
  out->family = Family::kV6;
  std::memcpy(out->bytes, b, 16);
  return true;
}

namespace internal {

u128 AddressKey(const IpAddress& a) {
  const int len = a.family == IpAddress::Family::kV4 ? 4 : 16;
  u128 k = 0;
  for (int i = 0; i < len; ++i) k = (k << 8) | a.bytes[i];
  return k;
}

bool ParseCidr(std::string_view text, Cidr* out, std::string* error) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    *error = absl::StrCat("`", std::string(text), "` is not a cidr (address/length)");
    return false;
  }
  IpAddress addr;
  if (!IpAddress::Parse(text.substr(0, slash), &addr)) {
    *error = absl::StrCat("`", std::string(text), "` has an invalid address");
    return false;
  }
  // A v4-mapped v6 literal is taken as v6 text; keep the families apart by the text itself.
  const bool v6_text = text.substr(0, slash).find(':') != std::string_view::npos;
  if (v6_text && addr.family == IpAddress::Family::kV4) {
    *error = absl::StrCat("`", std::string(text), "`: use the plain ipv4 form");
    return false;
  }
  const std::string_view len_text = text.substr(slash + 1);
  const int bits = addr.family == IpAddress::Family::kV4 ? 32 : 128;
  int len = 0;
  if (len_text.empty() || len_text.size() > 3) {
    *error = absl::StrCat("`", std::string(text), "` has an invalid prefix length");
    return false;
  }
  for (char c : len_text) {
    if (c < '0' || c > '9') {
      *error = absl::StrCat("`", std::string(text), "` has an invalid prefix length");
      return false;
    }
    len = len * 10 + (c - '0');
  }
  if (len > bits) {
    *error = absl::StrCat("`", std::string(text), "` has a prefix length over ", bits);
    return false;
  }
  const u128 key = AddressKey(addr);
  const int host_bits = bits - len;
  const u128 host_mask = host_bits == 0     ? 0
                         : host_bits == 128 ? ~static_cast<u128>(0)
                                            : ((static_cast<u128>(1) << host_bits) - 1);
  if (key & host_mask) {
    *error = absl::StrCat("`", std::string(text), "` has host bits set");
    return false;
  }
  out->family = addr.family;
  out->start = key;
  out->length = len;
  return true;
}

absl::Status LpmTable::Build(std::vector<Entry> entries, int address_bits) {
  starts_.clear();
  values_.clear();
  const u128 all_ones =
      address_bits == 128 ? ~static_cast<u128>(0) : ((static_cast<u128>(1) << address_bits) - 1);
  auto end_of = [&](const Cidr& c) -> u128 {
    if (c.length == 0) return all_ones;
    const u128 span =
        (c.length == address_bits) ? 0 : ((static_cast<u128>(1) << (address_bits - c.length)) - 1);
    return c.start + span;
  };
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.cidr.start != b.cidr.start) return a.cidr.start < b.cidr.start;
    return a.cidr.length < b.cidr.length;
  });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].cidr.start == entries[i - 1].cidr.start &&
        entries[i].cidr.length == entries[i - 1].cidr.length) {
      return absl::InvalidArgumentError("a cidr is listed twice");
    }
  }
  // Sweep: prefixes either nest or are disjoint; a stack holds the enclosing ones.
  struct Open {
    u128 end;
    uint32_t value;
  };
  std::vector<Open> stack;
  std::vector<std::pair<u128, uint32_t>> points;
  auto emit = [&](u128 at, uint32_t v) {
    if (!points.empty() && points.back().first == at) {
      points.back().second = v;
    } else {
      points.emplace_back(at, v);
    }
  };
  auto close_until = [&](bool all, u128 next_start) {
    while (!stack.empty() && (all || stack.back().end < next_start)) {
      const Open e = stack.back();
      stack.pop_back();
      if (e.end != all_ones) emit(e.end + 1, stack.empty() ? kNoValue : stack.back().value);
    }
  };
  for (const Entry& e : entries) {
    close_until(false, e.cidr.start);
    emit(e.cidr.start, e.value);
    stack.push_back({end_of(e.cidr), e.value});
  }
  close_until(true, 0);
  for (const auto& [at, v] : points) {
    if (!values_.empty() && values_.back() == v) continue;  // merge equal neighbours
    starts_.push_back(at);
    values_.push_back(v);
  }
  return absl::OkStatus();
}

uint32_t LpmTable::Lookup(u128 key) const {
  // The last interval starting at or before key.
  size_t lo = 0, hi = starts_.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (starts_[mid] <= key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? kNoValue : values_[lo - 1];
}

}  // namespace internal
}  // namespace residency::tagging
