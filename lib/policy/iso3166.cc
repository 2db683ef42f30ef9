// ISO 3166-1 alpha-2 country codes (249 officially assigned codes).
#include <algorithm>
#include <cstring>
#include <string_view>

#include "policy/compiled_set.h"

namespace residency::policy_internal {
namespace {
constexpr const char* kCodes[] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW"};
}  // namespace

namespace {
// 26x26 table from the two letters to the index (-1 where unassigned), built once.
struct IsoTable {
  int16_t index[26 * 26];
  IsoTable() {
    for (auto& i : index) i = -1;
    for (size_t k = 0; k < sizeof(kCodes) / sizeof(kCodes[0]); ++k) {
      index[(kCodes[k][0] - 'A') * 26 + (kCodes[k][1] - 'A')] = static_cast<int16_t>(k);
    }
  }
};
}  // namespace

int IsoCountryIndex(std::string_view code) {
  static const IsoTable table;
  if (code.size() != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z') {
    return -1;
  }
  return table.index[(code[0] - 'A') * 26 + (code[1] - 'A')];
}

size_t IsoCountryCount() { return sizeof(kCodes) / sizeof(kCodes[0]); }
const char* IsoCountryCode(size_t index) { return kCodes[index]; }

}  // namespace residency::policy_internal

namespace residency {

const char* EffectName(Effect e) {
  switch (e) {
    case Effect::kAllow:
      return "allow";
    case Effect::kAllowWithObligations:
      return "allow_with_obligations";
    case Effect::kEscalate:
      return "escalate";
    case Effect::kDeny:
      return "deny";
  }
  return "deny";
}

}  // namespace residency
