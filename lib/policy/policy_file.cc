// The policy compiler: one policy file (scope, obligations, lists, rules, exceptions, lifts,
// ignored evidence), its rule index and its lint.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "internal/time_util.h"
#include "policy/compiler_impl.h"
#include "policy/condition_walk.h"

namespace residency::policy_internal {
namespace {

// A subject count covers only the partitions that match the tag conditions beside it: each
// count in an `all` (or one map's keys) with tag conditions among its siblings gets them.
void MarkCountFilters(Condition* when) {
  using K = Condition::Kind;
  ForEachCondition(*when, [](Condition& c, int) {
    if (c.kind != K::kAll) return;
    std::vector<std::vector<TagPattern>> tags;
    for (const auto& ch : c.children)
      if (ch.kind == K::kTags) tags.push_back(ch.tags);
    if (tags.empty()) return;
    auto shared = std::make_shared<const std::vector<std::vector<TagPattern>>>(std::move(tags));
    for (auto& ch : c.children) {
      if (ch.kind == K::kNumber &&
          (ch.field == Field::kSubjects || ch.field == Field::kSensitiveSubjects ||
           ch.field == Field::kCumulativeSubjects)) {
        ch.beside = shared;
      }
    }
  });
}

const std::vector<std::string> kEffects = {"allow", "allow_with_obligations", "escalate", "deny"};

Effect ParseEffect(const std::string& s) {
  if (s == "allow") return Effect::kAllow;
  if (s == "allow_with_obligations") return Effect::kAllowWithObligations;
  if (s == "escalate") return Effect::kEscalate;
  return Effect::kDeny;
}

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

// Candidate classes for the index: those any top-level tag condition can match.
ClassBits CandidateClasses(const Condition& when, const CompiledSet& set) {
  ClassBits all;
  for (size_t i = 0; i < set.classes.size(); ++i) all.Set(i);
  ClassBits out = all;
  for (const Condition& top : TopLevelConditions(when)) {
    if (top.kind != Condition::Kind::kTags) continue;
    const Condition* tc = &top;
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

// What makes two rules without alternatives equivalent for the shadowed-rule lint: effect, mode,
// dates, obligations and the canonical `when` (last, so the key is unambiguous).
std::string ShadowKey(const Rule& r, const std::string& when) {
  auto time = [](const std::optional<absl::Time>& t) {
    return t ? absl::FormatTime(absl::RFC3339_full, *t, absl::UTCTimeZone()) : std::string("-");
  };
  std::string key = absl::StrCat(static_cast<int>(r.effect), r.dry_run ? "d" : "e", "|",
                                 time(r.from), "|", time(r.until), "|", time(r.enforce_from), "|");
  for (int o : r.obligations) absl::StrAppend(&key, o, ",");
  absl::StrAppend(&key, "|", when);
  return key;
}

}  // namespace

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

// A language code of `i18n`: two or three lower-case letters (ISO 639), not `en` (the texts
// themselves are English).
static bool LanguageCode(std::string_view s) {
  if (s.size() < 2 || s.size() > 3 || s == "en") return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// `i18n: {ko: {message, citation, messages: {effect: text}}}` of a rule (or `{ko: {message}}`
// of an alternative).
std::vector<RuleTexts> Compiler::CompileRuleTexts(YNode n, CompileContext& ctx,
                                                  nlohmann::json* canon, bool message_only) {
  std::vector<RuleTexts> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    sink_->Error(ctx.file, n.Mark(), "wrong-type",
                 "`i18n` must map language codes (`ko`) to the texts in that language");
    return out;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const YNode key = n.Key(i), value = n.Value(i);
    RuleTexts t;
    t.lang = key.Scalar();
    if (!LanguageCode(t.lang)) {
      sink_->Error(ctx.file, key.Mark(), "bad-value",
                   absl::StrCat("`i18n` key `", t.lang,
                                "` is not a language code (two or three lower-case letters, "
                                "not `en`: the rule's own texts are English)"));
      continue;
    }
    MapReader tr(value, ctx.file, sink_, canon ? &(*canon)[t.lang] : nullptr, "`i18n` entry");
    if (!tr.ok()) continue;
    if (auto v = tr.String("message")) t.message = *v;
    if (!message_only) {
      if (auto v = tr.String("citation")) t.citation = *v;
      if (YNode mn = tr.Raw("messages"); mn.IsDefined()) {
        MapReader mr(mn, ctx.file, sink_, canon ? &(*canon)[t.lang]["messages"] : nullptr,
                     "`messages`");
        if (mr.ok()) {
          for (const auto& effect : kEffects) {
            if (auto v = mr.String(effect.c_str())) {
              t.messages[static_cast<int>(ParseEffect(effect))] = *v;
            }
          }
          mr.Finish();
        }
      }
    }
    tr.Finish();
    out.push_back(std::move(t));
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
  // The message of one outcome, where it differs from `message`.
  if (YNode mn = r.Raw("messages"); mn.IsDefined()) {
    MapReader mr(mn, ctx.file, sink_, canon ? &(*canon)["messages"] : nullptr, "`messages`");
    if (mr.ok()) {
      for (const auto& effect : kEffects) {
        if (auto v = mr.String(effect.c_str())) {
          rule->messages[static_cast<int>(ParseEffect(effect))] = *v;
        }
      }
      mr.Finish();
    }
  }
  rule->i18n = CompileRuleTexts(r.Raw("i18n"), ctx, canon ? &(*canon)["i18n"] : nullptr);
  if (canon && (*canon)["i18n"].is_null()) canon->erase("i18n");
  if (auto v = r.Enum("mode", {"enforce", "dry_run"})) rule->dry_run = *v == "dry_run";
  rule->from = ReadTime(r, "effective_from");
  rule->until = ReadTime(r, "effective_until");
  rule->enforce_from = ReadTime(r, "enforce_from");
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
        if (auto v = ar.String("message")) a.message = *v;
        for (auto& t : CompileRuleTexts(ar.Raw("i18n"), ctx, &aj["i18n"], /*message_only=*/true)) {
          a.message_i18n.emplace_back(std::move(t.lang), std::move(t.message));
        }
        if (aj["i18n"].is_null()) aj.erase("i18n");
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
  MarkCountFilters(&rule->when);
  for (auto& a : rule->alternatives) MarkCountFilters(&a.when);
  rule->tag_scoped = UsesTag(rule->when);
  for (const Condition& c : TopLevelConditions(rule->when))
    if (c.kind == Condition::Kind::kTags) rule->tag_filters.push_back(c.tags);
  for (const auto& a : rule->alternatives) rule->tag_scoped |= UsesTag(a.when);
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
  CompileScope(f, r, ctx, canon, p);
  CompileObligations(f, r, canon, p);
  CompileLists(f, r, ctx, canon, p);
  const bool has_rules = CompileRules(f, r, ctx, p, pc);
  CompileExceptions(f, r, ctx, canon, p);
  CompileLifts(f, r, ctx, canon, p);
  CompileIgnoredEvidence(f, r, ctx, canon, p);
  CompileEvidenceTypes(f, r, canon, p);
  r.Finish();
  pc.id = p.id;
  pc.rules.shrink_to_fit();
  SplitAroundRules(canon, has_rules, &pc, &canon_bad_utf8_);
  canon_policies_.push_back(std::move(pc));
  set_->policies.push_back(std::move(p));
}

// `scope`: the requests the policy applies to (absent: every request).
void Compiler::CompileScope(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                            nlohmann::json& canon, Policy& p) {
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
    if (auto v = sr.StringList("locations")) {
      p.scope.has_locations = true;
      ResolveCountries(*v, sr.Raw("locations").Mark(), ctx, &p.scope.locations);
    }
    sr.Finish();
  }
}

// `obligations`: id -> message.
void Compiler::CompileObligations(const LoadedFile& f, MapReader& r, nlohmann::json& canon,
                                  Policy& p) {
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
        p.obligations.push_back(Obligation{id, value.Scalar(), {}});
        canon["obligations"][id] = value.Scalar();
      }
    }
  }
  // `obligations_i18n: {ko: {id: text}}`: the obligations' texts in other languages.
  YNode tn = r.Raw("obligations_i18n");
  if (!tn.IsDefined() || tn.IsNull()) return;
  if (!tn.IsMap()) {
    sink_->Error(f.name, tn.Mark(), "wrong-type",
                 "`obligations_i18n` must map language codes to {obligation id: text}");
    return;
  }
  for (size_t i = 0; i < tn.size(); ++i) {
    const YNode lang = tn.Key(i), texts = tn.Value(i);
    const std::string code = lang.Scalar();
    if (!LanguageCode(code)) {
      sink_->Error(f.name, lang.Mark(), "bad-value",
                   absl::StrCat("`obligations_i18n` key `", code,
                                "` is not a language code (two or three lower-case letters, "
                                "not `en`)"));
      continue;
    }
    if (!texts.IsMap()) {
      sink_->Error(f.name, texts.Mark(), "wrong-type",
                   absl::StrCat("`obligations_i18n.", code, "` must map obligation ids to texts"));
      continue;
    }
    for (size_t k = 0; k < texts.size(); ++k) {
      const YNode key = texts.Key(k), value = texts.Value(k);
      const std::string id = key.Scalar();
      auto it = std::find_if(p.obligations.begin(), p.obligations.end(),
                             [&](const Obligation& o) { return o.id == id; });
      if (it == p.obligations.end()) {
        sink_->Error(f.name, key.Mark(), "dangling-reference",
                     absl::StrCat("`obligations_i18n.", code, "` names obligation `", id,
                                  "`, which `obligations` does not define"));
        continue;
      }
      if (!value.IsScalar()) {
        sink_->Error(f.name, value.Mark(), "wrong-type",
                     absl::StrCat("obligation `", id, "` must be described by a string"));
        continue;
      }
      it->i18n.emplace_back(code, value.Scalar());
      canon["obligations_i18n"][code][id] = value.Scalar();
    }
  }
}

// `lists`: named lists; an entry that names a location or a jurisdiction also resolves to
// locations.
void Compiler::CompileLists(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                            nlohmann::json& canon, Policy& p) {
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

// `rules`, compiled one by one (their canonical JSON dumped into pc.rules as they are); then
// the rule index and the lint of the policy. True when the policy has a `rules` list.
bool Compiler::CompileRules(const LoadedFile& f, MapReader& r, CompileContext& ctx, Policy& p,
                            PolicyCanon& pc) {
  bool has_rules = false;
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
  return has_rules;
}

// `exceptions`: time-boxed waivers of named corp rules (never of law rules).
void Compiler::CompileExceptions(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                                 nlohmann::json& canon, Policy& p) {
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

// `lifts`: evidence types that, on an artifact, take its tags of some classes out of the
// policy's rules.
void Compiler::CompileLifts(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                            nlohmann::json& canon, Policy& p) {
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
}

// `evidence_types`: the registry, set-wide: type -> {require, max_validity_days}. A type is
// registered once in a set.
void Compiler::CompileEvidenceTypes(const LoadedFile& f, MapReader& r, nlohmann::json& canon,
                                    Policy& p) {
  YNode en = r.Raw("evidence_types");
  if (!en.IsDefined() || en.IsNull()) return;
  if (!en.IsMap()) {
    sink_->Error(f.name, en.Mark(), "wrong-type",
                 "`evidence_types` must map evidence types to what their items must carry");
    return;
  }
  nlohmann::json& ec = canon["evidence_types"];
  ec = nlohmann::json::object();
  for (size_t i = 0; i < en.size(); ++i) {
    const YNode key = en.Key(i), value = en.Value(i);
    EvidenceSpec spec;
    spec.type = key.Scalar();
    auto defined_in = [&]() -> std::string {
      for (const auto& e : p.evidence_specs)
        if (e.type == spec.type) return f.name;
      for (const auto& other : set_->policies) {
        for (const auto& e : other.evidence_specs)
          if (e.type == spec.type) return other.file;
      }
      return "";
    };
    if (std::string other = defined_in(); !other.empty()) {
      sink_->Error(f.name, key.Mark(), "duplicate-id",
                   absl::StrCat("evidence type `", spec.type, "` is also registered in ", other));
      continue;
    }
    nlohmann::json& sj = ec[spec.type];
    MapReader sr(value, f.name, sink_, &sj, "evidence type");
    if (!sr.ok()) continue;
    sr.Ignore("note");
    if (auto v = sr.StringList("require")) {
      for (const auto& field : *v) {
        bool* flag = field == "country"      ? &spec.require_country
                     : field == "recipient"  ? &spec.require_recipient
                     : field == "origin"     ? &spec.require_origin
                     : field == "covers"     ? &spec.require_covers
                     : field == "not_before" ? &spec.require_not_before
                     : field == "not_after"  ? &spec.require_not_after
                                             : nullptr;
        if (!flag) {
          sink_->Error(f.name, sr.Raw("require").Mark(), "bad-value",
                       absl::StrCat("`require` names `", field,
                                    "`; want country, recipient, origin, covers, not_before or "
                                    "not_after"));
          continue;
        }
        *flag = true;
      }
    }
    if (auto v = sr.Number("max_validity_days")) {
      if (!(*v > 0) || *v > 36500) {
        sink_->Error(f.name, sr.Raw("max_validity_days").Mark(), "bad-value",
                     "`max_validity_days` must be a number of days above 0 and at most 36500");
      } else {
        spec.max_validity = absl::Hours(24) * *v;
        spec.require_not_before = true;  // the validity is counted from it
      }
    }
    sr.Finish();
    p.evidence_specs.push_back(std::move(spec));
  }
}

// `ignore_evidence`: evidence types the policy does not accept for some classes.
void Compiler::CompileIgnoredEvidence(const LoadedFile& f, MapReader& r, CompileContext& ctx,
                                      nlohmann::json& canon, Policy& p) {
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

}  // namespace residency::policy_internal
