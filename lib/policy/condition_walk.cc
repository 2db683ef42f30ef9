// Walks over compiled conditions and their canonical text (see condition_walk.h).
#include "policy/condition_walk.h"

#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal/time_util.h"

namespace residency::policy_internal {

bool DependsOnLocation(const Condition& c) {
  if (c.kind == Condition::Kind::kLocation) return c.location != nullptr;
  // Evidence naming a country holds only at the locations in that country.
  if (c.kind == Condition::Kind::kEvidence) return c.evidence && c.evidence->match_country;
  return false;
}

bool UsesTag(const Condition& c) {
  return AnyCondition(c, [](const Condition& x) {
    return x.kind == Condition::Kind::kTags ||
           (x.kind == Condition::Kind::kLocation && x.location && x.location->outside_origin);
  });
}

namespace {

// A bound of a number condition; empty when absent (or `c` is not a number condition).
std::string Bound(const Condition& c, std::optional<double> NumberBounds::*bound) {
  if (!c.bounds || !((*c.bounds).*bound)) return "";
  return CanonNumber(*((*c.bounds).*bound));
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

}  // namespace

std::string CanonNumber(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string CanonCountries(const CountryBits& b) {
  std::vector<std::string> codes;
  for (size_t i = 0; i < policy_internal::IsoCountryCount() && i < CountryBits::kCapacity; ++i) {
    if (b.Test(i)) codes.push_back(policy_internal::IsoCountryCode(i));
  }
  return absl::StrJoin(codes, ",");
}

std::string CanonStrings(const std::vector<std::string>& v) { return absl::StrJoin(v, ","); }

std::string CanonTime(const std::optional<absl::Time>& t) {
  return t ? internal::FormatTimestamp(*t) : std::string("-");
}

std::string CanonClasses(const CompiledSet& s, const ClassBits& b) {
  std::vector<std::string> names;
  for (size_t i = 0; i < s.classes.size() && i < ClassBits::kCapacity; ++i) {
    if (b.Test(i)) names.push_back(s.classes[i].id);
  }
  std::sort(names.begin(), names.end());
  return absl::StrJoin(names, ",");
}

std::string CanonList(const CompiledSet& s, const Policy& p, int list) {
  if (list < 0 || list >= static_cast<int>(p.lists.size())) return "-";
  const auto& l = p.lists[list];
  std::string out = absl::StrCat(l.name, "[");
  for (const auto& e : l.entries) {
    absl::StrAppend(&out, e.value, "|", CanonTime(e.from), "|", CanonTime(e.until), "|",
                    LocationIds(s, e.locations), ";");
  }
  absl::StrAppend(&out, "]");
  return out;
}

std::string CanonObligations(const Policy& p, const std::vector<int>& obl) {
  std::string out = "[";
  for (int i : obl) {
    if (i >= 0 && i < static_cast<int>(p.obligations.size())) {
      absl::StrAppend(&out, p.obligations[i].id, "=", p.obligations[i].message, ";");
    }
  }
  absl::StrAppend(&out, "]");
  return out;
}

void AppendConditionCanon(const CompiledSet& s, const Policy& p, const Condition& c,
                          std::string* out) {
  using K = Condition::Kind;
  absl::StrAppend(out, static_cast<int>(c.kind), "(");
  switch (c.kind) {
    case K::kTrue:
      break;
    case K::kAll:
    case K::kAny:
    case K::kNot:
      for (const auto& ch : c.children) AppendConditionCanon(s, p, ch, out);
      break;
    case K::kTags:
      for (const auto& t : c.tags) {
        absl::StrAppend(out, t.any_class ? "*" : CanonClasses(s, t.classes), ":",
                        t.any_origin ? "*" : CanonCountries(t.origins), ";");
      }
      break;
    case K::kValues:
    case K::kRegex:
    case K::kNumber:
      absl::StrAppend(out, static_cast<int>(c.field), ":", CanonStrings(c.values), ":",
                      c.regex ? c.regex->pattern() : "", ":", Bound(c, &NumberBounds::gte), ":",
                      Bound(c, &NumberBounds::gt), ":", Bound(c, &NumberBounds::lte), ":",
                      Bound(c, &NumberBounds::lt));
      break;
    case K::kLocation: {
      const auto& l = *c.location;
      absl::StrAppend(out, l.has_in ? LocationIds(s, l.in) : "-", "|",
                      l.has_not_in ? LocationIds(s, l.not_in) : "-", "|",
                      CanonList(s, p, l.in_list), "|", CanonList(s, p, l.not_in_list), "|",
                      CanonStrings(l.certifications), "|", Pairs(l.attributes), "|",
                      CanonStrings(l.sites), "|", CanonStrings(l.providers), "|",
                      l.outside_origin ? 1 : 0, "|",
                      l.own_premises ? (*l.own_premises ? "own" : "not-own") : "-");
      break;
    }
    case K::kOperator:
    case K::kRecipient: {
      const auto& q = *c.party;
      absl::StrAppend(out, q.present ? (*q.present ? "1" : "0") : "-", "|", CanonStrings(q.ids),
                      "|", q.id_regex ? q.id_regex->pattern() : "", "|",
                      q.has_countries ? CanonCountries(q.countries) : "-", "|",
                      CanonStrings(q.sectors), "|", CanonStrings(q.roles), "|", Pairs(q.attributes),
                      "|", CanonList(s, p, q.in_list), "|", CanonList(s, p, q.not_in_list));
      break;
    }
    case K::kUser:
      absl::StrAppend(out, c.user->has_jurisdictions ? CanonCountries(c.user->jurisdictions) : "-",
                      "|", CanonStrings(c.user->provenance));
      break;
    case K::kEvidence: {
      const auto& e = *c.evidence;
      absl::StrAppend(out, CanonStrings(e.types), "|", e.match_country, e.match_recipient,
                      e.match_origin, e.require_country, e.require_recipient, e.require_origin, "|",
                      CanonStrings(e.covers));
      break;
    }
  }
  absl::StrAppend(out, ")");
}

}  // namespace residency::policy_internal
