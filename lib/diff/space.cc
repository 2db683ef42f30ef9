// residency diff: the generated space of requests (locations, classes and origins grouped by
// behaviour, request profiles, and the pairs each profile is explored with).
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "diff/diff_internal.h"

namespace residency::diff_internal {

namespace {

void AddUnique(std::vector<LocationBits>* v, const LocationBits& b) {
  if (std::find(v->begin(), v->end(), b) == v->end()) v->push_back(b);
}
void AddUnique(std::vector<ClassBits>* v, const ClassBits& b) {
  if (std::find(v->begin(), v->end(), b) == v->end()) v->push_back(b);
}

SetInfo Collect(const CompiledSet& s) {
  SetInfo info;
  info.set = &s;
  for (const auto& p : s.policies) {
    for (size_t r = 0; r < p.rules.size(); ++r) {
      policy_internal::ForEachRuleCondition(p, static_cast<int>(r), [&](const Condition& c, int) {
        if (c.kind == Condition::Kind::kLocation) {
          if (c.location->has_in) AddUnique(&info.location_sets, c.location->in);
          if (c.location->has_not_in) AddUnique(&info.location_sets, c.location->not_in);
          info.certifications.insert(c.location->certifications.begin(),
                                     c.location->certifications.end());
          for (const auto& kv : c.location->attributes) info.attributes.insert(kv.first);
          info.sites.insert(c.location->sites.begin(), c.location->sites.end());
          info.providers.insert(c.location->providers.begin(), c.location->providers.end());
        } else if (c.kind == Condition::Kind::kTags) {
          for (const auto& t : c.tags) {
            if (!t.any_class) AddUnique(&info.class_sets, t.classes);
          }
        }
      });
    }
    for (const auto& l : p.lists) {
      for (const auto& e : l.entries) AddUnique(&info.location_sets, e.locations);
    }
    for (const auto& l : p.lifts) AddUnique(&info.class_sets, l.classes);
    for (const auto& ig : p.ignores) AddUnique(&info.class_sets, ig.classes);
  }
  return info;
}

const policy_internal::Location* FindLocation(const CompiledSet& s, const std::string& id) {
  auto it = s.catalogue.location_index.find(id);
  return it == s.catalogue.location_index.end() ? nullptr : &s.catalogue.locations[it->second];
}

int ClassIndex(const CompiledSet& s, const std::string& id) {
  auto it = s.class_index.find(id);
  return it == s.class_index.end() ? -1 : it->second;
}

int JurisdictionIndex(const CompiledSet& s, const std::string& name) {
  auto it = s.catalogue.jurisdiction_index.find(name);
  return it == s.catalogue.jurisdiction_index.end() ? -1 : it->second;
}

// Groups names that behave alike under every condition of both sets; keeps first-seen order.
std::vector<Atom> MakeAtoms(const std::vector<std::string>& names,
                            const std::function<std::string(const std::string&)>& signature) {
  std::vector<Atom> atoms;
  std::map<std::string, size_t> by_sig;
  for (const auto& n : names) {
    std::string sig = signature(n);
    auto [it, fresh] = by_sig.emplace(sig, atoms.size());
    if (fresh) atoms.emplace_back();
    atoms[it->second].members.push_back(n);
  }
  return atoms;
}

}  // namespace

Space::Space(const CompiledSet& a, const CompiledSet& b) {
  info_[0] = Collect(a);
  info_[1] = Collect(b);
  BuildLocations();
  BuildClasses();
  BuildOrigins();
  BuildProfiles();
  BuildProfilePairs();
}

std::vector<size_t> Space::FocusProfiles(const std::vector<RuleRef>& rules) const {
  std::set<size_t> chosen = {0};
  auto add = [&](const Profile& p) {
    auto it = profile_index_.find(p.Key());
    if (it != profile_index_.end()) chosen.insert(it->second);
  };
  for (const auto& r : rules) {
    const Policy& p = set(r.set).policies[r.policy];
    for (const auto& w : RuleWitnesses(p, r.rule)) add(w);
    policy_internal::ForEachRuleCondition(p, r.rule, [&](const Condition& c, int) {
      if (c.kind == Condition::Kind::kEvidence) {
        for (const auto& t : c.evidence->types) add(EvidenceProfile(t));
      } else if (c.kind == Condition::Kind::kOperator) {
        for (const auto& s : c.party->sectors) add(SectorProfile(s));
      }
    });
    for (const auto& s : p.scope.operator_sectors) add(SectorProfile(s));
    for (const auto& l : p.lifts) {
      for (const auto& t : l.evidence_types) add(EvidenceProfile(t));
    }
  }
  return std::vector<size_t>(chosen.begin(), chosen.end());
}

std::vector<bool> Space::FocusPairs(const std::vector<RuleRef>& rules) const {
  std::vector<bool> out(class_atoms_.size() * origins_.size(), false);
  for (const auto& r : rules) {
    const Rule& rule = set(r.set).policies[r.policy].rules[r.rule];
    std::vector<bool> pairs = CondPairs(r.set, rule.when);
    for (size_t k = 0; k < out.size(); ++k) out[k] = out[k] || pairs[k];
  }
  return out;
}

std::vector<bool> Space::CondPairs(int si, const Condition& cond) const {
  size_t nc = class_atoms_.size(), no = origins_.size();
  std::vector<bool> out(nc * no, false);
  const CompiledSet& s = set(si);
  for (size_t c = 0; c < nc; ++c) {
    const std::string& cls = class_atoms_[c].members[0];
    int ci = ClassIndex(s, cls);
    if (ci < 0) continue;
    std::vector<const ClassBits*> ancestors = {&s.classes[ci].ancestors};
    if (cls == "anonymized") {
      int pi = ClassIndex(s, "pseudonymized");
      if (pi >= 0) ancestors.push_back(&s.classes[pi].ancestors);
    }
    for (size_t o = 0; o < no; ++o) {
      if (!origins_[o].known[si]) continue;
      for (const ClassBits* anc : ancestors) {
        if (Partial(cond, *anc, origins_[o].bits[si]) != Tri::kFalse) out[c * no + o] = true;
      }
    }
  }
  return out;
}

Space::Tri Space::Partial(const Condition& c, const ClassBits& anc, const CountryBits& origin) {
  return policy_internal::JudgeCondition(c, [&](const Condition& leaf) {
    if (leaf.kind != Condition::Kind::kTags) return Tri::kUnknown;
    for (const auto& t : leaf.tags) {
      if ((t.any_class || anc.Intersects(t.classes)) &&
          (t.any_origin || origin.SubsetOf(t.origins))) {
        return Tri::kTrue;
      }
    }
    return Tri::kFalse;
  });
}

Profile Space::EvidenceProfile(const std::string& type) {
  Profile p;
  p.evidence.push_back(type);
  return p;
}

Profile Space::SectorProfile(const std::string& sector) {
  Profile p;
  p.has_operator = true;
  p.sectors.push_back(sector);
  return p;
}

void Space::BuildLocations() {
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    for (const auto& l : set(i).catalogue.locations) {
      if (seen.insert(l.id).second) locations_.push_back(l.id);
    }
  }
  loc_atoms_ = MakeAtoms(locations_, [&](const std::string& id) {
    std::string sig;
    for (int i = 0; i < 2; ++i) {
      const CompiledSet& s = set(i);
      auto it = s.catalogue.location_index.find(id);
      if (it == s.catalogue.location_index.end()) {
        absl::StrAppend(&sig, "absent#");
        continue;
      }
      // What a condition can see of the location: its country (outside_origin, evidence
      // country), and the site, provider, certifications and attributes some condition tests.
      const auto& l = s.catalogue.locations[it->second];
      absl::StrAppend(&sig, l.country_code, "|", info_[i].sites.count(l.site) ? l.site : "", "|",
                      info_[i].providers.count(l.provider) ? l.provider : "", "|", l.controller,
                      "|");
      for (const auto& c : l.certifications) {
        if (info_[i].certifications.count(c)) absl::StrAppend(&sig, c, ",");
      }
      absl::StrAppend(&sig, "|");
      for (const auto& [k, v] : l.attributes) {
        if (info_[i].attributes.count(k)) absl::StrAppend(&sig, k, "=", v, ",");
      }
      absl::StrAppend(&sig, "#");
      for (const auto& b : info_[i].location_sets) sig.push_back(b.Test(it->second) ? '1' : '0');
      sig.push_back('#');
    }
    return sig;
  });
  for (size_t a = 0; a < loc_atoms_.size(); ++a) {
    for (const auto& m : loc_atoms_[a].members) loc_atom_of_[m] = static_cast<int>(a);
  }
}

void Space::BuildClasses() {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    for (const auto& c : set(i).classes) {
      if (seen.insert(c.id).second) names.push_back(c.id);
    }
  }
  class_atoms_ = MakeAtoms(names, [&](const std::string& id) {
    // `anonymized` is evaluated as `pseudonymized` unless attested: it stays alone.
    if (id == "anonymized") return std::string("anonymized");
    std::string sig;
    for (int i = 0; i < 2; ++i) {
      int ci = ClassIndex(set(i), id);
      if (ci < 0) {
        absl::StrAppend(&sig, "absent#");
        continue;
      }
      const ClassBits& anc = set(i).classes[ci].ancestors;
      for (const auto& b : info_[i].class_sets) sig.push_back(anc.Intersects(b) ? '1' : '0');
      sig.push_back('#');
    }
    return sig;
  });
}

std::vector<std::string> Space::Decompose(const CompiledSet& s, const CountryBits& bits) const {
  const auto& cat = s.catalogue;
  std::vector<std::pair<int, size_t>> groups;  // (-size, index)
  for (size_t i = policy_internal::IsoCountryCount(); i < cat.jurisdiction_names.size(); ++i) {
    int n = 0;
    for (size_t k = 0; k < policy_internal::IsoCountryCount(); ++k) {
      n += cat.jurisdiction_members[i].Test(k) ? 1 : 0;
    }
    if (n >= 2) groups.emplace_back(-n, i);
  }
  std::sort(groups.begin(), groups.end(), [&](const auto& x, const auto& y) {
    return x.first != y.first ? x.first < y.first
                              : cat.jurisdiction_names[x.second] < cat.jurisdiction_names[y.second];
  });
  std::vector<std::string> out;
  CountryBits remaining = bits;
  for (const auto& [neg, i] : groups) {
    const CountryBits& m = cat.jurisdiction_members[i];
    if (m.SubsetOf(bits) && m.Intersects(remaining)) {
      out.push_back(cat.jurisdiction_names[i]);
      for (size_t k = 0; k < CountryBits::kCapacity / 64; ++k) remaining.w[k] &= ~m.w[k];
    }
  }
  for (size_t k = 0; k < policy_internal::IsoCountryCount(); ++k) {
    if (remaining.Test(k)) out.push_back(policy_internal::IsoCountryCode(k));
  }
  return out;
}

std::string Space::CountryOfLocation(const std::string& id) const {
  for (int i = 0; i < 2; ++i) {
    if (const auto* l = FindLocation(set(i), id)) return l->country_code;
  }
  return "";
}

void Space::BuildOrigins() {
  std::set<std::string> names;
  CountryBits mentioned;
  for (int i = 0; i < 2; ++i) {
    const CompiledSet& s = set(i);
    auto add = [&](const CountryBits& b) {
      mentioned |= b;
      for (auto& n : Decompose(s, b)) names.insert(std::move(n));
    };
    for (const auto& p : s.policies) {
      if (p.scope.has_origins) add(p.scope.origins);
      if (p.scope.has_user_jurisdictions) add(p.scope.user_jurisdictions);
      if (p.scope.has_operator_countries) add(p.scope.operator_countries);
      if (p.scope.has_locations) add(p.scope.locations);
      for (size_t r = 0; r < p.rules.size(); ++r) {
        policy_internal::ForEachRuleCondition(p, static_cast<int>(r), [&](const Condition& c, int) {
          if (c.kind == Condition::Kind::kTags) {
            for (const auto& t : c.tags) {
              if (!t.any_origin) add(t.origins);
            }
          } else if (c.kind == Condition::Kind::kUser && c.user->has_jurisdictions) {
            add(c.user->jurisdictions);
          } else if ((c.kind == Condition::Kind::kOperator) && c.party->has_countries) {
            add(c.party->countries);
          }
        });
      }
    }
  }
  // A country within each group (the first in catalogue order), and one country no policy
  // mentions (data whose home has no policy).
  std::vector<std::string> extra;
  for (const auto& n : names) {
    if (policy_internal::IsoCountryIndex(n) >= 0) continue;
    extra.push_back(GroupCountry(n));
  }
  for (const auto& id : locations_) {
    std::string cc = CountryOfLocation(id);
    int k = policy_internal::IsoCountryIndex(cc);
    if (k >= 0 && !mentioned.Test(k)) {
      extra.push_back(cc);
      break;
    }
  }
  for (auto& e : extra) {
    if (!e.empty()) names.insert(std::move(e));
  }
  // One name per behaviour: CN_MAINLAND and CN are the same origin; countries win.
  std::vector<std::string> ordered(names.begin(), names.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const std::string& x, const std::string& y) {
    bool cx = policy_internal::IsoCountryIndex(x) >= 0,
         cy = policy_internal::IsoCountryIndex(y) >= 0;
    return cx != cy ? cx : false;
  });
  std::set<std::string> seen_bits;
  for (const auto& n : ordered) {
    Origin o;
    o.name = n;
    std::string key;
    for (int i = 0; i < 2; ++i) {
      int j = JurisdictionIndex(set(i), n);
      o.known[i] = j >= 0;
      if (j >= 0) o.bits[i] = set(i).catalogue.jurisdiction_members[j];
      absl::StrAppend(&key, o.known[i] ? policy_internal::CanonCountries(o.bits[i]) : "?", "#");
    }
    if (!seen_bits.insert(key).second) continue;
    o.country = policy_internal::IsoCountryIndex(n) >= 0 ? n : GroupCountry(n);
    const CountryBits& b = o.known[0] ? o.bits[0] : o.bits[1];
    for (const auto& id : locations_) {
      int k = policy_internal::IsoCountryIndex(CountryOfLocation(id));
      if (k >= 0 && b.Test(k)) {
        o.home = id;
        break;
      }
    }
    origins_.push_back(std::move(o));
  }
  std::sort(origins_.begin(), origins_.end(),
            [](const Origin& x, const Origin& y) { return x.name < y.name; });
}

std::string Space::GroupCountry(const std::string& name) const {
  for (int i = 0; i < 2; ++i) {
    int j = JurisdictionIndex(set(i), name);
    if (j < 0) continue;
    const CountryBits& b = set(i).catalogue.jurisdiction_members[j];
    for (const auto& id : locations_) {
      int k = policy_internal::IsoCountryIndex(CountryOfLocation(id));
      if (k >= 0 && b.Test(k)) return policy_internal::IsoCountryCode(k);
    }
    return FirstCountry(b);
  }
  return "";
}

void Space::BuildProfiles() {
  std::vector<Profile> all = {Profile()};
  std::set<std::string> evidence, sectors;
  for (int i = 0; i < 2; ++i) {
    for (const auto& p : set(i).policies) {
      for (const auto& s : p.scope.operator_sectors) sectors.insert(s);
      for (const auto& l : p.lifts)
        evidence.insert(l.evidence_types.begin(), l.evidence_types.end());
      for (size_t r = 0; r < p.rules.size(); ++r) {
        for (auto& w : RuleWitnesses(p, static_cast<int>(r))) all.push_back(std::move(w));
        policy_internal::ForEachRuleCondition(p, static_cast<int>(r), [&](const Condition& c, int) {
          using K = Condition::Kind;
          using policy_internal::Field;
          if (c.kind == K::kEvidence) {
            evidence.insert(c.evidence->types.begin(), c.evidence->types.end());
            for (const auto& v : c.evidence->covers) {
              if (std::find(covers_.begin(), covers_.end(), v) == covers_.end())
                covers_.push_back(v);
            }
          } else if (c.kind == K::kOperator) {
            sectors.insert(c.party->sectors.begin(), c.party->sectors.end());
          } else if (c.kind == K::kNumber) {
            switch (c.field) {
              case Field::kSubjects:
                numbers_[kSubjects] = true;
                break;
              case Field::kSensitiveSubjects:
                numbers_[kSensitive] = true;
                break;
              case Field::kCumulativeSubjects:
                numbers_[kCumulative] = true;
                break;
              case Field::kTrainingFlops:
                numbers_[kFlops] = true;
                break;
              case Field::kRetentionHours:
                numbers_[kRetention] = true;
                break;
              default:
                break;
            }
          }
        });
      }
    }
  }
  for (const auto& e : evidence) all.push_back(EvidenceProfile(e));
  for (const auto& s : sectors) all.push_back(SectorProfile(s));
  for (auto& p : all) {
    std::string key = p.Key();
    if (profile_index_.emplace(key, profiles_.size()).second) profiles_.push_back(std::move(p));
  }
}

void Space::BuildProfilePairs() {
  struct Unit {
    std::vector<bool> pairs;
    Features features;
  };
  std::vector<Unit> units;
  size_t n = class_atoms_.size() * origins_.size();
  auto leaf_features = [](const Condition& c) {
    Features f;
    policy_internal::ForEachCondition(c, [&](const Condition& x, int) { AddLeafFeatures(x, &f); });
    return f;
  };
  for (int i = 0; i < 2; ++i) {
    const CompiledSet& s = set(i);
    for (const auto& p : s.policies) {
      Features scope;
      // (An operator's country brings a policy into scope only where its origin already
      // does: profiles put the operator in the origin's country.)
      for (const auto& sec : p.scope.operator_sectors) scope.insert("sector:" + sec);
      for (const auto& l : p.lifts) {
        for (const auto& t : l.evidence_types) scope.insert("ev:" + t);
      }
      for (size_t r = 0; r < p.rules.size(); ++r) {
        const Rule& rule = p.rules[r];
        std::vector<bool> when = CondPairs(i, rule.when);
        if (std::find(when.begin(), when.end(), false) == when.end()) {
          // The rule does not look at tags: every pair would do; combine the profile with the
          // least restricted class and with plain personal data, for every origin.
          std::fill(when.begin(), when.end(), false);
          for (size_t c = 0; c < class_atoms_.size(); ++c) {
            const auto& m = class_atoms_[c].members;
            if (c != 0 && std::find(m.begin(), m.end(), "personal") == m.end()) continue;
            for (size_t o = 0; o < origins_.size(); ++o) when[c * origins_.size() + o] = true;
          }
        }
        Features wf = leaf_features(rule.when);
        wf.insert(scope.begin(), scope.end());
        units.push_back(Unit{when, wf});
        auto add = [&](const Condition& c) {
          std::vector<bool> pairs = CondPairs(i, c);
          for (size_t k = 0; k < n; ++k) pairs[k] = pairs[k] && when[k];
          units.push_back(Unit{std::move(pairs), leaf_features(c)});
        };
        for (const auto& a : rule.alternatives) add(a.when);
        for (const auto& e : p.exceptions) {
          if (std::find(e.rules.begin(), e.rules.end(), static_cast<int>(r)) != e.rules.end()) {
            add(e.when);
          }
        }
      }
    }
  }
  for (size_t p = 0; p < profiles_.size(); ++p) {
    std::vector<bool> mask(n, p == 0);
    if (p > 0) {
      Features f = ProfileFeatures(profiles_[p]);
      for (const auto& u : units) {
        if (!Intersect(f, u.features)) continue;
        for (size_t k = 0; k < n; ++k) mask[k] = mask[k] || u.pairs[k];
      }
      // An attestation keeps `anonymized` anonymized for every policy.
      if (f.count("ev:anonymization_attestation")) {
        for (size_t c = 0; c < class_atoms_.size(); ++c) {
          if (class_atoms_[c].members[0] != "anonymized") continue;
          for (size_t o = 0; o < origins_.size(); ++o) mask[c * origins_.size() + o] = true;
        }
      }
    }
    profile_pairs_.push_back(std::move(mask));
  }
}

Request Space::Build(size_t l, size_t c, size_t o, int shape, size_t p, absl::Time now) const {
  const std::string& loc = loc_atoms_[l].members[0];
  const std::string& cls = class_atoms_[c].members[0];
  const Origin& origin = origins_[o];
  const Profile& pr = profiles_[p];
  const std::string home = origin.home.empty() ? loc : origin.home;
  const std::string loc_country = CountryOfLocation(loc);

  Request r;
  r.now = now;
  r.purpose = pr.purpose;
  r.use_case = pr.use_case;
  r.transfer.type = pr.transfer_type;
  r.transfer.pattern = pr.transfer_pattern;
  r.transfer.transaction = pr.transaction;
  if (numbers_[kRetention]) r.transfer.retention_hours = pr.retention_hours.value_or(12);
  const bool recipient = pr.has_recipient || !pr.evidence.empty();
  const std::string recipient_id = pr.recipient_id.empty() ? "recipient-1" : pr.recipient_id;
  if (pr.has_operator) {
    Party op;
    op.id = pr.operator_id.empty() ? "operator-1" : pr.operator_id;
    op.country = pr.operator_country.empty() ? origin.country : pr.operator_country;
    op.sectors = pr.sectors;
    op.attributes = pr.operator_attributes;
    r.operator_party = std::move(op);
  }
  if (recipient) {
    Party rc;
    rc.id = recipient_id;
    rc.country = pr.recipient_country.empty() ? loc_country : pr.recipient_country;
    rc.role = pr.role.empty() ? "processor" : pr.role;
    rc.attributes = pr.recipient_attributes;
    r.recipient = std::move(rc);
  }
  std::vector<Evidence> evidence;
  for (const auto& t : pr.evidence) {
    Evidence e;
    e.type = t;
    e.country = loc_country;
    e.recipient = recipient_id;
    e.origin = origin.name;
    e.covers = covers_;
    // Within any longest validity a registry gives the type.
    e.not_before = now - absl::Hours(1);
    e.not_after = now + absl::Hours(1);
    evidence.push_back(std::move(e));
  }
  r.evidence = evidence;

  Partition part;
  part.classes = {cls};
  part.origin = origin.name;
  if (numbers_[kSubjects] || numbers_[kCumulative]) part.subjects = pr.subjects.value_or(1000);
  if (numbers_[kSensitive]) part.sensitive_subjects = pr.sensitive_subjects.value_or(0);
  if (numbers_[kCumulative]) {
    part.cumulative_subjects = pr.cumulative_subjects.value_or(part.subjects.value_or(1000));
  }
  Dataset ds;
  ds.id = "ds-1";
  ds.partitions = {part};
  ds.evidence = evidence;

  Model model;
  model.id = "model-1";
  model.artifact = "weights";
  model.tier = pr.tier;
  model.location = loc;
  if (numbers_[kFlops]) model.training_flops = pr.training_flops.value_or(1e24);
  model.evidence = evidence;

  switch (static_cast<Shape>(shape)) {
    case Shape::kDatasetStore:
      r.kind = Request::Kind::kDataset;
      r.action = "store";
      r.destination = loc;
      ds.location = loc;
      r.dataset = std::move(ds);
      break;
    case Shape::kDatasetTransfer:
      r.kind = Request::Kind::kDataset;
      r.action = "transfer";
      r.destination = loc;
      ds.location = home;
      r.dataset = std::move(ds);
      break;
    case Shape::kModelDeploy:
      r.kind = Request::Kind::kModel;
      r.action = "deploy";
      r.destination = loc;
      model.trained_on = std::vector<Dataset>{std::move(ds)};
      r.model = std::move(model);
      break;
    case Shape::kTraining: {
      static const std::map<std::string, std::string> kJobAction = {{"training", "train"},
                                                                    {"fine_tune", "fine_tune"},
                                                                    {"batch", "process"},
                                                                    {"evaluate", "evaluate"}};
      r.kind = Request::Kind::kCompute;
      Compute cp;
      cp.job = kJobAction.count(pr.job) ? pr.job : "training";
      r.action = kJobAction.at(cp.job);
      cp.location = loc;
      ds.location = home;
      ComputeInput in;
      in.dataset = std::move(ds);
      cp.inputs.push_back(std::move(in));
      if (!pr.tier.empty()) {
        model.trained_on = std::vector<Dataset>{};
        ComputeInput base;
        base.model = std::move(model);
        cp.inputs.push_back(std::move(base));
      }
      cp.outputs.push_back(ComputeOutput{loc, "checkpoint"});
      r.compute = std::move(cp);
      break;
    }
    case Shape::kInference: {
      r.kind = Request::Kind::kCompute;
      r.action = "infer";
      Compute cp;
      cp.job = "inference";
      cp.location = loc;
      model.trained_on = std::vector<Dataset>{};
      ComputeInput in;
      in.model = std::move(model);
      cp.inputs.push_back(std::move(in));
      cp.user = User{origin.name, pr.provenance.empty() ? "verified" : pr.provenance};
      cp.prompt_classes = std::vector<std::string>{cls};
      r.compute = std::move(cp);
      break;
    }
  }
  return r;
}

}  // namespace residency::diff_internal
