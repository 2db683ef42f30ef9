// The policy compiler: YAML sources -> CompiledSet (catalogue, classes, policies, indexes,
// digest) plus diagnostics.
#include "policy/compiler.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "internal/country_names.h"
#include "internal/openssl_util.h"
#include "internal/text_util.h"
#include "internal/time_util.h"
#include "residency/lint.h"

namespace residency::policy_internal {
namespace {

// " (did you mean `KR`?)" for a country written as alpha-3 or a name; "" otherwise.
std::string CountryHint(const std::string& written) {
  std::string a2 = internal::CountryAlpha2Hint(written);
  return a2.empty() ? std::string() : absl::StrCat(" (did you mean `", a2, "`?)");
}

// The built-in class vocabulary: id and the classes it is a kind of besides its dotted
// prefixes.
struct BuiltinClass {
  const char* id;
  const char* is_a;
};
constexpr BuiltinClass kBuiltinClasses[] = {
    {"public", nullptr},
    {"internal", nullptr},
    {"personal", nullptr},
    {"personal.sensitive", nullptr},
    {"personal.unique_id", nullptr},
    {"kr.rrn", "personal.unique_id"},
    {"personal.credit", nullptr},
    {"personal.financial", nullptr},
    {"personal.health", nullptr},
    {"kr.emr", "personal.health"},
    {"personal.biometric", nullptr},
    {"personal.genomic", nullptr},
    {"personal.child", nullptr},
    // Still personal data unless a policy lifts it (`lifts`, with evidence).
    {"pseudonymized", "personal"},
    {"anonymized", nullptr},
    {"cn.important", nullptr},
    {"cn.core", nullptr},
    {"us.gov_related", nullptr},
    {"kr.spatial", nullptr},
    {"kr.core_tech", nullptr},
    {"in.payment", nullptr},
    // A payload the tagger could not fully scan: personal data unless a policy says otherwise.
    {"unscanned", "personal"},
};

const std::vector<std::string> kEffects = {"allow", "allow_with_obligations", "escalate", "deny"};

Effect ParseEffect(const std::string& s) {
  if (s == "allow") return Effect::kAllow;
  if (s == "allow_with_obligations") return Effect::kAllowWithObligations;
  if (s == "escalate") return Effect::kEscalate;
  return Effect::kDeny;
}

// Depth of `[`/`{` nesting and of indentation, scanned before yaml-cpp sees the text so that a
// pathological file cannot exhaust the parser's stack.
bool NestingWithin(const std::string& text, int limit, int* line_out) {
  int depth = 0, line = 1;
  bool in_single = false, in_double = false, comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      in_single = in_double = false;  // flow scalars spanning lines are rare in policies
      // Indentation depth: count leading spaces of the next line.
      size_t j = i + 1, spaces = 0;
      while (j < text.size() && text[j] == ' ') ++j, ++spaces;
      if (static_cast<int>(spaces / 2) > limit * 2) {
        *line_out = line;
        return false;
      }
      continue;
    }
    if (comment) continue;
    if (in_double) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_double = false;
      continue;
    }
    if (in_single) {
      if (c == '\'') in_single = false;
      continue;
    }
    if (c == '#')
      comment = true;
    else if (c == '"')
      in_double = true;
    else if (c == '\'')
      in_single = true;
    else if (c == '[' || c == '{') {
      if (++depth > limit) {
        *line_out = line;
        return false;
      }
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  return true;
}

struct LoadedFile {
  std::string name;
  std::unique_ptr<YamlDoc> doc;  // released as soon as the file is compiled
  YNode root;
  std::string kind;
};

std::optional<absl::Time> ReadTime(MapReader& r, const char* key) {
  YNode n = r.Raw(key);
  auto s = r.String(key);
  if (!s) return std::nullopt;
  auto t = internal::ParseTimestamp(*s);
  if (!t.ok()) {
    r.sink()->Error(r.file(), n.Mark(), "invalid-date",
                    absl::StrCat("`", key, "`: ", std::string(t.status().message())));
    return std::nullopt;
  }
  if (r.canon()) (*r.canon())[key] = internal::FormatTimestamp(*t);
  return *t;
}

// The compact JSON of `v` as nlohmann's strict dump prints it; sets `*bad` (and returns an
// empty string) when a string in it is not valid UTF-8.
std::string Dump(const nlohmann::json& v, bool* bad) {
  try {
    return v.dump();  // strict: invalid UTF-8 must not collide in the digest
  } catch (const nlohmann::json::exception&) {
    *bad = true;
    return std::string();
  }
}

// A policy's canonical JSON in three parts, so that its rules can be dumped one by one as they
// are compiled: `before` + `[` + `rules` + `]` + `after` is what nlohmann would print for the
// whole object, `"rules"` being at its sorted place.
struct PolicyCanon {
  std::string id;
  bool has_rules = false;
  std::string before, rules, after;
};

// Fills pc->before and pc->after from `canon` (the policy's canonical object without `rules`).
void SplitAroundRules(const nlohmann::json& canon, bool has_rules, PolicyCanon* pc, bool* bad) {
  pc->has_rules = has_rules;
  std::string* out = &pc->before;
  *out = "{";
  bool first = true, placed = !has_rules;
  auto place_rules = [&] {
    if (!first) *out += ',';
    *out += "\"rules\":";
    first = false;
    placed = true;
    out = &pc->after;
  };
  for (auto it = canon.begin(); it != canon.end(); ++it) {
    if (!placed && it.key() > "rules") place_rules();
    if (!first) *out += ',';
    first = false;
    *out += Dump(nlohmann::json(it.key()), bad);
    *out += ':';
    *out += Dump(it.value(), bad);
  }
  if (!placed) place_rules();
  *out += '}';
}

class Compiler {
 public:
  Compiler(const CompileOptions& options, DiagSink* sink) : options_(options), sink_(sink) {
    set_ = std::make_unique<CompiledSet>();
  }

  std::unique_ptr<CompiledSet> Run(const std::vector<PolicySource>& sources);
  // Reads and checks one file by itself (see CheckFolderFile).
  void CheckAlone(const PolicySource& src) { LoadFile(src); }

 private:
  void LoadFile(const PolicySource& src);
  void CompileCatalogue(const LoadedFile& f);
  void CollectClasses(const LoadedFile& f);
  void FinishClasses();
  void CompilePolicyFile(const LoadedFile& f);
  void CompileRule(YNode n, CompileContext& ctx, nlohmann::json* canon, Rule* rule);
  std::vector<int> ResolveObligations(MapReader& r, const char* key, const Policy& p);
  void BuildIndex(Policy* p);
  void LintPolicy(const Policy& p, const std::vector<std::string>& rule_whens);

  const CompileOptions& options_;
  DiagSink* sink_;
  std::unique_ptr<CompiledSet> set_;
  std::vector<LoadedFile> files_;
  // The canonical form (what the digest hashes) by part, dumped as each part is compiled; hashed
  // in key order at the end. `canon_bad_utf8_`: a part held invalid UTF-8.
  std::string canon_catalogue_, canon_classes_;
  std::vector<PolicyCanon> canon_policies_;
  bool canon_bad_utf8_ = false;
  std::vector<std::pair<std::string, std::vector<std::string>>> added_classes_;
  std::vector<std::tuple<std::string, YAML::Mark, std::string>> added_class_marks_;
};

void Compiler::LoadFile(const PolicySource& src) {
  if (src.text.size() > options_.max_file_bytes) {
    sink_->Add(Diagnostic::Severity::kError, src.name, 0, 0, "limit",
               absl::StrCat("file is ", src.text.size(), " bytes; the limit is ",
                            options_.max_file_bytes));
    return;
  }
  int bad_line = 0;
  if (!NestingWithin(src.text, options_.max_nesting, &bad_line)) {
    sink_->Add(Diagnostic::Severity::kError, src.name, bad_line, 1, "limit",
               absl::StrCat("nesting deeper than ", options_.max_nesting, " levels"));
    return;
  }
  if (size_t bad = internal::FirstNonUtf8Byte(src.text); bad != std::string::npos) {
    int line = 0, col = 0;
    internal::LineColumnAt(src.text, bad, &line, &col);
    sink_->Add(Diagnostic::Severity::kError, src.name, line, col, "encoding",
               internal::NotUtf8Message(bad));
    return;
  }
  LoadedFile f;
  f.name = src.name;
  YamlError error;
  f.doc = YamlDoc::Read(src.text, &error);
  if (!f.doc) {
    sink_->Add(Diagnostic::Severity::kError, src.name, error.line, error.column, error.code,
               error.message);
    return;
  }
  f.root = f.doc->root();
  if (!f.root.IsMap()) {
    sink_->Add(Diagnostic::Severity::kError, src.name, 1, 1, "kind",
               "a policy file must be a mapping with a top-level `kind:`");
    return;
  }
  YNode kind = f.root.Get("kind");
  if (!kind.IsDefined() || !kind.IsScalar()) {
    sink_->Error(src.name, f.root.Mark(), "kind",
                 "missing top-level `kind:` (policy, catalogue, tests or tagging)");
    return;
  }
  f.kind = kind.Scalar();
  const std::vector<std::string> kinds = {"policy", "catalogue", "tests", "tagging"};
  if (std::find(kinds.begin(), kinds.end(), f.kind) == kinds.end()) {
    std::string hint = DidYouMean(f.kind, kinds);
    sink_->Error(
        src.name, kind.Mark(), "kind",
        absl::StrCat("unknown kind `", f.kind, "`; want policy, catalogue, tests or tagging",
                     hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    return;
  }
  // `tests` and `tagging` files are validated here; only policies and the catalogue compile.
  if (f.kind == "tests") CheckTestsFile(f.root, f.name, sink_);
  if (f.kind == "tagging") CheckTaggingFile(src, sink_);
  if (f.kind != "policy" && f.kind != "catalogue") {
    f.doc.reset();
    f.root = YNode();
  }
  files_.push_back(std::move(f));
}

void Compiler::CompileCatalogue(const LoadedFile& f) {
  Catalogue& cat = set_->catalogue;
  nlohmann::json canon;
  MapReader r(f.root, f.name, sink_, &canon, "catalogue");
  r.Enum("kind", {"catalogue"});
  r.String("id", true);
  r.Ignore("title");
  r.Ignore("note");
  // Countries first: jurisdiction index == ISO index.
  for (size_t i = 0; i < IsoCountryCount(); ++i) {
    cat.jurisdiction_names.emplace_back(IsoCountryCode(i));
    CountryBits b;
    b.Set(i);
    cat.jurisdiction_members.push_back(b);
    cat.jurisdiction_index[IsoCountryCode(i)] = static_cast<int>(i);
  }
  // Groups: resolved in dependency order; cycles and unknown members are errors.
  YNode groups = r.Raw("groups");
  if (groups.IsDefined() && !groups.IsNull()) {
    if (!groups.IsMap()) {
      sink_->Error(f.name, groups.Mark(), "wrong-type", "`groups` must be a mapping");
    } else {
      struct G {
        std::string name;
        std::vector<std::string> members;
        YAML::Mark mark;
      };
      std::vector<G> gs;
      nlohmann::json& gc = canon["groups"];
      gc = nlohmann::json::object();
      for (size_t pi = 0; pi < groups.size(); ++pi) {
        const YNode key = groups.Key(pi), value = groups.Value(pi);
        G g;
        g.name = key.Scalar();
        g.mark = key.Mark();
        MapReader gr(value, f.name, sink_, &gc[g.name], absl::StrCat("group `", g.name, "`"));
        gr.Ignore("name");
        gr.Ignore("note");
        if (auto m = gr.StringList("members", true)) g.members = *m;
        gr.Finish();
        if (IsoCountryIndex(g.name) >= 0 || g.name.size() < 2) {
          sink_->Error(f.name, g.mark, "bad-value",
                       absl::StrCat("group name `", g.name,
                                    "` must not be a country code (use 3+ characters)"));
          continue;
        }
        for (const auto& other : gs) {
          if (other.name == g.name) {
            sink_->Error(f.name, g.mark, "duplicate-id",
                         absl::StrCat("duplicate group `", g.name, "`"));
          }
        }
        gs.push_back(std::move(g));
      }
      // Iteratively resolve.
      std::vector<bool> done(gs.size(), false);
      std::vector<CountryBits> bits(gs.size());
      for (size_t round = 0; round <= gs.size(); ++round) {
        bool progress = false;
        for (size_t i = 0; i < gs.size(); ++i) {
          if (done[i]) continue;
          bool ready = true;
          CountryBits b;
          for (const auto& m : gs[i].members) {
            int c = IsoCountryIndex(m);
            if (c >= 0) {
              b.Set(c);
              continue;
            }
            auto it = std::find_if(gs.begin(), gs.end(), [&](const G& g) { return g.name == m; });
            if (it == gs.end()) continue;  // reported below
            size_t j = it - gs.begin();
            if (!done[j]) {
              ready = false;
              break;
            }
            b |= bits[j];
          }
          if (ready) {
            done[i] = true;
            bits[i] = b;
            progress = true;
          }
        }
        if (!progress) break;
      }
      for (size_t i = 0; i < gs.size(); ++i) {
        for (const auto& m : gs[i].members) {
          if (IsoCountryIndex(m) < 0 &&
              std::none_of(gs.begin(), gs.end(), [&](const G& g) { return g.name == m; })) {
            std::vector<std::string> names;
            for (const auto& g : gs) names.push_back(g.name);
            std::string hint = internal::CountryAlpha2Hint(m);
            if (hint.empty()) hint = DidYouMean(m, names);
            sink_->Error(
                f.name, gs[i].mark, "dangling-reference",
                absl::StrCat("group `", gs[i].name, "` names `", m,
                             "`, which is neither an ISO 3166-1 code nor a group",
                             hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
          }
        }
        if (!done[i]) {
          sink_->Error(f.name, gs[i].mark, "dangling-reference",
                       absl::StrCat("group `", gs[i].name, "` is part of a cycle of groups"));
          continue;
        }
        cat.jurisdiction_index[gs[i].name] = static_cast<int>(cat.jurisdiction_names.size());
        cat.jurisdiction_names.push_back(gs[i].name);
        cat.jurisdiction_members.push_back(bits[i]);
      }
    }
  }
  YNode providers = r.Raw("providers");
  if (providers.IsDefined() && providers.IsMap()) {
    nlohmann::json& pc = canon["providers"];
    for (size_t pi = 0; pi < providers.size(); ++pi) {
      const YNode key = providers.Key(pi), value = providers.Value(pi);
      std::string name = key.Scalar();
      MapReader pr(value, f.name, sink_, &pc[name], absl::StrCat("provider `", name, "`"));
      pr.Ignore("name");
      pr.Ignore("note");
      YNode hqn = pr.Raw("hq_country");
      auto hq = pr.String("hq_country");
      if (hq && IsoCountryIndex(*hq) < 0) {
        sink_->Error(f.name, hqn.Mark(), "dangling-reference",
                     absl::StrCat("`hq_country` `", *hq, "` is not an ISO 3166-1 alpha-2 code",
                                  CountryHint(*hq)));
      }
      pr.Finish();
      cat.provider_hq[name] = hq.value_or("");
    }
  } else if (providers.IsDefined() && !providers.IsNull()) {
    sink_->Error(f.name, providers.Mark(), "wrong-type", "`providers` must be a mapping");
  }
  YNode locs = r.Raw("locations");
  if (!locs.IsDefined() || locs.IsNull()) {
    sink_->Error(f.name, locs.IsDefined() ? locs.Mark() : f.root.Mark(), "missing-key",
                 "catalogue needs `locations`, a list");
  } else if (!locs.IsSequence()) {
    sink_->Error(f.name, locs.Mark(), "wrong-type", "`locations` must be a list");
  } else {
    nlohmann::json& lc = canon["locations"];
    lc = nlohmann::json::array();
    for (const auto& ln : locs) {
      if (cat.locations.size() >= options_.max_locations) {
        sink_->Error(f.name, ln.Mark(), "limit",
                     absl::StrCat("more than ", options_.max_locations, " locations"));
        break;
      }
      nlohmann::json lj;
      MapReader lr(ln, f.name, sink_, &lj, "location");
      if (!lr.ok()) continue;
      Location loc;
      YNode idn = lr.Raw("id");
      auto id = lr.String("id", true);
      YNode cn = lr.Raw("country");
      auto country = lr.String("country", true);
      if (auto v = lr.String("city")) loc.city = *v;
      if (auto v = lr.Enum("site", {"public", "gov", "fin", "sovereign", "onprem"})) loc.site = *v;
      if (auto v = lr.String("partition")) loc.partition = *v;
      if (auto v = lr.StringList("certifications")) loc.certifications = *v;
      if (auto v = lr.Enum("status", {"active", "deprecated"})) loc.status = *v;
      YNode attrs = lr.Raw("attributes");
      if (attrs.IsDefined() && !attrs.IsNull()) {
        if (!attrs.IsMap()) {
          sink_->Error(f.name, attrs.Mark(), "wrong-type", "`attributes` must be a mapping");
        } else {
          for (size_t pi = 0; pi < attrs.size(); ++pi) {
            const YNode key = attrs.Key(pi), value = attrs.Value(pi);
            if (!value.IsScalar()) {
              sink_->Error(f.name, value.Mark(), "wrong-type",
                           "location attributes must be scalars");
              continue;
            }
            std::string v = value.Scalar();
            if (auto b = ParseBool(v)) v = *b ? "true" : "false";
            loc.attributes[key.Scalar()] = v;
            lj["attributes"][key.Scalar()] = v;
          }
        }
      }
      lr.Ignore("unverified");
      lr.Ignore("note");
      lr.Finish();
      if (!id) continue;
      auto colon = id->find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == id->size()) {
        sink_->Error(f.name, idn.Mark(), "bad-value",
                     absl::StrCat("location id `", *id, "` must be provider:region"));
        continue;
      }
      loc.id = *id;
      loc.provider = id->substr(0, colon);
      if (!cat.provider_hq.count(loc.provider)) {
        sink_->Error(f.name, idn.Mark(), "dangling-reference",
                     absl::StrCat("location `", *id, "` names provider `", loc.provider,
                                  "`, which `providers` does not define"));
      }
      if (country) {
        loc.country = IsoCountryIndex(*country);
        loc.country_code = *country;
        if (loc.country < 0) {
          sink_->Error(f.name, cn.Mark(), "dangling-reference",
                       absl::StrCat("`country` `", *country,
                                    "` is not an ISO 3166-1 alpha-2 code (the UK is GB)",
                                    CountryHint(*country)));
          continue;
        }
      } else {
        continue;
      }
      if (cat.location_index.count(loc.id)) {
        sink_->Error(f.name, idn.Mark(), "duplicate-id",
                     absl::StrCat("duplicate location `", loc.id, "`"));
        continue;
      }
      cat.location_index[loc.id] = static_cast<int>(cat.locations.size());
      cat.locations.push_back(std::move(loc));
      lc.push_back(std::move(lj));
    }
  }
  r.Finish();
  canon_catalogue_ = Dump(canon, &canon_bad_utf8_);
}

void Compiler::CollectClasses(const LoadedFile& f) {
  YNode cls = f.root.Get("classes");
  if (!cls.IsDefined() || cls.IsNull()) return;
  if (!cls.IsSequence()) {
    sink_->Error(f.name, cls.Mark(), "wrong-type", "`classes` must be a list");
    return;
  }
  for (const auto& c : cls) {
    MapReader r(c, f.name, sink_, nullptr, "class");
    auto id = r.String("id", true);
    auto is_a = r.StringList("is_a");
    r.Ignore("note");
    r.Finish();
    if (!id) continue;
    added_classes_.emplace_back(*id, is_a.value_or(std::vector<std::string>{}));
    added_class_marks_.emplace_back(*id, c.Mark(), f.name);
  }
}

void Compiler::FinishClasses() {
  auto& classes = set_->classes;
  auto& index = set_->class_index;
  std::vector<std::pair<std::string, std::vector<std::string>>> all;
  for (const auto& b : kBuiltinClasses) {
    all.emplace_back(b.id, b.is_a ? std::vector<std::string>{b.is_a} : std::vector<std::string>{});
  }
  for (size_t i = 0; i < added_classes_.size(); ++i) {
    // Plain references: lambdas may not capture structured bindings in C++17.
    const std::string& id = added_classes_[i].first;
    const YAML::Mark& mark = std::get<1>(added_class_marks_[i]);
    const std::string& file = std::get<2>(added_class_marks_[i]);
    bool dup = std::any_of(all.begin(), all.end(), [&](const auto& a) { return a.first == id; });
    if (dup) {
      bool builtin = std::any_of(std::begin(kBuiltinClasses), std::end(kBuiltinClasses),
                                 [&](const BuiltinClass& b) { return id == b.id; });
      sink_->Error(file, mark, "duplicate-id",
                   builtin ? absl::StrCat("class `", id, "` is built in and cannot be redefined")
                           : absl::StrCat("class `", id, "` is defined twice"));
      continue;
    }
    all.push_back(added_classes_[i]);
  }
  if (all.size() > options_.max_classes) {
    sink_->Add(Diagnostic::Severity::kError, "", 0, 0, "limit",
               absl::StrCat(all.size(), " data classes; the limit is ", options_.max_classes));
    all.resize(options_.max_classes);
  }
  for (size_t i = 0; i < all.size(); ++i) {
    index[all[i].first] = static_cast<int>(i);
    classes.push_back(DataClass{all[i].first, {}});
  }
  // Parents: explicit is_a plus every dotted prefix that is a class.
  std::vector<std::vector<int>> parents(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& id = all[i].first;
    for (size_t p = id.find('.'); p != std::string::npos; p = id.find('.', p + 1)) {
      auto it = index.find(id.substr(0, p));
      if (it != index.end()) parents[i].push_back(it->second);
    }
    for (const auto& parent : all[i].second) {
      auto it = index.find(parent);
      if (it == index.end()) {
        size_t k = i - (sizeof(kBuiltinClasses) / sizeof(kBuiltinClasses[0]));
        std::vector<std::string> names;
        for (const auto& a : all) names.push_back(a.first);
        std::string hint = DidYouMean(parent, names);
        const auto& [_, mark, file] =
            added_class_marks_[std::min(k, added_class_marks_.size() - 1)];
        sink_->Error(
            file, mark, "dangling-reference",
            absl::StrCat("class `", id, "` is_a unknown class `", parent, "`",
                         hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
        continue;
      }
      parents[i].push_back(it->second);
    }
  }
  // Ancestors by fixed-point iteration (cycles simply saturate).
  for (size_t i = 0; i < classes.size(); ++i) classes[i].ancestors.Set(i);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < classes.size(); ++i) {
      ClassBits before = classes[i].ancestors;
      for (int p : parents[i]) classes[i].ancestors |= classes[p].ancestors;
      if (!(before == classes[i].ancestors)) changed = true;
    }
  }
  nlohmann::json cc = nlohmann::json::object();
  for (const auto& a : all) cc[a.first] = a.second;
  canon_classes_ = Dump(cc, &canon_bad_utf8_);
}

std::vector<int> Compiler::ResolveObligations(MapReader& r, const char* key, const Policy& p) {
  std::vector<int> out;
  YNode n = r.Raw(key);
  auto ids = r.StringList(key);
  if (!ids) return out;
  std::vector<std::string> names;
  for (const auto& o : p.obligations) names.push_back(o.id);
  for (const auto& id : *ids) {
    auto it = std::find(names.begin(), names.end(), id);
    if (it == names.end()) {
      std::string hint = DidYouMean(id, names);
      sink_->Error(r.file(), n.Mark(), "dangling-reference",
                   absl::StrCat("unknown obligation `", id, "`; declare it under `obligations`",
                                hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
      continue;
    }
    out.push_back(static_cast<int>(it - names.begin()));
  }
  return out;
}

void Compiler::CompileRule(YNode n, CompileContext& ctx, nlohmann::json* canon, Rule* rule) {
  MapReader r(n, ctx.file, sink_, canon, "rule");
  if (!r.ok()) return;
  rule->line = n.Mark().line + 1;
  rule->column = n.Mark().column + 1;
  if (auto v = r.String("id", true)) rule->id = *v;
  rule->basis = r.Enum("basis", {"law", "corp"}).value_or(ctx.policy->basis);
  if (canon) (*canon)["basis"] = rule->basis;
  if (auto v = r.String("citation", true)) rule->citation = *v;
  if (auto v = r.String("message", true)) rule->message = *v;
  if (auto v = r.Enum("mode", {"enforce", "dry_run"})) rule->dry_run = *v == "dry_run";
  rule->from = ReadTime(r, "effective_from");
  rule->until = ReadTime(r, "effective_until");
  if (rule->from && rule->until && *rule->until <= *rule->from) {
    sink_->Warning(
        ctx.file, n.Mark(), "unreachable-rule",
        absl::StrCat("rule `", rule->id,
                     "`: effective_until is not after effective_from, so it never applies"));
  }
  if (auto v = r.Bool("suggest")) rule->suggest = *v;
  rule->when = ParseCondition(r.Raw("when"), ctx, canon ? &(*canon)["when"] : nullptr, 1);
  if (canon && (*canon)["when"].is_null()) canon->erase("when");
  rule->obligations = ResolveObligations(r, "obligations", *ctx.policy);
  YNode alts = r.Raw("alternatives");
  YNode eff = r.Raw("effect");
  YNode oth = r.Raw("otherwise");
  if (alts.IsDefined() && !alts.IsNull()) {
    rule->has_alternatives = true;
    if (!alts.IsSequence() || alts.size() == 0) {
      sink_->Error(ctx.file, alts.Mark(), "wrong-type", "`alternatives` must be a non-empty list");
    } else {
      nlohmann::json& ac = (*canon)["alternatives"];
      ac = nlohmann::json::array();
      rule->alternatives.reserve(alts.size());
      for (const auto& an : alts) {
        nlohmann::json aj;
        MapReader ar(an, ctx.file, sink_, &aj, "alternative");
        if (!ar.ok()) continue;
        Alternative a;
        if (auto v = ar.String("name", true)) a.name = *v;
        a.when = ParseCondition(ar.Raw("when"), ctx, &aj["when"], 1);
        if (aj["when"].is_null()) aj.erase("when");
        if (auto v = ar.Enum("effect", kEffects, true)) a.effect = ParseEffect(*v);
        a.obligations = ResolveObligations(ar, "obligations", *ctx.policy);
        if (a.effect == Effect::kAllow && !a.obligations.empty()) {
          sink_->Error(ctx.file, an.Mark(), "bad-value",
                       "effect `allow` carries obligations; use `allow_with_obligations`");
        }
        ar.Finish();
        rule->alternatives.push_back(std::move(a));
        ac.push_back(std::move(aj));
      }
    }
    if (eff.IsDefined()) {
      sink_->Error(ctx.file, eff.Mark(), "bad-value",
                   "a rule with `alternatives` says what happens when none holds with `otherwise`, "
                   "not `effect`");
    }
    rule->effect = ParseEffect(r.Enum("otherwise", {"deny", "escalate"}).value_or("deny"));
  } else {
    if (oth.IsDefined()) {
      sink_->Error(ctx.file, oth.Mark(), "bad-value",
                   "`otherwise` needs `alternatives`; a rule without them has one `effect`");
    }
    rule->effect = ParseEffect(r.Enum("effect", kEffects, true).value_or("deny"));
  }
  if (rule->effect == Effect::kAllow && !rule->obligations.empty()) {
    sink_->Error(ctx.file, n.Mark(), "bad-value",
                 "effect `allow` carries obligations; use `allow_with_obligations`");
  }
  r.Ignore("note");
  r.Finish();
  rule->tag_scoped = UsesTag(rule->when);
  if (rule->when.kind == Condition::Kind::kTags) rule->tag_filters.push_back(rule->when.tags);
  if (rule->when.kind == Condition::Kind::kAll) {
    for (const auto& c : rule->when.children)
      if (c.kind == Condition::Kind::kTags) rule->tag_filters.push_back(c.tags);
  }
  for (const auto& a : rule->alternatives) rule->tag_scoped |= UsesTag(a.when);
}

// Candidate classes for the index: those any top-level tag condition can match.
ClassBits CandidateClasses(const Condition& when, const CompiledSet& set) {
  ClassBits all;
  for (size_t i = 0; i < set.classes.size(); ++i) all.Set(i);
  std::vector<const Condition*> tag_conds;
  if (when.kind == Condition::Kind::kTags) tag_conds.push_back(&when);
  if (when.kind == Condition::Kind::kAll) {
    for (const auto& c : when.children)
      if (c.kind == Condition::Kind::kTags) tag_conds.push_back(&c);
  }
  ClassBits out = all;
  for (const Condition* tc : tag_conds) {
    ClassBits match;
    for (size_t i = 0; i < set.classes.size(); ++i) {
      for (const auto& p : tc->tags) {
        if (p.any_class || set.classes[i].ancestors.Intersects(p.classes)) {
          match.Set(i);
          break;
        }
      }
    }
    for (size_t k = 0; k < out.w.size(); ++k) out.w[k] &= match.w[k];
  }
  return out;
}

void Compiler::BuildIndex(Policy* p) {
  p->rules_by_class.assign(set_->classes.size(), {});
  for (size_t i = 0; i < p->rules.size(); ++i) {
    const Rule& rule = p->rules[i];
    if (!rule.tag_scoped) {
      p->request_rules.push_back(static_cast<uint32_t>(i));
      continue;
    }
    ClassBits cand = CandidateClasses(rule.when, *set_);
    for (size_t c = 0; c < set_->classes.size(); ++c) {
      if (cand.Test(c)) p->rules_by_class[c].push_back(static_cast<uint32_t>(i));
    }
  }
}

// What makes two rules without alternatives equivalent for the shadowed-rule lint: effect, mode,
// dates, obligations and the canonical `when` (last, so the key is unambiguous).
std::string ShadowKey(const Rule& r, const std::string& when) {
  auto time = [](const std::optional<absl::Time>& t) {
    return t ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : std::string("-");
  };
  std::string key = absl::StrCat(static_cast<int>(r.effect), r.dry_run ? "d" : "e", "|",
                                 time(r.from), "|", time(r.until), "|");
  for (int o : r.obligations) absl::StrAppend(&key, o, ",");
  absl::StrAppend(&key, "|", when);
  return key;
}

void Compiler::LintPolicy(const Policy& p, const std::vector<std::string>& rule_whens) {
  std::vector<bool> indexed(p.rules.size(), false);
  for (const auto& by_class : p.rules_by_class)
    for (uint32_t i : by_class) indexed[i] = true;
  // Key of a rule without alternatives -> the first such rule with that key.
  absl::flat_hash_map<std::string, size_t> first_with;
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const Rule& r = p.rules[i];
    if (r.tag_scoped && !indexed[i]) {
      sink_->Add(Diagnostic::Severity::kWarning, p.file, r.line, r.column, "unreachable-rule",
                 absl::StrCat("rule `", r.id, "` can match no data class"));
    }
    // A later rule with the same condition and the same single effect adds nothing.
    if (!r.has_alternatives) {
      auto [it, inserted] = first_with.try_emplace(ShadowKey(r, rule_whens[i]), i);
      if (!inserted) {
        const Rule& e = p.rules[it->second];
        sink_->Add(Diagnostic::Severity::kWarning, p.file, r.line, r.column, "shadowed-rule",
                   absl::StrCat("rule `", r.id, "` is shadowed by rule `", e.id,
                                "`: same condition, same effect"));
      }
    }
    // Alternatives more restrictive than an unconditional one can never be chosen.
    const Alternative* unconditional = nullptr;
    for (const auto& a : r.alternatives) {
      if (a.when.kind == Condition::Kind::kTrue &&
          (!unconditional || a.effect < unconditional->effect)) {
        unconditional = &a;
      }
    }
    if (unconditional) {
      sink_->Add(Diagnostic::Severity::kWarning, p.file, r.line, r.column, "shadowed-rule",
                 absl::StrCat("rule `", r.id, "`: alternative `", unconditional->name,
                              "` always holds, so `otherwise` never applies"));
    }
  }
}

void Compiler::CompilePolicyFile(const LoadedFile& f) {
  Policy p;
  p.file = f.name;
  nlohmann::json canon = nlohmann::json::object();
  PolicyCanon pc;  // `rules` is dumped rule by rule; the rest of `canon` at the end
  bool has_rules = false;
  MapReader r(f.root, f.name, sink_, &canon, "policy");
  r.Enum("kind", {"policy"});
  YNode idn = r.Raw("id");
  if (auto v = r.String("id", true)) p.id = *v;
  p.basis = r.Enum("basis", {"law", "corp"}, true).value_or("law");
  if (auto v = r.Enum("mode", {"enforce", "dry_run"})) p.dry_run = *v == "dry_run";
  r.Ignore("title");
  r.Ignore("description");
  r.Ignore("note");
  r.Ignore("citation");
  r.Ignore("classes");  // collected earlier; recorded in the canonical class table
  for (const auto& other : set_->policies) {
    if (other.id == p.id && !p.id.empty()) {
      sink_->Error(f.name, idn.Mark(), "duplicate-id",
                   absl::StrCat("policy id `", p.id, "` is also defined in ", other.file));
    }
  }
  CompileContext ctx;
  ctx.options = &options_;
  ctx.set = set_.get();
  ctx.policy = &p;
  ctx.sink = sink_;
  ctx.file = f.name;
  // Scope.
  {
    YNode sn = r.Raw("scope");
    if (!sn.IsDefined() || sn.IsNull()) {
      p.scope.always = true;
    } else {
      MapReader sr(sn, f.name, sink_, &canon["scope"], "`scope`");
      if (auto v = sr.Bool("always")) p.scope.always = *v;
      if (auto v = sr.StringList("origins")) {
        p.scope.has_origins = true;
        ResolveCountries(*v, sr.Raw("origins").Mark(), ctx, &p.scope.origins);
      }
      if (auto v = sr.StringList("operator_countries")) {
        p.scope.has_operator_countries = true;
        ResolveCountries(*v, sr.Raw("operator_countries").Mark(), ctx, &p.scope.operator_countries);
      }
      if (auto v = sr.StringList("operator_sectors")) p.scope.operator_sectors = *v;
      if (auto v = sr.StringList("user_jurisdictions")) {
        p.scope.has_user_jurisdictions = true;
        ResolveCountries(*v, sr.Raw("user_jurisdictions").Mark(), ctx, &p.scope.user_jurisdictions);
      }
      sr.Finish();
    }
  }
  // Obligations: id -> message.
  {
    YNode on = r.Raw("obligations");
    if (on.IsDefined() && !on.IsNull()) {
      if (!on.IsMap()) {
        sink_->Error(f.name, on.Mark(), "wrong-type",
                     "`obligations` must map obligation ids to their descriptions");
      } else {
        for (size_t pi = 0; pi < on.size(); ++pi) {
          const YNode key = on.Key(pi), value = on.Value(pi);
          std::string id = key.Scalar();
          if (!value.IsScalar()) {
            sink_->Error(f.name, value.Mark(), "wrong-type",
                         absl::StrCat("obligation `", id, "` must be described by a string"));
            continue;
          }
          if (std::any_of(p.obligations.begin(), p.obligations.end(),
                          [&](const Obligation& o) { return o.id == id; })) {
            sink_->Error(f.name, key.Mark(), "duplicate-id",
                         absl::StrCat("duplicate obligation `", id, "`"));
            continue;
          }
          p.obligations.push_back(Obligation{id, value.Scalar()});
          canon["obligations"][id] = value.Scalar();
        }
      }
    }
  }
  // Named lists.
  {
    YNode ln = r.Raw("lists");
    if (ln.IsDefined() && !ln.IsNull()) {
      if (!ln.IsMap()) {
        sink_->Error(f.name, ln.Mark(), "wrong-type", "`lists` must map list names to lists");
      } else {
        for (size_t pi = 0; pi < ln.size(); ++pi) {
          const YNode key = ln.Key(pi), value = ln.Value(pi);
          NamedList l;
          l.name = key.Scalar();
          if (std::find(ctx.list_names.begin(), ctx.list_names.end(), l.name) !=
              ctx.list_names.end()) {
            sink_->Error(f.name, key.Mark(), "duplicate-id",
                         absl::StrCat("duplicate list `", l.name, "`"));
            continue;
          }
          nlohmann::json& lc = canon["lists"][l.name];
          lc = nlohmann::json::array();
          if (!value.IsNull() && !value.IsSequence()) {
            sink_->Error(f.name, value.Mark(), "wrong-type",
                         absl::StrCat("list `", l.name, "` must be a list"));
          } else if (value.IsSequence()) {
            for (YNode e : value) {
              ListEntry entry;
              nlohmann::json ej;
              if (e.IsScalar()) {
                entry.value = e.Scalar();
                ej["value"] = entry.value;
              } else {
                MapReader er(e, f.name, sink_, &ej, "list entry");
                if (auto v = er.String("value", true)) entry.value = *v;
                entry.from = ReadTime(er, "effective_from");
                entry.until = ReadTime(er, "effective_until");
                er.Ignore("note");
                er.Ignore("citation");
                er.Finish();
              }
              // Resolve as locations when possible (used by location conditions).
              auto loc = set_->catalogue.location_index.find(entry.value);
              if (loc != set_->catalogue.location_index.end()) {
                entry.locations.Set(loc->second);
              } else if (int j = ResolveJurisdiction(*set_, entry.value); j >= 0) {
                for (size_t k = 0; k < set_->catalogue.locations.size(); ++k) {
                  int c = set_->catalogue.locations[k].country;
                  if (c >= 0 && set_->catalogue.jurisdiction_members[j].Test(c))
                    entry.locations.Set(k);
                }
              }
              l.entries.push_back(std::move(entry));
              lc.push_back(std::move(ej));
            }
          }
          ctx.list_names.push_back(l.name);
          p.lists.push_back(std::move(l));
        }
      }
    }
  }
  // Rules.
  {
    YNode rn = r.Raw("rules");
    std::vector<std::string> whens;  // canonical `when` of each rule, for the lint
    if (!rn.IsDefined() || rn.IsNull()) {
      sink_->Error(f.name, rn.IsDefined() ? rn.Mark() : f.root.Mark(), "missing-key",
                   "policy needs `rules`, a list");
    } else if (!rn.IsSequence()) {
      sink_->Error(f.name, rn.Mark(), "wrong-type", "`rules` must be a list");
    } else {
      has_rules = true;
      size_t room = options_.max_rules - std::min(options_.max_rules, set_->rule_count);
      p.rules.reserve(std::min(rn.size(), room));
      whens.reserve(p.rules.capacity());
      absl::flat_hash_map<std::string, int> id_count;
      for (YNode n : rn) {
        if (set_->rule_count >= options_.max_rules) {
          sink_->Error(f.name, n.Mark(), "limit",
                       absl::StrCat("more than ", options_.max_rules, " rules"));
          break;
        }
        nlohmann::json rj;
        Rule rule;
        CompileRule(n, ctx, &rj, &rule);
        if (!rule.id.empty()) {
          int& earlier = id_count[rule.id];
          for (int k = 0; k < earlier; ++k) {
            sink_->Error(f.name, n.Mark(), "duplicate-id",
                         absl::StrCat("duplicate rule id `", rule.id, "`"));
          }
          ++earlier;
        }
        auto w = rj.find("when");
        if (w == rj.end()) {
          whens.emplace_back("null");
        } else {
          bool bad = false;
          whens.push_back(Dump(*w, &bad));
          // Invalid UTF-8 fails the compile below; the lint still compares what it can.
          if (bad) whens.back() = w->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        if (!p.rules.empty()) pc.rules += ',';
        pc.rules += Dump(rj, &canon_bad_utf8_);
        p.rules.push_back(std::move(rule));
        ++set_->rule_count;
      }
    }
    // Lists used by location conditions must name locations or jurisdictions.
    for (const auto& [li, mark] : ctx.location_lists_used) {
      for (const auto& e : p.lists[li].entries) {
        if (!e.locations.Any() && !set_->catalogue.location_index.count(e.value) &&
            ResolveJurisdiction(*set_, e.value) < 0) {
          sink_->Error(f.name, mark, "dangling-reference",
                       absl::StrCat("list `", p.lists[li].name, "` is used as locations but `",
                                    e.value, "` is neither a location nor a jurisdiction"));
        }
      }
    }
    BuildIndex(&p);
    LintPolicy(p, whens);
  }
  // Exceptions.
  {
    YNode en = r.Raw("exceptions");
    if (en.IsDefined() && !en.IsNull() && !en.IsSequence()) {
      sink_->Error(f.name, en.Mark(), "wrong-type", "`exceptions` must be a list");
    } else if (en.IsDefined() && !en.IsNull()) {
      nlohmann::json& ec = canon["exceptions"];
      ec = nlohmann::json::array();
      for (const auto& e : en) {
        nlohmann::json ej;
        MapReader er(e, f.name, sink_, &ej, "exception");
        if (!er.ok()) continue;
        Exception x;
        if (auto v = er.String("id", true)) x.id = *v;
        if (auto v = er.String("owner", true)) x.owner = *v;
        if (auto v = er.String("ticket", true)) x.ticket = *v;
        x.not_before = ReadTime(er, "not_before");
        YNode na = er.Raw("not_after");
        x.not_after = ReadTime(er, "not_after");
        if (!na.IsDefined()) {
          sink_->Error(f.name, e.Mark(), "missing-key",
                       absl::StrCat("exception `", x.id, "` needs `not_after`: exceptions expire"));
        }
        if (x.not_before && x.not_after && *x.not_after - *x.not_before > absl::Hours(24 * 90)) {
          sink_->Warning(f.name, na.Mark(), "long-exception",
                         absl::StrCat("exception `", x.id, "` lasts longer than 90 days"));
        }
        YNode rulesn = er.Raw("rules");
        auto rule_ids = er.StringList("rules", true);
        x.when = ParseCondition(er.Raw("when"), ctx, &ej["when"], 1);
        if (ej["when"].is_null()) ej.erase("when");
        x.obligations = ResolveObligations(er, "obligations", p);
        er.Ignore("note");
        er.Finish();
        if (rule_ids) {
          bool any_corp = false;
          for (const auto& rid : *rule_ids) {
            auto it = std::find_if(p.rules.begin(), p.rules.end(),
                                   [&](const Rule& ru) { return ru.id == rid; });
            if (it == p.rules.end()) {
              std::vector<std::string> names;
              for (const auto& ru : p.rules) names.push_back(ru.id);
              std::string hint = DidYouMean(rid, names);
              sink_->Error(
                  f.name, rulesn.Mark(), "dangling-reference",
                  absl::StrCat("exception `", x.id, "` names unknown rule `", rid, "`",
                               hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
              continue;
            }
            if (it->basis == "law") {
              sink_->Error(f.name, rulesn.Mark(), "exception-overrides-law",
                           absl::StrCat("exception `", x.id, "` names rule `", rid,
                                        "`, a `basis: law` rule; an exception may lift only corp "
                                        "rules (give the legal basis as evidence instead)"));
              continue;
            }
            any_corp = true;
            x.rules.push_back(static_cast<int>(it - p.rules.begin()));
          }
          (void)any_corp;
        }
        p.exceptions.push_back(std::move(x));
        ec.push_back(std::move(ej));
      }
    }
  }
  // Lifts and ignored evidence.
  {
    YNode ln = r.Raw("lifts");
    if (ln.IsDefined() && !ln.IsNull() && !ln.IsSequence()) {
      sink_->Error(f.name, ln.Mark(), "wrong-type", "`lifts` must be a list");
    } else if (ln.IsDefined() && !ln.IsNull()) {
      nlohmann::json& lc = canon["lifts"];
      lc = nlohmann::json::array();
      for (const auto& e : ln) {
        nlohmann::json lj;
        MapReader lr(e, f.name, sink_, &lj, "lift");
        Lift l;
        if (auto v = lr.StringList("evidence", true)) l.evidence_types = *v;
        if (auto v = lr.StringList("artifacts")) {
          l.artifacts = *v;
          for (const auto& a : *v) {
            if (a != "dataset" && a != "model") {
              sink_->Error(f.name, lr.Raw("artifacts").Mark(), "bad-value",
                           absl::StrCat("`artifacts` value `", a, "`; want dataset or model"));
            }
          }
        } else {
          l.artifacts = {"dataset", "model"};
        }
        if (auto v = lr.StringList("classes", true)) {
          ResolveClasses(*v, lr.Raw("classes").Mark(), ctx, &l.classes);
        }
        if (auto v = lr.Bool("match_origin")) l.match_origin = *v;
        lr.Finish();
        p.lifts.push_back(std::move(l));
        lc.push_back(std::move(lj));
      }
    }
    YNode in = r.Raw("ignore_evidence");
    if (in.IsDefined() && !in.IsNull() && !in.IsSequence()) {
      sink_->Error(f.name, in.Mark(), "wrong-type", "`ignore_evidence` must be a list");
    } else if (in.IsDefined() && !in.IsNull()) {
      nlohmann::json& ic = canon["ignore_evidence"];
      ic = nlohmann::json::array();
      for (const auto& e : in) {
        nlohmann::json ij;
        MapReader ir(e, f.name, sink_, &ij, "ignore_evidence entry");
        IgnoreEvidence g;
        if (auto v = ir.StringList("types", true)) g.types = *v;
        if (auto v = ir.StringList("classes", true)) {
          ResolveClasses(*v, ir.Raw("classes").Mark(), ctx, &g.classes);
        }
        ir.Finish();
        p.ignores.push_back(std::move(g));
        ic.push_back(std::move(ij));
      }
    }
  }
  r.Finish();
  pc.id = p.id;
  pc.rules.shrink_to_fit();
  SplitAroundRules(canon, has_rules, &pc, &canon_bad_utf8_);
  canon_policies_.push_back(std::move(pc));
  set_->policies.push_back(std::move(p));
}

std::unique_ptr<CompiledSet> Compiler::Run(const std::vector<PolicySource>& sources) {
  size_t total = 0, declared_rules = 0;
  if (sources.size() > options_.max_files) {
    sink_->Add(Diagnostic::Severity::kError, "", 0, 0, "limit",
               absl::StrCat(sources.size(), " files; the limit is ", options_.max_files));
    return nullptr;
  }
  for (const auto& s : sources) {
    total += s.text.size();
    if (total > options_.max_total_bytes) {
      sink_->Add(Diagnostic::Severity::kError, s.name, 0, 0, "limit",
                 absl::StrCat("policy files exceed ", options_.max_total_bytes, " bytes in all"));
      return nullptr;
    }
    size_t loaded = files_.size();
    LoadFile(s);
    // Count rules as files load, so that a set far over the limit stops here, not after all of
    // it has been parsed and compiled.
    if (files_.size() > loaded && files_.back().kind == "policy") {
      const YNode rn = files_.back().root.Get("rules");
      if (rn.IsSequence()) declared_rules += rn.size();
      if (declared_rules > options_.max_rules) {
        sink_->Error(s.name, rn.Mark(), "limit",
                     absl::StrCat("more than ", options_.max_rules, " rules"));
        return nullptr;
      }
    }
  }
  const LoadedFile* catalogue = nullptr;
  for (const auto& f : files_) {
    if (f.kind != "catalogue") continue;
    if (catalogue) {
      sink_->Error(f.name, f.root.Mark(), "duplicate-id",
                   absl::StrCat("a second catalogue; the first is ", catalogue->name));
      continue;
    }
    catalogue = &f;
  }
  if (!catalogue) {
    if (!sink_->has_errors()) {
      sink_->Add(Diagnostic::Severity::kError, sources.empty() ? "" : sources[0].name, 0, 0,
                 "no-catalogue",
                 "no region catalogue (`kind: catalogue`, policies/regions.yaml) among the files");
    }
    return nullptr;
  }
  CompileCatalogue(*catalogue);
  for (auto& f : files_) {
    if (f.kind == "catalogue") {
      f.doc.reset();
      f.root = YNode();
    }
  }
  for (const auto& f : files_)
    if (f.kind == "policy") CollectClasses(f);
  FinishClasses();
  // Each policy file's tree is released once the file is compiled.
  for (auto& f : files_) {
    if (f.kind != "policy") continue;
    CompilePolicyFile(f);
    f.doc.reset();
    f.root = YNode();
  }
  std::stable_sort(set_->policies.begin(), set_->policies.end(),
                   [](const Policy& a, const Policy& b) { return a.id < b.id; });
  if (sink_->has_errors()) return nullptr;
  // The digest is SHA-256 of the canonical JSON {"catalogue":…,"classes":…,"policies":{id:…}}
  // (keys sorted, compact), streamed part by part.
  std::stable_sort(canon_policies_.begin(), canon_policies_.end(),
                   [](const PolicyCanon& a, const PolicyCanon& b) { return a.id < b.id; });
  internal::Sha256Hasher h;
  h.Update("{\"catalogue\":");
  h.Update(canon_catalogue_);
  h.Update(",\"classes\":");
  h.Update(canon_classes_);
  if (!canon_policies_.empty()) {
    h.Update(",\"policies\":{");
    for (size_t i = 0; i < canon_policies_.size(); ++i) {
      const PolicyCanon& pc = canon_policies_[i];
      if (i > 0) h.Update(",");
      h.Update(Dump(nlohmann::json(pc.id), &canon_bad_utf8_));
      h.Update(":");
      h.Update(pc.before);
      if (pc.has_rules) {
        h.Update("[");
        h.Update(pc.rules);
        h.Update("]");
      }
      h.Update(pc.after);
    }
    h.Update("}");
  }
  h.Update("}");
  if (canon_bad_utf8_) {
    sink_->Add(Diagnostic::Severity::kError, "", 0, 0, "encoding",
               "policy files must be valid UTF-8");
    return nullptr;
  }
  set_->digest = "sha256:" + internal::HexEncode(h.Finish());
  return std::move(set_);
}

bool IsYamlFile(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

int ResolveJurisdiction(const CompiledSet& set, const std::string& name) {
  auto it = set.catalogue.jurisdiction_index.find(name);
  return it == set.catalogue.jurisdiction_index.end() ? -1 : it->second;
}

bool ResolveLocations(const std::string& name, const YAML::Mark& mark, CompileContext& ctx,
                      LocationBits* out) {
  const Catalogue& cat = ctx.set->catalogue;
  auto loc = cat.location_index.find(name);
  if (loc != cat.location_index.end()) {
    out->Set(loc->second);
    return true;
  }
  int j = ResolveJurisdiction(*ctx.set, name);
  if (j < 0) {
    std::vector<std::string> names = cat.jurisdiction_names;
    for (const auto& l : cat.locations) names.push_back(l.id);
    std::string hint = DidYouMean(name, names);
    ctx.sink->Error(
        ctx.file, mark, "dangling-reference",
        absl::StrCat("`", name, "` is neither a catalogue location nor a jurisdiction",
                     hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    return false;
  }
  for (size_t k = 0; k < cat.locations.size(); ++k) {
    int c = cat.locations[k].country;
    if (c >= 0 && cat.jurisdiction_members[j].Test(c)) out->Set(k);
  }
  return true;
}

bool ResolveClasses(const std::vector<std::string>& names, const YAML::Mark& mark,
                    CompileContext& ctx, ClassBits* out) {
  bool ok = true;
  for (const auto& n : names) {
    auto it = ctx.set->class_index.find(n);
    if (it == ctx.set->class_index.end()) {
      std::vector<std::string> all;
      for (const auto& c : ctx.set->classes) all.push_back(c.id);
      std::string hint = DidYouMean(n, all);
      ctx.sink->Error(
          ctx.file, mark, "dangling-reference",
          absl::StrCat("unknown data class `", n, "`",
                       hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
      ok = false;
      continue;
    }
    out->Set(it->second);
  }
  return ok;
}

bool ResolveCountries(const std::vector<std::string>& names, const YAML::Mark& mark,
                      CompileContext& ctx, CountryBits* out) {
  bool ok = true;
  for (const auto& n : names) {
    int j = ResolveJurisdiction(*ctx.set, n);
    if (j < 0) {
      // A country written as alpha-3 or a name: its alpha-2 code, not the nearest spelling.
      std::string hint = internal::CountryAlpha2Hint(n);
      if (hint.empty()) hint = DidYouMean(n, ctx.set->catalogue.jurisdiction_names);
      ctx.sink->Error(
          ctx.file, mark, "dangling-reference",
          absl::StrCat(
              "unknown jurisdiction `", n, "` (an ISO 3166-1 code or a catalogue group",
              n == "UK" ? "; the UK is GB" : "", ")",
              hint.empty() || n == "UK" ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
      ok = false;
      continue;
    }
    *out |= ctx.set->catalogue.jurisdiction_members[j];
  }
  return ok;
}

}  // namespace residency::policy_internal

namespace residency {

using policy_internal::CompiledSet;
using policy_internal::DiagSink;

std::string FormatDiagnostic(const Diagnostic& d) {
  std::string out = d.file.empty() ? "residency" : d.file;
  if (d.line > 0) absl::StrAppend(&out, ":", d.line, ":", d.column);
  absl::StrAppend(&out, ": ", d.severity == Diagnostic::Severity::kError ? "error" : "warning",
                  ": ", d.message);
  if (!d.code.empty()) absl::StrAppend(&out, " [", d.code, "]");
  return out;
}

PolicySnapshot::PolicySnapshot(std::unique_ptr<const CompiledSet> set) : set_(std::move(set)) {}
PolicySnapshot::~PolicySnapshot() = default;
const std::string& PolicySnapshot::digest() const { return set_->digest; }
std::vector<std::string> PolicySnapshot::policy_ids() const {
  std::vector<std::string> out;
  for (const auto& p : set_->policies) out.push_back(p.id);
  return out;
}
size_t PolicySnapshot::rule_count() const { return set_->rule_count; }
std::vector<std::string> PolicySnapshot::locations() const {
  std::vector<std::string> out;
  for (const auto& l : set_->catalogue.locations) out.push_back(l.id);
  return out;
}

CompileResult CompilePolicySources(const std::vector<PolicySource>& sources,
                                   const CompileOptions& options) {
  DiagSink sink;
  policy_internal::Compiler compiler(options, &sink);
  std::unique_ptr<CompiledSet> set;
  try {
    set = compiler.Run(sources);
  } catch (const std::bad_alloc&) {
    // The loader catches yaml-cpp's exceptions where it reads a file; what reaches here is not
    // the user's mistake.
    sink.Add(Diagnostic::Severity::kError, "", 0, 0, "internal",
             "internal error: out of memory compiling the policies");
    set = nullptr;
  } catch (const std::exception& e) {
    sink.Add(Diagnostic::Severity::kError, "", 0, 0, "internal",
             absl::StrCat("internal error compiling the policies: ", e.what()));
    set = nullptr;
  }
  CompileResult result;
  result.diagnostics = std::move(sink.diagnostics());
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
                   });
  if (set) {
    policy_internal::FinishDerived(set.get());
    result.snapshot = std::make_shared<const PolicySnapshot>(std::move(set));
  }
  return result;
}

std::vector<Diagnostic> CheckFolderFile(const PolicySource& source) {
  DiagSink sink;
  const CompileOptions options;  // the compiler holds a reference: it must outlive it
  policy_internal::Compiler compiler(options, &sink);
  try {
    compiler.CheckAlone(source);
  } catch (const std::exception& e) {
    sink.Add(Diagnostic::Severity::kError, source.name, 0, 0, "internal",
             absl::StrCat("internal error checking the file: ", e.what()));
  }
  return std::move(sink.diagnostics());
}

CompileResult CompilePolicies(const std::vector<std::string>& paths,
                              const CompileOptions& options) {
  namespace fs = std::filesystem;
  std::vector<PolicySource> sources;
  CompileResult failed;
  // Every size and the file count are checked before any file is read, so memory stays bounded.
  std::vector<fs::path> to_read;
  size_t total_bytes = 0;
  bool over_set_limit = false;  // reported once; later files are not looked at
  auto add_file = [&](const fs::path& p) -> bool {
    if (over_set_limit) return false;
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (ec) {
      failed.diagnostics.push_back(Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "io",
                                              absl::StrCat("cannot read: ", ec.message())});
      return false;
    }
    if (size > options.max_file_bytes) {
      failed.diagnostics.push_back(Diagnostic{
          p.string(), 0, 0, Diagnostic::Severity::kError, "limit",
          absl::StrCat("file is ", size, " bytes; the limit is ", options.max_file_bytes)});
      return false;
    }
    total_bytes += size;
    if (total_bytes > options.max_total_bytes || to_read.size() >= options.max_files) {
      failed.diagnostics.push_back(Diagnostic{
          p.string(), 0, 0, Diagnostic::Severity::kError, "limit",
          total_bytes > options.max_total_bytes
              ? absl::StrCat("policy files exceed ", options.max_total_bytes, " bytes in all")
              : absl::StrCat("more than ", options.max_files, " files")});
      over_set_limit = true;
      return false;
    }
    to_read.push_back(p);
    return true;
  };
  for (const auto& path : paths) {
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_regular_file() && policy_internal::IsYamlFile(e.path())) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& fp : files) add_file(fp);
    } else if (fs::exists(p, ec)) {
      add_file(p);
    } else {
      failed.diagnostics.push_back(
          Diagnostic{path, 0, 0, Diagnostic::Severity::kError, "io", "no such file or directory"});
    }
  }
  if (!failed.diagnostics.empty()) return failed;
  for (const auto& p : to_read) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      failed.diagnostics.push_back(
          Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "io", "cannot open file"});
      return failed;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    sources.push_back(PolicySource{p.string(), std::move(text)});
  }
  return CompilePolicySources(sources, options);
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> CompilePolicy(
    const std::vector<std::string>& paths, const CompileOptions& options) {
  CompileResult r = CompilePolicies(paths, options);
  if (r.snapshot) return r.snapshot;
  for (const auto& d : r.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) {
      return absl::InvalidArgumentError(FormatDiagnostic(d));
    }
  }
  return absl::InvalidArgumentError("policy compile failed");
}

namespace {

std::atomic<uint64_t> next_store_id{1};

// One thread's reference to one store's snapshot. `holder` is allocated by this thread and its
// control block is the one the pointers handed out by Get() share, so copying and dropping them
// touches only this thread's cache lines.
struct CachedSnapshot {
  uint64_t store = 0;  // PolicyStore::id_, 0 when the slot is free
  uint64_t generation = 0;
  std::shared_ptr<const std::shared_ptr<const PolicySnapshot>> holder;
};

// A few stores per thread (a service has one); the least recently refreshed slot is reused.
constexpr int kCacheSlots = 4;
struct ThreadCache {
  CachedSnapshot slot[kCacheSlots];
  int next = 0;
};
thread_local ThreadCache thread_cache;

}  // namespace

PolicyStore::PolicyStore(std::shared_ptr<const PolicySnapshot> initial)
    : id_(next_store_id.fetch_add(1, std::memory_order_relaxed)), current_(std::move(initial)) {}

PolicyStore::~PolicyStore() {
  // Drop this thread's reference now; other threads' cached references go when those threads
  // refresh that slot or exit (ids are never reused, so no later store can match them).
  for (CachedSnapshot& c : thread_cache.slot) {
    if (c.store == id_) c = CachedSnapshot();
  }
}

std::shared_ptr<const PolicySnapshot> PolicyStore::Get() const {
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  for (const CachedSnapshot& c : thread_cache.slot) {
    if (c.store == id_ && c.generation == gen) {
      if (*c.holder == nullptr) return nullptr;
      // Aliasing: shares the thread's holder, points at the snapshot the holder keeps.
      return std::shared_ptr<const PolicySnapshot>(c.holder, c.holder->get());
    }
  }
  return GetSlow();
}

std::shared_ptr<const PolicySnapshot> PolicyStore::GetSlow() const {
  CachedSnapshot fresh;
  fresh.store = id_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh.generation = generation_.load(std::memory_order_relaxed);
    fresh.holder = std::make_shared<const std::shared_ptr<const PolicySnapshot>>(current_);
  }
  ThreadCache& tc = thread_cache;
  CachedSnapshot* target = nullptr;
  for (CachedSnapshot& c : tc.slot) {
    if (c.store == id_) target = &c;
  }
  if (target == nullptr) {
    target = &tc.slot[tc.next];
    tc.next = (tc.next + 1) % kCacheSlots;
  }
  *target = std::move(fresh);
  if (*target->holder == nullptr) return nullptr;
  return std::shared_ptr<const PolicySnapshot>(target->holder, target->holder->get());
}

void PolicyStore::Swap(std::shared_ptr<const PolicySnapshot> next) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(next);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `next` (the old snapshot) is released here unless a reader or a thread's cache still holds
  // it.
}

absl::Status PolicyStore::Reload(const std::vector<std::string>& paths,
                                 const CompileOptions& options) {
  auto s = CompilePolicy(paths, options);
  if (!s.ok()) return s.status();
  Swap(*std::move(s));
  return absl::OkStatus();
}

}  // namespace residency
