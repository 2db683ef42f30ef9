// Evaluate: checks the request, builds its facts, runs the rules, and assembles the decision
// (reasons, dry-run reasons, obligations, lifted tags, suggested locations).
#include "residency/decision.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "eval/evaluator.h"

namespace residency {
namespace {

using eval_internal::DecisionBuilder;
using eval_internal::Facts;
using eval_internal::ObligationSlots;
using eval_internal::Outcome;
using eval_internal::Outcomes;
using eval_internal::RunPolicies;
using eval_internal::Suggest;
using policy_internal::CompiledSet;
using policy_internal::Policy;
using policy_internal::Rule;

struct Core {
  Effect decision = Effect::kAllow;
  Outcomes outcomes;
  ObligationSlots obligations;
  std::vector<LiftedTag> lifted;
  bool fail = false;
  bool suggestible = false;
};

void RunCore(const PolicySnapshot& snapshot, const Facts& facts, Core* core) {
  const CompiledSet& set = snapshot.impl();
  RunPolicies(snapshot, facts, &core->outcomes, &core->obligations, &core->lifted);
  core->decision = Effect::kAllow;
  for (const auto& o : core->outcomes) {
    if (o.dry_run) continue;
    core->decision = std::max(core->decision, o.effect);
    if (o.effect == Effect::kDeny && set.policies[o.policy].rules[o.rule].suggest) {
      core->suggestible = true;
    }
  }
  for (const auto& fr : facts.fail) {
    core->fail = true;
    core->decision = Effect::kDeny;
    if (fr.primary_location) core->suggestible = true;
  }
}

// (policy index, obligation rank) of every enforced rule result's obligations, sorted, unique.
using RankedObligations = absl::InlinedVector<std::pair<int, int>, 16>;
RankedObligations Obligations(const CompiledSet& set, const Core& core) {
  RankedObligations out;
  for (const auto& [slot, ob] : core.obligations) {
    const Outcome& o = core.outcomes[slot];
    if (!o.dry_run) out.emplace_back(o.policy, ob);
  }
  for (auto& [pi, ob] : out) ob = set.policies[pi].obligation_rank[ob];  // id order
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The message of a rule result: the deciding alternative's own, else the one the rule words for
// the result's effect, else the rule's `message`.
// In `lang` where the policy gives it (`i18n`), else in English.
std::string_view MessageOf(const Rule& r, const Outcome& o, std::string_view lang) {
  const policy_internal::RuleTexts* tr = nullptr;
  if (!lang.empty()) {
    for (const auto& t : r.i18n)
      if (t.lang == lang) tr = &t;
  }
  if (o.alternative >= 0) {
    const auto& a = r.alternatives[o.alternative];
    if (const std::string* m = policy_internal::Translated(a.message_i18n, lang)) return *m;
    if (!a.message.empty()) return a.message;
  }
  const int e = static_cast<int>(o.effect);
  if (tr && !tr->messages[e].empty()) return tr->messages[e];
  if (!r.messages[e].empty()) return r.messages[e];
  if (tr && !tr->message.empty()) return tr->message;
  return r.message;
}

std::string_view CitationOf(const Rule& r, std::string_view lang) {
  if (!lang.empty()) {
    for (const auto& t : r.i18n)
      if (t.lang == lang && !t.citation.empty()) return t.citation;
  }
  return r.citation;
}

std::string_view ObligationText(const policy_internal::Obligation& ob, std::string_view lang) {
  const std::string* t = policy_internal::Translated(ob.i18n, lang);
  return t ? std::string_view(*t) : std::string_view(ob.message);
}

Reason MakeReason(const CompiledSet& set, const Outcome& o, std::string_view lang,
                  DecisionBuilder* builder) {
  const Policy& p = set.policies[o.policy];
  const Rule& r = p.rules[o.rule];
  const eval_internal::UnitNames names = eval_internal::NamesOf(o.artifact, o.tag);
  // Every field given at once: a ReasonText declared empty and filled in is cleared first, a
  // block store the copy into the Reason then waits on (it shows in profiles of every decision).
  DecisionBuilder::ReasonText t{
      p.id,
      r.id,
      r.basis,
      o.effect,
      CitationOf(r, lang),
      MessageOf(r, o, lang),
      o.alternative >= 0 ? std::string_view(r.alternatives[o.alternative].name) : "",
      o.exception >= 0 ? std::string_view(p.exceptions[o.exception].id) : "",
      names.kind,
      names.artifact,
      names.via,
      names.origin,
      names.cls,
      o.location >= 0 ? std::string_view(set.catalogue.locations[o.location].id) : ""};
  if (o.missing) {
    t.basis = "fail_closed";
    t.message = builder->Keep(absl::StrCat(std::string(t.message),
                                           " (judged as if the rule applied: the request does "
                                           "not give `",
                                           o.missing, "`)"));
  }
  return DecisionBuilder::MakeReason(t);
}

// A model artifact is weights, checkpoint or adapter (or not said). The rule index
// relies on it (a model is never a `dataset` or `prompt` artifact).
bool KnownModelArtifact(const Model& m) {
  // As views: comparing a std::string with a literal measures the literal (strlen) each time.
  using namespace std::string_view_literals;
  const std::string_view a = m.artifact;
  return a.empty() || a == "weights"sv || a == "checkpoint"sv || a == "adapter"sv;
}
absl::Status BadModelArtifact(const Model& m) {
  return absl::InvalidArgumentError(absl::StrCat("model `", m.id, "` has artifact `", m.artifact,
                                                 "`; want weights, checkpoint or adapter"));
}

absl::Status CheckComputeShape(const Request& request) {
  if (!request.compute) return absl::InvalidArgumentError("a compute request needs `compute`");
  if (request.compute->location.empty()) {
    return absl::InvalidArgumentError("a compute request needs `compute.location`");
  }
  for (const auto& in : request.compute->inputs) {
    if (in.dataset.has_value() == in.model.has_value()) {
      return absl::InvalidArgumentError("each compute input is exactly one dataset or model");
    }
    if (in.model && !KnownModelArtifact(*in.model)) return BadModelArtifact(*in.model);
  }
  return absl::OkStatus();
}

// What every request of its kind must have (Evaluate's first check).
absl::Status CheckRequestShape(const Request& request) {
  switch (request.kind) {
    case Request::Kind::kDataset:
      if (!request.dataset) return absl::InvalidArgumentError("a dataset request needs `dataset`");
      if (request.destination.empty() && request.dataset->location.empty()) {
        return absl::InvalidArgumentError(
            "a dataset request needs `destination` or `dataset.location`");
      }
      break;
    case Request::Kind::kModel:
      if (!request.model) return absl::InvalidArgumentError("a model request needs `model`");
      if (request.destination.empty() && request.model->location.empty()) {
        return absl::InvalidArgumentError(
            "a model request needs `destination` or `model.location`");
      }
      if (!KnownModelArtifact(*request.model)) return BadModelArtifact(*request.model);
      break;
    case Request::Kind::kCompute:
      return CheckComputeShape(request);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Decision> Evaluate(const PolicySnapshot& snapshot, const Request& request,
                                  const EvalOptions& options) {
  const CompiledSet& set = snapshot.impl();
  if (absl::Status shape = CheckRequestShape(request); !shape.ok()) return shape;
  if (request.now && options.request_time == RequestTime::kRefuse) {
    return absl::InvalidArgumentError(
        "request field `now` is refused here: the evaluation time is the service's clock");
  }
  const bool use_request_now = request.now && options.request_time == RequestTime::kHonour;
  absl::Time now = use_request_now ? *request.now : options.now ? *options.now : absl::Now();
  Facts facts;
  eval_internal::BuildFacts(set, snapshot.index(), request, now, options, &facts);
  Core core;
  RunCore(snapshot, facts, &core);

  Decision d;
  DecisionBuilder builder(snapshot);
  d.decision = core.decision;
  d.now = now;
  d.tags = std::move(facts.all_tags);
  // Reasons: the fail-closed ones, then every rule whose result is the decision.
  for (auto& fr : facts.fail) {
    DecisionBuilder::ReasonText t;
    t.policy = "residency";
    t.rule = fr.rule;
    t.basis = "fail_closed";
    t.effect = Effect::kDeny;
    t.citation =
        "residency: fail closed (a fact the decision needs is missing, unknown or cannot be "
        "checked)";
    t.message = builder.Keep(std::move(fr.message));
    d.reasons.push_back(DecisionBuilder::MakeReason(t));
  }
  absl::InlinedVector<uint32_t, 16> order;  // outcomes by (policy, rule)
  size_t deciding = 0, dry = 0;
  for (uint32_t i = 0; i < core.outcomes.size(); ++i) {
    const Outcome& o = core.outcomes[i];
    if (o.dry_run) {
      ++dry;
    } else if (o.effect == d.decision) {
      ++deciding;
    } else {
      continue;
    }
    order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const auto& x = core.outcomes[a];
    const auto& y = core.outcomes[b];
    return std::tie(x.policy, x.rule) < std::tie(y.policy, y.rule);
  });
  d.reasons.reserve(d.reasons.size() + deciding);
  d.dry_run.reserve(dry);
  for (uint32_t i : order) {
    const Outcome& o = core.outcomes[i];
    (o.dry_run ? d.dry_run : d.reasons).push_back(MakeReason(set, o, facts.lang, &builder));
  }
  // Obligations: the union over every enforced rule result, by policy then id.
  RankedObligations obligations = Obligations(set, core);
  d.obligations.reserve(obligations.size());
  for (const auto& [pi, rank] : obligations) {
    const Policy& p = set.policies[pi];
    const policy_internal::Obligation& ob = p.obligations[p.obligation_order[rank]];
    d.obligations.push_back(
        DecisionBuilder::MakeObligation(ob.id, p.id, ObligationText(ob, facts.lang)));
  }
  d.lifted = std::move(core.lifted);
  auto key = [](const LiftedTag& l) {
    return std::make_pair(std::string_view(l.tag()), l.policy());
  };
  std::sort(d.lifted.begin(), d.lifted.end(),
            [&](const auto& a, const auto& b) { return key(a) < key(b); });
  d.lifted.erase(std::unique(d.lifted.begin(), d.lifted.end(),
                             [&](const auto& a, const auto& b) { return key(a) == key(b); }),
                 d.lifted.end());
  std::vector<std::string_view> suggested;
  if (d.decision == Effect::kDeny && options.suggest && core.suggestible) {
    suggested = Suggest(snapshot, facts);
  }
  builder.Finish(set.digest, std::move(suggested), &d);
  return d;
}

namespace eval_internal {

Effect DecideAt(const PolicySnapshot& snapshot, const Facts& facts,
                std::vector<ObligationRef>* obligations) {
  const CompiledSet& set = snapshot.impl();
  Core core;
  RunCore(snapshot, facts, &core);
  obligations->clear();
  std::shared_ptr<const void> owner = snapshot.shared_impl();
  for (const auto& [pi, rank] : Obligations(set, core)) {
    const Policy& p = set.policies[pi];
    const policy_internal::Obligation& ob = p.obligations[p.obligation_order[rank]];
    obligations->push_back(
        DecisionBuilder::MakeObligation(ob.id, p.id, ObligationText(ob, facts.lang), owner));
  }
  return core.decision;
}

}  // namespace eval_internal

absl::StatusOr<Decision> CheckDataset(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kDataset;
  return Evaluate(s, r, o);
}
absl::StatusOr<Decision> CheckModel(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kModel;
  return Evaluate(s, r, o);
}
absl::StatusOr<Decision> CheckCompute(const PolicySnapshot& s, Request r, const EvalOptions& o) {
  r.kind = Request::Kind::kCompute;
  if (r.compute && r.action.empty()) {
    static const std::pair<const char*, const char*> kJobAction[] = {{"training", "train"},
                                                                     {"fine_tune", "fine_tune"},
                                                                     {"batch", "process"},
                                                                     {"evaluate", "evaluate"},
                                                                     {"inference", "infer"}};
    for (const auto& [job, action] : kJobAction)
      if (r.compute->job == job) r.action = action;
  }
  return Evaluate(s, r, o);
}

}  // namespace residency
