// Decision -> JSON, keys in a fixed order (include/residency/decision.h, DecisionToJson).
#include <nlohmann/json.hpp>

#include "internal/time_util.h"
#include "residency/decision.h"

namespace residency {
namespace {

nlohmann::ordered_json ReasonJson(const Reason& r) {
  nlohmann::ordered_json j;
  j["policy"] = r.policy();
  j["rule"] = r.rule();
  j["basis"] = r.basis();
  j["effect"] = EffectName(r.effect());
  j["citation"] = r.citation();
  j["message"] = r.message();
  if (!r.alternative().empty()) j["alternative"] = r.alternative();
  if (!r.exception().empty()) j["exception"] = r.exception();
  return j;
}

}  // namespace

std::string DecisionToJson(const Decision& d) {
  nlohmann::ordered_json j;
  j["decision"] = EffectName(d.decision);
  j["reasons"] = nlohmann::ordered_json::array();
  for (const auto& r : d.reasons) j["reasons"].push_back(ReasonJson(r));
  j["obligations"] = nlohmann::ordered_json::array();
  for (const auto& o : d.obligations) {
    j["obligations"].push_back({{"id", o.id()}, {"policy", o.policy()}});
  }
  j["suggested_locations"] = d.suggested_locations();
  j["tags"] = d.tags;
  j["lifted"] = nlohmann::ordered_json::array();
  for (const auto& l : d.lifted) j["lifted"].push_back({{"tag", l.tag()}, {"policy", l.policy()}});
  j["dry_run"] = nlohmann::ordered_json::array();
  for (const auto& r : d.dry_run) j["dry_run"].push_back(ReasonJson(r));
  j["now"] = internal::FormatTimestamp(d.now);
  j["policy_digest"] = d.policy_digest();
  if (d.audit) {
    j["audit"] = {{"log", d.audit->log}, {"index", d.audit->index}};
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace residency
