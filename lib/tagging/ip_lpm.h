// IPv4/IPv6 longest-prefix match, compiled from CIDR lists into sorted disjoint intervals
// (binary search at lookup; no allocation).
#ifndef RESIDENCY_LIB_TAGGING_IP_LPM_H_
#define RESIDENCY_LIB_TAGGING_IP_LPM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "residency/tagging.h"

namespace residency::tagging::internal {

using u128 = unsigned __int128;

struct Cidr {
  IpAddress::Family family = IpAddress::Family::kNone;
  u128 start = 0;  // v4 addresses in the low 32 bits
  int length = 0;
};

// Parses "203.0.113.0/24" or "2001:db8::/32"; rejects host bits. Error text is a bare message.
bool ParseCidr(std::string_view text, Cidr* out, std::string* error);

u128 AddressKey(const IpAddress& a);  // v4: 32-bit value; v6: 128-bit value

// Values are small integers (indices into the plan's network table); kNoValue when unmatched.
class LpmTable {
 public:
  static constexpr uint32_t kNoValue = 0xFFFFFFFFu;
  struct Entry {
    Cidr cidr;
    uint32_t value;
  };
  // Entries of one family. Identical prefixes are an error (the caller reports where).
  absl::Status Build(std::vector<Entry> entries, int address_bits);
  uint32_t Lookup(u128 key) const;
  size_t num_intervals() const { return starts_.size(); }

 private:
  std::vector<u128> starts_;
  std::vector<uint32_t> values_;
};

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_IP_LPM_H_
