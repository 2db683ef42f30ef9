// Decision -> JSON (keys in a fixed order, include/residency/decision.h), and decision -> audit
// record: the glue every caller (CLI, Python module, gateway service, examples) uses.
//
// The JSON is written straight into a string, byte for byte what nlohmann::ordered_json::dump
// gave for the same decision (compact, UTF-8 kept as is, control characters escaped, invalid
// UTF-8 replaced by U+FFFD; tests/eval/glue_test.cc compares the two).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "internal/text_util.h"
#include "internal/time_util.h"
#include "residency/audit.h"
#include "residency/decision.h"

namespace residency {
namespace {

// The first byte from p that does not go into a JSON string as it is (non-ASCII, a control
// character, `"` or a backslash), eight bytes at a time; stops within the last 7 bytes.
inline const char* SkipPlainWords(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    // The lowest set bit marks the first such byte exactly (little-endian).
    const uint64_t m = (w & kHigh) | ((w - 0x20 * kOnes) & ~w & kHigh) |
                       has_zero(w ^ ('"' * kOnes)) | has_zero(w ^ ('\\' * kOnes));
    if (m != 0) return p + (__builtin_ctzll(m) >> 3);
    p += 8;
  }
  return p;
}

inline bool PlainAscii(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// The length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0.
inline size_t Utf8Length(const char* p, const char* end) {
  const size_t avail = std::min<size_t>(4, end - p);
  const size_t bad = internal::FirstNonUtf8Byte(std::string_view(p, avail));
  if (bad == 0) return 0;
  const unsigned char c = static_cast<unsigned char>(*p);
  return c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

// The inside of `s` as a JSON string (the caller writes the quotes), as nlohmann's serializer
// writes it with ensure_ascii off and the replace error handler: UTF-8 kept, `"` `\\` and control
// characters escaped (\b \f \n \r \t, else \u00xx), invalid UTF-8 replaced (by nlohmann itself,
// so that those bytes stay what they were).
void Body(std::string_view s, std::string* out) {
  const size_t mark = out->size();
  const char* p = s.data();
  const char* end = p + s.size();
  const char* run = p;  // start of the bytes not yet copied
  while (p < end) {
    p = SkipPlainWords(p, end);
    while (p < end && PlainAscii(static_cast<unsigned char>(*p))) ++p;
    if (p == end) break;
    const unsigned char c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      const size_t len = Utf8Length(p, end);
      if (len == 0) {  // invalid UTF-8: the rare path
        out->resize(mark);
        const std::string quoted =
            nlohmann::json(std::string(s))
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        out->append(quoted, 1, quoted.size() - 2);
        return;
      }
      p += len;
      continue;
    }
    out->append(run, p - run);
    ++p;
    run = p;
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\r':
        out->append("\\r");
        break;
      default: {
        static const char kHex[] = "0123456789abcdef";
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(u, 6);
      }
    }
  }
  out->append(run, p - run);
}

// A literal piece of the output (keys, punctuation) in one append.
template <size_t N>
inline void Put(const char (&text)[N], std::string* out) {
  out->append(text, N - 1);
}

void AppendReason(const Reason& r, std::string* out) {
  Put("{\"policy\":\"", out);
  Body(r.policy(), out);
  Put("\",\"rule\":\"", out);
  Body(r.rule(), out);
  Put("\",\"basis\":\"", out);
  Body(r.basis(), out);
  Put("\",\"effect\":\"", out);
  Body(EffectName(r.effect()), out);
  Put("\",\"citation\":\"", out);
  Body(r.citation(), out);
  Put("\",\"message\":\"", out);
  Body(r.message(), out);
  if (!r.alternative().empty()) {
    Put("\",\"alternative\":\"", out);
    Body(r.alternative(), out);
  }
  if (!r.exception().empty()) {
    Put("\",\"exception\":\"", out);
    Body(r.exception(), out);
  }
  Put("\"", out);
  // The trigger: only the parts that are known, in a fixed order.
  const std::pair<const char*, std::string_view> trigger[] = {{"kind", r.artifact_kind()},
                                                              {"artifact", r.artifact()},
                                                              {"via", r.via()},
                                                              {"tag", r.tag()},
                                                              {"location", r.location()}};
  char sep = '{';
  for (const auto& [key, value] : trigger) {
    if (value.empty()) continue;
    if (sep == '{') Put(",\"trigger\":", out);
    out->push_back(sep);
    sep = ',';
    out->push_back('"');
    out->append(key);
    Put("\":\"", out);
    Body(value, out);
    out->push_back('"');
  }
  if (sep == ',') out->push_back('}');
  out->push_back('}');
}

// The elements of `list`, comma-separated.
template <typename List, typename F>
void Elements(const List& list, F&& each, std::string* out) {
  bool first = true;
  for (const auto& e : list) {
    if (!first) out->push_back(',');
    first = false;
    each(e);
  }
}

// FormatTimestamp is slow next to the rest; a batch mostly repeats one `now`.
const std::string& Timestamp(absl::Time t) {
  thread_local absl::Time last = absl::InfinitePast();
  thread_local std::string text;
  if (t != last || text.empty()) {
    text = internal::FormatTimestamp(t);
    last = t;
  }
  return text;
}

}  // namespace

void AppendDecisionJson(const Decision& d, std::string* out) {
  auto quoted = [&](std::string_view v) {
    out->push_back('"');
    Body(v, out);
    out->push_back('"');
  };
  Put("{\"decision\":\"", out);
  Body(EffectName(d.decision), out);
  Put("\",\"reasons\":[", out);
  Elements(
      d.reasons, [&](const Reason& r) { AppendReason(r, out); }, out);
  Put("],\"obligations\":[", out);
  Elements(
      d.obligations,
      [&](const ObligationRef& o) {
        Put("{\"id\":\"", out);
        Body(o.id(), out);
        Put("\",\"policy\":\"", out);
        Body(o.policy(), out);
        Put("\",\"text\":\"", out);
        Body(o.text(), out);
        Put("\"}", out);
      },
      out);
  Put("],\"suggested_locations\":[", out);
  Elements(d.suggested_locations(), quoted, out);
  Put("],\"tags\":[", out);
  Elements(d.tags, quoted, out);
  Put("],\"lifted\":[", out);
  Elements(
      d.lifted,
      [&](const LiftedTag& l) {
        Put("{\"tag\":\"", out);
        Body(l.tag(), out);
        Put("\",\"policy\":\"", out);
        Body(l.policy(), out);
        Put("\"}", out);
      },
      out);
  Put("],\"dry_run\":[", out);
  Elements(
      d.dry_run, [&](const Reason& r) { AppendReason(r, out); }, out);
  Put("],\"now\":\"", out);
  Body(Timestamp(d.now), out);
  Put("\",\"policy_digest\":\"", out);
  Body(d.policy_digest(), out);
  if (d.audit) {
    Put("\",\"audit\":{\"log\":\"", out);
    Body(d.audit->log, out);
    Put("\",\"index\":", out);
    char num[24];
    auto [end, ec] = std::to_chars(num, num + sizeof num, d.audit->index);
    out->append(num, end - num);
    Put("}}", out);
  } else {
    Put("\"}", out);
  }
}

std::string DecisionToJson(const Decision& d) {
  std::string out;
  out.reserve(1024);
  AppendDecisionJson(d, &out);
  return out;
}

DecisionRecord AuditRecordOf(const Decision& d, std::string_view request_bytes,
                             std::string_view principal) {
  DecisionRecord rec;
  rec.decision = EffectName(d.decision);
  rec.rule_ids.reserve(d.reasons.size());
  for (const Reason& r : d.reasons) rec.rule_ids.emplace_back(r.rule());
  rec.tags = d.tags;
  rec.request_digest = AuditRequestDigest(request_bytes);
  rec.policy_digest = std::string(d.policy_digest());
  rec.now = d.now;
  rec.principal = std::string(principal);
  return rec;
}

absl::Status RecordDecision(AuditLog& log, std::string_view request_bytes, Decision* d,
                            std::string_view principal) {
  absl::StatusOr<uint64_t> index = log.Append(AuditRecordOf(*d, request_bytes, principal));
  if (!index.ok()) return index.status();
  d->audit = AuditRef{log.log_dir(), *index};
  return absl::OkStatus();
}

}  // namespace residency
