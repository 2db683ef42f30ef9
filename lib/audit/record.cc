#include "audit/record.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "internal/time_util.h"

namespace residency::audit {
namespace {

absl::Status Bad(const char* what) {
  return absl::InvalidArgumentError(absl::StrCat("non-canonical audit record: ", what));
}

bool GoodTextSlow(std::string_view s) {
  bool ascii = true;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
    ascii &= u < 0x80;
  }
  return ascii || IsValidUtf8(s);
}

// True when each of the 8 bytes in `x` is printable ASCII (0x20..0x7e). The classic
// "has a byte less than n" and "has a zero byte" tests, exact for existence.
inline bool PrintableAscii8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
  const uint64_t y = x ^ (kOnes * 0x7f);
  const uint64_t del = (y - kOnes) & ~y & kHigh;
  return ((x & kHigh) | below_space | del) == 0;
}

// Non-empty UTF-8 without control characters. Printable ASCII, the common case, is checked
// eight bytes at a time; anything else takes the byte-wise path.
bool GoodText(std::string_view s) {
  if (s.empty()) return false;
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    if (!PrintableAscii8(x)) return GoodTextSlow(s);
  }
  for (; n > 0; ++p, --n) {
    auto u = static_cast<unsigned char>(*p);
    if (u < 0x20 || u >= 0x7f) return GoodTextSlow(s);
  }
  return true;
}

bool ReadStr8(Reader* r, std::string_view* s) {
  uint8_t n;
  return r->U8(&n) && r->Bytes(n, s) && GoodText(*s);
}
bool ReadStr16(Reader* r, std::string_view* s) {
  uint16_t n;
  return r->U16(&n) && r->Bytes(n, s) && GoodText(*s);
}
bool PutStr8(std::string_view s, std::string* out) {
  if (s.size() > 255 || !GoodText(s)) return false;
  PutU8(out, static_cast<uint8_t>(s.size()));
  out->append(s.data(), s.size());
  return true;
}
bool PutStr16(std::string_view s, std::string* out) {
  if (s.size() > 65535 || !GoodText(s)) return false;
  PutU16(out, static_cast<uint16_t>(s.size()));
  out->append(s.data(), s.size());
  return true;
}
void PutHash(const Hash& h, std::string* out) { out->append(AsView(h)); }

void PutHeader(RecordType t, uint64_t index, int64_t time_ns, std::string* out) {
  PutU8(out, kRecordVersion);
  PutU8(out, static_cast<uint8_t>(t));
  PutU64(out, index);
  PutU64(out, static_cast<uint64_t>(time_ns));
}

template <typename V>
bool StrictlyIncreasing(const V& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (!(std::string_view(v[i - 1]) < std::string_view(v[i]))) return false;
  }
  return true;
}

}  // namespace

const char* RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kLogOpen:
      return "log_open";
    case RecordType::kPolicyLoaded:
      return "policy_loaded";
    case RecordType::kDecision:
      return "decision";
    case RecordType::kHeartbeat:
      return "heartbeat";
    case RecordType::kKey:
      return "key";
    case RecordType::kRecovery:
      return "recovery";
    case RecordType::kClose:
      return "close";
  }
  return "unknown";
}

uint8_t DecisionCode(std::string_view name) {
  if (name == "allow") return 1;
  if (name == "allow_with_obligations") return 2;
  if (name == "escalate") return 3;
  if (name == "deny") return 4;
  return 0;
}

const char* DecisionName(uint8_t code) {
  switch (code) {
    case 1:
      return "allow";
    case 2:
      return "allow_with_obligations";
    case 3:
      return "escalate";
    case 4:
      return "deny";
  }
  return "unknown";
}

bool ParsePolicyDigest(std::string_view text, Hash* out) {
  static constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || text.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const char* hex = text.data() + kPrefix.size();
  for (size_t i = 0; i < 32; ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string FormatDigest(const Hash& h) { return "sha256:" + HexEncode(AsView(h)); }

absl::Status DecodeRecord(std::string_view bytes, RecordView* out) {
  if (bytes.size() > kMaxRecordBytes) return Bad("too long");
  Reader r(bytes);
  uint8_t version, type;
  uint64_t time;
  if (!r.U8(&version) || !r.U8(&type) || !r.U64(&out->index) || !r.U64(&time)) {
    return Bad("truncated header");
  }
  if (version != kRecordVersion) {
    return Bad(version == 1 ? "version 1 (written before record times came from the writer)"
                            : "unknown version");
  }
  out->time_ns = static_cast<int64_t>(time);
  out->type = static_cast<RecordType>(type);
  switch (out->type) {
    case RecordType::kLogOpen:
      if (!ReadStr16(&r, &out->origin) || !ReadStr16(&r, &out->key_name) ||
          !ReadStr16(&r, &out->vkey) || !ReadStr16(&r, &out->software)) {
        return Bad("bad log_open body");
      }
      break;
    case RecordType::kPolicyLoaded:
      if (!r.Fixed(&out->policy_digest)) return Bad("bad policy_loaded body");
      break;
    case RecordType::kDecision: {
      if (!r.U8(&out->decision) || out->decision < 1 || out->decision > 4) {
        return Bad("bad decision");
      }
      uint64_t evaluated_at;
      if (!r.U64(&evaluated_at)) return Bad("truncated evaluation time");
      out->evaluated_at_ns = static_cast<int64_t>(evaluated_at);
      uint8_t nrules;
      if (!r.U8(&nrules)) return Bad("truncated rule ids");
      out->rule_ids.resize(nrules);
      for (auto& s : out->rule_ids) {
        if (!ReadStr8(&r, &s)) return Bad("bad rule id");
      }
      uint16_t ntags;
      if (!r.U16(&ntags)) return Bad("truncated tags");
      out->tags.resize(ntags);
      for (auto& s : out->tags) {
        if (!ReadStr8(&r, &s)) return Bad("bad tag");
      }
      if (!StrictlyIncreasing(out->tags)) return Bad("tags not sorted and unique");
      uint8_t hp;
      if (!r.Fixed(&out->request_digest) || !r.Fixed(&out->policy_digest) || !r.U8(&hp) || hp > 1) {
        return Bad("bad digests");
      }
      out->has_principal = hp == 1;
      if (out->has_principal && !r.Fixed(&out->principal_commitment)) {
        return Bad("truncated principal commitment");
      }
      break;
    }
    case RecordType::kHeartbeat:
      if (!r.U64(&out->count) || !r.U64(&out->prev_size)) return Bad("bad heartbeat body");
      break;
    case RecordType::kKey:
      if (!ReadStr16(&r, &out->vkey)) return Bad("bad key body");
      break;
    case RecordType::kRecovery:
      if (!r.U64(&out->count) || !r.U64(&out->cut_bytes) || !r.Fixed(&out->cut_digest) ||
          !r.U64(&out->prev_size)) {
        return Bad("bad recovery body");
      }
      break;
    case RecordType::kClose:
      if (!r.U64(&out->count)) return Bad("bad close body");
      break;
    default:
      return Bad("unknown type");
  }
  if (!r.done()) return Bad("trailing bytes");
  return absl::OkStatus();
}

absl::Status EncodeRecord(const RecordView& v, std::string* out) {
  size_t start = out->size();
  PutHeader(v.type, v.index, v.time_ns, out);
  bool ok = true;
  switch (v.type) {
    case RecordType::kLogOpen:
      ok = PutStr16(v.origin, out) && PutStr16(v.key_name, out) && PutStr16(v.vkey, out) &&
           PutStr16(v.software, out);
      break;
    case RecordType::kPolicyLoaded:
      PutHash(v.policy_digest, out);
      break;
    case RecordType::kDecision:
      ok = v.decision >= 1 && v.decision <= 4 && v.rule_ids.size() <= 255 &&
           v.tags.size() <= 65535 && StrictlyIncreasing(v.tags);
      if (!ok) break;
      PutU8(out, v.decision);
      PutU64(out, static_cast<uint64_t>(v.evaluated_at_ns));
      PutU8(out, static_cast<uint8_t>(v.rule_ids.size()));
      for (auto s : v.rule_ids) ok = ok && PutStr8(s, out);
      PutU16(out, static_cast<uint16_t>(v.tags.size()));
      for (auto s : v.tags) ok = ok && PutStr8(s, out);
      PutHash(v.request_digest, out);
      PutHash(v.policy_digest, out);
      PutU8(out, v.has_principal ? 1 : 0);
      if (v.has_principal) PutHash(v.principal_commitment, out);
      break;
    case RecordType::kHeartbeat:
      PutU64(out, v.count);
      PutU64(out, v.prev_size);
      break;
    case RecordType::kKey:
      ok = PutStr16(v.vkey, out);
      break;
    case RecordType::kRecovery:
      PutU64(out, v.count);
      PutU64(out, v.cut_bytes);
      PutHash(v.cut_digest, out);
      PutU64(out, v.prev_size);
      break;
    case RecordType::kClose:
      PutU64(out, v.count);
      break;
    default:
      ok = false;
  }
  if (ok && out->size() - start > kMaxRecordBytes) ok = false;
  if (!ok) {
    out->resize(start);
    return absl::InvalidArgumentError("audit record cannot be encoded (bad field)");
  }
  return absl::OkStatus();
}

int64_t RecordTime(std::string_view record) {
  uint64_t t = 0;
  for (size_t i = 0; i < 8; ++i) {
    t = (t << 8) | static_cast<unsigned char>(record[kRecordTimeOffset + i]);
  }
  return static_cast<int64_t>(t);
}

void SetRecordTime(int64_t time_ns, char* record) {
  const auto t = static_cast<uint64_t>(time_ns);
  for (size_t i = 0; i < 8; ++i)
    record[kRecordTimeOffset + i] = static_cast<char>(t >> (56 - 8 * i));
}

absl::Status EncodeDecision(const DecisionRecord& d, uint64_t index, const Hash* principal,
                            std::string* out) {
  Hash policy{};
  // Same order of checks as the overload: the decision, then the digest, then the rest.
  if (DecisionCode(d.decision) != 0 && !ParsePolicyDigest(d.policy_digest, &policy)) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy digest `", Excerpt(d.policy_digest), "` is not `sha256:<64 hex>`"));
  }
  return EncodeDecision(d, policy, index, principal, out);
}

namespace {
// Appends str8 `s` at `q`; the caller has checked it.
inline char* CopyStr8(std::string_view s, char* q) {
  *q++ = static_cast<char>(s.size());
  std::memcpy(q, s.data(), s.size());
  return q + s.size();
}
inline char* CopyU64(uint64_t v, char* q) {
  for (int i = 0; i < 8; ++i) q[i] = static_cast<char>(v >> (56 - 8 * i));
  return q + 8;
}
}  // namespace

absl::Status EncodeDecision(const DecisionRecord& d, const Hash& policy, uint64_t index,
                            const Hash* principal, std::string* out) {
  uint8_t code = DecisionCode(d.decision);
  if (code == 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown decision `", Excerpt(d.decision), "`"));
  }
  if (d.now == absl::InfiniteFuture() || d.now == absl::InfinitePast()) {
    return absl::InvalidArgumentError("decision time is not finite");
  }
  if (d.rule_ids.size() > 255 || d.tags.size() > 65535) {
    return absl::InvalidArgumentError("too many rule ids or tags for one audit record");
  }
  // Tags are stored sorted and unique; the caller's order is used as is when it already is.
  std::vector<std::string_view> sorted;
  const bool in_order = StrictlyIncreasing(d.tags);
  if (!in_order) {
    sorted.assign(d.tags.begin(), d.tags.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  }
  const size_t ntags = in_order ? d.tags.size() : sorted.size();
  // Validate and size everything first, then write once into the reserved bytes.
  bool ok = true;
  size_t size = kRecordHeaderBytes + 1 + 8 + 1 + 2 + 32 + 32 + 1 + (principal ? 32 : 0);
  auto text = [&ok, &size](std::string_view s) {
    ok &= s.size() <= 255 && GoodText(s);
    size += 1 + s.size();
  };
  for (const auto& s : d.rule_ids) text(s);
  if (in_order) {
    for (const auto& s : d.tags) text(s);
  } else {
    for (auto s : sorted) text(s);
  }
  if (!ok || size > kMaxRecordBytes) {
    return absl::InvalidArgumentError("rule ids and tags must be 1..255 bytes of printable UTF-8");
  }
  const size_t start = out->size();
  out->resize(start + size);
  char* q = out->data() + start;
  *q++ = static_cast<char>(kRecordVersion);
  *q++ = static_cast<char>(RecordType::kDecision);
  q = CopyU64(index, q);
  q = CopyU64(0, q);  // the record's time: stamped by the writer
  *q++ = static_cast<char>(code);
  q = CopyU64(static_cast<uint64_t>(absl::ToUnixNanos(d.now)), q);
  *q++ = static_cast<char>(d.rule_ids.size());
  for (const auto& s : d.rule_ids) q = CopyStr8(s, q);
  *q++ = static_cast<char>(ntags >> 8);
  *q++ = static_cast<char>(ntags);
  if (in_order) {
    for (const auto& s : d.tags) q = CopyStr8(s, q);
  } else {
    for (auto s : sorted) q = CopyStr8(s, q);
  }
  std::memcpy(q, d.request_digest.data(), 32);
  std::memcpy(q + 32, policy.data(), 32);
  q += 64;
  *q++ = principal ? 1 : 0;
  if (principal) std::memcpy(q, principal->data(), 32);
  return absl::OkStatus();
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", u);
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string RecordToJson(const RecordView& r) {
  std::string o =
      absl::StrCat("{\"index\":", r.index, ",\"type\":\"", RecordTypeName(r.type), "\",\"time\":");
  AppendJsonString(internal::FormatTimestamp(absl::FromUnixNanos(r.time_ns)), &o);
  auto list = [&o](const char* key, const std::vector<std::string_view>& v) {
    absl::StrAppend(&o, ",\"", key, "\":[");
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) o.push_back(',');
      AppendJsonString(v[i], &o);
    }
    o.push_back(']');
  };
  auto str = [&o](const char* key, std::string_view v) {
    absl::StrAppend(&o, ",\"", key, "\":");
    AppendJsonString(v, &o);
  };
  switch (r.type) {
    case RecordType::kLogOpen:
      str("origin", r.origin);
      str("key_name", r.key_name);
      str("vkey", r.vkey);
      str("software", r.software);
      break;
    case RecordType::kPolicyLoaded:
      str("policy_digest", FormatDigest(r.policy_digest));
      break;
    case RecordType::kDecision:
      str("evaluated_at", internal::FormatTimestamp(absl::FromUnixNanos(r.evaluated_at_ns)));
      str("decision", DecisionName(r.decision));
      list("rule_ids", r.rule_ids);
      list("tags", r.tags);
      str("request_digest", FormatDigest(r.request_digest));
      str("policy_digest", FormatDigest(r.policy_digest));
      if (r.has_principal) str("principal_commitment", FormatDigest(r.principal_commitment));
      break;
    case RecordType::kHeartbeat:
      absl::StrAppend(&o, ",\"decisions\":", r.count,
                      ",\"previous_checkpoint_size\":", r.prev_size);
      break;
    case RecordType::kKey:
      str("vkey", r.vkey);
      break;
    case RecordType::kRecovery:
      absl::StrAppend(&o, ",\"records_kept\":", r.count, ",\"bytes_cut\":", r.cut_bytes);
      str("cut_digest", FormatDigest(r.cut_digest));
      absl::StrAppend(&o, ",\"last_checkpoint_size\":", r.prev_size);
      break;
    case RecordType::kClose:
      absl::StrAppend(&o, ",\"decisions\":", r.count);
      break;
  }
  o.push_back('}');
  return o;
}

}  // namespace residency::audit
