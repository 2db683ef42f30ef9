#include "tagging/verifiers.h"

namespace residency::tagging::internal {
namespace {

// Length of the digit run starting at p (0 if s[p] is not a digit or p >= n).
size_t DigitRun(const uint8_t* s, size_t n, size_t p) {
  size_t i = p;
  while (i < n && IsDigit(s[i])) ++i;
  return i - p;
}

bool DigitsAt(const uint8_t* s, size_t n, size_t p, size_t count) {
  if (p + count > n) return false;
  for (size_t i = 0; i < count; ++i) {
    if (!IsDigit(s[p + i])) return false;
  }
  return true;
}

bool EndsNumber(const uint8_t* s, size_t n, size_t p) { return p >= n || !IsDigit(s[p]); }

bool IsPhoneSep(uint8_t c) { return c == '-' || c == '.' || c == ' '; }
bool IsCardSep(uint8_t c) { return c == '-' || c == ' '; }

// `[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}` followed by a non-digit or the end, starting at i.
bool MatchPhoneRest(const uint8_t* s, size_t n, size_t i) {
  for (int sep1 = 0; sep1 < 2; ++sep1) {
    size_t j = i;
    if (sep1) {
      if (j >= n || !IsPhoneSep(s[j])) continue;
      ++j;
    }
    for (size_t mid = 3; mid <= 4; ++mid) {
      if (!DigitsAt(s, n, j, mid)) continue;
      const size_t k0 = j + mid;
      for (int sep2 = 0; sep2 < 2; ++sep2) {
        size_t k = k0;
        if (sep2) {
          if (k >= n || !IsPhoneSep(s[k])) continue;
          ++k;
        }
        if (DigitsAt(s, n, k, 4) && EndsNumber(s, n, k + 4)) return true;
      }
    }
  }
  return false;
}

// The area/mobile prefix without its leading 0: `1[016789]|2|[3-6][1-5]|70`; returns its length
// or 0.
size_t PhonePrefix(const uint8_t* s, size_t n, size_t i) {
  if (i >= n) return 0;
  const uint8_t a = s[i];
  const uint8_t b = i + 1 < n ? s[i + 1] : 0;
  if (a == '2') return 1;
  if (a == '1' && (b == '0' || b == '1' || b == '6' || b == '7' || b == '8' || b == '9')) return 2;
  if (a >= '3' && a <= '6' && b >= '1' && b <= '5') return 2;
  if (a == '7' && b == '0') return 2;
  return 0;
}

bool IsEmailLocal(uint8_t c) {
  return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsEmailDomain(uint8_t c) { return IsAsciiAlnum(c) || c == '.' || c == '-'; }

}  // namespace

int BirthCentury(int seventh_digit) {
  switch (seventh_digit) {
    case 9:
    case 0:
      return 1800;
    case 1:
    case 2:
    case 5:
    case 6:
      return 1900;
    default:  // 3, 4, 7, 8
      return 2000;
  }
}

bool ValidBirthDate(int yy, int mm, int dd, int seventh_digit) {
  if (mm < 1 || mm > 12 || dd < 1) return false;
  static constexpr int kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (dd > kDays[mm - 1]) return false;
  if (mm == 2 && dd == 29) {
    const int year = BirthCentury(seventh_digit) + yy;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (!leap) return false;
  }
  return true;
}

bool LuhnValid(const uint8_t* digits, size_t count) {
  unsigned sum = 0;
  bool twice = false;
  for (size_t i = count; i-- > 0;) {
    unsigned d = digits[i];
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return count > 0 && sum % 10 == 0;
}

namespace {
unsigned WeightedSum(const uint8_t d[13]) {
  static constexpr unsigned kWeights[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
  unsigned sum = 0;
  for (int i = 0; i < 12; ++i) sum += kWeights[i] * d[i];
  return sum;
}
}  // namespace

bool RrnChecksumValid(const uint8_t d[13]) { return (11 - WeightedSum(d) % 11) % 10 == d[12]; }
bool FrnChecksumValid(const uint8_t d[13]) { return (13 - WeightedSum(d) % 11) % 10 == d[12]; }

IdNumber VerifyRegistrationNumber(const uint8_t* s, size_t n, size_t p, bool* checksum_ok) {
  *checksum_ok = false;
  const size_t run = DigitRun(s, n, p);
  uint8_t d[13];
  if (run == 13) {
    for (int i = 0; i < 13; ++i) d[i] = s[p + i] - '0';
  } else if (run == 6 && p + 7 < n && s[p + 6] == '-' && DigitRun(s, n, p + 7) == 7) {
    for (int i = 0; i < 6; ++i) d[i] = s[p + i] - '0';
    for (int i = 0; i < 7; ++i) d[6 + i] = s[p + 7 + i] - '0';
  } else {
    return IdNumber::kNone;
  }
  const int g = d[6];  // every value 0-9 is defined
  if (!ValidBirthDate(d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5], g)) {
    return IdNumber::kNone;
  }
  if (g >= 5 && g <= 8) {
    *checksum_ok = FrnChecksumValid(d);
    return IdNumber::kForeigner;
  }
  *checksum_ok = RrnChecksumValid(d);
  return IdNumber::kResident;
}

bool VerifyKrPhoneDomestic(const uint8_t* s, size_t n, size_t p) {
  if (p >= n || s[p] != '0') return false;
  const size_t len = PhonePrefix(s, n, p + 1);
  return len > 0 && MatchPhoneRest(s, n, p + 1 + len);
}

bool VerifyKrPhoneInternational(const uint8_t* s, size_t n, size_t p) {
  if (p + 3 > n || s[p] != '+' || s[p + 1] != '8' || s[p + 2] != '2') return false;
  if (p > 0 && IsDigit(s[p - 1])) return false;
  size_t i = p + 3;
  if (i < n && IsPhoneSep(s[i])) ++i;  // the prefix never starts with a separator
  const size_t len = PhonePrefix(s, n, i);
  return len > 0 && MatchPhoneRest(s, n, i + len);
}

bool VerifyEmailAt(const uint8_t* s, size_t n, size_t p) {
  if (p == 0 || p + 1 >= n || s[p] != '@' || !IsEmailLocal(s[p - 1])) return false;
  if (!IsEmailDomain(s[p + 1])) return false;
  // `[A-Za-z0-9.-]+\.[A-Za-z]{2,}` must match a prefix of the domain-character run after '@'.
  for (size_t j = p + 2; j + 2 < n && IsEmailDomain(s[j]); ++j) {
    if (s[j] == '.' && IsAsciiAlpha(s[j + 1]) && IsAsciiAlpha(s[j + 2])) return true;
  }
  return false;
}

namespace {

// Issuer ranges in use (ISO/IEC 7812 IINs as the networks publish them) with their lengths: a
// number is a card when its leading `digits` digits fall in [lo, hi] and its length is in
// `lengths` (bit L set for length L). Overlapping rows are fine: any row may accept.
struct IssuerRange {
  uint32_t lo, hi;
  uint8_t digits;
  uint32_t lengths;
};

constexpr uint32_t Len(int a) { return uint32_t{1} << a; }
constexpr uint32_t Lens(int lo, int hi) { return lo > hi ? 0 : Len(lo) | Lens(lo + 1, hi); }

constexpr IssuerRange kIssuerRanges[] = {
    {1, 1, 1, Len(15)},                                // UATP
    {2200, 2204, 4, Lens(16, 19)},                     // Mir
    {2205, 2205, 4, Len(16)},                          // BORICA
    {2221, 2720, 4, Len(16)},                          // Mastercard 2-series
    {300, 305, 3, Lens(14, 19)},                       // Diners Club
    {3095, 3095, 4, Lens(14, 19)},                     // Diners Club
    {31, 31, 2, Len(19)},                              // China T-Union
    {34, 34, 2, Len(15)},                              // American Express
    {3528, 3589, 4, Lens(16, 19)},                     // JCB (and RuPay 353, 356)
    {36, 36, 2, Lens(14, 19)},                         // Diners Club
    {37, 37, 2, Len(15)},                              // American Express
    {38, 39, 2, Lens(14, 19)},                         // Diners Club
    {4, 4, 1, Len(13) | Len(16) | Len(19)},            // Visa
    {5018, 5018, 4, Lens(12, 19)},                     // Maestro
    {5019, 5019, 4, Len(16)},                          // Dankort
    {5020, 5020, 4, Lens(12, 19)},                     // Maestro
    {5038, 5038, 4, Lens(12, 19)},                     // Maestro
    {506099, 506198, 6, Len(16) | Len(18) | Len(19)},  // Verve
    {507865, 507964, 6, Len(16) | Len(18) | Len(19)},  // Verve
    {508, 508, 3, Len(16)},                            // RuPay
    {51, 55, 2, Len(16)},                              // Mastercard
    {5614, 5614, 4, Len(16)},                          // UzCard
    {5893, 5893, 4, Lens(12, 19)},                     // Maestro
    {60, 60, 2, Len(16)},                              // RuPay
    {6011, 6011, 4, Lens(16, 19)},                     // Discover
    {62, 62, 2, Lens(16, 19)},                         // UnionPay (and Discover 622126-622925)
    {6304, 6304, 4, Lens(12, 19)},                     // Maestro
    {636, 636, 3, Lens(16, 19)},                       // InterPayment
    {637, 639, 3, Len(16)},                            // InstaPayment
    {644, 649, 3, Lens(16, 19)},                       // Discover
    {65, 65, 2, Lens(16, 19)},                         // Discover, RuPay, Troy, Verve 650002-27
    {6759, 6759, 4, Lens(12, 19)},                     // Maestro
    {6761, 6763, 4, Lens(12, 19)},                     // Maestro
    {676770, 676770, 6, Lens(12, 19)},                 // Maestro UK
    {676774, 676774, 6, Lens(12, 19)},                 // Maestro UK
    {81, 82, 2, Len(16)},                              // RuPay
    {8600, 8600, 4, Len(16)},                          // UzCard
    {9704, 9704, 4, Len(16) | Len(19)},                // Napas
    {9792, 9792, 4, Len(16)},                          // Troy
    {9860, 9860, 4, Len(16)},                          // Humo
};

constexpr size_t kNumIssuerRanges = sizeof(kIssuerRanges) / sizeof(kIssuerRanges[0]);

constexpr int FirstDigit(const IssuerRange& r) {
  uint32_t first = r.lo;
  for (int i = 1; i < r.digits; ++i) first /= 10;
  return static_cast<int>(first);
}

// Per first digit, the lengths some range starting with it accepts (a necessary condition).
constexpr uint32_t LengthsForFirstDigit(int d) {
  uint32_t m = 0;
  for (const IssuerRange& r : kIssuerRanges) {
    if (FirstDigit(r) == d) m |= r.lengths;
  }
  return m;
}

// The rows are sorted by first digit: rows [first_row[d], first_row[d + 1]) start with d.
struct RowIndex {
  uint8_t first_row[11] = {};
};
constexpr RowIndex MakeRowIndex() {
  RowIndex x;
  for (int d = 0; d <= 10; ++d) {
    size_t i = 0;
    while (i < kNumIssuerRanges && FirstDigit(kIssuerRanges[i]) < d) ++i;
    x.first_row[d] = static_cast<uint8_t>(i);
  }
  return x;
}
constexpr RowIndex kRowIndex = MakeRowIndex();

constexpr bool SortedByFirstDigit() {
  for (size_t i = 1; i < kNumIssuerRanges; ++i) {
    if (FirstDigit(kIssuerRanges[i - 1]) > FirstDigit(kIssuerRanges[i])) return false;
  }
  return true;
}
static_assert(SortedByFirstDigit(), "kIssuerRanges must be sorted by first digit");

}  // namespace

const uint32_t kCardLengthsByFirstDigit[10] = {LengthsForFirstDigit(0), LengthsForFirstDigit(1),
                                               LengthsForFirstDigit(2), LengthsForFirstDigit(3),
                                               LengthsForFirstDigit(4), LengthsForFirstDigit(5),
                                               LengthsForFirstDigit(6), LengthsForFirstDigit(7),
                                               LengthsForFirstDigit(8), LengthsForFirstDigit(9)};

bool CardNumberValid(const uint8_t* d, size_t count) {
  if (count < kMinCardDigits || count > kMaxCardDigits) return false;
  uint32_t prefix[7] = {0};
  for (int i = 1; i <= 6; ++i) prefix[i] = prefix[i - 1] * 10 + d[i - 1];
  for (size_t i = kRowIndex.first_row[d[0]]; i < kRowIndex.first_row[d[0] + 1]; ++i) {
    const IssuerRange& r = kIssuerRanges[i];
    if (((r.lengths >> count) & 1) == 0) continue;
    const uint32_t v = prefix[r.digits];
    if (v >= r.lo && v <= r.hi) return LuhnValid(d, count);
  }
  return false;
}

namespace {

// The length of the digit group after a separator at s[i] (0 if there is none).
size_t GroupAfter(const uint8_t* s, size_t n, size_t i) {
  return i < n && IsCardSep(s[i]) ? DigitRun(s, n, i + 1) : 0;
}

void AppendDigits(const uint8_t* s, size_t at, size_t len, uint8_t* d, size_t* count) {
  for (size_t k = 0; k < len; ++k) d[(*count)++] = s[at + k] - '0';
}

}  // namespace

bool VerifyCard(const uint8_t* s, size_t n, size_t p) {
  uint8_t d[kMaxCardDigits];
  const size_t run = DigitRun(s, n, p);
  size_t count = 0;
  if (run >= kMinCardDigits && run <= kMaxCardDigits) {
    AppendDigits(s, p, run, d, &count);
    return CardNumberValid(d, count);
  }
  if (run != 4) return false;
  // Grouped: 4-4-4-4 (then optionally 1-3 more digits), 4-6-4, 4-6-5, 4-5-6.
  AppendDigits(s, p, 4, d, &count);
  size_t i = p + 4;
  const size_t g2 = GroupAfter(s, n, i);
  if (g2 < 4 || g2 > 6) return false;
  AppendDigits(s, i + 1, g2, d, &count);
  i += 1 + g2;
  const size_t g3 = GroupAfter(s, n, i);
  if (g2 == 5) {
    if (g3 != 6) return false;
    AppendDigits(s, i + 1, g3, d, &count);
    return CardNumberValid(d, count);
  }
  if (g2 == 6) {
    if (g3 != 4 && g3 != 5) return false;
    AppendDigits(s, i + 1, g3, d, &count);
    return CardNumberValid(d, count);
  }
  if (g3 != 4) return false;
  AppendDigits(s, i + 1, 4, d, &count);
  i += 5;
  if (GroupAfter(s, n, i) != 4) return false;
  AppendDigits(s, i + 1, 4, d, &count);
  i += 5;
  if (CardNumberValid(d, count)) return true;
  const size_t g5 = GroupAfter(s, n, i);
  if (g5 < 1 || g5 > 3) return false;
  AppendDigits(s, i + 1, g5, d, &count);
  return CardNumberValid(d, count);
}

}  // namespace residency::tagging::internal
