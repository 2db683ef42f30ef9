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

// A Korean birth date: YYMMDD with the century the gender digit implies (1, 2, 5, 6: 1900s;
// 3, 4, 7, 8: 2000s). Checks month lengths and leap years.
bool ValidBirthDate(int yy, int mm, int dd, int century_digit);

// Luhn over `count` digit values (0..9).
bool LuhnValid(const uint8_t* digits, size_t count);

// Resident (G 1-4) and foreigner (G 5-8) registration numbers: `YYMMDD-?GNNNNNN` with digit
// boundaries. `p` must be a digit-run start (p == 0 or s[p-1] not a digit).
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

// A payment card number starting at the digit-run start `p`: 13-19 contiguous digits, or
// 4-4-4-4 / 4-6-5 groups separated by '-' or ' ', first digit 2-6, Luhn-valid.
bool VerifyCard(const uint8_t* s, size_t n, size_t p);

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_VERIFIERS_H_
