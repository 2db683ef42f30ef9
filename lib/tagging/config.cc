// Compiles a `kind: tagging` YAML file into a TaggerPlan. Every error names the file, line and
// column (1-based): "<source>:LINE:COL: error: <message>".
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "internal/country_names.h"
#include "internal/text_util.h"
#include "internal/yaml_util.h"
#include "residency/tagging.h"
#include "tagging/ip_lpm.h"
#include "tagging/plan.h"
#include "tagging/verifiers.h"

namespace residency::tagging {
namespace {

using internal::PlanData;

// The keywords used when a file has no `rrn_keywords` (the shipped file lists the same).
constexpr char kDefaultKeywords[] = "[\"주민등록번호\", \"주민번호\", \"RRN\"]";

class ConfigCompiler {
 public:
  ConfigCompiler(std::string_view source) : source_(source) {}

  absl::Status Error(const YAML::Mark& mark, const std::string& msg) const {
    const int line = mark.line >= 0 ? mark.line + 1 : 1;
    const int col = mark.column >= 0 ? mark.column + 1 : 1;
    return absl::InvalidArgumentError(absl::StrCat(source_, ":", line, ":", col, ": error: ", msg));
  }

  // Checks that `node` is a map with string keys, no duplicates and only `allowed` keys.
  absl::Status CheckMap(const YAML::Node& node, const std::string& what,
                        const std::set<std::string>& allowed) const {
    if (!node.IsMap()) return Error(node.Mark(), absl::StrCat(what, " must be a map"));
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) return Error(it->first.Mark(), "keys must be strings");
      const std::string key = it->first.Scalar();
      if (!seen.insert(key).second) {
        return Error(it->first.Mark(), absl::StrCat("duplicate key `", key, "`"));
      }
      if (!allowed.empty() && !allowed.count(key)) {
        return Error(
            it->first.Mark(),
            absl::StrCat("unknown key `", key, "` in ", what,
                         ::residency::internal::DidYouMeanSuffix(
                             key, std::vector<std::string>(allowed.begin(), allowed.end()))));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Scalar(const YAML::Node& node, const std::string& what, std::string* out) const {
    if (!node.IsScalar()) return Error(node.Mark(), absl::StrCat(what, " must be a string"));
    *out = node.Scalar();
    return absl::OkStatus();
  }

  absl::Status CountryCode(const YAML::Node& node, const std::string& what, Country* out) const {
    std::string s;
    absl::Status st = Scalar(node, what, &s);
    if (!st.ok()) return st;
    if (!IsIsoCountry(s)) {
      const std::string hint = ::residency::internal::CountryAlpha2Hint(s);
      return Error(node.Mark(),
                   absl::StrCat(what, " `", s, "` is not an iso 3166-1 alpha-2 country code",
                                hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    }
    out->code[0] = s[0];
    out->code[1] = s[1];
    return absl::OkStatus();
  }

  absl::Status Compile(const YAML::Node& root, PlanData* d) const;

 private:
  absl::Status Keywords(const YAML::Node& node, PlanData* d) const;
  absl::Status Networks(const YAML::Node& node, PlanData* d) const;
  std::string source_;
};

#define RETURN_IF_ERROR_(expr) \
  do {                         \
    absl::Status st_ = (expr); \
    if (!st_.ok()) return st_; \
  } while (0)

absl::Status ConfigCompiler::Keywords(const YAML::Node& node, PlanData* d) const {
  if (!node.IsSequence()) return Error(node.Mark(), "`rrn_keywords` must be a list of strings");
  if (node.size() > internal::kMaxKeywords) {
    return Error(node.Mark(),
                 absl::StrCat("`rrn_keywords` has more than ", internal::kMaxKeywords, " entries"));
  }
  std::vector<uint8_t> anchors;
  auto anchor_index = [&](uint8_t b) -> int {
    for (size_t i = 0; i < anchors.size(); ++i) {
      if (anchors[i] == b) return static_cast<int>(i);
    }
    anchors.push_back(b);
    return static_cast<int>(anchors.size() - 1);
  };
  auto fold = [](char c) { return static_cast<uint8_t>(static_cast<uint8_t>(c) | 0x20); };
  std::set<std::string> seen;
  std::vector<YAML::Mark> marks;
  for (const YAML::Node& k : node) {
    std::string s;
    RETURN_IF_ERROR_(Scalar(k, "a keyword", &s));
    if (s.size() < 2 || s.size() > internal::kMaxKeywordBytes) {
      return Error(k.Mark(), absl::StrCat("keyword `", s, "` must be 2 to ",
                                          internal::kMaxKeywordBytes, " bytes long"));
    }
    for (unsigned char c : s) {
      if (c < 0x20 || c == 0x7F) {
        return Error(k.Mark(), absl::StrCat("keyword `", s, "` contains a control character"));
      }
    }
    if (s.front() == ' ' || s.back() == ' ') {
      return Error(k.Mark(), absl::StrCat("keyword `", s, "` starts or ends with a space"));
    }
    std::string folded = s;
    for (char& c : folded) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (!seen.insert(folded).second) {
      return Error(k.Mark(), absl::StrCat("keyword `", s, "` is listed twice"));
    }
    anchor_index(fold(s[0]));
    anchor_index(fold(s[1]));
    if (anchors.size() > static_cast<size_t>(internal::kMaxAnchorBytes)) {
      return Error(k.Mark(),
                   absl::StrCat("keyword `", s, "`: the keywords' first two bytes use more than ",
                                internal::kMaxAnchorBytes,
                                " distinct values (case-folded); the scanner supports ",
                                internal::kMaxAnchorBytes));
    }
    internal::Keyword kw;
    kw.bytes = s;
    kw.boundary_before = internal::IsAsciiAlnumByte(static_cast<uint8_t>(s.front()));
    kw.boundary_after = internal::IsAsciiAlnumByte(static_cast<uint8_t>(s.back()));
    d->keywords.push_back(std::move(kw));
    marks.push_back(k.Mark());
  }
  // Three-byte fingerprints where spare anchor slots allow (fewer false candidates), ASCII-led
  // keywords first since their two-byte prefixes are the common ones in text.
  std::vector<int> third(d->keywords.size(), -1);
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < d->keywords.size(); ++i) {
      const std::string& s = d->keywords[i].bytes;
      const bool ascii = static_cast<uint8_t>(s[0]) < 0x80 && static_cast<uint8_t>(s[1]) < 0x80;
      if (s.size() < 3 || ascii != (pass == 0)) continue;
      const uint8_t c = fold(s[2]);
      bool present = false;
      for (uint8_t a : anchors) present = present || a == c;
      if (!present && anchors.size() >= static_cast<size_t>(internal::kMaxAnchorBytes)) continue;
      third[i] = anchor_index(c);
    }
  }
  std::set<std::tuple<int, int, int>> fps;
  for (size_t i = 0; i < d->keywords.size(); ++i) {
    const std::string& s = d->keywords[i].bytes;
    fps.insert({anchor_index(fold(s[0])), anchor_index(fold(s[1])), third[i]});
    if (fps.size() > internal::kMaxKeywordPairs) {
      return Error(marks[i], absl::StrCat("keyword `", s, "`: the keywords start with more than ",
                                          internal::kMaxKeywordPairs, " distinct prefixes"));
    }
  }
  d->kernel_params.num_anchors = static_cast<int>(anchors.size());
  for (size_t i = 0; i < anchors.size() && i < internal::kMaxAnchorBytes; ++i) {
    d->kernel_params.anchor[i] = anchors[i];
  }
  d->num_fingerprints = 0;
  for (const auto& [a, b, c] : fps) {
    d->fp_first[d->num_fingerprints] = static_cast<uint8_t>(a);
    d->fp_second[d->num_fingerprints] = static_cast<uint8_t>(b);
    d->fp_third[d->num_fingerprints] = c < 0 ? PlanData::kNoAnchor : static_cast<uint8_t>(c);
    ++d->num_fingerprints;
  }
  return absl::OkStatus();
}

absl::Status ConfigCompiler::Networks(const YAML::Node& node, PlanData* d) const {
  if (!node.IsSequence()) return Error(node.Mark(), "`networks` must be a list");
  std::vector<internal::LpmTable::Entry> v4, v6;
  std::vector<YAML::Mark> v4_marks, v6_marks;
  for (const YAML::Node& n : node) {
    RETURN_IF_ERROR_(CheckMap(n, "a network entry", {"jurisdiction", "provenance", "cidrs"}));
    if (!n["jurisdiction"]) return Error(n.Mark(), "a network entry needs `jurisdiction`");
    if (!n["cidrs"]) return Error(n.Mark(), "a network entry needs `cidrs`");
    internal::Network net;
    RETURN_IF_ERROR_(CountryCode(n["jurisdiction"], "`jurisdiction`", &net.country));
    if (n["provenance"]) {
      std::string p;
      RETURN_IF_ERROR_(Scalar(n["provenance"], "`provenance`", &p));
      if (p == "verified") {
        net.provenance = Provenance::kVerified;
      } else if (p == "inferred") {
        net.provenance = Provenance::kInferred;
      } else {
        return Error(n["provenance"].Mark(),
                     absl::StrCat("`provenance` must be `verified` or `inferred`, not `", p, "`"));
      }
    }
    const YAML::Node cidrs = n["cidrs"];
    if (!cidrs.IsSequence() || cidrs.size() == 0) {
      return Error(cidrs.Mark(), "`cidrs` must be a non-empty list");
    }
    const uint32_t index = static_cast<uint32_t>(d->networks.size());
    d->networks.push_back(net);
    for (const YAML::Node& c : cidrs) {
      std::string text, err;
      RETURN_IF_ERROR_(Scalar(c, "a cidr", &text));
      internal::Cidr cidr;
      if (!internal::ParseCidr(text, &cidr, &err)) return Error(c.Mark(), err);
      if (cidr.family == IpAddress::Family::kV4) {
        v4.push_back({cidr, index});
        v4_marks.push_back(c.Mark());
      } else {
        v6.push_back({cidr, index});
        v6_marks.push_back(c.Mark());
      }
    }
  }
  // Report a duplicate prefix where it is written.
  auto check_dups = [&](const std::vector<internal::LpmTable::Entry>& e,
                        const std::vector<YAML::Mark>& marks) -> absl::Status {
    std::set<std::pair<internal::u128, int>> seen;
    for (size_t i = 0; i < e.size(); ++i) {
      if (!seen.insert({e[i].cidr.start, e[i].cidr.length}).second) {
        return Error(marks[i], "this cidr is listed twice");
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR_(check_dups(v4, v4_marks));
  RETURN_IF_ERROR_(check_dups(v6, v6_marks));
  RETURN_IF_ERROR_(d->v4.Build(std::move(v4), 32));
  RETURN_IF_ERROR_(d->v6.Build(std::move(v6), 128));
  return absl::OkStatus();
}

absl::Status ConfigCompiler::Compile(const YAML::Node& root, PlanData* d) const {
  if (!root || root.IsNull()) return Error(YAML::Mark(), "empty file; expected `kind: tagging`");
  RETURN_IF_ERROR_(CheckMap(root, "the file",
                            {"kind", "version", "max_scan_bytes", "unknown_origin", "detectors",
                             "rrn_keywords", "country_headers", "tenants", "networks"}));
  if (!root["kind"]) return Error(root.Mark(), "missing `kind: tagging`");
  std::string kind;
  RETURN_IF_ERROR_(Scalar(root["kind"], "`kind`", &kind));
  if (kind != "tagging") {
    return Error(root["kind"].Mark(), absl::StrCat("`kind` must be `tagging`, not `", kind, "`"));
  }
  if (root["version"]) {
    std::string v;
    RETURN_IF_ERROR_(Scalar(root["version"], "`version`", &v));
    if (v != "1")
      return Error(root["version"].Mark(), absl::StrCat("unsupported version `", v, "`"));
  }
  if (root["max_scan_bytes"]) {
    std::string v;
    const YAML::Node n = root["max_scan_bytes"];
    RETURN_IF_ERROR_(Scalar(n, "`max_scan_bytes`", &v));
    size_t value = 0;
    bool ok = !v.empty() && v.size() <= 9;
    for (char c : v) {
      if (c < '0' || c > '9') ok = false;
      if (ok) value = value * 10 + static_cast<size_t>(c - '0');
    }
    if (!ok || value < 64 || value > internal::kMaxScanBytesLimit) {
      return Error(n.Mark(), absl::StrCat("`max_scan_bytes` must be an integer from 64 to ",
                                          internal::kMaxScanBytesLimit, ", not `", v, "`"));
    }
    d->max_scan_bytes = value;
  }
  d->unknown_origin.code[0] = 'Z';
  d->unknown_origin.code[1] = 'Z';
  if (root["unknown_origin"]) {
    std::string v;
    const YAML::Node n = root["unknown_origin"];
    RETURN_IF_ERROR_(Scalar(n, "`unknown_origin`", &v));
    if (v.size() != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z') {
      return Error(n.Mark(),
                   absl::StrCat("`unknown_origin` must be two capital letters, not `", v, "`"));
    }
    d->unknown_origin.code[0] = v[0];
    d->unknown_origin.code[1] = v[1];
  }
  d->default_kr.code[0] = 'K';
  d->default_kr.code[1] = 'R';
  d->enabled = (1u << kNumDetectors) - 1;
  if (root["detectors"]) {
    const YAML::Node n = root["detectors"];
    if (!n.IsSequence()) return Error(n.Mark(), "`detectors` must be a list of detector names");
    d->enabled = 0;
    for (const YAML::Node& e : n) {
      std::string name;
      RETURN_IF_ERROR_(Scalar(e, "a detector", &name));
      int found = -1;
      for (int i = 0; i < kNumDetectors; ++i) {
        if (name == DetectorName(static_cast<Detector>(i))) found = i;
      }
      if (found < 0) {
        return Error(e.Mark(), absl::StrCat("unknown detector `", name,
                                            "` (kr_rrn, kr_frn, kr_phone, email, card, "
                                            "kr_rrn_keyword)"));
      }
      if (d->enabled & (1u << found)) {
        return Error(e.Mark(), absl::StrCat("detector `", name, "` is listed twice"));
      }
      d->enabled |= static_cast<uint8_t>(1u << found);
    }
  }
  const bool explicit_detectors = static_cast<bool>(root["detectors"]);
  if (root["rrn_keywords"]) {
    RETURN_IF_ERROR_(Keywords(root["rrn_keywords"], d));
  } else {
    RETURN_IF_ERROR_(Keywords(YAML::Load(kDefaultKeywords), d));
  }
  const uint8_t keyword_bit = 1u << static_cast<int>(Detector::kKrRrnKeyword);
  if (d->keywords.empty() && (d->enabled & keyword_bit)) {
    if (explicit_detectors) {
      return Error(root["rrn_keywords"].Mark(),
                   "detector `kr_rrn_keyword` is enabled but `rrn_keywords` is empty");
    }
    d->enabled &= static_cast<uint8_t>(~keyword_bit);  // default detector set, no keywords
  }
  if (root["country_headers"]) {
    const YAML::Node n = root["country_headers"];
    if (!n.IsSequence()) return Error(n.Mark(), "`country_headers` must be a list of header names");
    if (n.size() > internal::kMaxHeaders) {
      return Error(n.Mark(), absl::StrCat("`country_headers` has more than ", internal::kMaxHeaders,
                                          " entries"));
    }
    std::set<std::string> seen;
    for (const YAML::Node& e : n) {
      std::string name;
      RETURN_IF_ERROR_(Scalar(e, "a header name", &name));
      bool ok = !name.empty() && name.size() <= 128;
      for (char& c : name) {
        const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!token) ok = false;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      if (!ok) return Error(e.Mark(), absl::StrCat("`", name, "` is not a valid header name"));
      if (!seen.insert(name).second) {
        return Error(e.Mark(), absl::StrCat("header `", name, "` is listed twice"));
      }
      d->headers.push_back({name});
    }
  }
  if (root["tenants"]) {
    const YAML::Node n = root["tenants"];
    RETURN_IF_ERROR_(CheckMap(n, "`tenants`", {}));
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string id = it->first.Scalar();
      if (id.empty()) return Error(it->first.Mark(), "a tenant id must not be empty");
      Country c;
      RETURN_IF_ERROR_(CountryCode(it->second, absl::StrCat("tenant `", id, "`"), &c));
      d->tenants.emplace(id, c);
    }
  }
  if (root["networks"]) RETURN_IF_ERROR_(Networks(root["networks"], d));
  return absl::OkStatus();
}

absl::Status SelectKernel(const TaggerOptions& options, PlanData* d) {
  std::string forced = options.force_kernel;
  const char* from = "force_kernel";
  if (forced.empty()) {
    const char* env = std::getenv("RESIDENCY_FORCE_KERNEL");
    if (env != nullptr && *env != 0) {
      forced = env;
      from = "RESIDENCY_FORCE_KERNEL";
    }
  }
  internal::KernelKind k = internal::BestKernel();
  if (!forced.empty()) {
    if (!internal::ParseKernelName(forced, &k)) {
      return absl::InvalidArgumentError(
          absl::StrCat(from, ": unknown kernel `", forced, "` (scalar, sse42, avx2)"));
    }
    if (!internal::KernelSupported(k)) {
      return absl::FailedPreconditionError(
          absl::StrCat(from, ": this cpu cannot run the `", forced, "` kernel"));
    }
  }
  d->kernel = k;
  d->classify = internal::GetKernel(k);
  return absl::OkStatus();
}

// Bounds checked before yaml-cpp sees the text: size, flow nesting and indentation depth (a
// tagging file is shallow; deep input would only cost stack and memory).
absl::Status PreCheck(std::string_view text, const ConfigCompiler& c) {
  constexpr size_t kMaxBytes = size_t{4} << 20;
  constexpr int kMaxNesting = 64;
  constexpr int kMaxIndent = 256;
  if (text.size() > kMaxBytes) return c.Error(YAML::Mark(), "file is larger than 4 MiB");
  if (size_t bad = ::residency::internal::FirstNonUtf8Byte(text); bad != std::string_view::npos) {
    int line = 0, col = 0;
    ::residency::internal::LineColumnAt(text, bad, &line, &col);
    YAML::Mark m;
    m.line = line - 1;
    m.column = col - 1;
    return c.Error(m, ::residency::internal::NotUtf8Message(bad));
  }
  int depth = 0, line = 0, col = 0, indent = 0;
  bool at_line_start = true, comment = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n') {
      ++line;
      col = 0;
      indent = 0;
      at_line_start = true;
      comment = false;
      continue;
    }
    YAML::Mark m;
    m.line = line;
    m.column = col++;
    if (at_line_start && ch == ' ') {
      if (++indent > kMaxIndent) return c.Error(m, "indentation is deeper than 256 columns");
      continue;
    }
    at_line_start = false;
    if (comment) continue;
    if (quote != 0) {
      if (ch == '\\' && quote == '"') {
        ++i;
        ++col;
      } else if (ch == quote) {
        quote = 0;
      }
      continue;
    }
    if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t')) {
      comment = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxNesting) return c.Error(m, "nesting is deeper than 64 levels");
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaggerPlan> TaggerPlan::Compile(std::string_view yaml_text,
                                               std::string_view source_name,
                                               const TaggerOptions& options) {
  auto d = std::make_unique<PlanData>();
  ConfigCompiler c(source_name);
  absl::Status pre = PreCheck(yaml_text, c);
  if (!pre.ok()) return pre;
  YAML::Node root;
  ::residency::internal::YamlLoadError error;
  if (!::residency::internal::LoadOneYamlDocument(std::string(yaml_text), &root, &error)) {
    YAML::Mark m = YAML::Mark::null_mark();
    if (error.line > 0) {
      m.line = error.line - 1;
      m.column = error.column - 1;
    }
    if (error.kind == ::residency::internal::YamlLoadError::kInternal) {
      return absl::InternalError(absl::StrCat(std::string(source_name), ": ", error.message));
    }
    return c.Error(m, error.message);
  }
  try {
    absl::Status st = c.Compile(root, d.get());
    if (!st.ok()) return st;
  } catch (const YAML::Exception& e) {
    // Node access on a loaded document: a conversion yaml-cpp refuses.
    return c.Error(e.mark, e.msg.empty() ? std::string("invalid yaml") : e.msg);
  } catch (const std::bad_alloc&) {
    return absl::InternalError(
        absl::StrCat(std::string(source_name), ": internal error: out of memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat(std::string(source_name), ": internal error: ", e.what()));
  }
  absl::Status st = SelectKernel(options, d.get());
  if (!st.ok()) return st;
  d->source_name = std::string(source_name);
  d->source_text = std::string(yaml_text);
  return TaggerPlan(std::move(d));
}

absl::StatusOr<TaggerPlan> TaggerPlan::Load(const std::string& path, const TaggerOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ":1:1: error: cannot open `", path, "`"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ":1:1: error: cannot read `", path, "`"));
  }
  const std::string text = ss.str();
  if (text.size() > (size_t{4} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":1:1: error: file is larger than 4 MiB"));
  }
  return Compile(text, path, options);
}

}  // namespace residency::tagging
