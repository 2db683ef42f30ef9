// An RE2 oracle for the detectors: each detector's language written as RE2 patterns (Latin-1
// mode, so bytes are characters), with the card's Luhn check done on RE2's anchored matches. Used
// by the oracle tests and by the benchmark to check that the peers detect the same things.
#ifndef RESIDENCY_TESTS_TAGGING_TAGGING_ORACLE_H_
#define RESIDENCY_TESTS_TAGGING_TAGGING_ORACLE_H_

#include <re2/re2.h>

#include <memory>
#include <string>
#include <vector>

namespace residency::tagging::oracle {

// Dates with valid month lengths; Feb 29 only in leap years given the century of G.
inline std::string DatePattern(const std::string& g_1900, const std::string& g_2000) {
  const std::string mmdd =
      "(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)|"
      "02(?:0[1-9]|1[0-9]|2[0-8]))";
  const std::string g = "[" + g_1900 + g_2000 + "]";
  return "(?:[0-9]{2}" + mmdd + "-?" + g + "|(?:0[48]|[2468][048]|[13579][26])0229-?" +
         g +                            // leap in both centuries
         "|000229-?[" + g_2000 + "])";  // 2000 leap, 1900 not
}

inline const char* kBefore = "(?:^|[^0-9])";
inline const char* kAfter = "(?:[^0-9]|$)";

inline std::string RrnPattern() {
  return std::string(kBefore) + DatePattern("12", "34") + "[0-9]{6}" + kAfter;
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
// Card shapes (anchored at a digit-run start; Luhn checked separately).
inline std::vector<std::string> CardShapes() {
  return {"([2-6][0-9]{12,18})" + std::string(kAfter),
          "([2-6][0-9]{3}[- ][0-9]{4}[- ][0-9]{4}[- ][0-9]{4})" + std::string(kAfter),
          "([2-6][0-9]{3}[- ][0-9]{6}[- ][0-9]{5})" + std::string(kAfter)};
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

// Detector bits (1 << Detector) the oracle finds in `text`.
class Oracle {
 public:
  explicit Oracle(const std::vector<std::string>& keywords)
      : rrn_(RrnPattern(), Latin1()),
        frn_(FrnPattern(), Latin1()),
        phone_(PhonePattern(), Latin1()),
        email_(EmailPattern(), Latin1()) {
    for (const std::string& s : CardShapes()) card_.push_back(std::make_unique<RE2>(s, Latin1()));
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
      if (text[p] < '2' || text[p] > '6') continue;
      if (p > 0 && text[p - 1] >= '0' && text[p - 1] <= '9') continue;
      for (const auto& re : card_) {
        re2::StringPiece in(text.data() + p, text.size() - p);
        std::string m;
        if (RE2::Consume(&in, *re, &m) && LuhnDigits(m)) return true;
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
