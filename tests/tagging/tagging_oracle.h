// An RE2 oracle for the detectors: each detector's language written as RE2 patterns (Latin-1
// mode, so bytes are characters), with the card's issuer-range and Luhn checks done on RE2's
// anchored matches. Used
// by the oracle tests and by the benchmark to check that the peers detect the same things.
#ifndef RESIDENCY_TESTS_TAGGING_TAGGING_ORACLE_H_
#define RESIDENCY_TESTS_TAGGING_TAGGING_ORACLE_H_

#include <re2/re2.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace residency::tagging::oracle {

// Dates with valid month lengths; Feb 29 only in leap years given the century of G. 1800 and
// 1900 are not leap years, 2000 is; otherwise every fourth year is.
inline std::string DatePattern(const std::string& g_not2000, const std::string& g_2000) {
  const std::string mmdd =
      "(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)|"
      "02(?:0[1-9]|1[0-9]|2[0-8]))";
  const std::string g = "[" + g_not2000 + g_2000 + "]";
  return "(?:[0-9]{2}" + mmdd + "-?" + g + "|(?:0[48]|[2468][048]|[13579][26])0229-?" +
         g +                            // leap in every century
         "|000229-?[" + g_2000 + "])";  // 2000 leap, 1800 and 1900 not
}

inline const char* kBefore = "(?:^|[^0-9])";
inline const char* kAfter = "(?:[^0-9]|$)";

// G: 9/0 born in the 1800s, 1/2 in the 1900s, 3/4 in the 2000s (Koreans); 5/6 in the 1900s, 7/8
// in the 2000s (foreigners).
inline std::string RrnPattern() {
  return std::string(kBefore) + DatePattern("9012", "34") + "[0-9]{6}" + kAfter;
}
inline std::string FrnPattern() {
  return std::string(kBefore) + DatePattern("56", "78") + "[0-9]{6}" + kAfter;
}
inline std::string PhonePattern() {
  return std::string(kBefore) +
         "(?:0(?:1[016789]|2|[3-6][1-5]|70)|\\+82[-. ]?(?:1[016789]|2|[3-6][1-5]|70))"
         "[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}" +
         kAfter;
}
inline std::string EmailPattern() { return "[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\\.[A-Za-z]{2}"; }
// Card numbers (digits only) of the issuer ranges in use, each with its lengths.
inline std::string CardDigitsPattern() {
  static const char* kRanges[] = {
      "1[0-9]{14}",                                                          // UATP: 15
      "220[0-4][0-9]{12,15}",                                                // Mir: 16-19
      "2205[0-9]{12}",                                                       // BORICA: 16
      "(?:222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[0-9]{12}",  // Mastercard: 16
      "30[0-5][0-9]{11,16}",                                                 // Diners Club: 14-19
      "3095[0-9]{10,15}",                                                    // Diners Club: 14-19
      "3[689][0-9]{12,17}",                                                  // Diners Club: 14-19
      "31[0-9]{17}",                                                         // China T-Union: 19
      "3[47][0-9]{13}",                                                      // American Express: 15
      "(?:352[89]|35[3-8][0-9])[0-9]{12,15}",                                // JCB: 16-19
      "35[36][0-9]{13}",                                                     // RuPay: 16
      "4(?:[0-9]{12}|[0-9]{15}|[0-9]{18})",                                  // Visa: 13, 16, 19
      "5[1-5][0-9]{14}",                                                     // Mastercard: 16
      "(?:5018|5020|5038|5893|6304|6759|676[1-3])[0-9]{8,15}",               // Maestro: 12-19
      "67677[04][0-9]{6,13}",                                                // Maestro UK: 12-19
      "5019[0-9]{12}",                                                       // Dankort: 16
      ("(?:506099|5061[0-8][0-9]|50619[0-8]|50786[5-9]|5078[7-9][0-9]|5079[0-5][0-9]|"
       "50796[0-4]|65000[2-9]|65001[0-9]|65002[0-7])[0-9]{10}(?:[0-9]{2,3})?"),  // Verve
      "508[0-9]{13}",                                                            // RuPay: 16
      "(?:60|8[12])[0-9]{14}",                                                   // RuPay: 16
      "(?:5614|8600|9792|9860)[0-9]{12}",  // UzCard, Troy, Humo: 16
      "6011[0-9]{12,15}",                  // Discover: 16-19
      "64[4-9][0-9]{13,16}",               // Discover: 16-19
      "65[0-9]{14,17}",                    // Discover, RuPay: 16-19
      "62[0-9]{14,17}",                    // UnionPay: 16-19
      "636[0-9]{13,16}",                   // InterPayment: 16-19
      "63[7-9][0-9]{13}",                  // InstaPayment: 16
      "9704[0-9]{12}(?:[0-9]{3})?",        // Napas: 16, 19
  };
  std::string p = "(?:";
  for (const char* r : kRanges) p += std::string(p.size() > 3 ? "|" : "") + r;
  return p + ")";
}

// Card shapes, anchored at a digit-run start: 12-19 contiguous digits, or groups separated by
// '-' or ' ' (4-4-4-4, 4-4-4-4-1..3, 4-6-4, 4-6-5, 4-5-6), each followed by a non-digit or the
// end; the first digit is one some issuer range starts with. `chars` is a grouped shape's length
// (0: contiguous). The issuer range, the length and Luhn are checked on the match (CardDigitsOk),
// as the peers in bench/ do in their match callbacks (cheaper for them than the ranges written
// into the patterns).
struct CardShape {
  std::string pattern;
  size_t chars;
};
inline std::vector<CardShape> CardShapes() {
  std::vector<CardShape> v = {{std::string("([1-689][0-9]{11,18})") + kAfter, 0}};
  const std::vector<std::vector<int>> groups = {{4, 4, 4, 4},    {4, 4, 4, 4, 1}, {4, 4, 4, 4, 2},
                                                {4, 4, 4, 4, 3}, {4, 6, 4},       {4, 6, 5},
                                                {4, 5, 6}};
  for (const auto& g : groups) {
    std::string p = "([1-689][0-9]{3}";
    size_t chars = 4;
    for (size_t i = 1; i < g.size(); ++i) {
      p += "[- ][0-9]{" + std::to_string(g[i]) + "}";
      chars += 1 + static_cast<size_t>(g[i]);
    }
    v.push_back({p + ")" + kAfter, chars});
  }
  return v;
}
// Keyword: ASCII letters as [Xx] classes, other bytes escaped; boundaries for ASCII alnum ends.
inline std::string KeywordPattern(const std::string& k) {
  auto alnum = [](unsigned char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  };
  std::string p;
  if (alnum(k.front())) p += "(?:^|[^A-Za-z0-9])";
  for (unsigned char c : k) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
      p += '[';
      p += static_cast<char>(c & ~0x20);
      p += static_cast<char>(c | 0x20);
      p += ']';
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      p += buf;
    }
  }
  if (alnum(k.back())) p += "(?:[^A-Za-z0-9]|$)";
  return p;
}

inline RE2::Options Latin1() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

inline bool LuhnDigits(const std::string& s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  int sum = 0;
  bool twice = false;
  for (size_t i = d.size(); i-- > 0;) {
    int v = d[i] - '0';
    if (twice) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
    twice = !twice;
  }
  return !d.empty() && sum % 10 == 0;
}

// The digits of `s` (separators dropped) are a card number: an issuer range at its length, and
// Luhn-valid.
inline bool CardDigitsOk(const std::string& s) {
  static const RE2* digits = new RE2(CardDigitsPattern(), Latin1());
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  return RE2::FullMatch(d, *digits) && LuhnDigits(d);
}

// Detector bits (1 << Detector) the oracle finds in `text`.
class Oracle {
 public:
  explicit Oracle(const std::vector<std::string>& keywords)
      : rrn_(RrnPattern(), Latin1()),
        frn_(FrnPattern(), Latin1()),
        phone_(PhonePattern(), Latin1()),
        email_(EmailPattern(), Latin1()) {
    for (const CardShape& s : CardShapes()) {
      card_.push_back(std::make_unique<RE2>(s.pattern, Latin1()));
    }
    std::string alt;
    for (const std::string& k : keywords) alt += (alt.empty() ? "" : "|") + KeywordPattern(k);
    keyword_ = std::make_unique<RE2>(alt, Latin1());
  }
  bool ok() const {
    bool ok = rrn_.ok() && frn_.ok() && phone_.ok() && email_.ok() && keyword_->ok();
    for (const auto& c : card_) ok = ok && c->ok();
    return ok;
  }

  uint8_t Detect(const std::string& text) const {
    uint8_t bits = 0;
    if (RE2::PartialMatch(text, rrn_)) bits |= 1u << 0;
    if (RE2::PartialMatch(text, frn_)) bits |= 1u << 1;
    if (RE2::PartialMatch(text, phone_)) bits |= 1u << 2;
    if (RE2::PartialMatch(text, email_)) bits |= 1u << 3;
    if (HasCard(text)) bits |= 1u << 4;
    if (RE2::PartialMatch(text, *keyword_)) bits |= 1u << 5;
    return bits;
  }

  bool HasCard(const std::string& text) const {
    for (size_t p = 0; p < text.size(); ++p) {
      if (text[p] < '0' || text[p] > '9') continue;
      if (p > 0 && text[p - 1] >= '0' && text[p - 1] <= '9') continue;
      size_t run = 0;
      while (p + run < text.size() && text[p + run] >= '0' && text[p + run] <= '9') ++run;
      for (size_t i = 0; i < card_.size(); ++i) {
        // Shape 0 is a run of 12 or more digits; the grouped shapes start with a run of 4.
        if (i == 0 ? run < 12 : run != 4) continue;
        const auto& re = card_[i];
        re2::StringPiece in(text.data() + p, text.size() - p);
        std::string m;
        if (RE2::Consume(&in, *re, &m) && CardDigitsOk(m)) return true;
      }
    }
    return false;
  }

 private:
  RE2 rrn_, frn_, phone_, email_;
  std::vector<std::unique_ptr<RE2>> card_;
  std::unique_ptr<RE2> keyword_;
};

}  // namespace residency::tagging::oracle

#endif  // RESIDENCY_TESTS_TAGGING_TAGGING_ORACLE_H_
