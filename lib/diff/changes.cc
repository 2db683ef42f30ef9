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

namespace residency::diff_internal {

// ---------------------------------------------------------------------------------------------
// Canonical text of compiled parts, with indexes translated to names so that two sets compare.

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string CountryCodes(const CountryBits& b) {
  std::vector<std::string> codes;
  for (size_t i = 0; i < policy_internal::IsoCountryCount() && i < CountryBits::kCapacity; ++i) {
    if (b.Test(i)) codes.push_back(policy_internal::IsoCountryCode(i));
  }
  return absl::StrJoin(codes, ",");
}

std::string Strs(const std::vector<std::string>& v) { return absl::StrJoin(v, ","); }

namespace {

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
                      Strs(l.providers), "|", l.outside_origin ? 1 : 0, "|",
                      l.own_premises ? (*l.own_premises ? "own" : "not-own") : "-");
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
                      e.require_country, e.require_recipient, e.require_origin, "|",
                      Strs(e.covers));
      break;
    }
  }
  absl::StrAppend(out, ")");
}

std::string RuleCanon(const CompiledSet& s, const Policy& p, const Rule& r) {
  std::string out =
      absl::StrCat(r.id, "|", r.basis, "|", r.citation, "|", r.message, "|", r.dry_run, "|",
                   TimeText(r.from), "|", TimeText(r.until), "|", TimeText(r.enforce_from), "|");
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
                      sc.has_user_jurisdictions ? CountryCodes(sc.user_jurisdictions) : "-", "|",
                      sc.has_locations ? CountryCodes(sc.locations) : "-");
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
      absl::StrCat(l.country_code, "|", l.provider, "|", l.site, "|", Strs(certs), "|");
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

}  // namespace residency::diff_internal
