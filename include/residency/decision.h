// Evaluating a request against a compiled policy set (policies/README.md, "How a request is
// decided"; requests: docs/requests.md).
//
//   auto snap = residency::CompilePolicy({"policies"});            // once
//   auto req = residency::ParseRequest(text);                       // or fill a Request
//   absl::StatusOr<residency::Decision> d = residency::Evaluate(**snap, *req);
//   if (!d.ok() || d->decision == residency::Effect::kDeny) { /* refuse */ }
//
// A deny is a value, not an error: Evaluate returns a non-OK status only for a request that is
// structurally unusable (a dataset request without a dataset, no location to check, a model
// artifact other than weights, checkpoint or adapter). Callers must treat any non-OK status as
// deny.
//
// Text in a decision: policy and rule ids, citations, messages, obligation ids, suggested
// locations and the digest are read through accessors (`reason.rule()`, `d.policy_digest()`)
// that return std::string_views into the compiled policy set, or, for the few texts made for one
// request (fail-closed messages), into storage of the decision's own. Whatever shows text shares
// ownership of that storage: a Decision, and each Reason, ObligationRef and LiftedTag in it, is a
// value that stays valid on its own when copied out and kept, after its Decision, its snapshot
// and the policy set (released by a reload) are gone. A view returned by an accessor is valid as
// long as the object it came from, or a copy of it, lives; copy it into a std::string to keep it
// longer. Evaluating therefore copies no policy text: a typical decision owns three heap blocks
// (its reasons, obligations and tags).
//
// Thread safety: Evaluate may be called concurrently on one snapshot; it does not mutate it.
#ifndef RESIDENCY_DECISION_H_
#define RESIDENCY_DECISION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency {

// Ordered by restrictiveness: the most restrictive result wins.
enum class Effect : uint8_t { kAllow = 0, kAllowWithObligations = 1, kEscalate = 2, kDeny = 3 };
const char* EffectName(Effect e);  // "allow", "allow_with_obligations", "escalate", "deny"

namespace eval_internal {
class DecisionBuilder;  // fills in decisions (lib/eval)
}  // namespace eval_internal

// One rule result that decided (or, in Decision::dry_run, would have).
class Reason {
 public:
  Reason() = default;  // empty texts, Effect::kDeny
  // The policy id, or `residency` for the engine's own fail-closed reasons.
  std::string_view policy() const { return policy_; }
  std::string_view rule() const { return rule_; }
  std::string_view basis() const { return basis_; }  // law | corp | fail_closed
  Effect effect() const { return effect_; }
  std::string_view citation() const { return citation_; }
  std::string_view message() const { return message_; }
  // The alternative that decided, when one did; else empty.
  std::string_view alternative() const { return alternative_; }
  // The exception that lifted a corp deny, when one did; else empty.
  std::string_view exception() const { return exception_; }

  // What in the request gave the rule this result (the first of them in request order, when
  // several did; `residency explain` lists them all). Empty where it does not apply.
  //   artifact_kind  `dataset`, `model` or `prompt`; empty for a rule on the request itself
  //   artifact       the dataset's or model's id (empty for a prompt or an artifact without id)
  //   via            the lineage dataset the tag was inherited from (`derived_from`,
  //                  `trained_on`, a base model's); empty when the artifact itself carries it
  //   tag            ORIGIN:class, as the request gives it
  //   location       the catalogue location; empty when the rule decides alike everywhere
  // Engine fail-closed reasons (`policy() == "residency"`) name the fact in their message.
  std::string_view artifact_kind() const { return artifact_kind_; }
  std::string_view artifact() const { return Trigger().substr(0, artifact_len_); }
  std::string_view via() const { return Trigger().substr(artifact_len_, via_len_); }
  std::string_view tag() const { return Trigger().substr(artifact_len_ + via_len_); }
  std::string_view location() const { return location_; }

 private:
  friend class eval_internal::DecisionBuilder;
  std::shared_ptr<const void> texts_;  // owns what the views point to
  std::string_view policy_, rule_, basis_, citation_, message_, alternative_, exception_;
  std::string_view location_;
  std::string_view Trigger() const { return std::string_view(trigger_.data(), trigger_.size()); }
  // artifact, via and tag, one after the other: a copy of the request's own strings, which
  // may be gone before the reason is; inline up to the usual sizes, so that a reason costs no
  // allocation of its own.
  absl::InlinedVector<char, 48> trigger_;
  uint32_t artifact_len_ = 0, via_len_ = 0;
  const char* artifact_kind_ = "";
  Effect effect_ = Effect::kDeny;
};

// An obligation the caller must fulfil to act on an allow_with_obligations.
class ObligationRef {
 public:
  ObligationRef() = default;
  std::string_view id() const { return id_; }
  std::string_view policy() const { return policy_; }
  // What the caller must do, as the policy words it.
  std::string_view text() const { return text_; }

 private:
  friend class eval_internal::DecisionBuilder;
  std::shared_ptr<const void> texts_;
  std::string_view id_, policy_, text_;
};

// A tag that a policy does not apply (its `lifts` matched the evidence).
class LiftedTag {
 public:
  LiftedTag() = default;
  const std::string& tag() const { return tag_; }  // ORIGIN:class, as the request gives it
  std::string_view policy() const { return policy_; }

 private:
  friend class eval_internal::DecisionBuilder;
  std::string tag_;
  std::shared_ptr<const void> texts_;
  std::string_view policy_;
};

struct AuditRef {
  std::string log;
  uint64_t index = 0;
};

struct Decision {
  Effect decision = Effect::kDeny;
  std::vector<Reason> reasons;  // every rule that decided (for an allow, those that allowed)
  std::vector<ObligationRef> obligations;
  std::vector<std::string> tags;  // ORIGIN:class before lifting, unique, sorted bytewise
  std::vector<LiftedTag> lifted;
  std::vector<Reason> dry_run;  // results of dry-run rules and policies
  absl::Time now;
  std::optional<AuditRef> audit;

  // For a denied placement, at most 8 catalogue locations where it would be allowed, best first
  // (same provider and country, same provider, same country, the rest; government and
  // financial sites only for an operator of their sector): the first of AllowedLocations with
  // include_escalate (residency/where.h, docs/where.md), the refused location left out.
  const std::vector<std::string_view>& suggested_locations() const { return suggested_; }
  // `sha256:<64 hex>` of the policy set that decided; empty in a Decision not made by Evaluate.
  std::string_view policy_digest() const { return policy_digest_; }

 private:
  friend class eval_internal::DecisionBuilder;
  std::shared_ptr<const void> texts_;  // owns what the views point to
  std::vector<std::string_view> suggested_;
  std::string_view policy_digest_;
};

// What Evaluate does with a request's own `now` (the time the law is applied at).
enum class RequestTime {
  kHonour,  // use it (the default; for tests and what-if questions)
  kRefuse,  // a request with `now` is InvalidArgument naming the field (a gateway)
  kIgnore,  // evaluate at EvalOptions::now or the clock, as if the request had none
};

struct EvalOptions {
  // The evaluation time when the request has no `now` (or when `request_time` is kIgnore);
  // default: the clock, read once.
  std::optional<absl::Time> now;
  // Whether the caller may choose the evaluation time with the request's `now`. A service that
  // must not let its callers pick the law's effective date sets kRefuse or kIgnore.
  // Default: kHonour.
  RequestTime request_time = RequestTime::kHonour;
  // Compute `suggested_locations` for denied placements (one more pass over the rules that
  // apply, evaluated at every catalogue location at once; roughly doubles the cost of a deny;
  // turn off when the caller never shows them).
  bool suggest = true;
  // Lineage bounds (depth of derived_from / trained_on / base_models nesting, nodes in all).
  int max_lineage_depth = 64;
  size_t max_lineage_nodes = 100000;
  // The language of reasons' messages and citations and of obligation texts: a language code
  // (`ko`) whose texts a policy gives (`i18n`, `obligations_i18n`); where a policy gives none,
  // and for "" or "en", the English texts. The decision is the same in every language.
  std::string lang;
};

absl::StatusOr<Decision> Evaluate(const PolicySnapshot& snapshot, const Request& request,
                                  const EvalOptions& options = EvalOptions());

// Conveniences that build the request kind and evaluate.
absl::StatusOr<Decision> CheckDataset(const PolicySnapshot& snapshot, Request request,
                                      const EvalOptions& options = EvalOptions());
absl::StatusOr<Decision> CheckModel(const PolicySnapshot& snapshot, Request request,
                                    const EvalOptions& options = EvalOptions());
absl::StatusOr<Decision> CheckCompute(const PolicySnapshot& snapshot, Request request,
                                      const EvalOptions& options = EvalOptions());

// The decision as one line of JSON, keys in a fixed order (decision, reasons, obligations,
// suggested_locations, tags, lifted, dry_run, now, policy_digest, then audit when recorded);
// byte-for-byte deterministic for the same decision.
std::string DecisionToJson(const Decision& decision);
// The same bytes appended to `*out` (which is not cleared): for a caller that writes many
// decisions through one reused buffer.
void AppendDecisionJson(const Decision& decision, std::string* out);

// A decision read back from DecisionToJson's JSON (sent to another process, kept in a file):
// DecisionToJson of the result gives the same bytes. Its texts are its own (no snapshot needed).
// InvalidArgument, naming the field, for anything else.
absl::StatusOr<Decision> DecisionFromJson(std::string_view json);

// The audit record of a decision (residency/audit.h), in one place for every caller.
struct DecisionRecord;
class AuditLog;
// `decision` as an audit record: its effect, the ids of its reasons in order, its tags, its
// policy digest and `now`, the digest of `request_bytes` (the request as received; never stored
// itself) and `principal` (stored as a keyed commitment; may be empty).
DecisionRecord AuditRecordOf(const Decision& decision, std::string_view request_bytes,
                             std::string_view principal = {});
// Appends AuditRecordOf(...) to `log` and, once appended, sets `decision->audit`. A non-OK
// status means the decision was not recorded: the caller must not act on it (fail closed).
absl::Status RecordDecision(AuditLog& log, std::string_view request_bytes, Decision* decision,
                            std::string_view principal = {});

}  // namespace residency

#endif  // RESIDENCY_DECISION_H_
