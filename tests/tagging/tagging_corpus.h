// Seeded corpus generators for the tagger's tests and benchmarks (no downloads): English and
// Korean prose, digit-dense text, JSON chat bodies, with personal data injected at a given rate,
// plus adversarial inputs. Generated personal data is valid by construction (dates, checksums,
// Luhn) so detections are expected, not accidental.
#ifndef RESIDENCY_TESTS_TAGGING_TAGGING_CORPUS_H_
#define RESIDENCY_TESTS_TAGGING_TAGGING_CORPUS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace residency::tagging::corpus {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {  // splitmix64
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  bool Chance(double p) { return (Next() >> 11) * (1.0 / 9007199254740992.0) < p; }
  char Digit() { return static_cast<char>('0' + Below(10)); }

 private:
  uint64_t s_;
};

inline std::string Digits(Rng& r, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += r.Digit();
  return s;
}

inline std::string Two(int v) {
  std::string s;
  s += static_cast<char>('0' + v / 10);
  s += static_cast<char>('0' + v % 10);
  return s;
}

// A registration number with a valid birth date. G: 9, 0, 1-4 for Koreans (born in the 1800s,
// 1900s, 2000s), 5-8 for foreigners (`foreigner`). `valid_checksum`: the pre-2020 check digit;
// otherwise a random tail (post-2020 style). `dash`: YYMMDD-GNNNNNN.
inline std::string RegistrationNumber(Rng& r, bool foreigner, bool valid_checksum, bool dash) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int yy = static_cast<int>(r.Below(100));
  const int mm = 1 + static_cast<int>(r.Below(12));
  const int dd = 1 + static_cast<int>(r.Below(kDays[mm - 1]));
  static constexpr int kKorean[6] = {9, 0, 1, 2, 3, 4};
  const int g = foreigner ? 5 + static_cast<int>(r.Below(4)) : kKorean[r.Below(6)];
  int d[13];
  const std::string head = Two(yy) + Two(mm) + Two(dd);
  for (int i = 0; i < 6; ++i) d[i] = head[i] - '0';
  d[6] = g;
  for (int i = 7; i < 12; ++i) d[i] = static_cast<int>(r.Below(10));
  static constexpr int kW[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += kW[i] * d[i];
  const int check = ((foreigner ? 13 : 11) - sum % 11) % 10;
  d[12] = valid_checksum ? check : (check + 1 + static_cast<int>(r.Below(9))) % 10;
  std::string s = head;
  if (dash) s += '-';
  for (int i = 6; i < 13; ++i) s += static_cast<char>('0' + d[i]);
  return s;
}

inline std::string KrPhone(Rng& r) {
  static const char* kSeps[] = {"-", "", " ", "."};
  const std::string sep = kSeps[r.Below(4)];
  switch (r.Below(4)) {
    case 0:
      return "010" + sep + Digits(r, 4) + sep + Digits(r, 4);
    case 1:
      return "02" + sep + Digits(r, 3 + static_cast<int>(r.Below(2))) + sep + Digits(r, 4);
    case 2:
      return "031" + sep + Digits(r, 3) + sep + Digits(r, 4);
    default:
      return "+82" + sep + "10" + sep + Digits(r, 4) + sep + Digits(r, 4);
  }
}

inline std::string Email(Rng& r) {
  static const char* kUsers[] = {"kim.minji", "lee_j", "park+news", "hong-gd", "a"};
  static const char* kDomains[] = {"example.com", "mail.example.kr", "corp.example.co.kr"};
  return std::string(kUsers[r.Below(5)]) + "@" + kDomains[r.Below(3)];
}

// A Luhn-valid card number of an issuer range in use, written contiguous or in the groups its
// length is printed in (4-4-4-4, 4-6-5, 4-5-6, 4-6-4, 4-4-4-4-3).
inline std::string Card(Rng& r) {
  struct Kind {
    const char* prefix;
    int length;
    int groups[5];  // {0}: contiguous only
  };
  static constexpr Kind kKinds[] = {{"4", 16, {4, 4, 4, 4}},     {"4", 13, {0}},
                                    {"4", 19, {4, 4, 4, 4, 3}},  {"5", 16, {4, 4, 4, 4}},
                                    {"2221", 16, {4, 4, 4, 4}},  {"2720", 16, {4, 4, 4, 4}},
                                    {"34", 15, {4, 6, 5}},       {"37", 15, {4, 6, 5}},
                                    {"6011", 16, {4, 4, 4, 4}},  {"65", 19, {4, 4, 4, 4, 3}},
                                    {"3530", 16, {4, 4, 4, 4}},  {"36", 14, {4, 6, 4}},
                                    {"62", 19, {4, 4, 4, 4, 3}}, {"6759", 12, {0}},
                                    {"2202", 16, {4, 4, 4, 4}},  {"1", 15, {4, 5, 6}},
                                    {"81", 16, {4, 4, 4, 4}},    {"9792", 16, {4, 4, 4, 4}}};
  const Kind& k = kKinds[r.Below(sizeof(kKinds) / sizeof(kKinds[0]))];
  int d[19];
  int n = 0;
  for (const char* c = k.prefix; *c != '\0'; ++c) d[n++] = *c - '0';
  if (k.prefix[0] == '5' && k.prefix[1] == '\0') d[n++] = 1 + static_cast<int>(r.Below(5));
  while (n < k.length - 1) d[n++] = static_cast<int>(r.Below(10));
  int sum = 0;
  for (int i = 0; i < n; ++i) {  // positions from the right, check digit excluded
    int v = d[n - 1 - i];
    if (i % 2 == 0) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  d[n++] = (10 - sum % 10) % 10;
  std::string s;
  const bool grouped = k.groups[0] != 0 && r.Chance(0.5);
  for (int i = 0, g = 0, left = k.groups[0]; i < n; ++i) {
    if (grouped && left == 0) {
      s += r.Chance(0.5) ? ' ' : '-';
      left = k.groups[++g];
    }
    s += static_cast<char>('0' + d[i]);
    --left;
  }
  return s;
}

inline std::string Pii(Rng& r) {
  switch (r.Below(7)) {
    case 0:
      return RegistrationNumber(r, false, r.Chance(0.5), r.Chance(0.7));
    case 1:
      return RegistrationNumber(r, true, r.Chance(0.5), r.Chance(0.7));
    case 2:
      return KrPhone(r);
    case 3:
      return Email(r);
    case 4:
      return Card(r);
    case 5:
      return "주민등록번호";
    default:
      return "RRN";
  }
}

// kDigits: prose where about 12 % of the tokens are numbers, dates, order ids or JSON number
// arrays (twice the 5.4 % of the digit-dense corpus the throughput target was first measured
// on); kDigitsHeavy: about 60 %.
enum class Kind { kEnglish, kKorean, kDigits, kChatJson, kDigitsHeavy };

inline std::string Token(Rng& r, Kind kind) {
  static const char* kEn[] = {
      "the",       "model", "should",    "summarise", "this",   "report", "about",   "quarterly",
      "revenue",   "and",   "customer",  "feedback",  "please", "write",  "a",       "short",
      "answer",    "with",  "examples",  "for",       "our",    "team",   "meeting", "tomorrow",
      "regarding", "data",  "residency", "in",        "Seoul",  "region", "error",   "rates"};
  static const char* kKo[] = {"안녕하세요", "보고서를", "요약해", "주세요", "고객",
                              "데이터",     "서울",     "리전에", "저장된", "내용을",
                              "확인하고",   "답변을",   "작성해", "주시면", "감사하겠습니다",
                              "주간",       "회의",     "자료"};
  switch (kind) {
    case Kind::kEnglish:
    case Kind::kChatJson:
      if (r.Chance(0.008)) return Digits(r, 1 + static_cast<int>(r.Below(4)));
      return kEn[r.Below(sizeof(kEn) / sizeof(kEn[0]))];
    case Kind::kKorean:
      if (r.Chance(0.008)) return Digits(r, 1 + static_cast<int>(r.Below(4)));
      return kKo[r.Below(sizeof(kKo) / sizeof(kKo[0]))];
    case Kind::kDigits:
    case Kind::kDigitsHeavy:
      if (kind == Kind::kDigits && !r.Chance(0.12)) {
        return kEn[r.Below(sizeof(kEn) / sizeof(kEn[0]))];
      }
      switch (r.Below(kind == Kind::kDigits ? 5 : 8)) {
        case 0:
          return Digits(r, 1 + static_cast<int>(r.Below(12)));
        case 1:
          return "2026-" + Two(1 + static_cast<int>(r.Below(12))) + "-" +
                 Two(1 + static_cast<int>(r.Below(28)));
        case 2:
          return "order#" + Digits(r, 8);
        case 3:
          return "[" + Digits(r, 3) + ", " + Digits(r, 2) + ", " + Digits(r, 5) + "]";
        case 4:
          return Digits(r, 3) + "." + Digits(r, 2);
        default:
          return kEn[r.Below(sizeof(kEn) / sizeof(kEn[0]))];
      }
  }
  return "x";
}

// About `size` bytes of text of `kind`; each token is personal data with probability `pii_rate`.
inline std::string Text(uint64_t seed, Kind kind, size_t size, double pii_rate) {
  Rng r(seed);
  std::string body;
  while (body.size() < size) {
    if (!body.empty()) body += r.Chance(0.06) ? ". " : " ";
    body += (pii_rate > 0 && r.Chance(pii_rate)) ? Pii(r) : Token(r, kind);
  }
  if (kind != Kind::kChatJson) return body;
  std::string out =
      R"({"model":"chat-1","messages":[{"role":"system","content":"You are helpful.\n"},{"role":"user","content":")";
  for (char c : body) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += R"("}],"stream":false})";
  return out;
}

// Inputs that stress candidate generation and verifiers.
inline std::vector<std::string> Adversarial(uint64_t seed, size_t size) {
  Rng r(seed);
  std::vector<std::string> v;
  std::string s;
  while (s.size() < size) s += r.Digit();
  v.push_back(s);  // all digits
  s.clear();
  while (s.size() < size) s += "0101-";
  v.push_back(s);  // phone-prefix-like runs
  s.clear();
  while (s.size() < size) s += "a@b@";
  v.push_back(s);  // many '@'
  s.clear();
  while (s.size() < size) s += "----------1";
  v.push_back(s);  // long hyphen runs
  s.clear();
  while (s.size() < size) s += "\\u0030\\u0031-";
  v.push_back(s);  // JSON escapes
  s.clear();
  while (s.size() < size) s += "\xEF\xBC\x91\xEF\xBC\x92 ";
  v.push_back(s);  // full-width digits
  s.clear();
  while (s.size() < size) s += Digits(r, 6) + "-" + Digits(r, 7) + " ";
  v.push_back(s);  // RRN shapes with random dates
  s.clear();
  while (s.size() < size) s += "rRrR주주민";
  v.push_back(s);  // keyword prefixes that do not complete
  s.clear();
  while (s.size() < size) {
    const int g2 = 4 + static_cast<int>(r.Below(3)), g3 = 4 + static_cast<int>(r.Below(3));
    s += Digits(r, 4) + (r.Chance(0.5) ? " " : "-") + Digits(r, g2) + " " + Digits(r, g3) + " 1" +
         Digits(r, 11 + static_cast<int>(r.Below(8))) + " ";
  }
  v.push_back(s);  // card-like groups and 12-19 digit runs
  for (std::string& x : v) x.resize(size);
  return v;
}

}  // namespace residency::tagging::corpus

#endif  // RESIDENCY_TESTS_TAGGING_TAGGING_CORPUS_H_
