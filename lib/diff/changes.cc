// residency diff: the canonical text of compiled parts, with indexes translated to names so
// that two sets compare, and what changed between the two sets.
#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "diff/diff_internal.h"
#include "internal/time_util.h"
#include "policy/condition_walk.h"

namespace residency::diff_internal {

using policy_internal::AppendConditionCanon;
using policy_internal::CanonClasses;
using policy_internal::CanonCountries;
using policy_internal::CanonList;
using policy_internal::CanonObligations;
using policy_internal::CanonStrings;
using policy_internal::CanonTime;

// ---------------------------------------------------------------------------------------------
// Canonical text of compiled parts, with indexes translated to names so that two sets compare.

namespace {

std::string RuleCanon(const CompiledSet& s, const Policy& p, const Rule& r) {
  std::string out =
      absl::StrCat(r.id, "|", r.basis, "|", r.citation, "|", r.message, "|", r.dry_run, "|",
                   CanonTime(r.from), "|", CanonTime(r.until), "|", CanonTime(r.enforce_from), "|");
  AppendConditionCanon(s, p, r.when, &out);
  absl::StrAppend(&out, "|", r.tag_scoped, r.has_alternatives, "|");
  for (const auto& a : r.alternatives) {
    absl::StrAppend(&out, a.name, ":", static_cast<int>(a.effect), ":");
    AppendConditionCanon(s, p, a.when, &out);
    absl::StrAppend(&out, CanonObligations(p, a.obligations), ";");
  }
  absl::StrAppend(&out, "|", static_cast<int>(r.effect), "|", CanonObligations(p, r.obligations),
                  "|", r.suggest);
  return out;
}

std::string ScopeCanon(const policy_internal::Scope& sc) {
  return absl::StrCat(sc.always, "|", sc.has_origins ? CanonCountries(sc.origins) : "-", "|",
                      sc.has_operator_countries ? CanonCountries(sc.operator_countries) : "-", "|",
                      CanonStrings(sc.operator_sectors), "|",
                      sc.has_user_jurisdictions ? CanonCountries(sc.user_jurisdictions) : "-", "|",
                      sc.has_locations ? CanonCountries(sc.locations) : "-");
}

// Everything of a policy except its rules (which compare one by one) and lists (which compare
// through the rules that use them).
std::string PolicyCanon(const CompiledSet& s, const Policy& p) {
  std::string out = absl::StrCat(p.id, "|", p.basis, "|", p.dry_run, "|", ScopeCanon(p.scope), "|");
  for (const auto& e : p.exceptions) {
    absl::StrAppend(&out, e.id, ":", e.owner, ":", e.ticket, ":", CanonTime(e.not_before), ":",
                    CanonTime(e.not_after), ":");
    for (int r : e.rules) {
      if (r >= 0 && r < static_cast<int>(p.rules.size())) absl::StrAppend(&out, p.rules[r].id, ",");
    }
    AppendConditionCanon(s, p, e.when, &out);
    absl::StrAppend(&out, CanonObligations(p, e.obligations), ";");
  }
  absl::StrAppend(&out, "|");
  for (const auto& l : p.lifts) {
    absl::StrAppend(&out, CanonStrings(l.evidence_types), ":", CanonStrings(l.artifacts), ":",
                    CanonClasses(s, l.classes), ":", l.match_origin, ";");
  }
  absl::StrAppend(&out, "|");
  for (const auto& ig : p.ignores) {
    absl::StrAppend(&out, CanonStrings(ig.types), ":", CanonClasses(s, ig.classes), ";");
  }
  absl::StrAppend(&out, "|");
  for (const auto& e : p.evidence_specs) {
    absl::StrAppend(&out, e.type, ":", e.require_country, e.require_recipient, e.require_origin,
                    e.require_covers, e.require_not_before, e.require_not_after, ":",
                    e.max_validity ? absl::FormatDuration(*e.max_validity) : "-", ";");
  }
  return out;
}

std::string LocationCanon(const policy_internal::Location& l) {
  std::vector<std::string> certs = l.certifications;
  std::sort(certs.begin(), certs.end());
  std::string out =
      absl::StrCat(l.country_code, "|", l.provider, "|", l.site, "|", CanonStrings(certs), "|");
  for (const auto& [k, v] : l.attributes) absl::StrAppend(&out, k, "=", v, ",");
  return out;
}

// ---------------------------------------------------------------------------------------------
// What changed between the two sets.

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
    out[cat.jurisdiction_names[i]] = CanonCountries(cat.jurisdiction_members[i]);
  }
  return out;
}

std::map<std::string, std::string> ClassCanons(const CompiledSet& s) {
  std::map<std::string, std::string> out;
  for (const auto& c : s.classes) out[c.id] = CanonClasses(s, c.ancestors);
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

}  // namespace

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
      la[absl::StrCat(id, "/", x.lists[i].name)] = CanonList(a, x, static_cast<int>(i));
    }
    for (size_t i = 0; i < y.lists.size(); ++i) {
      lb[absl::StrCat(id, "/", y.lists[i].name)] = CanonList(b, y, static_cast<int>(i));
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

}  // namespace residency::diff_internal
