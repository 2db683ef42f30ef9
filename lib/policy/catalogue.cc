// The policy compiler: the region catalogue (countries, groups, providers, locations), the data
// classes (built-in and added by policies), and the resolution of names against them.
#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "internal/country_names.h"
#include "internal/text_util.h"
#include "policy/compiler_impl.h"

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

}  // namespace

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
  CompileGroups(f, r, canon, cat);
  CompileProviders(f, r, canon, cat);
  CompileLocations(f, r, canon, cat);
  r.Finish();
  canon_catalogue_ = Dump(canon, &canon_bad_utf8_);
}

// Groups: resolved in dependency order; cycles and unknown members are errors.
void Compiler::CompileGroups(const LoadedFile& f, MapReader& r, nlohmann::json& canon,
                             Catalogue& cat) {
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
}

void Compiler::CompileProviders(const LoadedFile& f, MapReader& r, nlohmann::json& canon,
                                Catalogue& cat) {
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
}

void Compiler::CompileLocations(const LoadedFile& f, MapReader& r, nlohmann::json& canon,
                                Catalogue& cat) {
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
      if (auto v = lr.String("controller")) loc.controller = *v;
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
    classes.push_back(CompiledClass{all[i].first, {}});
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
