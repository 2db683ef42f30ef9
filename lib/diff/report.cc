// DiffReportToJson / DiffReportToText.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal/time_util.h"
#include "residency/diff.h"

namespace residency {
namespace {

using Json = nlohmann::ordered_json;

// `rule` or `rule/alternative` or `rule/exception` for each reason of a decision.
std::vector<std::string> ReasonNames(const Decision& d) {
  std::vector<std::string> out;
  for (const auto& r : d.reasons) {
    std::string s(r.rule());
    if (!r.alternative().empty()) s.append("/").append(r.alternative());
    if (!r.exception().empty()) s.append("/").append(r.exception());
    out.push_back(std::move(s));
  }
  return out;
}

Json DecisionSummary(const Decision& d) {
  Json j = Json::object();
  j["decision"] = EffectName(d.decision);
  j["reasons"] = ReasonNames(d);
  return j;
}

Json GroupJson(const DiffGroup& g) {
  Json j = Json::object();
  j["from"] = EffectName(g.from);
  j["to"] = EffectName(g.to);
  j["rules"] = g.rules;
  j["count"] = g.count;
  j["locations"] = g.locations;
  j["example"] = g.examples.empty() ? Json() : Json::parse(g.examples[0].request_json);
  Json ex = Json::array();
  for (const auto& e : g.examples) {
    Json x = Json::object();
    x["request"] = Json::parse(e.request_json);
    x["old"] = DecisionSummary(e.old_decision);
    x["new"] = DecisionSummary(e.new_decision);
    ex.push_back(std::move(x));
  }
  j["examples"] = std::move(ex);
  return j;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

void GroupsText(const char* title, const std::vector<DiffGroup>& groups, std::string* out) {
  if (groups.empty()) {
    absl::StrAppend(out, title, ": none\n");
    return;
  }
  absl::StrAppend(out, title, ": ", Plural(groups.size(), "group", "groups"), "\n");
  for (const auto& g : groups) {
    absl::StrAppend(out, "  ", EffectName(g.from), " -> ", EffectName(g.to), "  [",
                    absl::StrJoin(g.rules, ", "), "]  ", Plural(g.count, "request", "requests"),
                    "\n");
    constexpr size_t kShown = 12;
    std::vector<std::string> shown(g.locations.begin(),
                                   g.locations.begin() + std::min(kShown, g.locations.size()));
    absl::StrAppend(out, "    at ", absl::StrJoin(shown, ", "));
    if (g.locations.size() > kShown) {
      absl::StrAppend(out, " and ", g.locations.size() - kShown, " more");
    }
    absl::StrAppend(out, "\n");
    for (const auto& e : g.examples) {
      absl::StrAppend(out, "    example: ", e.request_json, "\n");
      absl::StrAppend(out, "      old: ", EffectName(e.old_decision.decision), " (",
                      absl::StrJoin(ReasonNames(e.old_decision), ", "), ")\n");
      absl::StrAppend(out, "      new: ", EffectName(e.new_decision.decision), " (",
                      absl::StrJoin(ReasonNames(e.new_decision), ", "), ")\n");
    }
  }
}

}  // namespace

std::string DiffReportToJson(const DiffReport& r, int indent) {
  Json j = Json::object();
  j["old_digest"] = r.old_digest;
  j["new_digest"] = r.new_digest;
  j["now"] = internal::FormatTimestamp(r.now);
  j["changes"] = r.changes;
  Json ex = Json::object();
  ex["requests"] = r.requests_explored;
  ex["covered"] = r.requests_covered;
  ex["evaluations"] = r.evaluations;
  ex["space"] = r.space;
  ex["complete"] = r.complete;
  ex["changes_complete"] = r.changes_complete;
  ex["errors"] = r.errors;
  j["explored"] = std::move(ex);
  Json w = Json::array(), n = Json::array();
  for (const auto& g : r.widened) w.push_back(GroupJson(g));
  for (const auto& g : r.narrowed) n.push_back(GroupJson(g));
  j["widened"] = std::move(w);
  j["narrowed"] = std::move(n);
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

std::string DiffReportToText(const DiffReport& r) {
  std::string out;
  absl::StrAppend(&out, "old ", r.old_digest, "\nnew ", r.new_digest, "\n");
  if (r.old_digest == r.new_digest) absl::StrAppend(&out, "the digests are equal\n");
  if (r.changes.empty()) {
    absl::StrAppend(&out, "changes: none\n");
  } else {
    absl::StrAppend(&out, "changes:\n");
    for (const auto& c : r.changes) absl::StrAppend(&out, "  ", c, "\n");
  }
  absl::StrAppend(&out, "explored ", Plural(r.requests_explored, "request", "requests"),
                  " (standing for ", r.requests_covered, ", ", r.evaluations, " evaluations) at ",
                  internal::FormatTimestamp(r.now), "; ",
                  r.complete ? std::string("complete")
                  : r.changes_complete
                      ? absl::StrCat("the changes explored completely, budget reached in the rest "
                                     "of the space (",
                                     r.space, " requests)")
                      : absl::StrCat("budget reached (", r.space, " requests in the space)"),
                  r.errors ? absl::StrCat("; ", r.errors, " not evaluable") : "", "\n");
  GroupsText("widened", r.widened, &out);
  GroupsText("narrowed", r.narrowed, &out);
  return out;
}

}  // namespace residency
