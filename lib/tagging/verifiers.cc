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

bool ValidBirthDate(int yy, int mm, int dd, int century_digit) {
  if (mm < 1 || mm > 12 || dd < 1) return false;
  static constexpr int kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (dd > kDays[mm - 1]) return false;
  if (mm == 2 && dd == 29) {
    const bool c2000 =
        century_digit == 3 || century_digit == 4 || century_digit == 7 || century_digit == 8;
    const int year = (c2000 ? 2000 : 1900) + yy;
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
  const int g = d[6];
  if (g < 1 || g > 8) return IdNumber::kNone;
  if (!ValidBirthDate(d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5], g)) {
    return IdNumber::kNone;
  }
  if (g <= 4) {
    *checksum_ok = RrnChecksumValid(d);
    return IdNumber::kResident;
  }
  *checksum_ok = FrnChecksumValid(d);
  return IdNumber::kForeigner;
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

bool VerifyCard(const uint8_t* s, size_t n, size_t p) {
  if (p >= n || s[p] < '2' || s[p] > '6') return false;
  uint8_t d[19];
  const size_t run = DigitRun(s, n, p);
  if (run >= 13 && run <= 19) {
    for (size_t i = 0; i < run; ++i) d[i] = s[p + i] - '0';
    return LuhnValid(d, run);
  }
  if (run != 4) return false;
  // Grouped forms: 4-4-4-4 and 4-6-5.
  static constexpr size_t kForms[2][4] = {{4, 4, 4, 4}, {4, 6, 5, 0}};
  for (const auto& form : kForms) {
    size_t i = p, count = 0;
    bool ok = true;
    for (int g = 0; g < 4 && form[g] != 0 && ok; ++g) {
      if (g > 0) {
        if (i >= n || !IsCardSep(s[i])) {
          ok = false;
          break;
        }
        ++i;
      }
      if (DigitRun(s, n, i) != form[g]) {
        ok = false;
        break;
      }
      for (size_t k = 0; k < form[g]; ++k) d[count++] = s[i + k] - '0';
      i += form[g];
    }
    if (ok && LuhnValid(d, count)) return true;
  }
  return false;
}

}  // namespace residency::tagging::internal
