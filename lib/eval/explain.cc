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

// The facts a leaf condition reads, and what they give.
void Evaluator::TraceFacts(const Condition& c, const Unit& u, Tri value,
                           std::vector<std::string>* out) const {
  using K = Condition::Kind;
  const Request& r = *f_.request;
  const Catalogue& cat = set_.catalogue;
  auto location_text = [&](int loc) {
    const Location& l = cat.locations[loc];
    return absl::StrCat("location ", Q(l.id), " is in ", l.country_code);
  };
  switch (c.kind) {
    case K::kTrue:
    case K::kAll:
    case K::kAny:
    case K::kNot:
      return;
    case K::kTags: {
      if (!u.tag) {
        out->push_back("no tag: the rule is judged on the request itself");
        return;
      }
      std::string t = absl::StrCat("tag ", Q(TagText(*u.tag)));
      if (u.tag->effective_cls != u.tag->cls) {
        absl::StrAppend(&t, " counts as ", Q(set_.classes[u.tag->effective_cls].id),
                        " (no valid anonymization attestation covers its origin)");
      }
      out->push_back(std::move(t));
      return;
    }
    case K::kValues: {
      std::vector<std::string> have;
      switch (c.field) {
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
          if (u.artifact) {
            have.emplace_back(NamesOf(u.artifact, nullptr).kind);
            if (u.artifact->model) have.push_back(u.artifact->model->artifact);
          } else {
            have.emplace_back(KindName(r.kind));
            if (r.model) have.push_back(r.model->artifact);
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
      std::vector<std::string> q;
      for (const auto& h : have) q.push_back(Q(h));
      out->push_back(
          have.empty()
              ? absl::StrCat("the request gives no `", ValueFieldName(c.field), "`")
              : absl::StrCat("`", ValueFieldName(c.field), "` is ", absl::StrJoin(q, ", ")));
      return;
    }
    case K::kNumber: {
      const std::optional<double> v = NumberFact(c.field, u);
      if (!v) {
        out->push_back(absl::StrCat("the request does not give `", FieldName(c.field),
                                    "`: the condition cannot be decided"));
        return;
      }
      const bool summed = u.tag && u.rule && !u.rule->tag_filters.empty() &&
                          (c.field == Field::kSubjects || c.field == Field::kSensitiveSubjects ||
                           c.field == Field::kCumulativeSubjects);
      out->push_back(absl::StrCat("`", FieldName(c.field), "` is ", *v,
                                  summed ? " (over the partitions the rule's tags match)" : ""));
      return;
    }
    case K::kRegex: {
      auto text = [&](const Dataset* d) {
        return Q(c.field == Field::kDatasetId ? d->id : d->uri);
      };
      std::vector<std::string> seen;
      if (u.artifact) {
        if (u.artifact->dataset) seen.push_back(text(u.artifact->dataset));
      } else {
        for (const auto& a : f_.artifacts)
          if (a.dataset) seen.push_back(text(a.dataset));
      }
      out->push_back(seen.empty()
                         ? std::string("no dataset to match")
                         : absl::StrCat(ValueFieldName(c.field), " ", absl::StrJoin(seen, ", ")));
      return;
    }
    case K::kLocation: {
      const auto& lc = *c.location;
      out->push_back(location_text(u.location));
      if (!lc.fixed.Test(u.location)) {
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
      if (lc.outside_origin) {
        if (!u.tag) {
          out->push_back("outside_origin needs a tag; the rule is judged on the request itself");
        } else {
          const bool inside = u.tag->origin_bits.Test(cat.locations[u.location].country);
          out->push_back(absl::StrCat("the tag's origin ", Q(*u.tag->origin_name),
                                      inside ? " contains " : " does not contain ",
                                      cat.locations[u.location].country_code));
        }
      }
      return;
    }
    case K::kOperator:
    case K::kRecipient: {
      const bool op = c.kind == K::kOperator;
      const auto& party = op ? r.operator_party : r.recipient;
      out->push_back(PartyText(op ? "operator" : "recipient", party));
      const auto& pc = *c.party;
      if (party) {
        if (pc.in_list >= 0) {
          out->push_back(absl::StrCat(ListHas(pc.in_list, party->id) ? "in" : "not in", " list ",
                                      Q(policy_->lists[pc.in_list].name)));
        }
        if (pc.not_in_list >= 0) {
          out->push_back(absl::StrCat(ListHas(pc.not_in_list, party->id) ? "in" : "not in",
                                      " list ", Q(policy_->lists[pc.not_in_list].name)));
        }
      }
      return;
    }
    case K::kUser: {
      const auto& user = r.compute ? r.compute->user : std::nullopt;
      if (!user) {
        out->push_back("the request names no user");
      } else {
        out->push_back(absl::StrCat("user jurisdiction ", Q(user->jurisdiction), ", provenance ",
                                    Q(user->provenance)));
      }
      return;
    }
    case K::kEvidence:
      EvidenceFacts(*c.evidence, u, out);
      return;
  }
  (void)value;
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

void Evaluator::EvidenceFacts(const policy_internal::EvidenceCond& ec, const Unit& u,
                              std::vector<std::string>* out) const {
  const Catalogue& cat = set_.catalogue;
  const size_t before = out->size();
  auto one = [&](const ResolvedEvidence& e) {
    const EvidenceFit fit = Fit(ec, u, e);
    if (fit == EvidenceFit::kOtherType) return;
    const Evidence& item = *e.item;
    std::string line = EvidenceName(e, u) + ": ";
    auto at = [](const std::optional<absl::Time>& t) { return internal::FormatTimestamp(*t); };
    switch (fit) {
      case EvidenceFit::kNotValid:
        if (item.withdrawn_at && *item.withdrawn_at <= f_.now) {
          absl::StrAppend(&line, "withdrawn at ", at(item.withdrawn_at));
        } else if (item.not_before && f_.now < *item.not_before) {
          absl::StrAppend(&line, "not valid before ", at(item.not_before));
        } else {
          absl::StrAppend(&line, "expired at ", at(item.not_after));
        }
        break;
      case EvidenceFit::kIgnored:
        absl::StrAppend(&line, "this policy ignores it for data of class ",
                        Q(set_.classes[u.tag->effective_cls].id), " (ignore_evidence)");
        break;
      case EvidenceFit::kNoCountry:
        absl::StrAppend(&line, "does not name the `country` it covers, which is required here");
        break;
      case EvidenceFit::kNoRecipient:
        absl::StrAppend(&line, "does not name its `recipient`, which is required here");
        break;
      case EvidenceFit::kNoOrigin:
        absl::StrAppend(&line,
                        "does not name the `origin` of the data it covers, which is "
                        "required here");
        break;
      case EvidenceFit::kOtherRecipient:
        absl::StrAppend(&line, "is bound to recipient ", Q(*item.recipient), "; ",
                        f_.request->recipient ? absl::StrCat("the request's recipient is ",
                                                             Q(f_.request->recipient->id))
                                              : std::string("the request names no recipient"));
        break;
      case EvidenceFit::kOtherOrigin:
        absl::StrAppend(&line, "covers data from ", Q(*item.origin), ", not from the tag's origin ",
                        Q(*u.tag->origin_name));
        break;
      case EvidenceFit::kUsable:
        if (!ec.match_country || !item.country) {
          absl::StrAppend(&line, "holds");
        } else if (e.country_unknown) {
          absl::StrAppend(&line, "its country ", Q(*item.country), " is not a known jurisdiction");
        } else {
          const Location& l = cat.locations[u.location];
          const bool in = cat.jurisdiction_members[e.country].Test(l.country);
          absl::StrAppend(&line, in ? "holds: it covers " : "covers ", Q(*item.country),
                          in ? ", which contains " : ", not ", "the location's country ",
                          l.country_code);
        }
        break;
      case EvidenceFit::kOtherType:
        break;
    }
    out->push_back(std::move(line));
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
      value = v == Tri::kUnknown ? v : v == Tri::kTrue ? Tri::kFalse : Tri::kTrue;
      break;
    }
    default:
      value = Eval(c, u, nullptr);
      TraceFacts(c, u, value, &out->facts);
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
  if (rule.by_location) t.location = set_.catalogue.locations[u.location].id;
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

void Evaluator::Explain(size_t max_units, std::vector<RuleTrace>* out,
                        std::vector<std::string>* in_scope,
                        std::vector<std::string>* out_of_scope) {
  for (size_t pi = 0; pi < set_.policies.size(); ++pi) {
    const Policy& p = set_.policies[pi];
    if (!InScope(p)) {
      out_of_scope->push_back(p.id);
      continue;
    }
    in_scope->push_back(p.id);
    policy_ = &p;
    policy_index_ = static_cast<int>(pi);
    std::vector<int> slot(p.rules.size(), -1);  // rule -> index into `traces`
    std::vector<std::pair<int, RuleTrace>> traces;
    auto visit = [&](int ri, const Artifact* a, const TagFact* t, int loc) {
      const Rule& rule = p.rules[ri];
      Unit u{a, t, loc};
      u.rule = &rule;
      if (Eval(rule.when, u, nullptr) == Tri::kFalse) return;
      if (slot[ri] < 0) {
        slot[ri] = static_cast<int>(traces.size());
        RuleTrace& rt = traces.emplace_back(ri, RuleTrace()).second;
        rt.policy = p.id;
        rt.rule = rule.id;
        rt.basis = rule.basis;
        rt.citation = rule.citation;
        rt.message = rule.message;
        rt.source = absl::StrCat(p.file, ":", rule.line, ":", rule.column);
        rt.dry_run = rule.dry_run || p.dry_run;
        rt.effect = Effect::kAllow;
      }
      RuleTrace& rt = traces[slot[ri]].second;
      if (rt.units.size() >= max_units) {
        Outcome o;
        Judge(ri, Unit{a, t, loc}, &o);
        rt.effect = std::max(rt.effect, o.effect);
        ++rt.units_left_out;
        return;
      }
      rt.units.push_back(TraceUnit(ri, Unit{a, t, loc}));
      rt.effect = std::max(rt.effect, rt.units.back().effect);
    };
    ForEachUnit(p, nullptr, [&](int ri, const Artifact* a, const TagFact* t) {
      const Rule& rule = p.rules[ri];
      if (!rule.by_location) {
        if (!f_.locations.empty()) visit(ri, a, t, f_.locations[0]);
        return true;
      }
      for (int loc : f_.locations) {
        if (rule.top_location &&
            LocationMatches(*rule.top_location, Unit{a, t, loc}) == Tri::kFalse) {
          continue;
        }
        visit(ri, a, t, loc);
      }
      return true;
    });
    std::sort(traces.begin(), traces.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [ri, rt] : traces) out->push_back(std::move(rt));
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
  eval_internal::BuildFacts(set, request, e.decision.now, options.eval, &facts);
  eval_internal::Evaluator ev(set, facts, nullptr);
  ev.Explain(std::max<size_t>(options.max_units, 1), &e.rules, &e.policies_in_scope,
             &e.policies_out_of_scope);
  for (RuleTrace& r : e.rules) r.deciding = !r.dry_run && r.effect == e.decision.decision;
  return e;
}

}  // namespace residency
