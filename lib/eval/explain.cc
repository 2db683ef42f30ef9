// Explanations: the rules evaluated again over the same units as a decision, each condition
// traced (every child of all/any evaluated, not only up to the first that settles it) with the
// facts it read; and Explain, the public entry point.
#include "residency/explain.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eval/rule_eval.h"
#include "internal/text_util.h"
#include "internal/time_util.h"

namespace residency {
namespace eval_internal {
namespace {

Truth ToTruth(Tri t) {
  return t == Tri::kTrue ? Truth::kTrue : t == Tri::kFalse ? Truth::kFalse : Truth::kUnknown;
}

// `s` quoted for a line of text: the request's strings can be anything, so bounded and escaped.
std::string Q(std::string_view s) { return absl::StrCat("`", internal::Excerpt(s, 120), "`"); }

const char* ValueFieldName(Field f) {
  switch (f) {
    case Field::kKind:
      return "kind";
    case Field::kAction:
      return "action";
    case Field::kJob:
      return "compute.job";
    case Field::kArtifact:
      return "artifact";
    case Field::kPurpose:
      return "purpose";
    case Field::kUseCase:
      return "use_case";
    case Field::kTier:
      return "tier";
    case Field::kTransferType:
      return "transfer.type";
    case Field::kTransferPattern:
      return "transfer.pattern";
    case Field::kTransaction:
      return "transfer.transaction";
    case Field::kUserProvenance:
      return "compute.user.provenance";
    case Field::kDatasetId:
      return "dataset id";
    case Field::kUri:
      return "dataset uri";
    default:
      return FieldName(f);
  }
}

std::string PartyText(const char* role, const std::optional<Party>& p) {
  if (!p) return absl::StrCat("the request names no ", role);
  std::string out = absl::StrCat(role, " ", Q(p->id));
  std::vector<std::string> parts;
  if (!p->country.empty()) parts.push_back(absl::StrCat("country ", Q(p->country)));
  if (!p->sectors.empty()) {
    std::vector<std::string> q;
    for (const auto& s : p->sectors) q.push_back(Q(s));
    parts.push_back(absl::StrCat("sectors ", absl::StrJoin(q, ", ")));
  }
  if (!p->role.empty()) parts.push_back(absl::StrCat("role ", Q(p->role)));
  for (const auto& [k, v] : p->attributes) parts.push_back(absl::StrCat(k, "=", Q(v)));
  if (!parts.empty()) absl::StrAppend(&out, " (", absl::StrJoin(parts, ", "), ")");
  return out;
}

}  // namespace

// The values a `values` condition on `field` reads for the unit (empty ones left out).
std::vector<std::string> Evaluator::ValuesOf(Field field, const Unit& u) const {
  const Request& r = *f_.request;
  std::vector<std::string> have;
  switch (field) {
    case Field::kKind:
      have.emplace_back(KindName(r.kind));
      break;
    case Field::kAction:
      have.push_back(r.action);
      break;
    case Field::kJob:
      if (r.compute) have.push_back(r.compute->job);
      break;
    case Field::kArtifact:
      have.emplace_back(u.artifact ? NamesOf(u.artifact, nullptr).kind : KindName(r.kind));
      if (u.artifact ? u.artifact->model != nullptr : r.model.has_value()) {
        have.push_back(u.artifact ? u.artifact->model->artifact : r.model->artifact);
      }
      break;
    case Field::kPurpose:
      have.push_back(r.purpose);
      break;
    case Field::kUseCase:
      have.push_back(r.use_case);
      break;
    case Field::kTier:
      if (u.artifact && u.artifact->model) {
        have.push_back(u.artifact->model->tier);
      } else {
        for (const std::string* t : f_.tiers) have.push_back(*t);
      }
      break;
    case Field::kTransferType:
      have.push_back(r.transfer.type);
      break;
    case Field::kTransferPattern:
      have.push_back(r.transfer.pattern);
      break;
    case Field::kTransaction:
      have.push_back(r.transfer.transaction);
      break;
    case Field::kUserProvenance:
      if (r.compute && r.compute->user) have.push_back(r.compute->user->provenance);
      break;
    default:
      break;
  }
  have.erase(std::remove(have.begin(), have.end(), std::string()), have.end());
  return have;
}

std::string Evaluator::TagFacts(const Unit& u) const {
  if (!u.tag) return "no tag: the rule is judged on the request itself";
  std::string t = absl::StrCat("tag ", Q(TagText(*u.tag)));
  if (u.tag->effective_cls != u.tag->cls) {
    absl::StrAppend(&t, " counts as ", Q(set_.classes[u.tag->effective_cls].id),
                    " (no valid anonymization attestation covers its origin)");
  }
  return t;
}

std::string Evaluator::NumberFacts(const Condition& c, const Unit& u) const {
  const Field field = c.field;
  const std::optional<double> v = NumberFact(field, u, &c);
  if (!v) {
    return absl::StrCat("the request does not give `", FieldNameFor(field, u),
                        "`: the condition cannot be decided");
  }
  const bool subjects = field == Field::kSubjects || field == Field::kSensitiveSubjects ||
                        field == Field::kCumulativeSubjects;
  const bool beside = subjects && u.tag && c.beside;
  const bool summed = subjects && u.tag && u.rule && !u.rule->tag_filters.empty();
  return absl::StrCat("`", FieldName(field), "` is ", *v,
                      beside   ? " (over the partitions the tag conditions beside it match)"
                      : summed ? " (over the partitions the rule's tags match)"
                               : "");
}

std::string Evaluator::RegexFacts(Field field, const Unit& u) const {
  std::vector<std::string> seen;
  auto add = [&](const Dataset* d) {
    if (d) seen.push_back(Q(field == Field::kDatasetId ? d->id : d->uri));
  };
  if (u.artifact) {
    add(u.artifact->dataset);
  } else {
    for (const auto& a : f_.artifacts) add(a.dataset);
  }
  if (seen.empty()) return "no dataset to match";
  return absl::StrCat(ValueFieldName(field), " ", absl::StrJoin(seen, ", "));
}

void Evaluator::LocationFacts(const Condition& c, const Unit& u,
                              std::vector<std::string>* out) const {
  const policy_internal::LocationCond& lc = *c.location;
  const Location& l = set_.catalogue.locations[u.location];
  out->push_back(absl::StrCat("location ", Q(l.id), " is in ", l.country_code));
  if (!cond_[c.id].fixed->Test(u.location)) {
    out->push_back("the location is not among those the condition names");
  }
  auto list_line = [&](int list, const char* relation) {
    const bool in = ListHasLocation(list, u.location);
    out->push_back(absl::StrCat("the location is ", in ? "" : "not ", "in list ",
                                Q(policy_->lists[list].name), " at ",
                                internal::FormatTimestamp(f_.now), " (", relation, ")"));
  };
  if (lc.in_list >= 0) list_line(lc.in_list, "in_list");
  if (lc.not_in_list >= 0) list_line(lc.not_in_list, "not_in_list");
  if (lc.own_premises) {
    const auto& op = f_.request->operator_party;
    out->push_back(
        l.controller.empty()
            ? std::string("the catalogue records no controller for the location: not the "
                          "operator's own premises")
            : absl::StrCat("the location is controlled by ", Q(l.controller), "; the operator is ",
                           op ? Q(op->id) : std::string("not named"), " (own_premises)"));
  }
  if (!lc.outside_origin) return;
  if (!u.tag) {
    out->push_back("outside_origin needs a tag; the rule is judged on the request itself");
    return;
  }
  const bool inside = u.tag->origin_bits.Test(l.country);
  out->push_back(absl::StrCat("the tag's origin ", Q(*u.tag->origin_name),
                              inside ? " contains " : " does not contain ", l.country_code));
}

void Evaluator::PartyFacts(const policy_internal::PartyCond& pc, bool op,
                           std::vector<std::string>* out) const {
  const auto& party = op ? f_.request->operator_party : f_.request->recipient;
  out->push_back(PartyText(op ? "operator" : "recipient", party));
  if (!party) return;
  for (int list : {pc.in_list, pc.not_in_list}) {
    if (list < 0) continue;
    out->push_back(absl::StrCat(ListHas(list, party->id) ? "in" : "not in", " list ",
                                Q(policy_->lists[list].name)));
  }
}

// The facts a leaf condition reads, and what they give.
void Evaluator::TraceFacts(const Condition& c, const Unit& u, std::vector<std::string>* out) const {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::kTrue:
    case K::kAll:
    case K::kAny:
    case K::kNot:
      return;
    case K::kTags:
      out->push_back(TagFacts(u));
      return;
    case K::kValues: {
      std::vector<std::string> q;
      for (const auto& h : ValuesOf(c.field, u)) q.push_back(Q(h));
      out->push_back(
          q.empty() ? absl::StrCat("the request gives no `", ValueFieldName(c.field), "`")
                    : absl::StrCat("`", ValueFieldName(c.field), "` is ", absl::StrJoin(q, ", ")));
      return;
    }
    case K::kNumber:
      out->push_back(NumberFacts(c, u));
      return;
    case K::kRegex:
      out->push_back(RegexFacts(c.field, u));
      return;
    case K::kLocation:
      LocationFacts(c, u, out);
      return;
    case K::kOperator:
    case K::kRecipient:
      PartyFacts(*c.party, c.kind == K::kOperator, out);
      return;
    case K::kUser: {
      const auto& user = f_.request->compute ? f_.request->compute->user : std::nullopt;
      out->push_back(user ? absl::StrCat("user jurisdiction ", Q(user->jurisdiction),
                                         ", provenance ", Q(user->provenance))
                          : std::string("the request names no user"));
      return;
    }
    case K::kEvidence:
      EvidenceFacts(*c.evidence, u, out);
      return;
  }
}

std::string Evaluator::EvidenceName(const ResolvedEvidence& e, const Unit& u) const {
  const Request& r = *f_.request;
  if (!r.evidence.empty() && e.item >= &r.evidence.front() && e.item <= &r.evidence.back()) {
    return absl::StrCat("evidence #", e.item - &r.evidence.front(), " ", Q(e.item->type),
                        " of the request");
  }
  const UnitNames n = NamesOf(u.artifact, nullptr);
  const std::vector<Evidence>* own =
      u.artifact && u.artifact->dataset ? &u.artifact->dataset->evidence
      : u.artifact && u.artifact->model ? &u.artifact->model->evidence
                                        : nullptr;
  const size_t k = own && !own->empty() ? static_cast<size_t>(e.item - &own->front()) : 0;
  return absl::StrCat("evidence #", k, " ", Q(e.item->type), " of ", n.kind, " ", Q(n.artifact));
}

// Why an evidence item of a type the condition names serves it or not, after its name.
std::string Evaluator::EvidenceLine(const policy_internal::EvidenceCond& ec, const Unit& u,
                                    const ResolvedEvidence& e, EvidenceFit fit) const {
  const Evidence& item = *e.item;
  auto at = [](const std::optional<absl::Time>& t) { return internal::FormatTimestamp(*t); };
  switch (fit) {
    case EvidenceFit::kNotValid:
      if (e.lacks) {
        return absl::StrCat("lacks `", e.lacks,
                            "`, which every item of this type must carry (evidence_types)");
      }
      if (item.withdrawn_at && *item.withdrawn_at <= f_.now) {
        return "withdrawn at " + at(item.withdrawn_at);
      }
      if (item.not_before && f_.now < *item.not_before) {
        return "not valid before " + at(item.not_before);
      }
      return absl::StrCat("expired at ", at(e.not_after),
                          e.clipped ? " (the longest validity of this type, evidence_types)" : "");
    case EvidenceFit::kNotCovering: {
      std::string asked;
      for (const auto& c : ec.covers) absl::StrAppend(&asked, asked.empty() ? "" : ", ", Q(c));
      return absl::StrCat("does not say it authorises ", asked,
                          item.covers.empty() ? " (it has no `covers`)" : "");
    }
    case EvidenceFit::kIgnored:
      return absl::StrCat("this policy ignores it for data of class ",
                          Q(set_.classes[u.tag->effective_cls].id), " (ignore_evidence)");
    case EvidenceFit::kNoCountry:
      return "does not name the `country` it covers, which is required here";
    case EvidenceFit::kNoRecipient:
      return "does not name its `recipient`, which is required here";
    case EvidenceFit::kNoOrigin:
      return "does not name the `origin` of the data it covers, which is required here";
    case EvidenceFit::kOtherRecipient:
      return absl::StrCat("is bound to recipient ", Q(*item.recipient), "; ",
                          f_.request->recipient ? absl::StrCat("the request's recipient is ",
                                                               Q(f_.request->recipient->id))
                                                : std::string("the request names no recipient"));
    case EvidenceFit::kOtherOrigin:
      return absl::StrCat("covers data from ", Q(*item.origin), ", not from the tag's origin ",
                          Q(*u.tag->origin_name));
    case EvidenceFit::kOtherType:
    case EvidenceFit::kUsable:
      break;
  }
  if (!ec.match_country || !item.country) return "holds";
  if (e.country_unknown) {
    return absl::StrCat("its country ", Q(*item.country), " is not a known jurisdiction");
  }
  const Location& l = set_.catalogue.locations[u.location];
  const bool in = set_.catalogue.jurisdiction_members[e.country].Test(l.country);
  return absl::StrCat(in ? "holds: it covers " : "covers ", Q(*item.country),
                      in ? ", which contains " : ", not ", "the location's country ",
                      l.country_code);
}

void Evaluator::EvidenceFacts(const policy_internal::EvidenceCond& ec, const Unit& u,
                              std::vector<std::string>* out) const {
  const size_t before = out->size();
  auto one = [&](const ResolvedEvidence& e) {
    const EvidenceFit fit = Fit(ec, u, e);
    if (fit == EvidenceFit::kOtherType) return;
    out->push_back(absl::StrCat(EvidenceName(e, u), ": ", EvidenceLine(ec, u, e, fit)));
  };
  for (const auto& e : f_.request_evidence) one(e);
  if (u.artifact) {
    for (const auto& e : u.artifact->evidence) one(e);
  }
  if (out->size() == before) {
    std::vector<std::string> q;
    for (const auto& t : ec.types) q.push_back(Q(t));
    out->push_back(absl::StrCat("no evidence of type ", absl::StrJoin(q, " or "), " in the request",
                                u.artifact ? " or on the artifact" : ""));
  }
}

Tri Evaluator::Trace(const Condition& c, const Unit& u, ConditionTrace* out) const {
  using K = Condition::Kind;
  if (c.source >= 0) {
    const policy_internal::ConditionSource& src = policy_->condition_sources[c.source];
    out->condition = src.text;
    out->source = absl::StrCat(policy_->file, ":", src.line, ":", src.column);
  } else {
    out->condition = c.kind == K::kAll ? "all" : c.kind == K::kAny ? "any" : "condition";
  }
  Tri value;
  switch (c.kind) {
    case K::kAll:
    case K::kAny: {
      const bool is_all = c.kind == K::kAll;
      value = is_all ? Tri::kTrue : Tri::kFalse;
      out->children.resize(c.children.size());
      for (size_t i = 0; i < c.children.size(); ++i) {
        const Tri v = Trace(c.children[i], u, &out->children[i]);
        value = is_all ? TriAnd(value, v) : TriOr(value, v);
      }
      break;
    }
    case K::kNot: {
      out->children.resize(1);
      const Tri v = Trace(c.children[0], u, &out->children[0]);
      value = TriNot(v);
      break;
    }
    default:
      value = Eval(c, u, nullptr);
      TraceFacts(c, u, &out->facts);
      break;
  }
  out->value = ToTruth(value);
  return value;
}

UnitTrace Evaluator::TraceUnit(int rule_index, const Unit& unit) {
  const Rule& rule = policy_->rules[rule_index];
  Outcome o;
  Judge(rule_index, unit, &o);
  Unit u = unit;
  u.rule = &rule;
  UnitTrace t;
  const UnitNames n = NamesOf(u.artifact, u.tag);
  t.artifact_kind = n.kind;
  t.artifact = std::string(n.artifact);
  t.via = std::string(n.via);
  if (u.tag) t.tag = TagText(*u.tag);
  if (pix_->rules[rule_index].by_location) t.location = set_.catalogue.locations[u.location].id;
  t.effect = o.effect;
  if (o.missing) t.unknown = o.missing;
  Trace(rule.when, u, &t.when);
  t.alternatives.resize(rule.alternatives.size());
  for (size_t i = 0; i < rule.alternatives.size(); ++i) {
    const auto& a = rule.alternatives[i];
    AlternativeTrace& at = t.alternatives[i];
    at.name = a.name;
    at.effect = a.effect;
    Trace(a.when, u, &at.when);
    at.chosen = static_cast<int>(i) == o.alternative;
  }
  if (rule.corp) {
    for (size_t x = 0; x < policy_->exceptions.size(); ++x) {
      const auto& ex = policy_->exceptions[x];
      if (!Contains(ex.rules, rule_index)) continue;
      ExceptionTrace& et = t.exceptions.emplace_back();
      et.id = ex.id;
      et.active = ActiveAt(ex.not_before, ex.not_after, f_.now);
      Trace(ex.when, u, &et.when);
      et.chosen = static_cast<int>(x) == o.exception;
    }
  }
  return t;
}

RuleTrace Evaluator::NewRuleTrace(const Rule& rule) const {
  RuleTrace rt;
  rt.policy = policy_->id;
  rt.rule = rule.id;
  rt.basis = rule.basis;
  rt.citation = rule.citation;
  rt.message = rule.message;
  for (const auto& t : rule.i18n) {  // in the caller's language where the policy gives it
    if (t.lang != f_.lang) continue;
    if (!t.citation.empty()) rt.citation = t.citation;
    if (!t.message.empty()) rt.message = t.message;
  }
  rt.source = absl::StrCat(policy_->file, ":", rule.line, ":", rule.column);
  rt.dry_run = rule.DryRunAt(f_.now) || policy_->dry_run;
  rt.effect = Effect::kAllow;
  return rt;
}

// Adds the unit to its rule's trace in *traces (made on its first unit) when the rule applies
// there; beyond `max_units` places only its effect counts.
void Evaluator::ExplainUnit(int ri, const Unit& unit, size_t max_units, TraceSlots* traces) {
  const Rule& rule = policy_->rules[ri];
  Unit u = unit;
  u.rule = &rule;
  if (Eval(rule.when, u, nullptr) == Tri::kFalse) return;
  int& slot = traces->slot[ri];
  if (slot < 0) {
    slot = static_cast<int>(traces->rules.size());
    traces->rules.emplace_back(ri, NewRuleTrace(rule));
  }
  RuleTrace& rt = traces->rules[slot].second;
  if (rt.units.size() >= max_units) {
    Outcome o;
    Judge(ri, unit, &o);
    rt.effect = std::max(rt.effect, o.effect);
    ++rt.units_left_out;
    return;
  }
  rt.units.push_back(TraceUnit(ri, unit));
  rt.effect = std::max(rt.effect, rt.units.back().effect);
}

void Evaluator::Explain(size_t max_units, std::vector<RuleTrace>* out,
                        std::vector<std::string>* in_scope,
                        std::vector<std::string>* out_of_scope) {
  for (size_t pi = 0; pi < set_.policies.size(); ++pi) {
    const Policy& p = set_.policies[pi];
    if (!InScope(p, ix_.policies[pi])) {
      out_of_scope->push_back(p.id);
      continue;
    }
    in_scope->push_back(p.id);
    Enter(pi);
    TraceSlots traces;
    traces.slot.assign(p.rules.size(), -1);
    // The units and locations Run visits, each rule judged where it can apply.
    ForEachUnit(nullptr, [&](int ri, const policy_internal::RuleFacts& rule, const Artifact* a,
                             const TagFact* t) {
      if (!rule.by_location) {
        if (!f_.locations.empty()) ExplainUnit(ri, Unit{a, t, f_.locations[0]}, max_units, &traces);
        return true;
      }
      for (int loc : f_.locations) {
        const Unit u{a, t, loc};
        if (rule.top_location &&
            LocationMatches(*rule.top_location, *rule.top_fixed, u) == Tri::kFalse) {
          continue;
        }
        ExplainUnit(ri, u, max_units, &traces);
      }
      return true;
    });
    std::sort(traces.rules.begin(), traces.rules.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [ri, rt] : traces.rules) out->push_back(std::move(rt));
  }
}

}  // namespace eval_internal

const char* TruthName(Truth t) {
  switch (t) {
    case Truth::kFalse:
      return "false";
    case Truth::kTrue:
      return "true";
    case Truth::kUnknown:
      return "unknown";
  }
  return "unknown";
}

absl::StatusOr<Explanation> Explain(const PolicySnapshot& snapshot, const Request& request,
                                    const ExplainOptions& options) {
  absl::StatusOr<Decision> d = Evaluate(snapshot, request, options.eval);
  if (!d.ok()) return d.status();
  Explanation e;
  e.decision = *std::move(d);
  const policy_internal::CompiledSet& set = snapshot.impl();
  eval_internal::Facts facts;
  eval_internal::BuildFacts(set, snapshot.index(), request, e.decision.now, options.eval, &facts);
  eval_internal::Evaluator ev(set, snapshot.index(), facts, nullptr);
  ev.Explain(std::max<size_t>(options.max_units, 1), &e.rules, &e.policies_in_scope,
             &e.policies_out_of_scope);
  for (RuleTrace& r : e.rules) r.deciding = !r.dry_run && r.effect == e.decision.decision;
  return e;
}

}  // namespace residency
