#include "reference_evaluator.h"

#include <algorithm>
#include <map>
#include <optional>

namespace residency::testing {
namespace {

using namespace policy_internal;  // NOLINT: test-only reference

enum T { F, TR, U };  // false, true, unknown

struct Part {
  std::vector<std::string> classes;
  std::string origin;
  std::optional<double> subjects, sensitive, cumulative;
};

struct Art {
  std::string kind;  // dataset | model | prompt
  const Dataset* ds = nullptr;
  const Model* model = nullptr;
  std::vector<Part> parts;
  const std::vector<Evidence>* own = nullptr;
};

struct Ctx {
  const CompiledSet& set;
  const Request& req;
  absl::Time now;
  bool fail = false;
};

int Jur(const CompiledSet& s, const std::string& n) {
  auto it = s.catalogue.jurisdiction_index.find(n);
  return it == s.catalogue.jurisdiction_index.end() ? -1 : it->second;
}
int Cls(const CompiledSet& s, const std::string& n) {
  auto it = s.class_index.find(n);
  return it == s.class_index.end() ? -1 : it->second;
}
// The registry entry of an evidence type, found by a plain search of every policy.
const policy_internal::EvidenceSpec* SpecOf(const CompiledSet& s, const std::string& type) {
  for (const auto& p : s.policies)
    for (const auto& e : p.evidence_specs)
      if (e.type == type) return &e;
  return nullptr;
}
bool Valid(const CompiledSet& s, const Evidence& e, absl::Time now) {
  std::optional<absl::Time> until = e.not_after;
  if (const auto* spec = SpecOf(s, e.type)) {
    if ((spec->require_country && !e.country) || (spec->require_recipient && !e.recipient) ||
        (spec->require_origin && !e.origin) || (spec->require_covers && e.covers.empty()) ||
        (spec->require_not_before && !e.not_before) || (spec->require_not_after && !e.not_after))
      return false;
    if (spec->max_validity) {
      if (!e.not_before) return false;
      absl::Time limit = *e.not_before + *spec->max_validity;
      if (!until || limit < *until) until = limit;
    }
  }
  if (e.not_before && now < *e.not_before) return false;
  if (until && !(now < *until)) return false;
  if (e.withdrawn_at && !(now < *e.withdrawn_at)) return false;
  return true;
}
bool Within(const CompiledSet& s, const std::string& inner, int outer) {
  int j = Jur(s, inner);
  return j >= 0 &&
         s.catalogue.jurisdiction_members[j].SubsetOf(s.catalogue.jurisdiction_members[outer]);
}

void WalkDataset(Ctx& c, const Dataset& d, std::vector<std::string>& path, Art* a) {
  if (!d.id.empty() && std::count(path.begin(), path.end(), d.id)) {
    c.fail = true;
    return;
  }
  path.push_back(d.id);
  for (const auto& p : d.partitions) {
    a->parts.push_back(
        Part{p.classes, p.origin, p.subjects, p.sensitive_subjects, p.cumulative_subjects});
  }
  for (const auto& x : d.derived_from) WalkDataset(c, x, path, a);
  path.pop_back();
}

void WalkModel(Ctx& c, const Model& m, std::vector<std::string>& path, Art* a) {
  if (!m.id.empty() && std::count(path.begin(), path.end(), m.id)) {
    c.fail = true;
    return;
  }
  path.push_back(m.id);
  if (!m.trained_on)
    c.fail = true;
  else
    for (const auto& d : *m.trained_on) WalkDataset(c, d, path, a);
  for (const auto& b : m.base_models) WalkModel(c, b, path, a);
  path.pop_back();
}

// Effective class of (class, origin) in `a`.
int Effective(Ctx& c, const Art& a, const std::string& cls, const std::string& origin) {
  int id = Cls(c.set, cls);
  if (cls != "anonymized") return id;
  auto attested = [&](const std::vector<Evidence>& ev) {
    for (const auto& e : ev) {
      if (e.type != "anonymization_attestation" || !Valid(c.set, e, c.now)) continue;
      if (e.origin) {
        int j = Jur(c.set, *e.origin);
        if (j < 0 || !Within(c.set, origin, j)) continue;
      }
      return true;
    }
    return false;
  };
  if ((a.own && attested(*a.own)) || attested(c.req.evidence)) return id;
  return Cls(c.set, "pseudonymized");
}

struct Unit {
  const Art* art = nullptr;
  std::string cls, origin;  // empty for request units
  int eff = -1;
  int loc = -1;
};

bool PatternMatches(const CompiledSet& s, const TagPattern& p, int eff, const std::string& origin) {
  bool cls_ok = p.any_class || s.classes[eff].ancestors.Intersects(p.classes);
  bool org_ok =
      p.any_origin || s.catalogue.jurisdiction_members[Jur(s, origin)].SubsetOf(p.origins);
  return cls_ok && org_ok;
}

struct Eval {
  Ctx& c;
  const Policy& p;
  const Rule* rule;
  const std::vector<Art>& arts;

  bool ListActive(const ListEntry& e) const {
    return (!e.from || *e.from <= c.now) && (!e.until || c.now < *e.until);
  }

  // `beside`: the tag conditions next to the number in its `all` (they narrow a subject count).
  std::optional<double> Num(Field f, const Unit& u,
                            const std::vector<std::vector<TagPattern>>& beside) const {
    const Request& r = c.req;
    if (f == Field::kTrainingFlops) {
      if (u.art && u.art->model) return u.art->model->training_flops;
      std::optional<double> best;
      std::vector<const Model*> ms;
      if (r.model) ms.push_back(&*r.model);
      if (r.compute)
        for (const auto& in : r.compute->inputs)
          if (in.model) ms.push_back(&*in.model);
      for (auto* m : ms)
        if (m->training_flops) best = std::max(best.value_or(0), *m->training_flops);
      return best;
    }
    if (f == Field::kRetentionHours) return r.transfer.retention_hours;
    auto pick = [&](const Part& pt) {
      return f == Field::kSubjects            ? pt.subjects
             : f == Field::kSensitiveSubjects ? pt.sensitive
                                              : pt.cumulative;
    };
    double sum = 0;
    bool any = false;
    if (u.art) {
      if (!rule->tag_filters.empty() || !beside.empty()) {
        std::vector<std::vector<TagPattern>> filters = rule->tag_filters;
        filters.insert(filters.end(), beside.begin(), beside.end());
        for (const auto& pt : u.art->parts) {
          if (Jur(c.set, pt.origin) < 0) continue;
          bool all = true;
          for (const auto& filt : filters) {
            bool m = false;
            for (const auto& cl : pt.classes) {
              if (Cls(c.set, cl) < 0) continue;
              int eff = Effective(c, *u.art, cl, pt.origin);
              for (const auto& pat : filt) m |= PatternMatches(c.set, pat, eff, pt.origin);
            }
            all &= m;
          }
          if (!all) continue;
          if (!pick(pt)) return std::nullopt;
          sum += *pick(pt);
        }
        return sum;
      }
      for (const auto& pt : u.art->parts) {
        if (std::find(pt.classes.begin(), pt.classes.end(), u.cls) == pt.classes.end() ||
            pt.origin != u.origin)
          continue;
        if (!pick(pt)) return std::nullopt;
        sum += *pick(pt);
      }
      return sum;
    }
    for (const auto& a : arts) {
      for (const auto& pt : a.parts) {
        if (Jur(c.set, pt.origin) < 0) continue;
        for (const auto& cl : pt.classes) {
          if (Cls(c.set, cl) < 0) continue;
          any = true;
          if (!pick(pt)) return std::nullopt;
          sum += *pick(pt);
        }
      }
    }
    if (!any) return std::nullopt;
    return sum;
  }

  bool Party(const PartyCond& pc, const std::optional<residency::Party>& party) const {
    if (pc.present) {
      if (*pc.present != party.has_value()) return false;
      if (!party) return true;
    }
    if (!party) return false;
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    if (!pc.ids.empty() && !has(pc.ids, party->id)) return false;
    if (pc.id_regex && !RE2::PartialMatch(party->id, *pc.id_regex)) return false;
    if (pc.has_countries) {
      int k = IsoCountryIndex(party->country);
      if (k < 0 || !pc.countries.Test(k)) return false;
    }
    if (!pc.sectors.empty()) {
      bool any = false;
      for (const auto& s : party->sectors) any |= has(pc.sectors, s);
      if (!any) return false;
    }
    if (!pc.roles.empty() && !has(pc.roles, party->role)) return false;
    for (const auto& [k, v] : pc.attributes) {
      auto it = party->attributes.find(k);
      if (it == party->attributes.end() || it->second != v) return false;
    }
    auto in_list = [&](int li) {
      for (const auto& e : p.lists[li].entries)
        if (e.value == party->id && ListActive(e)) return true;
      return false;
    };
    if (pc.in_list >= 0 && !in_list(pc.in_list)) return false;
    if (pc.not_in_list >= 0 && in_list(pc.not_in_list)) return false;
    return true;
  }

  T Run(const Condition& cond, const Unit& u,
        const std::vector<std::vector<TagPattern>>& beside = {}) const {
    using K = Condition::Kind;
    const Request& r = c.req;
    const Location& loc = c.set.catalogue.locations[u.loc];
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    auto b = [](bool x) { return x ? TR : F; };
    switch (cond.kind) {
      case K::kTrue:
        return TR;
      case K::kAll: {
        bool unk = false;
        std::vector<std::vector<TagPattern>> tags;
        for (const auto& ch : cond.children)
          if (ch.kind == K::kTags) tags.push_back(ch.tags);
        for (const auto& ch : cond.children) {
          T t = Run(ch, u, tags);
          if (t == F) return F;
          unk |= t == U;
        }
        return unk ? U : TR;
      }
      case K::kAny: {
        bool unk = false;
        for (const auto& ch : cond.children) {
          T t = Run(ch, u);
          if (t == TR) return TR;
          unk |= t == U;
        }
        return unk ? U : F;
      }
      case K::kNot: {
        T t = Run(cond.children[0], u);
        return t == U ? U : (t == TR ? F : TR);
      }
      case K::kTags: {
        if (u.eff < 0) return F;
        for (const auto& pat : cond.tags)
          if (PatternMatches(c.set, pat, u.eff, u.origin)) return TR;
        return F;
      }
      case K::kValues: {
        switch (cond.field) {
          case Field::kKind:
            return b(has(cond.values, std::string(KindName(r.kind))));
          case Field::kAction:
            return b(has(cond.values, r.action));
          case Field::kJob:
            return b(r.compute && has(cond.values, r.compute->job));
          case Field::kArtifact: {
            if (u.art) {
              if (u.art->kind != "model") return b(has(cond.values, u.art->kind));
              return b(has(cond.values, "model") || has(cond.values, u.art->model->artifact));
            }
            if (r.kind == Request::Kind::kDataset) return b(has(cond.values, "dataset"));
            if (r.kind == Request::Kind::kModel)
              return b(has(cond.values, "model") || has(cond.values, r.model->artifact));
            return F;
          }
          case Field::kPurpose:
            return b(has(cond.values, r.purpose));
          case Field::kUseCase:
            return b(has(cond.values, r.use_case));
          case Field::kTier: {
            if (u.art && u.art->model) return b(has(cond.values, u.art->model->tier));
            for (const auto& a : arts)
              if (a.model && !a.model->tier.empty() && has(cond.values, a.model->tier)) return TR;
            return F;
          }
          case Field::kTransferType:
            return b(has(cond.values, r.transfer.type));
          case Field::kTransferPattern:
            return b(has(cond.values, r.transfer.pattern));
          case Field::kTransaction:
            return b(has(cond.values, r.transfer.transaction));
          case Field::kUserProvenance:
            return b(r.compute && r.compute->user && has(cond.values, r.compute->user->provenance));
          default:
            return F;
        }
      }
      case K::kNumber: {
        auto v = Num(cond.field, u, beside);
        if (!v) return U;
        const auto& bd = *cond.bounds;
        if (bd.gte && !(*v >= *bd.gte)) return F;
        if (bd.gt && !(*v > *bd.gt)) return F;
        if (bd.lte && !(*v <= *bd.lte)) return F;
        if (bd.lt && !(*v < *bd.lt)) return F;
        return TR;
      }
      case K::kRegex: {
        auto m = [&](const Dataset* d) {
          return d &&
                 RE2::PartialMatch(cond.field == Field::kDatasetId ? d->id : d->uri, *cond.regex);
        };
        if (u.art) return b(m(u.art->ds));
        for (const auto& a : arts)
          if (m(a.ds)) return TR;
        return F;
      }
      case K::kLocation: {
        const auto& lc = *cond.location;
        if (lc.has_in && !lc.in.Test(u.loc)) return F;
        if (lc.has_not_in && lc.not_in.Test(u.loc)) return F;
        auto in_list = [&](int li) {
          for (const auto& e : p.lists[li].entries)
            if (e.locations.Test(u.loc) && ListActive(e)) return true;
          return false;
        };
        if (lc.in_list >= 0 && !in_list(lc.in_list)) return F;
        if (lc.not_in_list >= 0 && in_list(lc.not_in_list)) return F;
        for (const auto& cert : lc.certifications)
          if (!has(loc.certifications, cert)) return F;
        for (const auto& [k, v] : lc.attributes) {
          auto it = loc.attributes.find(k);
          if (it == loc.attributes.end() || it->second != v) return F;
        }
        if (!lc.sites.empty() && !has(lc.sites, loc.site)) return F;
        if (!lc.providers.empty() && !has(lc.providers, loc.provider)) return F;
        if (lc.outside_origin) {
          if (u.eff < 0) return F;
          if (c.set.catalogue.jurisdiction_members[Jur(c.set, u.origin)].Test(loc.country))
            return F;
        }
        if (lc.own_premises) {
          const bool own =
              !loc.controller.empty() && r.operator_party && r.operator_party->id == loc.controller;
          if (own != *lc.own_premises) return F;
        }
        return TR;
      }
      case K::kOperator:
        return b(Party(*cond.party, r.operator_party));
      case K::kRecipient:
        return b(Party(*cond.party, r.recipient));
      case K::kUser: {
        if (!r.compute || !r.compute->user) return F;
        const auto& user = *r.compute->user;
        if (cond.user->has_jurisdictions) {
          int j = user.jurisdiction.empty() ? -1 : Jur(c.set, user.jurisdiction);
          if (j < 0 || !c.set.catalogue.jurisdiction_members[j].SubsetOf(cond.user->jurisdictions))
            return F;
        }
        if (!cond.user->provenance.empty() && !has(cond.user->provenance, user.provenance))
          return F;
        return TR;
      }
      case K::kEvidence: {
        const auto& ec = *cond.evidence;
        auto ok = [&](const Evidence& e) {
          if (!has(ec.types, e.type) || !Valid(c.set, e, c.now)) return false;
          if (u.eff >= 0) {
            for (const auto& ig : p.ignores)
              if (has(ig.types, e.type) && c.set.classes[u.eff].ancestors.Intersects(ig.classes))
                return false;
          }
          if (ec.require_country && !e.country) return false;
          if (ec.require_recipient && !e.recipient) return false;
          if (ec.require_origin && !e.origin) return false;
          for (const auto& want : ec.covers)
            if (!has(e.covers, want)) return false;
          if (ec.match_country && e.country) {
            int j = Jur(c.set, *e.country);
            if (j < 0 || !c.set.catalogue.jurisdiction_members[j].Test(loc.country)) return false;
          }
          if (ec.match_recipient && e.recipient &&
              (!r.recipient || r.recipient->id != *e.recipient))
            return false;
          if (ec.match_origin && e.origin && u.eff >= 0) {
            int j = Jur(c.set, *e.origin);
            if (j < 0 || !Within(c.set, u.origin, j)) return false;
          }
          return true;
        };
        for (const auto& e : r.evidence)
          if (ok(e)) return TR;
        if (u.art && u.art->own)
          for (const auto& e : *u.art->own)
            if (ok(e)) return TR;
        return F;
      }
    }
    return F;
  }
};

}  // namespace

RefDecision ReferenceEvaluate(const CompiledSet& set, const Request& req, absl::Time now) {
  Ctx c{set, req, now};
  std::vector<Art> arts;
  std::vector<std::string> locs;
  auto add_ds = [&](const Dataset& d) {
    Art a{"dataset", &d, nullptr, {}, &d.evidence};
    std::vector<std::string> path;
    WalkDataset(c, d, path, &a);
    arts.push_back(a);
  };
  auto add_model = [&](const Model& m) {
    Art a{"model", nullptr, &m, {}, &m.evidence};
    std::vector<std::string> path;
    WalkModel(c, m, path, &a);
    arts.push_back(a);
  };
  int user_j = -1;
  if (req.kind == Request::Kind::kDataset) {
    add_ds(*req.dataset);
    locs.push_back(req.destination.empty() ? req.dataset->location : req.destination);
  } else if (req.kind == Request::Kind::kModel) {
    add_model(*req.model);
    locs.push_back(req.destination.empty() ? req.model->location : req.destination);
  } else {
    const Compute& k = *req.compute;
    locs.push_back(k.location);
    for (const auto& in : k.inputs) {
      if (in.dataset) {
        add_ds(*in.dataset);
        if (!in.dataset->location.empty()) locs.push_back(in.dataset->location);
      } else {
        add_model(*in.model);
        if (!in.model->location.empty()) locs.push_back(in.model->location);
      }
    }
    for (const auto& o : k.outputs) locs.push_back(o.location);
    if (k.user && !k.user->jurisdiction.empty()) {
      user_j = Jur(set, k.user->jurisdiction);
      if (user_j < 0) c.fail = true;
    }
    if (k.prompt_classes && !k.prompt_classes->empty()) {
      Art a{"prompt", nullptr, nullptr, {}, nullptr};
      if (!k.user || k.user->jurisdiction.empty())
        c.fail = true;
      else
        a.parts.push_back(
            Part{*k.prompt_classes, k.user->jurisdiction, 1.0, 1.0, k.prompt_cumulative_subjects});
      arts.push_back(a);
    }
  }
  // A party country written but not an ISO code fails closed.
  for (const auto* party : {&req.operator_party, &req.recipient}) {
    if (*party && !(*party)->country.empty() && IsoCountryIndex((*party)->country) < 0) {
      c.fail = true;
    }
  }
  RefDecision out;
  for (const auto& a : arts)
    for (const auto& pt : a.parts)
      for (const auto& cl : pt.classes) {
        out.tags.insert(pt.origin + ":" + cl);
        if (Cls(set, cl) < 0 || Jur(set, pt.origin) < 0) c.fail = true;
      }
  std::vector<int> loc_ids;
  for (const auto& l : locs) {
    auto it = set.catalogue.location_index.find(l);
    if (it == set.catalogue.location_index.end()) {
      c.fail = true;
    } else if (std::find(loc_ids.begin(), loc_ids.end(), it->second) == loc_ids.end()) {
      loc_ids.push_back(it->second);
    }
  }
  Effect decision = c.fail ? Effect::kDeny : Effect::kAllow;
  struct Res {
    std::string key;
    Effect e;
    std::vector<std::string> obl;
  };
  std::vector<Res> results;
  for (const auto& p : set.policies) {
    // Scope.
    bool in = p.scope.always;
    for (const auto& a : arts)
      for (const auto& pt : a.parts) {
        int j = Jur(set, pt.origin);
        if (j >= 0 && Cls(set, pt.classes.empty() ? "" : pt.classes[0]) >= -1 &&
            p.scope.has_origins &&
            set.catalogue.jurisdiction_members[j].Intersects(p.scope.origins)) {
          bool any_known = false;
          for (const auto& cl : pt.classes) any_known |= Cls(set, cl) >= 0;
          in |= any_known;
        }
      }
    if (req.operator_party) {
      int k = IsoCountryIndex(req.operator_party->country);
      if (p.scope.has_operator_countries && k >= 0 && p.scope.operator_countries.Test(k)) in = true;
      for (const auto& s : req.operator_party->sectors)
        if (std::find(p.scope.operator_sectors.begin(), p.scope.operator_sectors.end(), s) !=
            p.scope.operator_sectors.end())
          in = true;
    }
    if (p.scope.has_user_jurisdictions && user_j >= 0 &&
        set.catalogue.jurisdiction_members[user_j].Intersects(p.scope.user_jurisdictions))
      in = true;
    for (int l : loc_ids)
      if (p.scope.has_locations && set.catalogue.locations[l].country >= 0 &&
          p.scope.locations.Test(set.catalogue.locations[l].country))
        in = true;
    if (!in) continue;
    // Units: distinct (artifact, class, origin) tags not lifted for this policy.
    struct TagU {
      const Art* a;
      std::string cls, origin;
      int eff;
    };
    std::vector<TagU> tag_units;
    for (const auto& a : arts) {
      std::set<std::pair<std::string, std::string>> seen;
      for (const auto& pt : a.parts)
        for (const auto& cl : pt.classes) {
          if (Cls(set, cl) < 0 || Jur(set, pt.origin) < 0) continue;
          if (!seen.insert({cl, pt.origin}).second) continue;
          bool lifted = false;
          if (a.kind != "prompt") {
            for (const auto& l : p.lifts) {
              if (std::find(l.artifacts.begin(), l.artifacts.end(), a.kind) == l.artifacts.end())
                continue;
              if (!set.classes[Cls(set, cl)].ancestors.Intersects(l.classes)) continue;
              for (const auto& e : *a.own) {
                if (!Valid(set, e, now) ||
                    std::find(l.evidence_types.begin(), l.evidence_types.end(), e.type) ==
                        l.evidence_types.end())
                  continue;
                if (e.origin) {
                  int j = Jur(set, *e.origin);
                  if (j < 0) continue;
                  if (l.match_origin && !Within(set, pt.origin, j)) continue;
                }
                lifted = true;
              }
            }
          }
          if (lifted) {
            out.lifted.insert(p.id + "/" + pt.origin + ":" + cl);
            continue;
          }
          tag_units.push_back({&a, cl, pt.origin, Effective(c, a, cl, pt.origin)});
        }
    }
    for (size_t ri = 0; ri < p.rules.size(); ++ri) {
      const Rule& rule = p.rules[ri];
      if ((rule.from && now < *rule.from) || (rule.until && !(now < *rule.until))) continue;
      Eval ev{c, p, &rule, arts};
      std::vector<Unit> units;
      for (int l : loc_ids) {
        if (rule.tag_scoped) {
          for (const auto& t : tag_units) units.push_back(Unit{t.a, t.cls, t.origin, t.eff, l});
        } else {
          units.push_back(Unit{nullptr, "", "", -1, l});
        }
      }
      bool applied = false;
      Effect worst = Effect::kAllow;
      std::vector<std::string> obl;
      for (const auto& u : units) {
        T w = ev.Run(rule.when, u);
        if (w == F) continue;
        applied = true;
        Effect e;
        const std::vector<int>* ob = &rule.obligations;
        // Unknown: judged as if it applied (the most restrictive result over the values the
        // missing fact could take); an alternative or exception that is not true legalises nothing.
        if (!rule.has_alternatives) {
          e = rule.effect;
        } else {
          e = rule.effect;
          bool found = false;
          for (const auto& alt : rule.alternatives) {
            if (ev.Run(alt.when, u) != TR) continue;
            if (!found || alt.effect < e) {
              e = alt.effect;
              ob = &alt.obligations;
              found = true;
            }
          }
        }
        if ((e == Effect::kDeny || e == Effect::kEscalate) && rule.basis == "corp") {
          for (const auto& x : p.exceptions) {
            if (std::find(x.rules.begin(), x.rules.end(), static_cast<int>(ri)) == x.rules.end())
              continue;
            if ((x.not_before && now < *x.not_before) || (x.not_after && !(now < *x.not_after)))
              continue;
            if (ev.Run(x.when, u) != TR) continue;
            e = Effect::kAllowWithObligations;
            ob = &x.obligations;
            break;
          }
        }
        worst = std::max(worst, e);
        if (ob)
          for (int o : *ob) obl.push_back(p.id + "/" + p.obligations[o].id);
      }
      if (!applied) continue;
      const bool before_enforcement = rule.enforce_from && now < *rule.enforce_from;
      if (rule.dry_run || p.dry_run || before_enforcement) continue;
      results.push_back({p.id + "/" + rule.id, worst, obl});
      decision = std::max(decision, worst);
    }
  }
  out.decision = EffectName(decision);
  for (const auto& r : results) {
    if (r.e == decision) out.rules.insert(r.key);
    for (const auto& o : r.obl) out.obligations.insert(o);
  }
  return out;
}

std::string ReferencePlacement(const Request& r) {
  if (r.kind == Request::Kind::kCompute) return r.compute->location;
  if (!r.destination.empty()) return r.destination;
  return r.kind == Request::Kind::kDataset ? r.dataset->location : r.model->location;
}

Request ReferenceMovedTo(Request r, const std::string& to) {
  const std::string from = ReferencePlacement(r);
  if (r.kind == Request::Kind::kCompute) {
    r.compute->location = to;
    for (auto& in : r.compute->inputs) {
      if (in.dataset && in.dataset->location == from) in.dataset->location = to;
      if (in.model && in.model->location == from) in.model->location = to;
    }
    for (auto& out : r.compute->outputs)
      if (out.location == from) out.location = to;
  } else if (!r.destination.empty()) {
    r.destination = to;
  } else if (r.kind == Request::Kind::kDataset) {
    r.dataset->location = to;
  } else {
    r.model->location = to;
  }
  return r;
}

}  // namespace residency::testing
