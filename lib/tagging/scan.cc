#include "tagging/scan.h"

#include <cstring>

#include "tagging/verifiers.h"

namespace residency::tagging::internal {
namespace {

constexpr uint8_t kBitRrn = 1u << static_cast<int>(Detector::kKrRrn);
constexpr uint8_t kBitFrn = 1u << static_cast<int>(Detector::kKrFrn);
constexpr uint8_t kBitPhone = 1u << static_cast<int>(Detector::kKrPhone);
constexpr uint8_t kBitEmail = 1u << static_cast<int>(Detector::kEmail);
constexpr uint8_t kBitCard = 1u << static_cast<int>(Detector::kCard);
constexpr uint8_t kBitKeyword = 1u << static_cast<int>(Detector::kKrRrnKeyword);
constexpr uint8_t kAllDetectors = (1u << kNumDetectors) - 1;
constexpr uint8_t kNumeric = kBitRrn | kBitFrn | kBitPhone | kBitCard;

inline size_t Ctz(uint64_t x) { return static_cast<size_t>(__builtin_ctzll(x)); }

int Hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  const uint8_t f = c | 0x20;
  if (f >= 'a' && f <= 'f') return f - 'a' + 10;
  return -1;
}

bool Hex4(const uint8_t* s, uint32_t* cp) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    const int h = Hex(s[i]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<uint32_t>(h);
  }
  *cp = v;
  return true;
}

uint32_t Fold(uint32_t cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) return cp - 0xFEE0;            // full-width ASCII forms
  if (cp == 0x3000) return ' ';                                    // ideographic space
  if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) return '-';  // dashes, minus sign
  return cp;
}

size_t EmitUtf8(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// Cheap necessary conditions checked inline before the verifiers.
// A domestic number's prefix after its leading 0 (`2`, `1[016789]`, `[3-6][1-5]`, `70`); the run
// starting at p is `run` >= 2 digits long.
inline bool PhonePrefixPossible(const uint8_t* s, size_t p, size_t run) {
  const uint8_t a = s[p + 1];
  if (a == '2') return true;
  if (run < 3) return false;
  const uint8_t b = s[p + 2];
  if (a == '1') return b == '0' || b == '1' || (b >= '6' && b <= '9');
  if (a >= '3' && a <= '6') return b >= '1' && b <= '5';
  return a == '7' && b == '0';
}

// Four digits at s[i..i+4) (a card's second group has at least four).
inline bool DigitsAt4(const uint8_t* s, size_t n, size_t i) {
  if (i + 4 > n) return false;
  for (size_t k = 0; k < 4; ++k) {
    if (s[i + k] < '0' || s[i + k] > '9') return false;
  }
  return true;
}

// A digit run starting with `ch`, `run` digits long and followed by `next`, that may start a card
// number: a length some issuer range starting with `ch` has, or a first group of four followed by
// a separator and a second group (grouped forms are 14-19 digits long).
inline bool CardPossible(const uint8_t* s, size_t n, size_t p, uint8_t ch, size_t run,
                         uint8_t next) {
  if (run >= kMinCardDigits && run <= kMaxCardDigits) {
    return ((kCardLengthsByFirstDigit[ch - '0'] >> run) & 1) != 0;
  }
  return run == 4 && (next == '-' || next == ' ') &&
         (kCardLengthsByFirstDigit[ch - '0'] >> 14) != 0 && DigitsAt4(s, n, p + 5);
}

}  // namespace

bool IsSlowTrigger(const uint8_t* s, size_t n, size_t p) {
  if (p + 1 >= n) return false;
  if (s[p] == '\\') return s[p + 1] == 'u';
  if (s[p] == 0xEF) return s[p + 1] == 0xBC || s[p + 1] == 0xBD;
  return false;
}

size_t Normalize(const uint8_t* s, size_t n, uint8_t* out) {
  size_t i = 0, o = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c == '\\' && i + 1 < n) {
      const uint8_t e = s[i + 1];
      uint32_t cp;
      if (e == 'u' && i + 6 <= n && Hex4(s + i + 2, &cp)) {
        size_t used = 6;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
          uint32_t low;
          if (cp <= 0xDBFF && i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
              Hex4(s + i + 8, &low) && low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            used = 12;
          } else {
            std::memcpy(out + o, s + i, 6);  // a lone surrogate stays as written
            o += 6;
            i += 6;
            continue;
          }
        }
        o += EmitUtf8(Fold(cp), out + o);
        i += used;
        continue;
      }
      uint8_t simple = 0;
      switch (e) {
        case 'n':
          simple = '\n';
          break;
        case 't':
          simple = '\t';
          break;
        case 'r':
          simple = '\r';
          break;
        case 'b':
          simple = '\b';
          break;
        case 'f':
          simple = '\f';
          break;
        case '"':
          simple = '"';
          break;
        case '\\':
          simple = '\\';
          break;
        case '/':
          simple = '/';
          break;
        default:
          break;
      }
      if (simple != 0) {
        out[o++] = simple;
        i += 2;
        continue;
      }
      out[o++] = c;
      ++i;
      continue;
    }
    if (c >= 0xE2 && c <= 0xEF && i + 2 < n && (s[i + 1] & 0xC0) == 0x80 &&
        (s[i + 2] & 0xC0) == 0x80) {
      const uint32_t cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
      const uint32_t f = Fold(cp);
      if (f != cp) {
        out[o++] = static_cast<uint8_t>(f);
        i += 3;
        continue;
      }
    }
    out[o++] = c;
    ++i;
  }
  return o;
}

bool KeywordAt(const Keyword& k, const uint8_t* s, size_t n, size_t p) {
  const size_t len = k.bytes.size();
  if (p + len > n) return false;
  const uint8_t* w = reinterpret_cast<const uint8_t*>(k.bytes.data());
  for (size_t i = 0; i < len; ++i) {
    const uint8_t a = s[p + i], b = w[i];
    if (IsAsciiAlpha(b) && b < 0x80) {
      if ((a | 0x20) != (b | 0x20)) return false;
    } else if (a != b) {
      return false;
    }
  }
  if (k.boundary_before && p > 0 && IsAsciiAlnum(s[p - 1])) return false;
  if (k.boundary_after && p + len < n && IsAsciiAlnum(s[p + len])) return false;
  return true;
}

void ScanBuffer(const PlanData& plan, const uint8_t* s, size_t n, bool check_slow,
                BlockMasks* batch, ScanOutcome* out) {
  // Detectors stop being searched once settled: on their first match, except the registration
  // numbers, which keep looking for a match whose checksum passes (a confidence signal).
  uint8_t done = static_cast<uint8_t>(~plan.enabled & kAllDetectors);
  if (plan.num_fingerprints == 0) done |= kBitKeyword;
  uint64_t carry = 0;
  alignas(64) uint8_t tail[64];
  constexpr size_t kBatchBytes = kBatchBlocks * 64;
  for (size_t base = 0; base < n; base += kBatchBytes) {
    const size_t len = n - base < kBatchBytes ? n - base : kBatchBytes;
    const size_t full = len / 64;
    const size_t rest = len % 64;
    if (full > 0) plan.classify(s + base, full, plan.kernel_params, batch);
    size_t nblocks = full;
    if (rest > 0) {
      std::memset(tail, 0, sizeof(tail));
      std::memcpy(tail, s + base + 64 * full, rest);
      BlockMasks& m = batch[full];
      plan.classify(tail, 1, plan.kernel_params, &m);
      const uint64_t keep = (uint64_t{1} << rest) - 1;
      m.digit &= keep;
      m.at &= keep;
      m.plus &= keep;
      m.slow &= keep;
      for (int a = 0; a < kMaxAnchorBytes; ++a) m.anchor[a] &= keep;
      ++nblocks;
    }
    for (size_t b = 0; b < nblocks; ++b) {
      const BlockMasks& m = batch[b];
      const size_t off = base + 64 * b;
      const uint64_t d = m.digit;
      const uint64_t starts = d & ~((d << 1) | carry);
      carry = d >> 63;
      const uint8_t want = static_cast<uint8_t>(~done);
      if (want & kNumeric) {
        for (uint64_t c = starts; c != 0; c &= c - 1) {
          const size_t i = Ctz(c);
          const size_t p = off + i;
          const uint8_t ch = s[p];
          // The run length from the mask (exact unless the run reaches the end of the block),
          // so most runs are rejected without touching the verifiers. The tests below are
          // necessary conditions of the verifiers, never sufficient ones.
          const uint64_t rest = ~(d >> i);
          size_t run = rest == 0 ? 64 : Ctz(rest);
          if (i + run >= 64) {
            run = 64 - i;
            while (p + run < n && s[p + run] >= '0' && s[p + run] <= '9') ++run;
          }
          const uint8_t next = p + run < n ? s[p + run] : 0;
          if ((~done & (kBitRrn | kBitFrn)) != 0 && (run == 13 || (run == 6 && next == '-'))) {
            bool checksum = false;
            const IdNumber id = VerifyRegistrationNumber(s, n, p, &checksum);
            const uint8_t bit = id == IdNumber::kResident    ? kBitRrn
                                : id == IdNumber::kForeigner ? kBitFrn
                                                             : 0;
            if (bit & plan.enabled) {
              out->found |= bit;
              if (checksum) {
                out->checksum |= bit;
                done |= bit;
              }
            }
          }
          if (!(done & kBitPhone) && ch == '0' && run >= 2 && run <= 11 &&
              PhonePrefixPossible(s, p, run) && VerifyKrPhoneDomestic(s, n, p)) {
            out->found |= kBitPhone;
            done |= kBitPhone;
          }
          if (!(done & kBitCard) && CardPossible(s, n, p, ch, run, next) && VerifyCard(s, n, p)) {
            out->found |= kBitCard;
            out->checksum |= kBitCard;
            done |= kBitCard;
          }
        }
      }
      if (!(done & kBitEmail)) {
        for (uint64_t c = m.at; c != 0; c &= c - 1) {
          if (VerifyEmailAt(s, n, off + Ctz(c))) {
            out->found |= kBitEmail;
            done |= kBitEmail;
            break;
          }
        }
      }
      if (!(done & kBitPhone)) {
        for (uint64_t c = m.plus; c != 0; c &= c - 1) {
          const size_t p = off + Ctz(c);
          if (p + 1 < n && s[p + 1] == '8' && VerifyKrPhoneInternational(s, n, p)) {
            out->found |= kBitPhone;
            done |= kBitPhone;
            break;
          }
        }
      }
      if (!(done & kBitKeyword)) {
        // Bits near the block end cannot see the next block's anchors: kept as candidates.
        uint64_t k = 0;
        for (int i = 0; i < plan.num_fingerprints; ++i) {
          uint64_t f = m.anchor[plan.fp_first[i]] &
                       ((m.anchor[plan.fp_second[i]] >> 1) | (uint64_t{1} << 63));
          if (plan.fp_third[i] != PlanData::kNoAnchor) {
            f &= (m.anchor[plan.fp_third[i]] >> 2) | (uint64_t{3} << 62);
          }
          k |= f;
        }
        for (; k != 0 && !(done & kBitKeyword); k &= k - 1) {
          const size_t p = off + Ctz(k);
          for (const Keyword& kw : plan.keywords) {
            if (KeywordAt(kw, s, n, p)) {
              out->found |= kBitKeyword;
              done |= kBitKeyword;
              break;
            }
          }
        }
      }
      if (check_slow && !out->needs_slow) {
        for (uint64_t c = m.slow; c != 0; c &= c - 1) {
          if (IsSlowTrigger(s, n, off + Ctz(c))) {
            out->needs_slow = true;
            break;
          }
        }
      }
      if (done == kAllDetectors) {  // nothing left to find, not even in a normalised copy
        out->settled = true;
        return;
      }
    }
  }
}

}  // namespace residency::tagging::internal
