// Explanation -> JSON (for tools) and text (for people).
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "internal/time_util.h"
#include "residency/explain.h"

namespace residency {
namespace {

using Json = nlohmann::ordered_json;

Json ConditionJson(const ConditionTrace& c) {
  Json j;
  j["condition"] = c.condition;
  if (!c.source.empty()) j["source"] = c.source;
  j["value"] = TruthName(c.value);
  if (!c.facts.empty()) j["facts"] = c.facts;
  if (!c.children.empty()) {
    j["children"] = Json::array();
    for (const auto& ch : c.children) j["children"].push_back(ConditionJson(ch));
  }
  return j;
}

Json UnitJson(const UnitTrace& u) {
  Json j;
  if (!u.artifact_kind.empty()) j["kind"] = u.artifact_kind;
  if (!u.artifact.empty()) j["artifact"] = u.artifact;
  if (!u.via.empty()) j["via"] = u.via;
  if (!u.tag.empty()) j["tag"] = u.tag;
  if (!u.location.empty()) j["location"] = u.location;
  j["effect"] = EffectName(u.effect);
  if (!u.unknown.empty()) j["unknown"] = u.unknown;
  j["when"] = ConditionJson(u.when);
  j["alternatives"] = Json::array();
  for (const auto& a : u.alternatives) {
    j["alternatives"].push_back({{"name", a.name},
                                 {"effect", EffectName(a.effect)},
                                 {"chosen", a.chosen},
                                 {"when", ConditionJson(a.when)}});
  }
  j["exceptions"] = Json::array();
  for (const auto& x : u.exceptions) {
    j["exceptions"].push_back({{"id", x.id},
                               {"active", x.active},
                               {"chosen", x.chosen},
                               {"when", ConditionJson(x.when)}});
  }
  return j;
}

// The unit's place in words: "dataset `d` (via `p`), tag KR:personal, at aws:us-east-1".
std::string Place(const UnitTrace& u) {
  std::string out;
  if (u.artifact_kind.empty()) {
    out = "the request itself";
  } else {
    out = u.artifact_kind;
    if (!u.artifact.empty()) absl::StrAppend(&out, " `", u.artifact, "`");
    if (!u.via.empty()) absl::StrAppend(&out, " (via `", u.via, "`)");
  }
  if (!u.tag.empty()) absl::StrAppend(&out, ", tag ", u.tag);
  absl::StrAppend(&out, u.location.empty() ? ", at any location" : ", at " + u.location);
  return out;
}

void ConditionText(const ConditionTrace& c, int depth, std::string* out) {
  const std::string pad(depth * 2, ' ');
  absl::StrAppend(out, pad, "[", TruthName(c.value), "] ", c.condition);
  if (!c.source.empty()) absl::StrAppend(out, "  (", c.source, ")");
  out->push_back('\n');
  for (const auto& f : c.facts) absl::StrAppend(out, pad, "    - ", f, "\n");
  for (const auto& ch : c.children) ConditionText(ch, depth + 1, out);
}

// The decision, its fail-closed reasons, obligations and suggestions, and the policies in scope.
void HeaderText(const Explanation& e, std::string* out) {
  const Decision& d = e.decision;
  absl::StrAppend(out, "decision: ", EffectName(d.decision), "  (at ",
                  internal::FormatTimestamp(d.now), ", policy set ", std::string(d.policy_digest()),
                  ")\n");
  for (const Reason& r : d.reasons) {
    if (r.basis() != "fail_closed" || r.policy() != "residency") continue;
    absl::StrAppend(out, "  fail closed: ", std::string(r.rule()), ": ", std::string(r.message()),
                    "\n");
  }
  for (const ObligationRef& o : d.obligations) {
    absl::StrAppend(out, "  obligation ", std::string(o.id()), ": ", std::string(o.text()), "\n");
  }
  if (!d.suggested_locations().empty()) {
    absl::StrAppend(out, "  could go instead to:");
    for (auto l : d.suggested_locations()) absl::StrAppend(out, " ", std::string(l));
    out->push_back('\n');
  }
  absl::StrAppend(out, "policies in scope:");
  for (const auto& p : e.policies_in_scope) absl::StrAppend(out, " ", p);
  absl::StrAppend(out, "\npolicies out of scope:");
  for (const auto& p : e.policies_out_of_scope) absl::StrAppend(out, " ", p);
  out->push_back('\n');
}

const char* AlternativeVerdict(const AlternativeTrace& a) {
  if (a.chosen) return "chosen";
  switch (a.when.value) {
    case Truth::kTrue:
      return "holds, not chosen (a more lenient one decided, or the rule failed closed)";
    case Truth::kUnknown:
      return "cannot be decided, so it legalises nothing";
    case Truth::kFalse:
      break;
  }
  return "does not hold";
}

// One place a rule applies: why, then each alternative and exception with its conditions.
void UnitText(const UnitTrace& u, std::string* out) {
  absl::StrAppend(out, "  at ", Place(u), ": ", EffectName(u.effect), "\n");
  absl::StrAppend(out, "    applies because:\n");
  ConditionText(u.when, 3, out);
  if (!u.unknown.empty()) {
    absl::StrAppend(out, "    the request does not give `", u.unknown,
                    "`: judged as if the rule applied (fail closed)\n");
  }
  bool chosen = false;
  for (const auto& a : u.alternatives) {
    absl::StrAppend(out, "    alternative ", a.name, " (", EffectName(a.effect),
                    "): ", AlternativeVerdict(a), "\n");
    ConditionText(a.when, 3, out);
    chosen |= a.chosen;
  }
  if (!u.alternatives.empty() && !chosen) {
    absl::StrAppend(out, "    no alternative holds: the rule's own effect, ", EffectName(u.effect),
                    "\n");
  }
  for (const auto& x : u.exceptions) {
    const char* verdict = x.chosen    ? "lifts it"
                          : !x.active ? "not active at this time"
                                      : "does not hold";
    absl::StrAppend(out, "    exception ", x.id, ": ", verdict, "\n");
    ConditionText(x.when, 3, out);
  }
}

}  // namespace

std::string ExplanationToJson(const Explanation& e) {
  Json j;
  j["decision"] = Json::parse(DecisionToJson(e.decision));
  j["policies_in_scope"] = e.policies_in_scope;
  j["policies_out_of_scope"] = e.policies_out_of_scope;
  j["rules"] = Json::array();
  for (const auto& r : e.rules) {
    Json rj;
    rj["policy"] = r.policy;
    rj["rule"] = r.rule;
    rj["basis"] = r.basis;
    rj["effect"] = EffectName(r.effect);
    rj["dry_run"] = r.dry_run;
    rj["deciding"] = r.deciding;
    rj["citation"] = r.citation;
    rj["message"] = r.message;
    rj["source"] = r.source;
    rj["units"] = Json::array();
    for (const auto& u : r.units) rj["units"].push_back(UnitJson(u));
    rj["units_left_out"] = r.units_left_out;
    j["rules"].push_back(std::move(rj));
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ExplanationToText(const Explanation& e) {
  std::string out;
  HeaderText(e, &out);
  if (e.rules.empty()) absl::StrAppend(&out, "\nno rule applies to this request\n");
  for (const auto& r : e.rules) {
    absl::StrAppend(&out, "\n", EffectName(r.effect), "  ", r.rule, "  (", r.policy, ", ", r.basis,
                    r.dry_run ? ", dry run" : "", r.deciding ? ", deciding" : "", ")  ", r.source,
                    "\n  ", r.citation, "\n  ", r.message, "\n");
    for (const auto& u : r.units) UnitText(u, &out);
    if (r.units_left_out > 0) {
      absl::StrAppend(&out, "  … and ", r.units_left_out, " more places\n");
    }
  }
  return out;
}

}  // namespace residency
