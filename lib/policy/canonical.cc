// The policy compiler: the canonical form of a policy set (compact JSON, keys sorted), dumped
// part by part as the parts are compiled, and its digest.
#include <algorithm>

#include "internal/openssl_util.h"
#include "internal/text_util.h"
#include "policy/compiler_impl.h"

namespace residency::policy_internal {

// The compact JSON of `v` as nlohmann's strict dump prints it; sets `*bad` (and returns an
// empty string) when a string in it is not valid UTF-8.
std::string Dump(const nlohmann::json& v, bool* bad) {
  try {
    return v.dump();  // strict: invalid UTF-8 must not collide in the digest
  } catch (const nlohmann::json::exception&) {
    *bad = true;
    return std::string();
  }
}

// Fills pc->before and pc->after from `canon` (the policy's canonical object without `rules`).
void SplitAroundRules(const nlohmann::json& canon, bool has_rules, PolicyCanon* pc, bool* bad) {
  pc->has_rules = has_rules;
  std::string* out = &pc->before;
  *out = "{";
  bool first = true, placed = !has_rules;
  auto place_rules = [&] {
    if (!first) *out += ',';
    *out += "\"rules\":";
    first = false;
    placed = true;
    out = &pc->after;
  };
  for (auto it = canon.begin(); it != canon.end(); ++it) {
    if (!placed && it.key() > "rules") place_rules();
    if (!first) *out += ',';
    first = false;
    *out += Dump(nlohmann::json(it.key()), bad);
    *out += ':';
    *out += Dump(it.value(), bad);
  }
  if (!placed) place_rules();
  *out += '}';
}

bool Compiler::SetDigest() {
  // The digest is SHA-256 of the canonical JSON {"catalogue":…,"classes":…,"policies":{id:…}}
  // (keys sorted, compact), streamed part by part.
  std::stable_sort(canon_policies_.begin(), canon_policies_.end(),
                   [](const PolicyCanon& a, const PolicyCanon& b) { return a.id < b.id; });
  internal::Sha256Hasher h;
  h.Update("{\"catalogue\":");
  h.Update(canon_catalogue_);
  h.Update(",\"classes\":");
  h.Update(canon_classes_);
  if (!canon_policies_.empty()) {
    h.Update(",\"policies\":{");
    for (size_t i = 0; i < canon_policies_.size(); ++i) {
      const PolicyCanon& pc = canon_policies_[i];
      if (i > 0) h.Update(",");
      h.Update(Dump(nlohmann::json(pc.id), &canon_bad_utf8_));
      h.Update(":");
      h.Update(pc.before);
      if (pc.has_rules) {
        h.Update("[");
        h.Update(pc.rules);
        h.Update("]");
      }
      h.Update(pc.after);
    }
    h.Update("}");
  }
  h.Update("}");
  if (canon_bad_utf8_) {
    sink_->Add(Diagnostic::Severity::kError, "", 0, 0, "encoding",
               "policy files must be valid UTF-8");
    return false;
  }
  set_->digest = "sha256:" + internal::HexEncode(h.Finish());
  return true;
}

}  // namespace residency::policy_internal
