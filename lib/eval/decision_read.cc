// DecisionFromJson: a decision read back from the JSON DecisionToJson writes (a decision sent to
// another process, or kept in a file), with every text owned by the decision.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eval/evaluator.h"
#include "internal/time_util.h"
#include "residency/decision.h"

namespace residency {
namespace {

using Json = nlohmann::json;
using eval_internal::DecisionBuilder;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError("decision JSON: `" + where + "` " + what);
}

absl::StatusOr<Effect> EffectOf(const Json& j, const std::string& where) {
  if (j.is_string()) {
    for (Effect e :
         {Effect::kAllow, Effect::kAllowWithObligations, Effect::kEscalate, Effect::kDeny}) {
      if (j.get_ref<const std::string&>() == EffectName(e)) return e;
    }
  }
  return Bad(where, "is not allow, allow_with_obligations, escalate or deny");
}

// Reads an object of string members: each key must be one of `keys`; `*out[i]` gets the kept
// text of keys[i] (empty when absent), `required` of them must be present.
absl::Status Strings(const Json& j, const std::string& where,
                     std::initializer_list<std::pair<const char*, std::string_view*>> keys,
                     size_t required, DecisionBuilder* b) {
  if (!j.is_object()) return Bad(where, "must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const auto& [name, out] : keys) {
      if (it.key() != name) continue;
      if (!it.value().is_string()) return Bad(where + "." + name, "must be a string");
      *out = b->Keep(it.value().get<std::string>());
      known = true;
    }
    if (!known) return Bad(where + "." + it.key(), "is not a decision field");
  }
  size_t i = 0;
  for (const auto& [name, out] : keys) {
    if (i++ < required && !j.contains(name)) return Bad(where + "." + name, "is missing");
  }
  return absl::OkStatus();
}

const char* ArtifactKind(std::string_view kind) {
  for (const char* k : {"dataset", "model", "prompt"}) {
    if (kind == k) return k;
  }
  return nullptr;
}

absl::StatusOr<Reason> ReasonOf(const Json& j, const std::string& where, DecisionBuilder* b) {
  DecisionBuilder::ReasonText t;
  Json copy = j;
  Json trigger;
  if (copy.is_object() && copy.contains("trigger")) {
    trigger = copy["trigger"];
    copy.erase("trigger");
  }
  if (!copy.is_object() || !copy.contains("effect")) {
    return Bad(where, "must be an object with an effect");
  }
  auto effect = EffectOf(copy["effect"], where + ".effect");
  if (!effect.ok()) return effect.status();
  t.effect = *effect;
  copy.erase("effect");
  absl::Status st = Strings(copy, where,
                            {{"policy", &t.policy},
                             {"rule", &t.rule},
                             {"basis", &t.basis},
                             {"citation", &t.citation},
                             {"message", &t.message},
                             {"alternative", &t.alternative},
                             {"exception", &t.exception}},
                            5, b);
  if (!st.ok()) return st;
  if (!trigger.is_null()) {
    std::string_view kind, tag;
    st = Strings(trigger, where + ".trigger",
                 {{"kind", &kind},
                  {"artifact", &t.artifact},
                  {"via", &t.via},
                  {"tag", &tag},
                  {"location", &t.location}},
                 0, b);
    if (!st.ok()) return st;
    if (!kind.empty()) {
      t.artifact_kind = ArtifactKind(kind);
      if (t.artifact_kind == nullptr) {
        return Bad(where + ".trigger.kind", "is not dataset, model or prompt");
      }
    }
    if (!tag.empty()) {
      const size_t colon = tag.find(':');
      if (colon == std::string_view::npos)
        return Bad(where + ".trigger.tag", "is not ORIGIN:class");
      t.tag_origin = tag.substr(0, colon);
      t.tag_class = tag.substr(colon + 1);
    }
  }
  return DecisionBuilder::MakeReason(t);
}

absl::Status Reasons(const Json& j, const char* where, std::vector<Reason>* out,
                     DecisionBuilder* b) {
  if (!j.is_array()) return Bad(where, "must be a list");
  for (size_t i = 0; i < j.size(); ++i) {
    auto r = ReasonOf(j[i], absl::StrCat(where, "[", i, "]"), b);
    if (!r.ok()) return r.status();
    out->push_back(*std::move(r));
  }
  return absl::OkStatus();
}

absl::Status StringList(const Json& j, const char* where, std::vector<std::string_view>* out,
                        DecisionBuilder* b) {
  if (!j.is_array()) return Bad(where, "must be a list");
  for (const Json& e : j) {
    if (!e.is_string()) return Bad(where, "must be a list of strings");
    out->push_back(b->Keep(e.get<std::string>()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Decision> DecisionFromJson(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("decision JSON: not valid JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("decision JSON: not an object");
  static constexpr const char* kKeys[] = {
      "decision", "reasons", "obligations", "suggested_locations", "tags",
      "lifted",   "dry_run", "now",         "policy_digest"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = it.key() == "audit";
    for (const char* k : kKeys) known = known || it.key() == k;
    if (!known) return Bad(it.key(), "is not a decision field");
  }
  for (const char* k : kKeys) {
    if (!j.contains(k)) return Bad(k, "is missing");
  }
  DecisionBuilder b;
  Decision d;
  auto effect = EffectOf(j["decision"], "decision");
  if (!effect.ok()) return effect.status();
  d.decision = *effect;
  absl::Status st = Reasons(j["reasons"], "reasons", &d.reasons, &b);
  if (st.ok()) st = Reasons(j["dry_run"], "dry_run", &d.dry_run, &b);
  if (!st.ok()) return st;
  const Json& obligations = j["obligations"];
  if (!obligations.is_array()) return Bad("obligations", "must be a list");
  for (size_t i = 0; i < obligations.size(); ++i) {
    std::string_view id, policy, text_of;
    st = Strings(obligations[i], absl::StrCat("obligations[", i, "]"),
                 {{"id", &id}, {"policy", &policy}, {"text", &text_of}}, 3, &b);
    if (!st.ok()) return st;
    d.obligations.push_back(DecisionBuilder::MakeObligation(id, policy, text_of));
  }
  std::vector<std::string_view> tags, suggested;
  st = StringList(j["tags"], "tags", &tags, &b);
  if (st.ok()) st = StringList(j["suggested_locations"], "suggested_locations", &suggested, &b);
  if (!st.ok()) return st;
  d.tags.assign(tags.begin(), tags.end());
  const Json& lifted = j["lifted"];
  if (!lifted.is_array()) return Bad("lifted", "must be a list");
  for (size_t i = 0; i < lifted.size(); ++i) {
    std::string_view tag, policy;
    st = Strings(lifted[i], absl::StrCat("lifted[", i, "]"), {{"tag", &tag}, {"policy", &policy}},
                 2, &b);
    if (!st.ok()) return st;
    d.lifted.push_back(DecisionBuilder::MakeLifted(std::string(tag), policy));
  }
  if (!j["now"].is_string()) return Bad("now", "must be an RFC 3339 time");
  auto now = internal::ParseTimestamp(j["now"].get<std::string>());
  if (!now.ok()) return Bad("now", "must be an RFC 3339 time");
  d.now = *now;
  if (!j["policy_digest"].is_string()) return Bad("policy_digest", "must be a string");
  std::string_view digest = b.Keep(j["policy_digest"].get<std::string>());
  if (j.contains("audit")) {
    const Json& a = j["audit"];
    if (!a.is_object() || a.size() != 2 || !a.contains("log") || !a["log"].is_string() ||
        !a.contains("index") || !a["index"].is_number_unsigned()) {
      return Bad("audit", "must be {\"log\": string, \"index\": unsigned integer}");
    }
    d.audit = AuditRef{a["log"].get<std::string>(), a["index"].get<uint64_t>()};
  }
  b.Finish(digest, std::move(suggested), &d);
  return d;
}

}  // namespace residency
