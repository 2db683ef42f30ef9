// Positive and negative cases for every detector, through the whole tagger (shipped config).
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_test_util.h"
#include "tagging/verifiers.h"

namespace residency::tagging {
namespace {

using testing::CheckDigit;
using testing::DetectorNames;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::ShippedPlan;
using testing::TagText;

// A number with the correct check digit appended (and optionally a wrong one).
std::string Rrn(const std::string& yymmdd, char g, const std::string& five, bool good = true,
                bool dash = true, bool foreigner = false) {
  const std::string twelve = yymmdd + g + five;
  char check = CheckDigit(twelve, foreigner);
  if (!good) check = static_cast<char>('0' + (check - '0' + 3) % 10);
  return yymmdd + (dash ? "-" : "") + g + five + check;
}

bool Has(const TagResult& r, Detector d) { return r.has_detector(d); }

TEST(KrRrn, DetectsDashedAndPlainWithChecksumAsConfidence) {
  const TagResult a = TagText(ShippedPlan(), "my number is " + Rrn("900101", '1', "23456"));
  EXPECT_THAT(DetectorNames(a), ElementsAre("kr_rrn"));
  EXPECT_TRUE(a.high_confidence & (1u << static_cast<int>(Detector::kKrRrn)));
  const TagResult b = TagText(ShippedPlan(), "id:" + Rrn("851231", '2', "00011", true, false));
  EXPECT_THAT(DetectorNames(b), ElementsAre("kr_rrn"));
  // A post-October-2020 number has a random tail: still detected, only without high confidence.
  const TagResult c = TagText(ShippedPlan(), Rrn("210305", '3', "12345", /*good=*/false));
  EXPECT_THAT(DetectorNames(c), ElementsAre("kr_rrn"));
  EXPECT_FALSE(c.high_confidence & (1u << static_cast<int>(Detector::kKrRrn)));
}

TEST(KrRrn, KeywordRaisesConfidence) {
  const TagResult r = TagText(ShippedPlan(), "주민등록번호: " + Rrn("210305", '4', "12345", false));
  EXPECT_THAT(DetectorNames(r), ElementsAre("kr_rrn", "kr_rrn_keyword"));
  EXPECT_TRUE(r.high_confidence & (1u << static_cast<int>(Detector::kKrRrn)));
}

TEST(KrRrn, RejectsInvalidDates) {
  for (const char* date : {"901301", "900001", "900100", "900132", "900230", "900431", "900631",
                           "900931", "901131", "010229"}) {
    const TagResult r = TagText(ShippedPlan(), Rrn(date, '1', "23456"));
    EXPECT_FALSE(Has(r, Detector::kKrRrn)) << date;
  }
}

TEST(KrRrn, LeapDayDependsOnCenturyDigit) {
  // 1900 is not a leap year, 2000 is; 1904 and 2004 are.
  EXPECT_FALSE(Has(TagText(ShippedPlan(), Rrn("000229", '1', "23456")), Detector::kKrRrn));
  EXPECT_TRUE(Has(TagText(ShippedPlan(), Rrn("000229", '3', "23456")), Detector::kKrRrn));
  EXPECT_TRUE(Has(TagText(ShippedPlan(), Rrn("040229", '2', "23456")), Detector::kKrRrn));
  EXPECT_FALSE(Has(TagText(ShippedPlan(), Rrn("030229", '4', "23456")), Detector::kKrRrn));
}

TEST(KrRrn, SeventhDigitGivesCenturyAndDetector) {
  // 9/0: Koreans born in the 1800s; 1/2: 1900s; 3/4: 2000s (kr_rrn). 5/6: foreigners born in the
  // 1900s; 7/8: 2000s (kr_frn). Each with its own checksum formula.
  for (char g : {'9', '0', '1', '2', '3', '4'}) {
    const TagResult r = TagText(ShippedPlan(), "no. " + Rrn("900101", g, "23456"));
    EXPECT_THAT(DetectorNames(r), ElementsAre("kr_rrn")) << g;
    EXPECT_TRUE(r.high_confidence & (1u << static_cast<int>(Detector::kKrRrn))) << g;
    const TagResult plain = TagText(ShippedPlan(), Rrn("851231", g, "00011", false, false));
    EXPECT_THAT(DetectorNames(plain), ElementsAre("kr_rrn")) << g;
  }
  for (char g : {'5', '6', '7', '8'}) {
    const TagResult r = TagText(ShippedPlan(), Rrn("900101", g, "23456", true, true, true));
    EXPECT_THAT(DetectorNames(r), ElementsAre("kr_frn")) << g;
    EXPECT_TRUE(r.high_confidence & (1u << static_cast<int>(Detector::kKrFrn))) << g;
  }
  // The 1800s numbers checked with the resident formula, not the foreigner one.
  const TagResult wrong_formula = TagText(ShippedPlan(), Rrn("900101", '9', "23456", true, true,
                                                             /*foreigner=*/true));
  EXPECT_THAT(DetectorNames(wrong_formula), ElementsAre("kr_rrn"));
  EXPECT_FALSE(wrong_formula.high_confidence & (1u << static_cast<int>(Detector::kKrRrn)));
}

TEST(KrRrn, LeapDayFollowsTheCenturyOfEverySeventhDigit) {
  // Feb 29 of year 00: 1800 and 1900 are not leap years, 2000 is.
  for (char g : {'9', '0', '1', '2', '5', '6'}) {
    EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("000229", g, "23456"))), IsEmpty()) << g;
  }
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("000229", '3', "23456"))),
              ElementsAre("kr_rrn"));
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("000229", '8', "23456", true, true, true))),
              ElementsAre("kr_frn"));
  // 1804, 1896: leap years in the 1800s; 1801 is not.
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("040229", '9', "23456"))),
              ElementsAre("kr_rrn"));
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("960229", '0', "23456"))),
              ElementsAre("kr_rrn"));
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("010229", '0', "23456"))), IsEmpty());
}

TEST(KrRrn, RejectsWrongLengths) {
  const std::string ok = Rrn("900101", '1', "23456", true, false);
  EXPECT_FALSE(Has(TagText(ShippedPlan(), ok + "7"), Detector::kKrRrn));          // 14 digits
  EXPECT_FALSE(Has(TagText(ShippedPlan(), "5" + ok), Detector::kKrRrn));          // 14 digits
  EXPECT_FALSE(Has(TagText(ShippedPlan(), ok.substr(0, 12)), Detector::kKrRrn));  // 12
  EXPECT_FALSE(Has(TagText(ShippedPlan(), "1900101-1234567"), Detector::kKrRrn));
  EXPECT_FALSE(Has(TagText(ShippedPlan(), "900101-12345678"), Detector::kKrRrn));
  EXPECT_FALSE(Has(TagText(ShippedPlan(), "900101--1234567"), Detector::kKrRrn));
  EXPECT_FALSE(Has(TagText(ShippedPlan(), "900101 1234567"), Detector::kKrRrn));
  // Letters around the number are fine (digit boundaries, as Presidio's (?<!\d)).
  EXPECT_TRUE(Has(TagText(ShippedPlan(), "x" + ok + "y"), Detector::kKrRrn));
}

TEST(KrFrn, ForeignerNumbers) {
  const TagResult a = TagText(ShippedPlan(), Rrn("900101", '5', "23456", true, true, true));
  EXPECT_THAT(DetectorNames(a), ElementsAre("kr_frn"));
  EXPECT_TRUE(a.high_confidence & (1u << static_cast<int>(Detector::kKrFrn)));
  const TagResult b = TagText(ShippedPlan(), Rrn("051120", '8', "23456", false, false, true));
  EXPECT_THAT(DetectorNames(b), ElementsAre("kr_frn"));
  EXPECT_FALSE(b.high_confidence & (1u << static_cast<int>(Detector::kKrFrn)));
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("050229", '7', "23456"))), IsEmpty());
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), Rrn("000229", '7', "23456", true, true, true))),
              ElementsAre("kr_frn"));
}

TEST(KrPhone, DomesticAndInternationalForms) {
  for (const char* s :
       {"010-1234-5678", "01012345678", "010 1234 5678", "010.1234.5678", "011-123-4567",
        "02-123-4567", "02-1234-5678", "0212345678", "031-123-4567", "064-987-6543",
        "070-1234-5678", "+82-10-1234-5678", "+82 10 1234 5678", "+821012345678", "+82-2-123-4567",
        "tel:+82.31.123.4567", "+82-010-1234-5678"}) {
    EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), s)), ElementsAre("kr_phone")) << s;
  }
}

TEST(KrPhone, Negatives) {
  for (const char* s : {"010-1234-567", "010-12345-6789", "0101234567890", "012-345-6789",
                        "+83-10-1234-5678", "1+82-10-1234-5678", "(010)1234-5678", "010--1234-5678",
                        "080-123-4567", "020-1234-5678x5", "10-1234-5678"}) {
    EXPECT_FALSE(Has(TagText(ShippedPlan(), s), Detector::kKrPhone)) << s;
  }
}

TEST(Email, PositivesAndNegatives) {
  for (const char* s : {"kim@example.com", "write to a.b+c@mail.example.co.kr.",
                        "x_y%z-w@sub-domain.example.org", "a@b.cd"}) {
    EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), s)), ElementsAre("email")) << s;
  }
  for (const char* s : {"@example.com", "kim@localhost", "kim@example.c", "kim@.c0m",
                        "kim @example.com", "kim@ example.com", "@@@@", "a@b.c1"}) {
    EXPECT_FALSE(Has(TagText(ShippedPlan(), s), Detector::kEmail)) << s;
  }
}

TEST(Card, LuhnAndShapes) {
  for (const char* s :
       {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5500 0000 0000 0004",
        "3782 822463 10005", "378282246310005", "card: 6011111111111117."}) {
    EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), s)), ElementsAre("card")) << s;
  }
  for (const char* s : {"4111111111111112", "4111 1111 1111 1112", "1111111111111117",
                        "7111111111111113", "41111111111111111111", "4111 1111 1111 11117",
                        "4111  1111 1111 1111", "4111_1111_1111_1111", "411 1111 1111 1111"}) {
    EXPECT_FALSE(Has(TagText(ShippedPlan(), s), Detector::kCard)) << s;
  }
}

// `head` padded with `fill` to `length` - 1 digits, then the Luhn check digit (computed here,
// independently of the library).
std::string CardNumber(const std::string& head, size_t length, char fill = '3') {
  std::string s = head;
  while (s.size() + 1 < length) s += fill;
  int sum = 0;
  for (size_t i = 0; i < s.size(); ++i) {  // s.size() - 1 - i: position from the right
    int v = s[s.size() - 1 - i] - '0';
    if (i % 2 == 0) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return s + static_cast<char>('0' + (10 - sum % 10) % 10);
}

std::string BreakLuhn(std::string s) {
  s.back() = static_cast<char>('0' + (s.back() - '0' + 5) % 10);
  return s;
}

std::string Group(const std::string& digits, std::initializer_list<size_t> groups, char sep) {
  std::string out;
  size_t at = 0;
  for (size_t g : groups) {
    if (at > 0) out += sep;
    out += digits.substr(at, g);
    at += g;
  }
  return out;
}

TEST(Card, EveryIssuerRangeAtEveryLength) {
  struct Range {
    const char* head;
    std::vector<size_t> lengths;
  };
  const std::vector<Range> in_use = {
      {"4", {13, 16, 19}},  // Visa
      {"51", {16}},
      {"55", {16}},  // Mastercard
      {"2221", {16}},
      {"2500", {16}},
      {"2720", {16}},  // Mastercard 2-series
      {"34", {15}},
      {"37", {15}},  // American Express
      {"6011", {16, 17, 18, 19}},
      {"644", {16, 19}},
      {"649", {16}},
      {"65", {16, 19}},  // Discover
      {"622126", {16}},
      {"622925", {19}},  // Discover / UnionPay
      {"3528", {16, 19}},
      {"3589", {16, 17}},  // JCB
      {"300", {14, 19}},
      {"305", {14}},
      {"3095", {14}},
      {"36", {14, 16}},
      {"38", {14}},
      {"39", {19}},              // Diners Club
      {"62", {16, 17, 18, 19}},  // UnionPay
      {"5018", {12, 19}},
      {"5020", {12}},
      {"5038", {15}},
      {"5893", {13}},
      {"6304", {18}},
      {"6759", {12}},
      {"6761", {16}},
      {"6763", {19}},
      {"676770", {12}},
      {"676774", {19}},  // Maestro
      {"2200", {16, 19}},
      {"2204", {17}},  // Mir
      {"60", {16}},
      {"81", {16}},
      {"82", {16}},
      {"508", {16}},  // RuPay
      {"1", {15}},
      {"19", {15}},    // UATP
      {"5019", {16}},  // Dankort
      {"9792", {16}},  // Troy
      {"506099", {16, 18, 19}},
      {"506198", {16}},
      {"507865", {18}},
      {"507964", {19}},  // Verve
      {"636", {16, 19}},
      {"637", {16}},
      {"639", {16}},   // InterPayment, InstaPayment
      {"2205", {16}},  // BORICA
      {"8600", {16}},
      {"5614", {16}},
      {"9860", {16}},  // UzCard, Humo
      {"9704", {16, 19}},
      {"31", {19}},  // Napas, China T-Union
  };
  for (const Range& r : in_use) {
    for (size_t len : r.lengths) {
      const std::string n = CardNumber(r.head, len);
      EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), "pay " + n + ".")), ElementsAre("card"))
          << n;
      EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), "pay " + BreakLuhn(n) + ".")), IsEmpty())
          << BreakLuhn(n);
    }
  }
}

TEST(Card, OutOfRangeOrWrongLengthIsNotACard) {
  const std::vector<std::pair<const char*, size_t>> not_cards = {
      {"2220", 16}, {"2721", 16}, {"2199", 16}, {"2206", 16},  // between Mir, Mastercard
      {"50", 16},   {"56", 16},   {"57", 16},   {"58", 16},   {"59", 16},
      {"3527", 16}, {"3590", 16}, {"306", 14},  {"3094", 14}, {"3096", 14},
      {"32", 16},   {"33", 16},   {"35", 15},   {"7", 16},    {"0", 16},
      {"80", 16},   {"83", 16},   {"9", 16},    {"9791", 16}, {"4", 12},
      {"4", 14},    {"4", 15},    {"4", 17},    {"4", 18},  // Visa: 13, 16, 19
      {"51", 15},   {"55", 17},   {"2221", 19},             // Mastercard: 16
      {"34", 14},   {"37", 16},                             // Amex: 15
      {"1", 14},    {"1", 16},                              // UATP: 15
      {"6011", 15}, {"62", 15},   {"3528", 15}, {"36", 13},   {"2200", 15},
      {"60", 17},   {"81", 19},   {"5019", 17}, {"9792", 19}, {"8600", 17},
      {"5018", 11}, {"6", 12},    {"637", 19},  {"31", 16},
  };
  for (const auto& [head, len] : not_cards) {
    const std::string n = CardNumber(head, len);
    EXPECT_FALSE(Has(TagText(ShippedPlan(), "pay " + n + "."), Detector::kCard)) << n;
  }
}

TEST(Card, GroupedFormsPerLength) {
  const std::string visa = CardNumber("4", 16), amex = CardNumber("37", 15),
                    uatp = CardNumber("1", 15), diners = CardNumber("36", 14),
                    union19 = CardNumber("62", 19), mir = CardNumber("2201", 16),
                    mc2 = CardNumber("2221", 16);
  for (char sep : {' ', '-'}) {
    for (const std::string& s :
         {Group(visa, {4, 4, 4, 4}, sep), Group(mir, {4, 4, 4, 4}, sep),
          Group(mc2, {4, 4, 4, 4}, sep), Group(amex, {4, 6, 5}, sep), Group(uatp, {4, 5, 6}, sep),
          Group(uatp, {4, 6, 5}, sep), Group(diners, {4, 6, 4}, sep),
          Group(union19, {4, 4, 4, 4, 3}, sep)}) {
      EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), "card " + s + " ok")), ElementsAre("card"))
          << s;
      EXPECT_FALSE(Has(TagText(ShippedPlan(), "card " + BreakLuhn(s) + " ok"), Detector::kCard))
          << s;
    }
  }
  // A 4-4-4-4 number followed by a short group is a card when either reading is one.
  EXPECT_TRUE(
      Has(TagText(ShippedPlan(), Group(visa, {4, 4, 4, 4}, ' ') + " 123"), Detector::kCard));
  // Groups that give a length the range does not have.
  EXPECT_FALSE(
      Has(TagText(ShippedPlan(), Group(CardNumber("4", 15), {4, 6, 5}, ' ')), Detector::kCard));
  EXPECT_FALSE(
      Has(TagText(ShippedPlan(), Group(CardNumber("51", 14), {4, 6, 4}, ' ')), Detector::kCard));
  EXPECT_FALSE(
      Has(TagText(ShippedPlan(), Group(CardNumber("37", 16), {4, 4, 4, 4}, '-')), Detector::kCard));
  // A wrong grouping of a right number.
  EXPECT_FALSE(Has(TagText(ShippedPlan(), Group(visa, {4, 5, 3, 4}, ' ')), Detector::kCard));
}

TEST(KrRrnKeyword, KeywordsAndBoundaries) {
  for (const char* s : {"주민등록번호", "주민번호는 비밀", "your RRN please", "rrn:", "Rrn"}) {
    EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), s)), ElementsAre("kr_rrn_keyword")) << s;
  }
  for (const char* s : {"RRNs", "xrrn", "주민", "주민등록", "r r n", "rr"}) {
    EXPECT_FALSE(Has(TagText(ShippedPlan(), s), Detector::kKrRrnKeyword)) << s;
  }
}

TEST(KrRrnKeyword, EveryOffsetAndThreeByteFingerprints) {
  // Keywords at every offset around the 64-byte block edges are found; near misses are not.
  const TaggerPlan plan = testing::MustCompile(
      "kind: tagging\nrrn_keywords: [RRN, rrx, \"주민등록번호\", \"주민번호\", ab]\n");
  for (size_t off = 0; off < 140; ++off) {
    for (const char* kw : {"RRN", "rRx", "주민등록번호", "주민번호", "AB"}) {
      const std::string text = std::string(off, '.') + kw + std::string(70, '.');
      EXPECT_TRUE(Has(TagText(plan, text), Detector::kKrRrnKeyword)) << kw << " at " << off;
    }
    for (const char* miss : {"RRM", "rrnx", "주민등", "주민번", "abc", "xab"}) {
      const std::string text = std::string(off, '.') + miss + std::string(70, '.');
      EXPECT_FALSE(Has(TagText(plan, text), Detector::kKrRrnKeyword)) << miss << " at " << off;
    }
  }
}

TEST(SlowPath, FullWidthDigitsAreNormalised) {
  // ９００１０１－１２３４５６X in full-width forms.
  const std::string plain = Rrn("900101", '1', "23456");
  std::string wide;
  for (char c : plain) {
    const unsigned cp = 0xFF00u + static_cast<unsigned>(c) - 0x20u;  // U+FF01.. for '!'..
    wide += static_cast<char>(0xE0 | (cp >> 12));
    wide += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    wide += static_cast<char>(0x80 | (cp & 0x3F));
  }
  const TagResult r = TagText(ShippedPlan(), "번호 " + wide);
  EXPECT_THAT(DetectorNames(r), ElementsAre("kr_rrn"));
  // Full-width phone with an ASCII separator mix, and a full-width @.
  EXPECT_TRUE(Has(TagText(ShippedPlan(), "\xEF\xBC\x90\xEF\xBC\x91\xEF\xBC\x90-1234-5678"),
                  Detector::kKrPhone));
  EXPECT_TRUE(Has(TagText(ShippedPlan(),
                          "kim\xEF\xBC\xA0"
                          "example.com"),
                  Detector::kEmail));
}

TEST(SlowPath, JsonEscapesAreDecoded) {
  // "\u0039\u0030..." hides the digits of an RRN in a raw JSON body.
  const std::string plain = Rrn("900101", '1', "23456");
  std::string esc;
  for (char c : plain) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
    esc += buf;
  }
  EXPECT_THAT(DetectorNames(TagText(ShippedPlan(), R"({"content":")" + esc + R"("})")),
              ElementsAre("kr_rrn"));
  // Escaped Hangul keyword (as json.dumps writes it by default), escaped '@', and \uFF10 forms.
  EXPECT_TRUE(Has(TagText(ShippedPlan(), R"(\uc8fc\ubbfc\ub4f1\ub85d\ubc88\ud638)"),
                  Detector::kKrRrnKeyword));
  EXPECT_TRUE(Has(TagText(ShippedPlan(), R"(kim\u0040example.com)"), Detector::kEmail));
  EXPECT_TRUE(Has(TagText(ShippedPlan(), R"(\uff10\uff11\uff10-1234-5678)"), Detector::kKrPhone));
  // An escaped backslash is not an escape: `\\u0030` is the text \u0030, not a digit.
  EXPECT_FALSE(
      Has(TagText(ShippedPlan(), R"(\\u0030\\u0031\\u0030-1234-5678)"), Detector::kKrPhone));
  // Normalising never hides what the raw text shows.
  EXPECT_TRUE(Has(TagText(ShippedPlan(), R"(\u0041 010-1234-5678)"), Detector::kKrPhone));
}

TEST(Verifiers, LuhnAndDates) {
  const uint8_t good[] = {4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const uint8_t bad[] = {4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2};
  EXPECT_TRUE(internal::LuhnValid(good, 16));
  EXPECT_FALSE(internal::LuhnValid(bad, 16));
  EXPECT_FALSE(internal::LuhnValid(good, 0));
  EXPECT_TRUE(internal::ValidBirthDate(0, 2, 29, 3));
  EXPECT_FALSE(internal::ValidBirthDate(0, 2, 29, 1));
  EXPECT_TRUE(internal::ValidBirthDate(96, 2, 29, 1));
  EXPECT_FALSE(internal::ValidBirthDate(97, 2, 29, 6));
  EXPECT_FALSE(internal::ValidBirthDate(97, 4, 31, 1));
  EXPECT_TRUE(internal::ValidBirthDate(97, 12, 31, 1));
  EXPECT_FALSE(internal::ValidBirthDate(0, 2, 29, 9));  // 1800
  EXPECT_FALSE(internal::ValidBirthDate(0, 2, 29, 0));
  EXPECT_TRUE(internal::ValidBirthDate(4, 2, 29, 0));   // 1804
  EXPECT_TRUE(internal::ValidBirthDate(0, 2, 29, 7));   // 2000
  EXPECT_FALSE(internal::ValidBirthDate(0, 2, 29, 5));  // 1900
}

}  // namespace
}  // namespace residency::tagging
