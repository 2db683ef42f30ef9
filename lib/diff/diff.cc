// residency diff: compares two compiled policy sets by evaluating both on a generated space of
// requests (see include/residency/diff.h for the space and the counting).
#include "residency/diff.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal/time_util.h"
#include "policy/model.h"

namespace residency {
namespace {

using policy_internal::ClassBits;
using policy_internal::CompiledSet;
using policy_internal::Condition;
using policy_internal::CountryBits;
using policy_internal::LocationBits;
using policy_internal::NumberBounds;
using policy_internal::Policy;
using policy_internal::Rule;

// ---------------------------------------------------------------------------------------------
// Canonical text of compiled parts, with indexes translated to names so that two sets compare.

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// A bound of a number condition; empty when absent (or `c` is not a number condition).
std::string Bound(const Condition& c, std::optional<double> NumberBounds::*bound) {
  if (!c.bounds || !((*c.bounds).*bound)) return "";
  return Num(*((*c.bounds).*bound));
}

std::string TimeText(const std::optional<absl::Time>& t) {
  return t ? internal::FormatTimestamp(*t) : std::string("-");
}

std::string ClassNames(const CompiledSet& s, const ClassBits& b) {
  std::vector<std::string> names;
  for (size_t i = 0; i < s.classes.size() && i < ClassBits::kCapacity; ++i) {
    if (b.Test(i)) names.push_back(s.classes[i].id);
  }
  std::sort(names.begin(), names.end());
  return absl::StrJoin(names, ",");
}

std::string CountryCodes(const CountryBits& b) {
  std::vector<std::string> codes;
  for (size_t i = 0; i < policy_internal::IsoCountryCount() && i < CountryBits::kCapacity; ++i) {
    if (b.Test(i)) codes.push_back(policy_internal::IsoCountryCode(i));
  }
  return absl::StrJoin(codes, ",");
}

// A location set as countries (every catalogue location of the country is in it) and the
// remaining location ids, so that a location added to the catalogue does not change the text of
// a rule that names its country.
std::string LocationIds(const CompiledSet& s, const LocationBits& b) {
  std::map<std::string, std::vector<std::string>> in, out;  // country -> ids
  const auto& locs = s.catalogue.locations;
  for (size_t i = 0; i < locs.size() && i < LocationBits::kCapacity; ++i) {
    (b.Test(i) ? in : out)[locs[i].country_code].push_back(locs[i].id);
  }
  std::vector<std::string> parts;
  for (auto& [cc, ids] : in) {
    if (!out.count(cc)) {
      parts.push_back(cc);
    } else {
      for (auto& id : ids) parts.push_back(std::move(id));
    }
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ",");
}

std::string Strs(const std::vector<std::string>& v) { return absl::StrJoin(v, ","); }

std::string Pairs(const std::vector<std::pair<std::string, std::string>>& v) {
  std::vector<std::string> out;
  for (const auto& [k, x] : v) out.push_back(absl::StrCat(k, "=", x));
  std::sort(out.begin(), out.end());
  return absl::StrJoin(out, ",");
}

std::string ListCanon(const CompiledSet& s, const Policy& p, int list) {
  if (list < 0 || list >= static_cast<int>(p.lists.size())) return "-";
  const auto& l = p.lists[list];
  std::string out = absl::StrCat(l.name, "[");
  for (const auto& e : l.entries) {
    absl::StrAppend(&out, e.value, "|", TimeText(e.from), "|", TimeText(e.until), "|",
                    LocationIds(s, e.locations), ";");
  }
  absl::StrAppend(&out, "]");
  return out;
}

std::string ObligationsCanon(const Policy& p, const std::vector<int>& obl) {
  std::string out = "[";
  for (int i : obl) {
    if (i >= 0 && i < static_cast<int>(p.obligations.size())) {
      absl::StrAppend(&out, p.obligations[i].id, "=", p.obligations[i].message, ";");
    }
  }
  absl::StrAppend(&out, "]");
  return out;
}

void CondCanon(const CompiledSet& s, const Policy& p, const Condition& c, std::string* out) {
  using K = Condition::Kind;
  absl::StrAppend(out, static_cast<int>(c.kind), "(");
  switch (c.kind) {
    case K::kTrue:
      break;
    case K::kAll:
    case K::kAny:
    case K::kNot:
      for (const auto& ch : c.children) CondCanon(s, p, ch, out);
      break;
    case K::kTags:
      for (const auto& t : c.tags) {
        absl::StrAppend(out, t.any_class ? "*" : ClassNames(s, t.classes), ":",
                        t.any_origin ? "*" : CountryCodes(t.origins), ";");
      }
      break;
    case K::kValues:
    case K::kRegex:
    case K::kNumber:
      absl::StrAppend(out, static_cast<int>(c.field), ":", Strs(c.values), ":",
                      c.regex ? c.regex->pattern() : "", ":", Bound(c, &NumberBounds::gte), ":",
                      Bound(c, &NumberBounds::gt), ":", Bound(c, &NumberBounds::lte), ":",
                      Bound(c, &NumberBounds::lt));
      break;
    case K::kLocation: {
      const auto& l = *c.location;
      absl::StrAppend(out, l.has_in ? LocationIds(s, l.in) : "-", "|",
                      l.has_not_in ? LocationIds(s, l.not_in) : "-", "|",
                      ListCanon(s, p, l.in_list), "|", ListCanon(s, p, l.not_in_list), "|",
                      Strs(l.certifications), "|", Pairs(l.attributes), "|", Strs(l.sites), "|",
                      Strs(l.providers), "|", l.outside_origin ? 1 : 0);
      break;
    }
    case K::kOperator:
    case K::kRecipient: {
      const auto& q = *c.party;
      absl::StrAppend(out, q.present ? (*q.present ? "1" : "0") : "-", "|", Strs(q.ids), "|",
                      q.id_regex ? q.id_regex->pattern() : "", "|",
                      q.has_countries ? CountryCodes(q.countries) : "-", "|", Strs(q.sectors), "|",
                      Strs(q.roles), "|", Pairs(q.attributes), "|", ListCanon(s, p, q.in_list), "|",
                      ListCanon(s, p, q.not_in_list));
      break;
    }
    case K::kUser:
      absl::StrAppend(out, c.user->has_jurisdictions ? CountryCodes(c.user->jurisdictions) : "-",
                      "|", Strs(c.user->provenance));
      break;
    case K::kEvidence: {
      const auto& e = *c.evidence;
      absl::StrAppend(out, Strs(e.types), "|", e.match_country, e.match_recipient, e.match_origin,
                      e.require_country, e.require_recipient, e.require_origin);
      break;
    }
  }
  absl::StrAppend(out, ")");
}

std::string RuleCanon(const CompiledSet& s, const Policy& p, const Rule& r) {
  std::string out = absl::StrCat(r.id, "|", r.basis, "|", r.citation, "|", r.message, "|",
                                 r.dry_run, "|", TimeText(r.from), "|", TimeText(r.until), "|");
  CondCanon(s, p, r.when, &out);
  absl::StrAppend(&out, "|", r.tag_scoped, r.has_alternatives, "|");
  for (const auto& a : r.alternatives) {
    absl::StrAppend(&out, a.name, ":", static_cast<int>(a.effect), ":");
    CondCanon(s, p, a.when, &out);
    absl::StrAppend(&out, ObligationsCanon(p, a.obligations), ";");
  }
  absl::StrAppend(&out, "|", static_cast<int>(r.effect), "|", ObligationsCanon(p, r.obligations),
                  "|", r.suggest);
  return out;
}

std::string ScopeCanon(const policy_internal::Scope& sc) {
  return absl::StrCat(sc.always, "|", sc.has_origins ? CountryCodes(sc.origins) : "-", "|",
                      sc.has_operator_countries ? CountryCodes(sc.operator_countries) : "-", "|",
                      Strs(sc.operator_sectors), "|",
                      sc.has_user_jurisdictions ? CountryCodes(sc.user_jurisdictions) : "-");
}

// Everything of a policy except its rules (which compare one by one) and lists (which compare
// through the rules that use them).
std::string PolicyCanon(const CompiledSet& s, const Policy& p) {
  std::string out = absl::StrCat(p.id, "|", p.basis, "|", p.dry_run, "|", ScopeCanon(p.scope), "|");
  for (const auto& e : p.exceptions) {
    absl::StrAppend(&out, e.id, ":", e.owner, ":", e.ticket, ":", TimeText(e.not_before), ":",
                    TimeText(e.not_after), ":");
    for (int r : e.rules) {
      if (r >= 0 && r < static_cast<int>(p.rules.size())) absl::StrAppend(&out, p.rules[r].id, ",");
    }
    CondCanon(s, p, e.when, &out);
    absl::StrAppend(&out, ObligationsCanon(p, e.obligations), ";");
  }
  absl::StrAppend(&out, "|");
  for (const auto& l : p.lifts) {
    absl::StrAppend(&out, Strs(l.evidence_types), ":", Strs(l.artifacts), ":",
                    ClassNames(s, l.classes), ":", l.match_origin, ";");
  }
  absl::StrAppend(&out, "|");
  for (const auto& ig : p.ignores) {
    absl::StrAppend(&out, Strs(ig.types), ":", ClassNames(s, ig.classes), ";");
  }
  return out;
}

std::string LocationCanon(const policy_internal::Location& l) {
  std::vector<std::string> certs = l.certifications;
  std::sort(certs.begin(), certs.end());
  std::string out =
      absl::StrCat(l.country_code, "|", l.provider, "|", l.site, "|", Strs(certs), "|");
  for (const auto& [k, v] : l.attributes) absl::StrAppend(&out, k, "=", v, ",");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Condition walking.

void Visit(const Condition& c, const std::function<void(const Condition&, int)>& f, int neg = 0) {
  f(c, neg);
  int child_neg = neg + (c.kind == Condition::Kind::kNot ? 1 : 0);
  for (const auto& ch : c.children) Visit(ch, f, child_neg);
}

// Calls `f` on every condition of a rule: its `when`, its alternatives', and those of the
// exceptions of its policy that name it.
void VisitRule(const Policy& p, int rule_index,
               const std::function<void(const Condition&, int)>& f) {
  const Rule& r = p.rules[rule_index];
  Visit(r.when, f);
  for (const auto& a : r.alternatives) Visit(a.when, f);
  for (const auto& e : p.exceptions) {
    if (std::find(e.rules.begin(), e.rules.end(), rule_index) != e.rules.end()) Visit(e.when, f);
  }
}

// ---------------------------------------------------------------------------------------------
// Request profiles: what a request carries besides its shape, location, class and origin.

struct Profile {
  std::vector<std::string> evidence;  // types, sorted, unique
  bool has_operator = false;
  std::string operator_id, operator_country;  // country empty: the origin's country
  std::vector<std::string> sectors;
  AttributeMap operator_attributes;
  bool has_recipient = false;
  std::string recipient_id, recipient_country, role;  // country empty: the location's country
  AttributeMap recipient_attributes;
  std::string transfer_type, transfer_pattern, transaction;
  std::string purpose, use_case, tier, job, provenance;
  std::optional<double> subjects, sensitive_subjects, cumulative_subjects, training_flops,
      retention_hours;

  std::string Key() const {
    auto attrs = [](const AttributeMap& m) {
      std::string out;
      for (const auto& [k, v] : m) absl::StrAppend(&out, k, "=", v, ",");
      return out;
    };
    auto opt = [](const std::optional<double>& v) { return v ? Num(*v) : std::string("-"); };
    return absl::StrCat(
        Strs(evidence), "|", has_operator, operator_id, "/", operator_country, "/", Strs(sectors),
        "/", attrs(operator_attributes), "|", has_recipient, recipient_id, "/", recipient_country,
        "/", role, "/", attrs(recipient_attributes), "|", transfer_type, "/", transfer_pattern, "/",
        transaction, "|", purpose, "/", use_case, "/", tier, "/", job, "/", provenance, "|",
        opt(subjects), "/", opt(sensitive_subjects), "/", opt(cumulative_subjects), "/",
        opt(training_flops), "/", opt(retention_hours));
  }
};

void SetIfEmpty(std::string* dst, const std::string& v) {
  if (dst->empty()) *dst = v;
}

Profile Merge(const Profile& a, const Profile& b) {
  Profile out = a;
  for (const auto& e : b.evidence) out.evidence.push_back(e);
  std::sort(out.evidence.begin(), out.evidence.end());
  out.evidence.erase(std::unique(out.evidence.begin(), out.evidence.end()), out.evidence.end());
  out.has_operator |= b.has_operator;
  SetIfEmpty(&out.operator_id, b.operator_id);
  SetIfEmpty(&out.operator_country, b.operator_country);
  for (const auto& s : b.sectors) {
    if (std::find(out.sectors.begin(), out.sectors.end(), s) == out.sectors.end()) {
      out.sectors.push_back(s);
    }
  }
  for (const auto& [k, v] : b.operator_attributes) out.operator_attributes.emplace(k, v);
  out.has_recipient |= b.has_recipient;
  SetIfEmpty(&out.recipient_id, b.recipient_id);
  SetIfEmpty(&out.recipient_country, b.recipient_country);
  SetIfEmpty(&out.role, b.role);
  for (const auto& [k, v] : b.recipient_attributes) out.recipient_attributes.emplace(k, v);
  SetIfEmpty(&out.transfer_type, b.transfer_type);
  SetIfEmpty(&out.transfer_pattern, b.transfer_pattern);
  SetIfEmpty(&out.transaction, b.transaction);
  SetIfEmpty(&out.purpose, b.purpose);
  SetIfEmpty(&out.use_case, b.use_case);
  SetIfEmpty(&out.tier, b.tier);
  SetIfEmpty(&out.job, b.job);
  SetIfEmpty(&out.provenance, b.provenance);
  if (!out.subjects) out.subjects = b.subjects;
  if (!out.sensitive_subjects) out.sensitive_subjects = b.sensitive_subjects;
  if (!out.cumulative_subjects) out.cumulative_subjects = b.cumulative_subjects;
  if (!out.training_flops) out.training_flops = b.training_flops;
  if (!out.retention_hours) out.retention_hours = b.retention_hours;
  return out;
}

constexpr size_t kMaxWitnesses = 16;

// A value within the bounds of a number condition.
double NumberWitness(const Condition& c) {
  auto step = [](double x) { return std::max(1.0, std::abs(x) * 1e-6); };
  const NumberBounds& b = *c.bounds;
  if (b.gte) return *b.gte;
  if (b.gt) return *b.gt + step(*b.gt);
  if (b.lte) return *b.lte;
  if (b.lt) return std::max(0.0, *b.lt - step(*b.lt));
  return 0;
}

const std::string* FirstListValue(const Policy& p, int list) {
  if (list < 0 || list >= static_cast<int>(p.lists.size())) return nullptr;
  if (p.lists[list].entries.empty()) return nullptr;
  return &p.lists[list].entries.front().value;
}

std::string FirstCountry(const CountryBits& b) {
  for (size_t i = 0; i < policy_internal::IsoCountryCount() && i < CountryBits::kCapacity; ++i) {
    if (b.Test(i)) return policy_internal::IsoCountryCode(i);
  }
  return "";
}

// Profiles that satisfy the parts of `c` a profile can carry (evidence, parties, transfer,
// purpose, use case, tier, job, provenance, numbers); the location, class and origin are other
// dimensions of the space. `any` gives one profile per branch; `not` gives none of its own.
std::vector<Profile> Witness(const Policy& p, const Condition& c) {
  using K = Condition::Kind;
  using policy_internal::Field;
  Profile w;
  switch (c.kind) {
    case K::kAll: {
      std::vector<Profile> acc = {Profile()};
      for (const auto& ch : c.children) {
        std::vector<Profile> next;
        for (const auto& x : Witness(p, ch)) {
          for (const auto& a : acc) {
            if (next.size() < kMaxWitnesses) next.push_back(Merge(a, x));
          }
        }
        acc = std::move(next);
      }
      return acc;
    }
    case K::kAny: {
      std::vector<Profile> out;
      for (const auto& ch : c.children) {
        for (auto& x : Witness(p, ch)) {
          if (out.size() < kMaxWitnesses) out.push_back(std::move(x));
        }
      }
      if (out.empty()) out.emplace_back();
      return out;
    }
    case K::kValues:
      if (c.values.empty()) break;
      switch (c.field) {
        case Field::kPurpose:
          w.purpose = c.values[0];
          break;
        case Field::kUseCase:
          w.use_case = c.values[0];
          break;
        case Field::kTier:
          w.tier = c.values[0];
          break;
        case Field::kTransferType:
          w.transfer_type = c.values[0];
          break;
        case Field::kTransferPattern:
          w.transfer_pattern = c.values[0];
          break;
        case Field::kTransaction:
          w.transaction = c.values[0];
          break;
        case Field::kUserProvenance:
          w.provenance = c.values[0];
          break;
        case Field::kJob:
          // Inference is a shape of its own; other jobs replace the training job.
          for (const auto& v : c.values) {
            if (v != "inference" && v != "training") {
              w.job = v;
              break;
            }
          }
          break;
        default:
          break;
      }
      break;
    case K::kNumber: {
      double v = NumberWitness(c);
      switch (c.field) {
        case Field::kSubjects:
          w.subjects = v;
          break;
        case Field::kSensitiveSubjects:
          w.sensitive_subjects = v;
          break;
        case Field::kCumulativeSubjects:
          w.cumulative_subjects = v;
          break;
        case Field::kTrainingFlops:
          w.training_flops = v;
          break;
        case Field::kRetentionHours:
          w.retention_hours = v;
          break;
        default:
          break;
      }
      break;
    }
    case K::kOperator:
    case K::kRecipient: {
      const auto& q = *c.party;
      if (q.present && !*q.present) break;
      bool op = c.kind == K::kOperator;
      std::string id = !q.ids.empty() ? q.ids[0] : "";
      if (id.empty() && q.in_list >= 0) {
        if (const std::string* v = FirstListValue(p, q.in_list)) id = *v;
      }
      std::string country = q.has_countries ? FirstCountry(q.countries) : "";
      for (const auto& [k, v] : q.attributes) {
        (op ? w.operator_attributes : w.recipient_attributes).emplace(k, v);
      }
      if (op) {
        w.has_operator = true;
        w.operator_id = id;
        w.operator_country = country;
        if (!q.sectors.empty()) w.sectors.push_back(q.sectors[0]);
      } else {
        w.has_recipient = true;
        w.recipient_id = id;
        w.recipient_country = country;
        if (!q.roles.empty()) w.role = q.roles[0];
      }
      break;
    }
    case K::kUser:
      if (!c.user->provenance.empty()) w.provenance = c.user->provenance[0];
      break;
    case K::kEvidence:
      if (!c.evidence->types.empty()) w.evidence.push_back(c.evidence->types[0]);
      break;
    default:
      break;
  }
  return {w};
}

std::vector<Profile> Cross(const std::vector<Profile>& a, const std::vector<Profile>& b) {
  std::vector<Profile> out;
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (out.size() < kMaxWitnesses) out.push_back(Merge(x, y));
    }
  }
  return out;
}

// Profiles that make the rule apply, and each of its alternatives and exceptions hold.
std::vector<Profile> RuleWitnesses(const Policy& p, int rule_index) {
  const Rule& r = p.rules[rule_index];
  std::vector<Profile> base = Witness(p, r.when);
  std::vector<Profile> out = base;
  for (const auto& a : r.alternatives) {
    for (auto& x : Cross(base, Witness(p, a.when))) out.push_back(std::move(x));
  }
  for (const auto& e : p.exceptions) {
    if (std::find(e.rules.begin(), e.rules.end(), rule_index) == e.rules.end()) continue;
    for (auto& x : Cross(base, Witness(p, e.when))) out.push_back(std::move(x));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Features: what part of a request a rule looks at, and what part a profile sets. A profile is
// combined only with the classes and origins of the rules that look at something it sets.

using Features = std::set<std::string>;

void AddLeafFeatures(const Condition& c, Features* f) {
  using K = Condition::Kind;
  using policy_internal::Field;
  switch (c.kind) {
    case K::kEvidence:
      for (const auto& t : c.evidence->types) f->insert("ev:" + t);
      break;
    case K::kOperator:
      f->insert("op");
      for (const auto& s : c.party->sectors) f->insert("sector:" + s);
      for (const auto& kv : c.party->attributes) f->insert("opattr:" + kv.first);
      break;
    case K::kRecipient:
      f->insert("rec");
      for (const auto& r : c.party->roles) f->insert("role:" + r);
      for (const auto& kv : c.party->attributes) f->insert("recattr:" + kv.first);
      break;
    case K::kUser:
      if (!c.user->provenance.empty()) f->insert("provenance");
      break;
    case K::kValues:
      switch (c.field) {
        case Field::kPurpose:
          f->insert("purpose");
          break;
        case Field::kUseCase:
          f->insert("use_case");
          break;
        case Field::kTier:
          f->insert("tier");
          break;
        case Field::kJob:
          f->insert("job");
          break;
        case Field::kUserProvenance:
          f->insert("provenance");
          break;
        case Field::kTransferType:
        case Field::kTransferPattern:
        case Field::kTransaction:
          f->insert("transfer");
          break;
        default:
          break;
      }
      break;
    case K::kNumber:
      f->insert(absl::StrCat("num:", static_cast<int>(c.field)));
      break;
    default:
      break;
  }
}

Features ProfileFeatures(const Profile& pr) {
  using policy_internal::Field;
  Features f;
  for (const auto& e : pr.evidence) f.insert("ev:" + e);
  if (pr.has_operator) {
    // The operator a sector profile needs is incidental; one the profile is about counts.
    if (!pr.operator_country.empty() || !pr.operator_id.empty()) {
      f.insert("op");
    }
    for (const auto& s : pr.sectors) f.insert("sector:" + s);
    for (const auto& kv : pr.operator_attributes) f.insert("opattr:" + kv.first);
  }
  // The recipient that evidence needs is incidental; one the profile is about counts.
  if (pr.has_recipient) {
    f.insert("rec");
    if (!pr.role.empty()) f.insert("role:" + pr.role);
    for (const auto& kv : pr.recipient_attributes) f.insert("recattr:" + kv.first);
  }
  if (!pr.transfer_type.empty() || !pr.transfer_pattern.empty() || !pr.transaction.empty()) {
    f.insert("transfer");
  }
  if (!pr.purpose.empty()) f.insert("purpose");
  if (!pr.use_case.empty()) f.insert("use_case");
  if (!pr.tier.empty()) f.insert("tier");
  if (!pr.job.empty()) f.insert("job");
  if (!pr.provenance.empty()) f.insert("provenance");
  auto num = [&](const std::optional<double>& v, Field field) {
    if (v) f.insert(absl::StrCat("num:", static_cast<int>(field)));
  };
  num(pr.subjects, Field::kSubjects);
  num(pr.sensitive_subjects, Field::kSensitiveSubjects);
  num(pr.cumulative_subjects, Field::kCumulativeSubjects);
  num(pr.training_flops, Field::kTrainingFlops);
  num(pr.retention_hours, Field::kRetentionHours);
  return f;
}

bool Intersect(const Features& a, const Features& b) {
  for (const auto& x : a)
    if (b.count(x)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// What changed between the two sets.

struct RuleRef {
  int set;  // 0 old, 1 new
  int policy;
  int rule;
};

struct Changes {
  std::vector<std::string> lines;
  bool global = false;              // something changed that no part below names
  std::set<std::string> locations;  // catalogue locations added, removed or changed
  std::set<std::string> classes;    // data classes added, removed or re-parented
  std::set<std::string> groups;     // catalogue groups added, removed or changed
  std::vector<RuleRef> rules;       // rules to explore first (both versions)
};

template <typename T>
std::map<std::string, int> IndexById(const std::vector<T>& v) {
  std::map<std::string, int> out;
  for (size_t i = 0; i < v.size(); ++i) out.emplace(v[i].id, static_cast<int>(i));
  return out;
}

std::map<std::string, std::string> GroupCanons(const CompiledSet& s) {
  std::map<std::string, std::string> out;
  const auto& cat = s.catalogue;
  for (size_t i = policy_internal::IsoCountryCount(); i < cat.jurisdiction_names.size(); ++i) {
    out[cat.jurisdiction_names[i]] = CountryCodes(cat.jurisdiction_members[i]);
  }
  return out;
}

std::map<std::string, std::string> ClassCanons(const CompiledSet& s) {
  std::map<std::string, std::string> out;
  for (const auto& c : s.classes) out[c.id] = ClassNames(s, c.ancestors);
  return out;
}

// Compares two name -> canonical text maps; reports `<what> <name> added|removed|changed`.
template <typename F>
void CompareMaps(const std::map<std::string, std::string>& a,
                 const std::map<std::string, std::string>& b, const std::string& what,
                 std::vector<std::string>* lines, F&& on_change) {
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      lines->push_back(absl::StrCat(what, " ", k, " removed"));
      on_change(k);
    } else if (it->second != v) {
      lines->push_back(absl::StrCat(what, " ", k, " changed"));
      on_change(k);
    }
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) {
      lines->push_back(absl::StrCat(what, " ", k, " added"));
      on_change(k);
    }
  }
}

Changes FindChanges(const CompiledSet& a, const CompiledSet& b) {
  Changes ch;
  const CompiledSet* sets[2] = {&a, &b};
  auto all_rules = [&](int set, int policy) {
    for (size_t r = 0; r < sets[set]->policies[policy].rules.size(); ++r) {
      ch.rules.push_back(RuleRef{set, policy, static_cast<int>(r)});
    }
  };
  auto pa = IndexById(a.policies), pb = IndexById(b.policies);
  for (const auto& [id, ia] : pa) {
    if (!pb.count(id)) {
      ch.lines.push_back(absl::StrCat("policy ", id, " removed"));
      all_rules(0, ia);
    }
  }
  for (const auto& entry : pb) {
    // Plain names: lambdas may not capture structured bindings in C++17 (clang rejects it).
    const auto& id = entry.first;
    const int ib = entry.second;
    auto it = pa.find(id);
    if (it == pa.end()) {
      ch.lines.push_back(absl::StrCat("policy ", id, " added"));
      all_rules(1, ib);
      continue;
    }
    int ia = it->second;
    const Policy& x = a.policies[ia];
    const Policy& y = b.policies[ib];
    if (PolicyCanon(a, x) != PolicyCanon(b, y)) {
      ch.lines.push_back(absl::StrCat(
          "policy ", id, " changed (scope, mode, exceptions, lifts or ignore_evidence)"));
      all_rules(0, ia);
      all_rules(1, ib);
    }
    auto ra = IndexById(x.rules), rb = IndexById(y.rules);
    std::map<std::string, std::string> ca, cb;
    for (const auto& [rid, i] : ra) ca[rid] = RuleCanon(a, x, x.rules[i]);
    for (const auto& [rid, i] : rb) cb[rid] = RuleCanon(b, y, y.rules[i]);
    CompareMaps(ca, cb, "rule", &ch.lines, [&](const std::string& rid) {
      if (auto i = ra.find(rid); i != ra.end()) ch.rules.push_back(RuleRef{0, ia, i->second});
      if (auto i = rb.find(rid); i != rb.end()) ch.rules.push_back(RuleRef{1, ib, i->second});
    });
    if (ra.size() == rb.size() && ca == cb) {
      for (size_t i = 0; i < x.rules.size(); ++i) {
        if (x.rules[i].id != y.rules[i].id) {
          ch.lines.push_back(absl::StrCat("policy ", id, ": rule order changed"));
          break;
        }
      }
    }
    std::map<std::string, std::string> la, lb;
    for (size_t i = 0; i < x.lists.size(); ++i) {
      la[absl::StrCat(id, "/", x.lists[i].name)] = ListCanon(a, x, static_cast<int>(i));
    }
    for (size_t i = 0; i < y.lists.size(); ++i) {
      lb[absl::StrCat(id, "/", y.lists[i].name)] = ListCanon(b, y, static_cast<int>(i));
    }
    // Rules that use a changed list changed with it (their canonical form holds the list).
    CompareMaps(la, lb, "list", &ch.lines, [](const std::string&) {});
  }
  CompareMaps(ClassCanons(a), ClassCanons(b), "class", &ch.lines,
              [&](const std::string& id) { ch.classes.insert(id); });
  CompareMaps(GroupCanons(a), GroupCanons(b), "group", &ch.lines,
              [&](const std::string& id) { ch.groups.insert(id); });
  std::map<std::string, std::string> loca, locb;
  for (const auto& l : a.catalogue.locations) loca[l.id] = LocationCanon(l);
  for (const auto& l : b.catalogue.locations) locb[l.id] = LocationCanon(l);
  CompareMaps(loca, locb, "location", &ch.lines,
              [&](const std::string& id) { ch.locations.insert(id); });
  if (a.digest != b.digest && ch.lines.empty()) {
    ch.lines.push_back("the sets differ outside rules, lists, classes, groups and locations");
    ch.global = true;
  }
  std::sort(ch.lines.begin(), ch.lines.end());
  return ch;
}

// ---------------------------------------------------------------------------------------------
// The generated space.

enum class Shape : uint8_t { kDatasetStore, kDatasetTransfer, kModelDeploy, kTraining, kInference };
constexpr int kShapes = 5;

enum NumberField { kSubjects, kSensitive, kCumulative, kFlops, kRetention, kNumberFields };

struct Atom {
  std::vector<std::string> members;  // members[0] is the representative
};

struct Origin {
  std::string name;     // as written in requests: a country code or a group
  std::string country;  // a country within it (the operator's country in sector profiles)
  std::string home;     // a catalogue location within it, or empty
  bool known[2] = {false, false};
  CountryBits bits[2];
};

struct SetInfo {
  const CompiledSet* set = nullptr;
  std::vector<LocationBits> location_sets;  // every location set a condition or list tests
  std::vector<ClassBits> class_sets;        // every class set a tag pattern, lift or ignore tests
  std::set<std::string> certifications;     // location certifications a condition requires
  std::set<std::string> attributes;         // location attribute keys a condition tests
  std::set<std::string> sites, providers;   // location sites / providers a condition names
};

void AddUnique(std::vector<LocationBits>* v, const LocationBits& b) {
  if (std::find(v->begin(), v->end(), b) == v->end()) v->push_back(b);
}
void AddUnique(std::vector<ClassBits>* v, const ClassBits& b) {
  if (std::find(v->begin(), v->end(), b) == v->end()) v->push_back(b);
}

SetInfo Collect(const CompiledSet& s) {
  SetInfo info;
  info.set = &s;
  for (const auto& p : s.policies) {
    for (size_t r = 0; r < p.rules.size(); ++r) {
      VisitRule(p, static_cast<int>(r), [&](const Condition& c, int) {
        if (c.kind == Condition::Kind::kLocation) {
          if (c.location->has_in) AddUnique(&info.location_sets, c.location->in);
          if (c.location->has_not_in) AddUnique(&info.location_sets, c.location->not_in);
          info.certifications.insert(c.location->certifications.begin(),
                                     c.location->certifications.end());
          for (const auto& kv : c.location->attributes) info.attributes.insert(kv.first);
          info.sites.insert(c.location->sites.begin(), c.location->sites.end());
          info.providers.insert(c.location->providers.begin(), c.location->providers.end());
        } else if (c.kind == Condition::Kind::kTags) {
          for (const auto& t : c.tags) {
            if (!t.any_class) AddUnique(&info.class_sets, t.classes);
          }
        }
      });
    }
    for (const auto& l : p.lists) {
      for (const auto& e : l.entries) AddUnique(&info.location_sets, e.locations);
    }
    for (const auto& l : p.lifts) AddUnique(&info.class_sets, l.classes);
    for (const auto& ig : p.ignores) AddUnique(&info.class_sets, ig.classes);
  }
  return info;
}

const policy_internal::Location* FindLocation(const CompiledSet& s, const std::string& id) {
  auto it = s.catalogue.location_index.find(id);
  return it == s.catalogue.location_index.end() ? nullptr : &s.catalogue.locations[it->second];
}

int ClassIndex(const CompiledSet& s, const std::string& id) {
  auto it = s.class_index.find(id);
  return it == s.class_index.end() ? -1 : it->second;
}

int JurisdictionIndex(const CompiledSet& s, const std::string& name) {
  auto it = s.catalogue.jurisdiction_index.find(name);
  return it == s.catalogue.jurisdiction_index.end() ? -1 : it->second;
}

// Groups names that behave alike under every condition of both sets; keeps first-seen order.
std::vector<Atom> MakeAtoms(const std::vector<std::string>& names,
                            const std::function<std::string(const std::string&)>& signature) {
  std::vector<Atom> atoms;
  std::map<std::string, size_t> by_sig;
  for (const auto& n : names) {
    std::string sig = signature(n);
    auto [it, fresh] = by_sig.emplace(sig, atoms.size());
    if (fresh) atoms.emplace_back();
    atoms[it->second].members.push_back(n);
  }
  return atoms;
}

class Space {
 public:
  Space(const CompiledSet& a, const CompiledSet& b) {
    info_[0] = Collect(a);
    info_[1] = Collect(b);
    BuildLocations();
    BuildClasses();
    BuildOrigins();
    BuildProfiles();
    BuildProfilePairs();
  }

  const CompiledSet& set(int i) const { return *info_[i].set; }
  const std::vector<std::string>& locations() const { return locations_; }
  const std::vector<Atom>& location_atoms() const { return loc_atoms_; }
  const std::vector<Atom>& class_atoms() const { return class_atoms_; }
  const std::vector<Origin>& origins() const { return origins_; }
  const std::vector<Profile>& profiles() const { return profiles_; }
  int location_atom_of(const std::string& id) const {
    auto it = loc_atom_of_.find(id);
    return it == loc_atom_of_.end() ? -1 : it->second;
  }

  // Index of each profile a focus rule calls for: its witnesses, the evidence types and sectors
  // it tests (and its policy's scope sectors), always with the empty profile first.
  std::vector<size_t> FocusProfiles(const std::vector<RuleRef>& rules) const {
    std::set<size_t> chosen = {0};
    auto add = [&](const Profile& p) {
      auto it = profile_index_.find(p.Key());
      if (it != profile_index_.end()) chosen.insert(it->second);
    };
    for (const auto& r : rules) {
      const Policy& p = set(r.set).policies[r.policy];
      for (const auto& w : RuleWitnesses(p, r.rule)) add(w);
      VisitRule(p, r.rule, [&](const Condition& c, int) {
        if (c.kind == Condition::Kind::kEvidence) {
          for (const auto& t : c.evidence->types) add(EvidenceProfile(t));
        } else if (c.kind == Condition::Kind::kOperator) {
          for (const auto& s : c.party->sectors) add(SectorProfile(s));
        }
      });
      for (const auto& s : p.scope.operator_sectors) add(SectorProfile(s));
      for (const auto& l : p.lifts) {
        for (const auto& t : l.evidence_types) add(EvidenceProfile(t));
      }
    }
    return std::vector<size_t>(chosen.begin(), chosen.end());
  }

  // The (class atom, origin) pairs explored with profile p: all for the empty profile, else
  // those of the rules that look at something the profile sets.
  const std::vector<bool>& profile_pairs(size_t p) const { return profile_pairs_[p]; }

  // relevant[c * origins + o]: some focus rule's `when` can hold for a tag of class atom c and
  // origin o (tags decide it only in part; the rest is left open).
  std::vector<bool> FocusPairs(const std::vector<RuleRef>& rules) const {
    std::vector<bool> out(class_atoms_.size() * origins_.size(), false);
    for (const auto& r : rules) {
      const Rule& rule = set(r.set).policies[r.policy].rules[r.rule];
      std::vector<bool> pairs = CondPairs(r.set, rule.when);
      for (size_t k = 0; k < out.size(); ++k) out[k] = out[k] || pairs[k];
    }
    return out;
  }

  // The (class atom, origin) pairs for which `cond` of set `si` can hold as far as tags decide.
  std::vector<bool> CondPairs(int si, const Condition& cond) const {
    size_t nc = class_atoms_.size(), no = origins_.size();
    std::vector<bool> out(nc * no, false);
    const CompiledSet& s = set(si);
    for (size_t c = 0; c < nc; ++c) {
      const std::string& cls = class_atoms_[c].members[0];
      int ci = ClassIndex(s, cls);
      if (ci < 0) continue;
      std::vector<const ClassBits*> ancestors = {&s.classes[ci].ancestors};
      if (cls == "anonymized") {
        int pi = ClassIndex(s, "pseudonymized");
        if (pi >= 0) ancestors.push_back(&s.classes[pi].ancestors);
      }
      for (size_t o = 0; o < no; ++o) {
        if (!origins_[o].known[si]) continue;
        for (const ClassBits* anc : ancestors) {
          if (Partial(cond, *anc, origins_[o].bits[si]) != Tri::kFalse) out[c * no + o] = true;
        }
      }
    }
    return out;
  }

  Request Build(size_t l, size_t c, size_t o, int shape, size_t p, absl::Time now) const;

 private:
  enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

  static Tri Partial(const Condition& c, const ClassBits& anc, const CountryBits& origin) {
    using K = Condition::Kind;
    switch (c.kind) {
      case K::kTags:
        for (const auto& t : c.tags) {
          if ((t.any_class || anc.Intersects(t.classes)) &&
              (t.any_origin || origin.SubsetOf(t.origins))) {
            return Tri::kTrue;
          }
        }
        return Tri::kFalse;
      case K::kAll: {
        Tri out = Tri::kTrue;
        for (const auto& ch : c.children) {
          Tri t = Partial(ch, anc, origin);
          if (t == Tri::kFalse) return t;
          if (t == Tri::kUnknown) out = t;
        }
        return out;
      }
      case K::kAny: {
        Tri out = Tri::kFalse;
        for (const auto& ch : c.children) {
          Tri t = Partial(ch, anc, origin);
          if (t == Tri::kTrue) return t;
          if (t == Tri::kUnknown) out = t;
        }
        return out;
      }
      case K::kNot: {
        Tri t = Partial(c.children[0], anc, origin);
        return t == Tri::kUnknown ? t : t == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
      }
      case K::kTrue:
        return Tri::kTrue;
      default:
        return Tri::kUnknown;
    }
  }

  static Profile EvidenceProfile(const std::string& type) {
    Profile p;
    p.evidence.push_back(type);
    return p;
  }
  static Profile SectorProfile(const std::string& sector) {
    Profile p;
    p.has_operator = true;
    p.sectors.push_back(sector);
    return p;
  }

  void BuildLocations() {
    std::set<std::string> seen;
    for (int i = 0; i < 2; ++i) {
      for (const auto& l : set(i).catalogue.locations) {
        if (seen.insert(l.id).second) locations_.push_back(l.id);
      }
    }
    loc_atoms_ = MakeAtoms(locations_, [&](const std::string& id) {
      std::string sig;
      for (int i = 0; i < 2; ++i) {
        const CompiledSet& s = set(i);
        auto it = s.catalogue.location_index.find(id);
        if (it == s.catalogue.location_index.end()) {
          absl::StrAppend(&sig, "absent#");
          continue;
        }
        // What a condition can see of the location: its country (outside_origin, evidence
        // country), and the site, provider, certifications and attributes some condition tests.
        const auto& l = s.catalogue.locations[it->second];
        absl::StrAppend(&sig, l.country_code, "|", info_[i].sites.count(l.site) ? l.site : "", "|",
                        info_[i].providers.count(l.provider) ? l.provider : "", "|");
        for (const auto& c : l.certifications) {
          if (info_[i].certifications.count(c)) absl::StrAppend(&sig, c, ",");
        }
        absl::StrAppend(&sig, "|");
        for (const auto& [k, v] : l.attributes) {
          if (info_[i].attributes.count(k)) absl::StrAppend(&sig, k, "=", v, ",");
        }
        absl::StrAppend(&sig, "#");
        for (const auto& b : info_[i].location_sets) sig.push_back(b.Test(it->second) ? '1' : '0');
        sig.push_back('#');
      }
      return sig;
    });
    for (size_t a = 0; a < loc_atoms_.size(); ++a) {
      for (const auto& m : loc_atoms_[a].members) loc_atom_of_[m] = static_cast<int>(a);
    }
  }

  void BuildClasses() {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (int i = 0; i < 2; ++i) {
      for (const auto& c : set(i).classes) {
        if (seen.insert(c.id).second) names.push_back(c.id);
      }
    }
    class_atoms_ = MakeAtoms(names, [&](const std::string& id) {
      // `anonymized` is evaluated as `pseudonymized` unless attested: it stays alone.
      if (id == "anonymized") return std::string("anonymized");
      std::string sig;
      for (int i = 0; i < 2; ++i) {
        int ci = ClassIndex(set(i), id);
        if (ci < 0) {
          absl::StrAppend(&sig, "absent#");
          continue;
        }
        const ClassBits& anc = set(i).classes[ci].ancestors;
        for (const auto& b : info_[i].class_sets) sig.push_back(anc.Intersects(b) ? '1' : '0');
        sig.push_back('#');
      }
      return sig;
    });
  }

  // Splits a country set into the catalogue groups (of two or more countries) it covers, largest
  // first, and the remaining countries.
  std::vector<std::string> Decompose(const CompiledSet& s, const CountryBits& bits) const {
    const auto& cat = s.catalogue;
    std::vector<std::pair<int, size_t>> groups;  // (-size, index)
    for (size_t i = policy_internal::IsoCountryCount(); i < cat.jurisdiction_names.size(); ++i) {
      int n = 0;
      for (size_t k = 0; k < policy_internal::IsoCountryCount(); ++k) {
        n += cat.jurisdiction_members[i].Test(k) ? 1 : 0;
      }
      if (n >= 2) groups.emplace_back(-n, i);
    }
    std::sort(groups.begin(), groups.end(), [&](const auto& x, const auto& y) {
      return x.first != y.first
                 ? x.first < y.first
                 : cat.jurisdiction_names[x.second] < cat.jurisdiction_names[y.second];
    });
    std::vector<std::string> out;
    CountryBits remaining = bits;
    for (const auto& [neg, i] : groups) {
      const CountryBits& m = cat.jurisdiction_members[i];
      if (m.SubsetOf(bits) && m.Intersects(remaining)) {
        out.push_back(cat.jurisdiction_names[i]);
        for (size_t k = 0; k < CountryBits::kCapacity / 64; ++k) remaining.w[k] &= ~m.w[k];
      }
    }
    for (size_t k = 0; k < policy_internal::IsoCountryCount(); ++k) {
      if (remaining.Test(k)) out.push_back(policy_internal::IsoCountryCode(k));
    }
    return out;
  }

  std::string CountryOfLocation(const std::string& id) const {
    for (int i = 0; i < 2; ++i) {
      if (const auto* l = FindLocation(set(i), id)) return l->country_code;
    }
    return "";
  }

  void BuildOrigins() {
    std::set<std::string> names;
    CountryBits mentioned;
    for (int i = 0; i < 2; ++i) {
      const CompiledSet& s = set(i);
      auto add = [&](const CountryBits& b) {
        mentioned |= b;
        for (auto& n : Decompose(s, b)) names.insert(std::move(n));
      };
      for (const auto& p : s.policies) {
        if (p.scope.has_origins) add(p.scope.origins);
        if (p.scope.has_user_jurisdictions) add(p.scope.user_jurisdictions);
        if (p.scope.has_operator_countries) add(p.scope.operator_countries);
        for (size_t r = 0; r < p.rules.size(); ++r) {
          VisitRule(p, static_cast<int>(r), [&](const Condition& c, int) {
            if (c.kind == Condition::Kind::kTags) {
              for (const auto& t : c.tags) {
                if (!t.any_origin) add(t.origins);
              }
            } else if (c.kind == Condition::Kind::kUser && c.user->has_jurisdictions) {
              add(c.user->jurisdictions);
            } else if ((c.kind == Condition::Kind::kOperator) && c.party->has_countries) {
              add(c.party->countries);
            }
          });
        }
      }
    }
    // A country within each group (the first in catalogue order), and one country no policy
    // mentions (data whose home has no policy).
    std::vector<std::string> extra;
    for (const auto& n : names) {
      if (policy_internal::IsoCountryIndex(n) >= 0) continue;
      extra.push_back(GroupCountry(n));
    }
    for (const auto& id : locations_) {
      std::string cc = CountryOfLocation(id);
      int k = policy_internal::IsoCountryIndex(cc);
      if (k >= 0 && !mentioned.Test(k)) {
        extra.push_back(cc);
        break;
      }
    }
    for (auto& e : extra) {
      if (!e.empty()) names.insert(std::move(e));
    }
    // One name per behaviour: CN_MAINLAND and CN are the same origin; countries win.
    std::vector<std::string> ordered(names.begin(), names.end());
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const std::string& x, const std::string& y) {
                       bool cx = policy_internal::IsoCountryIndex(x) >= 0,
                            cy = policy_internal::IsoCountryIndex(y) >= 0;
                       return cx != cy ? cx : false;
                     });
    std::set<std::string> seen_bits;
    for (const auto& n : ordered) {
      Origin o;
      o.name = n;
      std::string key;
      for (int i = 0; i < 2; ++i) {
        int j = JurisdictionIndex(set(i), n);
        o.known[i] = j >= 0;
        if (j >= 0) o.bits[i] = set(i).catalogue.jurisdiction_members[j];
        absl::StrAppend(&key, o.known[i] ? CountryCodes(o.bits[i]) : "?", "#");
      }
      if (!seen_bits.insert(key).second) continue;
      o.country = policy_internal::IsoCountryIndex(n) >= 0 ? n : GroupCountry(n);
      const CountryBits& b = o.known[0] ? o.bits[0] : o.bits[1];
      for (const auto& id : locations_) {
        int k = policy_internal::IsoCountryIndex(CountryOfLocation(id));
        if (k >= 0 && b.Test(k)) {
          o.home = id;
          break;
        }
      }
      origins_.push_back(std::move(o));
    }
    std::sort(origins_.begin(), origins_.end(),
              [](const Origin& x, const Origin& y) { return x.name < y.name; });
  }

  // The first country in catalogue order within group `name` (else its first member).
  std::string GroupCountry(const std::string& name) const {
    for (int i = 0; i < 2; ++i) {
      int j = JurisdictionIndex(set(i), name);
      if (j < 0) continue;
      const CountryBits& b = set(i).catalogue.jurisdiction_members[j];
      for (const auto& id : locations_) {
        int k = policy_internal::IsoCountryIndex(CountryOfLocation(id));
        if (k >= 0 && b.Test(k)) return policy_internal::IsoCountryCode(k);
      }
      return FirstCountry(b);
    }
    return "";
  }

  void BuildProfiles() {
    std::vector<Profile> all = {Profile()};
    std::set<std::string> evidence, sectors;
    for (int i = 0; i < 2; ++i) {
      for (const auto& p : set(i).policies) {
        for (const auto& s : p.scope.operator_sectors) sectors.insert(s);
        for (const auto& l : p.lifts)
          evidence.insert(l.evidence_types.begin(), l.evidence_types.end());
        for (size_t r = 0; r < p.rules.size(); ++r) {
          for (auto& w : RuleWitnesses(p, static_cast<int>(r))) all.push_back(std::move(w));
          VisitRule(p, static_cast<int>(r), [&](const Condition& c, int) {
            using K = Condition::Kind;
            using policy_internal::Field;
            if (c.kind == K::kEvidence) {
              evidence.insert(c.evidence->types.begin(), c.evidence->types.end());
            } else if (c.kind == K::kOperator) {
              sectors.insert(c.party->sectors.begin(), c.party->sectors.end());
            } else if (c.kind == K::kNumber) {
              switch (c.field) {
                case Field::kSubjects:
                  numbers_[kSubjects] = true;
                  break;
                case Field::kSensitiveSubjects:
                  numbers_[kSensitive] = true;
                  break;
                case Field::kCumulativeSubjects:
                  numbers_[kCumulative] = true;
                  break;
                case Field::kTrainingFlops:
                  numbers_[kFlops] = true;
                  break;
                case Field::kRetentionHours:
                  numbers_[kRetention] = true;
                  break;
                default:
                  break;
              }
            }
          });
        }
      }
    }
    for (const auto& e : evidence) all.push_back(EvidenceProfile(e));
    for (const auto& s : sectors) all.push_back(SectorProfile(s));
    for (auto& p : all) {
      std::string key = p.Key();
      if (profile_index_.emplace(key, profiles_.size()).second) profiles_.push_back(std::move(p));
    }
  }

  // Each rule contributes units: its `when` (with its policy's scope and lifts), and its `when`
  // with each alternative and each exception naming it. A profile is combined with the pairs of
  // the units that look at something it sets.
  void BuildProfilePairs() {
    struct Unit {
      std::vector<bool> pairs;
      Features features;
    };
    std::vector<Unit> units;
    size_t n = class_atoms_.size() * origins_.size();
    auto leaf_features = [](const Condition& c) {
      Features f;
      Visit(c, [&](const Condition& x, int) { AddLeafFeatures(x, &f); });
      return f;
    };
    for (int i = 0; i < 2; ++i) {
      const CompiledSet& s = set(i);
      for (const auto& p : s.policies) {
        Features scope;
        // (An operator's country brings a policy into scope only where its origin already
        // does: profiles put the operator in the origin's country.)
        for (const auto& sec : p.scope.operator_sectors) scope.insert("sector:" + sec);
        for (const auto& l : p.lifts) {
          for (const auto& t : l.evidence_types) scope.insert("ev:" + t);
        }
        for (size_t r = 0; r < p.rules.size(); ++r) {
          const Rule& rule = p.rules[r];
          std::vector<bool> when = CondPairs(i, rule.when);
          if (std::find(when.begin(), when.end(), false) == when.end()) {
            // The rule does not look at tags: every pair would do; combine the profile with the
            // least restricted class and with plain personal data, for every origin.
            std::fill(when.begin(), when.end(), false);
            for (size_t c = 0; c < class_atoms_.size(); ++c) {
              const auto& m = class_atoms_[c].members;
              if (c != 0 && std::find(m.begin(), m.end(), "personal") == m.end()) continue;
              for (size_t o = 0; o < origins_.size(); ++o) when[c * origins_.size() + o] = true;
            }
          }
          Features wf = leaf_features(rule.when);
          wf.insert(scope.begin(), scope.end());
          units.push_back(Unit{when, wf});
          auto add = [&](const Condition& c) {
            std::vector<bool> pairs = CondPairs(i, c);
            for (size_t k = 0; k < n; ++k) pairs[k] = pairs[k] && when[k];
            units.push_back(Unit{std::move(pairs), leaf_features(c)});
          };
          for (const auto& a : rule.alternatives) add(a.when);
          for (const auto& e : p.exceptions) {
            if (std::find(e.rules.begin(), e.rules.end(), static_cast<int>(r)) != e.rules.end()) {
              add(e.when);
            }
          }
        }
      }
    }
    for (size_t p = 0; p < profiles_.size(); ++p) {
      std::vector<bool> mask(n, p == 0);
      if (p > 0) {
        Features f = ProfileFeatures(profiles_[p]);
        for (const auto& u : units) {
          if (!Intersect(f, u.features)) continue;
          for (size_t k = 0; k < n; ++k) mask[k] = mask[k] || u.pairs[k];
        }
        // An attestation keeps `anonymized` anonymized for every policy.
        if (f.count("ev:anonymization_attestation")) {
          for (size_t c = 0; c < class_atoms_.size(); ++c) {
            if (class_atoms_[c].members[0] != "anonymized") continue;
            for (size_t o = 0; o < origins_.size(); ++o) mask[c * origins_.size() + o] = true;
          }
        }
      }
      profile_pairs_.push_back(std::move(mask));
    }
  }

  SetInfo info_[2];
  std::vector<std::vector<bool>> profile_pairs_;
  std::vector<std::string> locations_;
  std::vector<Atom> loc_atoms_;
  absl::flat_hash_map<std::string, int> loc_atom_of_;
  std::vector<Atom> class_atoms_;
  std::vector<Origin> origins_;
  std::vector<Profile> profiles_;
  std::map<std::string, size_t> profile_index_;
  bool numbers_[kNumberFields] = {false, false, false, false, false};

  friend class Explorer;
};

Request Space::Build(size_t l, size_t c, size_t o, int shape, size_t p, absl::Time now) const {
  const std::string& loc = loc_atoms_[l].members[0];
  const std::string& cls = class_atoms_[c].members[0];
  const Origin& origin = origins_[o];
  const Profile& pr = profiles_[p];
  const std::string home = origin.home.empty() ? loc : origin.home;
  const std::string loc_country = CountryOfLocation(loc);

  Request r;
  r.now = now;
  r.purpose = pr.purpose;
  r.use_case = pr.use_case;
  r.transfer.type = pr.transfer_type;
  r.transfer.pattern = pr.transfer_pattern;
  r.transfer.transaction = pr.transaction;
  if (numbers_[kRetention]) r.transfer.retention_hours = pr.retention_hours.value_or(12);
  const bool recipient = pr.has_recipient || !pr.evidence.empty();
  const std::string recipient_id = pr.recipient_id.empty() ? "recipient-1" : pr.recipient_id;
  if (pr.has_operator) {
    Party op;
    op.id = pr.operator_id.empty() ? "operator-1" : pr.operator_id;
    op.country = pr.operator_country.empty() ? origin.country : pr.operator_country;
    op.sectors = pr.sectors;
    op.attributes = pr.operator_attributes;
    r.operator_party = std::move(op);
  }
  if (recipient) {
    Party rc;
    rc.id = recipient_id;
    rc.country = pr.recipient_country.empty() ? loc_country : pr.recipient_country;
    rc.role = pr.role.empty() ? "processor" : pr.role;
    rc.attributes = pr.recipient_attributes;
    r.recipient = std::move(rc);
  }
  std::vector<Evidence> evidence;
  for (const auto& t : pr.evidence) {
    Evidence e;
    e.type = t;
    e.country = loc_country;
    e.recipient = recipient_id;
    e.origin = origin.name;
    evidence.push_back(std::move(e));
  }
  r.evidence = evidence;

  Partition part;
  part.classes = {cls};
  part.origin = origin.name;
  if (numbers_[kSubjects] || numbers_[kCumulative]) part.subjects = pr.subjects.value_or(1000);
  if (numbers_[kSensitive]) part.sensitive_subjects = pr.sensitive_subjects.value_or(0);
  if (numbers_[kCumulative]) {
    part.cumulative_subjects = pr.cumulative_subjects.value_or(part.subjects.value_or(1000));
  }
  Dataset ds;
  ds.id = "ds-1";
  ds.partitions = {part};
  ds.evidence = evidence;

  Model model;
  model.id = "model-1";
  model.artifact = "weights";
  model.tier = pr.tier;
  model.location = loc;
  if (numbers_[kFlops]) model.training_flops = pr.training_flops.value_or(1e24);
  model.evidence = evidence;

  switch (static_cast<Shape>(shape)) {
    case Shape::kDatasetStore:
      r.kind = Request::Kind::kDataset;
      r.action = "store";
      r.destination = loc;
      ds.location = loc;
      r.dataset = std::move(ds);
      break;
    case Shape::kDatasetTransfer:
      r.kind = Request::Kind::kDataset;
      r.action = "transfer";
      r.destination = loc;
      ds.location = home;
      r.dataset = std::move(ds);
      break;
    case Shape::kModelDeploy:
      r.kind = Request::Kind::kModel;
      r.action = "deploy";
      r.destination = loc;
      model.trained_on = std::vector<Dataset>{std::move(ds)};
      r.model = std::move(model);
      break;
    case Shape::kTraining: {
      static const std::map<std::string, std::string> kJobAction = {{"training", "train"},
                                                                    {"fine_tune", "fine_tune"},
                                                                    {"batch", "process"},
                                                                    {"evaluate", "evaluate"}};
      r.kind = Request::Kind::kCompute;
      Compute cp;
      cp.job = kJobAction.count(pr.job) ? pr.job : "training";
      r.action = kJobAction.at(cp.job);
      cp.location = loc;
      ds.location = home;
      ComputeInput in;
      in.dataset = std::move(ds);
      cp.inputs.push_back(std::move(in));
      if (!pr.tier.empty()) {
        model.trained_on = std::vector<Dataset>{};
        ComputeInput base;
        base.model = std::move(model);
        cp.inputs.push_back(std::move(base));
      }
      cp.outputs.push_back(ComputeOutput{loc, "checkpoint"});
      r.compute = std::move(cp);
      break;
    }
    case Shape::kInference: {
      r.kind = Request::Kind::kCompute;
      r.action = "infer";
      Compute cp;
      cp.job = "inference";
      cp.location = loc;
      model.trained_on = std::vector<Dataset>{};
      ComputeInput in;
      in.model = std::move(model);
      cp.inputs.push_back(std::move(in));
      cp.user = User{origin.name, pr.provenance.empty() ? "verified" : pr.provenance};
      cp.prompt_classes = std::vector<std::string>{cls};
      r.compute = std::move(cp);
      break;
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Exploration.

struct GroupKey {
  Effect from, to;
  std::vector<std::string> rules;
  bool operator<(const GroupKey& o) const {
    return std::tie(from, to, rules) < std::tie(o.from, o.to, o.rules);
  }
};

struct GroupAcc {
  size_t count = 0;
  std::set<int> location_atoms;
  std::vector<DiffExample> examples;
};

class Explorer {
 public:
  Explorer(const PolicySnapshot& a, const PolicySnapshot& b, const Space& space,
           const DiffOptions& options, absl::Time now)
      : a_(a), b_(b), space_(space), options_(options), now_(now) {
    eval_.suggest = false;
    eval_.now = now;
    nl_ = space.location_atoms().size();
    nc_ = space.class_atoms().size();
    no_ = space.origins().size();
    np_ = space.profiles().size();
  }

  // Representatives in the space: for each profile, its (class, origin) pairs x shapes x
  // location atoms.
  size_t SpaceSize() const {
    size_t n = 0;
    for (size_t p = 0; p < np_; ++p) {
      const auto& m = space_.profile_pairs(p);
      n += static_cast<size_t>(std::count(m.begin(), m.end(), true)) * kShapes * nl_;
    }
    return n;
  }

  // Explores one point; false when the budget is spent.
  bool Visit(size_t l, size_t c, size_t o, int k, size_t p) {
    uint64_t key = ((((static_cast<uint64_t>(p) * kShapes + k) * no_ + o) * nc_ + c) * nl_) + l;
    if (track_ && !seen_.insert(key).second) return true;
    if (!track_ && check_ && seen_.count(key)) return true;
    if (report_.evaluations + 2 > options_.max_evaluations) {
      report_.complete = false;
      return false;
    }
    Request r = space_.Build(l, c, o, k, p, now_);
    report_.evaluations += 2;
    report_.requests_explored++;
    size_t weight =
        space_.location_atoms()[l].members.size() * space_.class_atoms()[c].members.size();
    absl::StatusOr<Decision> da = Evaluate(a_, r, eval_);
    absl::StatusOr<Decision> db = Evaluate(b_, r, eval_);
    if (!da.ok() || !db.ok()) {
      report_.errors++;
      return true;
    }
    report_.requests_covered += weight;
    if (da->decision == db->decision) return true;
    bool widened = db->decision < da->decision;
    const Decision& strict = widened ? *da : *db;
    GroupKey gk{da->decision, db->decision, {}};
    for (const auto& reason : strict.reasons) gk.rules.emplace_back(reason.rule());
    std::sort(gk.rules.begin(), gk.rules.end());
    gk.rules.erase(std::unique(gk.rules.begin(), gk.rules.end()), gk.rules.end());
    GroupAcc& g = (widened ? widened_ : narrowed_)[gk];
    g.count += weight;
    g.location_atoms.insert(static_cast<int>(l));
    if (g.examples.size() < std::max<size_t>(1, options_.max_examples)) {
      DiffExample ex;
      ex.request_json = RequestToJson(r);
      ex.request = std::move(r);
      ex.old_decision = std::move(*da);
      ex.new_decision = std::move(*db);
      g.examples.push_back(std::move(ex));
    }
    return true;
  }

  void Run(const Changes& changes) {
    report_.changes_complete = false;
    bool focused = !changes.global && (!changes.rules.empty() || !changes.locations.empty() ||
                                       !changes.classes.empty() || !changes.groups.empty());
    if (focused) {
      track_ = true;
      if (!changes.rules.empty() && !RuleFocus(changes.rules)) return;
      if (!changes.locations.empty() && !LocationFocus(changes.locations)) return;
      if (!changes.classes.empty() || !changes.groups.empty()) {
        std::vector<bool> cls(nc_, false), org(no_, false);
        for (size_t c = 0; c < nc_; ++c) {
          for (const auto& m : space_.class_atoms()[c].members)
            cls[c] = cls[c] || changes.classes.count(m);
        }
        for (size_t o = 0; o < no_; ++o) {
          const Origin& x = space_.origins()[o];
          org[o] =
              changes.groups.count(x.name) || x.known[0] != x.known[1] || !(x.bits[0] == x.bits[1]);
        }
        if (!Sweep([&](size_t c, size_t o) { return cls[c]; })) return;
        if (!Sweep([&](size_t c, size_t o) { return org[o]; })) return;
      }
      track_ = false;
      check_ = true;
      report_.changes_complete = true;
    }
    if (Sweep([](size_t, size_t) { return true; })) report_.changes_complete = true;
  }

  DiffReport Finish() {
    report_.space = SpaceSize();
    auto emit = [&](std::map<GroupKey, GroupAcc>& in, std::vector<DiffGroup>* out) {
      for (auto& [key, acc] : in) {
        DiffGroup g;
        g.from = key.from;
        g.to = key.to;
        g.rules = key.rules;
        g.count = acc.count;
        std::set<std::string> members;
        for (int a : acc.location_atoms) {
          for (const auto& m : space_.location_atoms()[a].members) members.insert(m);
        }
        for (const auto& id : space_.locations()) {
          if (members.count(id)) g.locations.push_back(id);
        }
        g.examples = std::move(acc.examples);
        out->push_back(std::move(g));
      }
    };
    emit(widened_, &report_.widened);
    emit(narrowed_, &report_.narrowed);
    // Most severe first: widenings from deny (to allow first), narrowings to deny (from allow
    // first); then by rules.
    std::stable_sort(report_.widened.begin(), report_.widened.end(),
                     [](const DiffGroup& x, const DiffGroup& y) {
                       return std::make_tuple(-static_cast<int>(x.from), x.to) <
                              std::make_tuple(-static_cast<int>(y.from), y.to);
                     });
    std::stable_sort(report_.narrowed.begin(), report_.narrowed.end(),
                     [](const DiffGroup& x, const DiffGroup& y) {
                       return std::make_tuple(-static_cast<int>(x.to), x.from) <
                              std::make_tuple(-static_cast<int>(y.to), y.from);
                     });
    return std::move(report_);
  }

 private:
  bool RuleFocus(const std::vector<RuleRef>& rules) {
    std::vector<size_t> profiles = space_.FocusProfiles(rules);
    std::vector<bool> pairs = space_.FocusPairs(rules);
    for (size_t p : profiles)
      for (int k = 0; k < kShapes; ++k)
        for (size_t o = 0; o < no_; ++o)
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o]) continue;
            for (size_t l = 0; l < nl_; ++l)
              if (!Visit(l, c, o, k, p)) return false;
          }
    return true;
  }

  // The whole space (each profile with its pairs) restricted to the pairs `keep` accepts.
  bool Sweep(const std::function<bool(size_t, size_t)>& keep) {
    for (size_t p = 0; p < np_; ++p) {
      const auto& pairs = space_.profile_pairs(p);
      for (int k = 0; k < kShapes; ++k)
        for (size_t o = 0; o < no_; ++o)
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o] || !keep(c, o)) continue;
            for (size_t l = 0; l < nl_; ++l)
              if (!Visit(l, c, o, k, p)) return false;
          }
    }
    return true;
  }

  bool LocationFocus(const std::set<std::string>& ids) {
    std::set<size_t> atoms;
    for (const auto& id : ids) {
      int a = space_.location_atom_of(id);
      if (a >= 0) atoms.insert(static_cast<size_t>(a));
    }
    for (size_t p = 0; p < np_; ++p) {
      const auto& pairs = space_.profile_pairs(p);
      for (int k = 0; k < kShapes; ++k)
        for (size_t o = 0; o < no_; ++o)
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o]) continue;
            for (size_t l : atoms)
              if (!Visit(l, c, o, k, p)) return false;
          }
    }
    return true;
  }

  const PolicySnapshot& a_;
  const PolicySnapshot& b_;
  const Space& space_;
  const DiffOptions& options_;
  absl::Time now_;
  EvalOptions eval_;
  size_t nl_ = 0, nc_ = 0, no_ = 0, np_ = 0;
  bool track_ = false, check_ = false;
  absl::flat_hash_set<uint64_t> seen_;
  DiffReport report_;
  std::map<GroupKey, GroupAcc> widened_, narrowed_;
};

}  // namespace

absl::StatusOr<DiffReport> DiffPolicies(const PolicySnapshot& old_set,
                                        const PolicySnapshot& new_set, const DiffOptions& options) {
  if (options.max_examples == 0) {
    return absl::InvalidArgumentError("max_examples must be at least 1");
  }
  absl::Time now = options.now ? *options.now : absl::Now();
  const CompiledSet& a = old_set.impl();
  const CompiledSet& b = new_set.impl();
  Changes changes = FindChanges(a, b);
  Space space(a, b);
  Explorer explorer(old_set, new_set, space, options, now);
  if (a.digest != b.digest || options.explore_identical) explorer.Run(changes);
  DiffReport report = explorer.Finish();
  report.old_digest = a.digest;
  report.new_digest = b.digest;
  report.now = now;
  report.changes = std::move(changes.lines);
  return report;
}

}  // namespace residency
