#include "policy/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "internal/text_util.h"

namespace residency::policy_internal {

void DiagSink::Add(Diagnostic::Severity sev, std::string file, int line, int col, std::string code,
                   std::string message) {
  if (sev == Diagnostic::Severity::kError) ++errors_;
  diags_.push_back(
      Diagnostic{std::move(file), line, col, sev, std::move(code), std::move(message)});
}

void DiagSink::Error(const std::string& file, const YAML::Mark& m, std::string code,
                     std::string message) {
  Add(Diagnostic::Severity::kError, file, m.is_null() ? 0 : m.line + 1,
      m.is_null() ? 0 : m.column + 1, std::move(code), std::move(message));
}

void DiagSink::Warning(const std::string& file, const YAML::Mark& m, std::string code,
                       std::string message) {
  Add(Diagnostic::Severity::kWarning, file, m.is_null() ? 0 : m.line + 1,
      m.is_null() ? 0 : m.column + 1, std::move(code), std::move(message));
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  return internal::DidYouMean(word, candidates);
}

std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string tmp(s);
  // Allow `_` digit separators as YAML 1.1 did (1_000_000).
  tmp.erase(std::remove(tmp.begin(), tmp.end(), '_'), tmp.end());
  char* end = nullptr;
  double v = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size() || !std::isfinite(v)) return std::nullopt;
  // Reject hex floats and inf/nan spellings strtod accepts.
  for (char c : tmp) {
    if (c == 'x' || c == 'X' || c == 'n' || c == 'N' || c == 'i' || c == 'I') return std::nullopt;
  }
  return v;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::string> ScalarString(YNode n, const std::string& file, DiagSink* sink,
                                        const std::string& what) {
  if (!n.IsScalar()) {
    sink->Error(file, n.Mark(), "wrong-type", absl::StrCat(what, " must be a string"));
    return std::nullopt;
  }
  return n.Scalar();
}

MapReader::MapReader(YNode node, const std::string& file, DiagSink* sink, nlohmann::json* canon,
                     std::string what)
    : node_(node), file_(file), sink_(sink), canon_(canon), what_(std::move(what)) {
  mark_ = node.Mark();
  if (node.IsNull()) {
    // An empty map written as `key:` is treated as {} so that optional sections may be blank.
    ok_ = true;
    return;
  }
  if (!node.IsMap()) {
    sink_->Error(file_, mark_, "wrong-type", absl::StrCat(what_, " must be a mapping"));
    return;
  }
  ok_ = true;
  if (canon_ && !canon_->is_object()) *canon_ = nlohmann::json::object();
}

YNode MapReader::Lookup(const char* key) {
  known_.push_back(key);
  if (!ok_) return YNode();
  return node_.Get(key);
}

bool MapReader::Has(const char* key) const { return ok_ && node_.Get(key).IsDefined(); }

void MapReader::Missing(const char* key) {
  sink_->Error(file_, mark_, "missing-key", absl::StrCat(what_, " needs `", key, "`"));
}

YNode MapReader::Raw(const char* key) { return Lookup(key); }

void MapReader::Ignore(const char* key) { known_.push_back(key); }

std::optional<std::string> MapReader::String(const char* key, bool required) {
  YNode n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Missing(key);
    return std::nullopt;
  }
  auto s = ScalarString(n, file_, sink_, absl::StrCat("`", key, "`"));
  if (s && canon_) (*canon_)[key] = *s;
  return s;
}

std::optional<bool> MapReader::Bool(const char* key) {
  YNode n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  std::optional<bool> b = n.IsScalar() ? ParseBool(n.ScalarView()) : std::nullopt;
  if (!b) {
    sink_->Error(file_, n.Mark(), "wrong-type", absl::StrCat("`", key, "` must be true or false"));
    return std::nullopt;
  }
  if (canon_) (*canon_)[key] = *b;
  return b;
}

std::optional<double> MapReader::Number(const char* key) {
  YNode n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  std::optional<double> v = n.IsScalar() ? ParseNumber(n.ScalarView()) : std::nullopt;
  if (!v) {
    sink_->Error(file_, n.Mark(), "wrong-type", absl::StrCat("`", key, "` must be a number"));
    return std::nullopt;
  }
  if (canon_) (*canon_)[key] = *v;
  return v;
}

std::optional<std::vector<std::string>> MapReader::StringList(const char* key, bool required) {
  YNode n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Missing(key);
    return std::nullopt;
  }
  std::vector<std::string> out;
  if (n.IsScalar()) {
    // A single value is accepted for a one-element list.
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    out.reserve(n.size());
    for (YNode e : n) {
      if (!e.IsScalar()) {
        sink_->Error(file_, e.Mark(), "wrong-type",
                     absl::StrCat("`", key, "` must be a list of strings"));
        return std::nullopt;
      }
      out.push_back(e.Scalar());
    }
  } else {
    sink_->Error(file_, n.Mark(), "wrong-type",
                 absl::StrCat("`", key, "` must be a list of strings"));
    return std::nullopt;
  }
  if (canon_) (*canon_)[key] = out;
  return out;
}

std::optional<std::string> MapReader::Enum(const char* key, const std::vector<std::string>& allowed,
                                           bool required) {
  YNode n = Lookup(key);
  auto s = String(key, required);
  if (!s) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
    std::string hint = DidYouMean(*s, allowed);
    std::string list;
    for (const auto& a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
    sink_->Error(file_, n.Mark(), "bad-value",
                 absl::StrCat("`", key, "` is `", *s, "`; want one of ", list,
                              hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    return std::nullopt;
  }
  return s;
}

void MapReader::Finish() {
  if (!ok_ || !node_.IsMap()) return;
  std::vector<std::string_view> seen;
  seen.reserve(node_.size());
  for (size_t i = 0; i < node_.size(); ++i) {
    const YNode k = node_.Key(i);
    if (!k.IsScalar()) {
      sink_->Error(file_, k.Mark(), "wrong-type",
                   absl::StrCat("keys of ", what_, " must be strings"));
      continue;
    }
    const std::string_view name = k.ScalarView();
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      sink_->Error(file_, k.Mark(), "duplicate-key",
                   absl::StrCat("duplicate key `", std::string(name), "` in ", what_));
      continue;
    }
    seen.push_back(name);
    if (std::none_of(known_.begin(), known_.end(), [&](const char* c) { return name == c; })) {
      std::string hint = DidYouMean(name, std::vector<std::string>(known_.begin(), known_.end()));
      sink_->Error(file_, k.Mark(), "unknown-key",
                   absl::StrCat("unknown key `", std::string(name), "` in ", what_,
                                hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    }
  }
}

}  // namespace residency::policy_internal
