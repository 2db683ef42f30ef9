// Shared scalar verifiers of the payload stage. Every kernel's candidates end here, so the
// detectors mean the same thing whichever kernel ran. The exact language each verifier accepts is
// written as an RE2 pattern in docs/tagging.md (the tests check the two agree).
#ifndef RESIDENCY_LIB_TAGGING_VERIFIERS_H_
#define RESIDENCY_LIB_TAGGING_VERIFIERS_H_

#include <cstddef>
#include <cstdint>

namespace residency::tagging::internal {

inline bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
inline bool IsAsciiAlpha(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
inline bool IsAsciiAlnum(uint8_t c) { return IsDigit(c) || IsAsciiAlpha(c); }
inline bool IsAsciiAlnumByte(uint8_t c) { return c < 0x80 && IsAsciiAlnum(c); }

// The century of birth the seventh digit of a registration number gives: 9, 0: 1800 (Koreans);
// 1, 2: 1900 and 3, 4: 2000 (Koreans); 5, 6: 1900 and 7, 8: 2000 (foreigners).
int BirthCentury(int seventh_digit);

// A Korean birth date: YYMMDD in the century the seventh digit gives. Checks month lengths and
// leap years (1800 and 1900 are not leap years, 2000 is).
bool ValidBirthDate(int yy, int mm, int dd, int seventh_digit);

// Luhn over `count` digit values (0..9).
bool LuhnValid(const uint8_t* digits, size_t count);

// Resident (G 9, 0, 1-4) and foreigner (G 5-8) registration numbers: `YYMMDD-?GNNNNNN` with digit
// boundaries and a real birth date. `p` must be a digit-run start (p == 0 or s[p-1] not a digit).
// `checksum_ok`: the check digit of the number's kind passed (a confidence signal only).
enum class IdNumber : uint8_t { kNone, kResident, kForeigner };
IdNumber VerifyRegistrationNumber(const uint8_t* s, size_t n, size_t p, bool* checksum_ok);

// The registration-number checksums (confidence only: since October 2020 the tail is random).
bool RrnChecksumValid(const uint8_t d[13]);
bool FrnChecksumValid(const uint8_t d[13]);

// Korean phone numbers. Domestic: `p` a digit-run start with s[p] == '0'. International: s[p]
// == '+' followed by 82; the byte before `p` must not be a digit.
bool VerifyKrPhoneDomestic(const uint8_t* s, size_t n, size_t p);
bool VerifyKrPhoneInternational(const uint8_t* s, size_t n, size_t p);

// An e-mail address around the '@' at `p`.
bool VerifyEmailAt(const uint8_t* s, size_t n, size_t p);

// Payment card numbers: 12-19 digits whose prefix is an issuer range in use (Visa, Mastercard,
// American Express, Discover, JCB, Diners Club, UnionPay, Maestro, Mir, RuPay, UATP and the other
// networks listed in docs/tagging.md) at one of that range's lengths, Luhn-valid.
inline constexpr size_t kMinCardDigits = 12;
inline constexpr size_t kMaxCardDigits = 19;
bool CardNumberValid(const uint8_t* digits, size_t count);

// Per first digit, the lengths (bit L for L digits) some issuer range starting with it accepts:
// a necessary condition for the scan's candidates.
extern const uint32_t kCardLengthsByFirstDigit[10];

// A payment card number starting at the digit-run start `p`: contiguous digits, or groups
// separated by '-' or ' ' (4-4-4-4 optionally followed by 1-3 digits, 4-6-4, 4-6-5, 4-5-6), each
// followed by a non-digit; the digits must be a valid card number (CardNumberValid).
bool VerifyCard(const uint8_t* s, size_t n, size_t p);

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_VERIFIERS_H_
