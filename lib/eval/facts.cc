#include "eval/facts.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "internal/country_names.h"
#include "internal/text_util.h"

namespace residency::eval_internal {
namespace {

int Jurisdiction(const CompiledSet& set, const std::string& name) {
  // ISO countries come first, at their ISO index: most names need no hashing.
  int iso = policy_internal::IsoCountryIndex(name);
  if (iso >= 0) return iso;
  auto it = set.catalogue.jurisdiction_index.find(name);
  return it == set.catalogue.jurisdiction_index.end() ? -1 : it->second;
}

// "Did you mean" hints for names a request got wrong (only built when a name is unknown).
std::string LocationHint(const CompiledSet& set, const std::string& name) {
  std::vector<std::string> ids;
  ids.reserve(set.catalogue.locations.size());
  for (const auto& l : set.catalogue.locations) ids.push_back(l.id);
  return internal::DidYouMeanSuffix(name, ids);
}

std::string ClassHint(const CompiledSet& set, const std::string& name) {
  std::vector<std::string> ids;
  ids.reserve(set.classes.size());
  for (const auto& c : set.classes) ids.push_back(c.id);
  return internal::DidYouMeanSuffix(name, ids);
}

// A country in the wrong case, as an alpha-3 code or by name gets its alpha-2 code; a longer
// name is compared with the catalogue's groups (every two-letter code is two edits from every
// other, so those get no guess).
std::string JurisdictionHint(const CompiledSet& set, const std::string& name) {
  std::string code = absl::AsciiStrToUpper(name);
  if (code == name || policy_internal::IsoCountryIndex(code) < 0) {
    code = internal::CountryAlpha2Hint(name);
  }
  if (!code.empty()) return absl::StrCat(" (did you mean `", code, "`?)");
  if (name.size() <= 2) return "";
  std::vector<std::string> groups;
  for (const auto& j : set.catalogue.jurisdiction_names) {
    if (j.size() > 2) groups.push_back(j);
  }
  return internal::DidYouMeanSuffix(name, groups);
}

ResolvedEvidence Resolve(const CompiledSet& set, const Evidence& e, absl::Time now) {
  ResolvedEvidence r;
  r.item = &e;
  auto type = set.evidence_types.find(e.type);
  if (type != set.evidence_types.end()) r.type = type->second;
  std::optional<absl::Time> not_after = e.not_after;
  if (r.type >= 0 && static_cast<size_t>(r.type) < set.evidence_spec_by_type.size() &&
      set.evidence_spec_by_type[r.type]) {
    // The registry: an item missing a field its type requires counts for nothing; its window
    // ends at the type's longest validity after not_before.
    const policy_internal::EvidenceSpec& spec = *set.evidence_spec_by_type[r.type];
    r.lacks = spec.require_country && !e.country         ? "country"
              : spec.require_recipient && !e.recipient   ? "recipient"
              : spec.require_origin && !e.origin         ? "origin"
              : spec.require_covers && e.covers.empty()  ? "covers"
              : spec.require_not_before && !e.not_before ? "not_before"
              : spec.require_not_after && !e.not_after   ? "not_after"
                                                         : nullptr;
    if (spec.max_validity && e.not_before) {
      const absl::Time limit = *e.not_before + *spec.max_validity;
      if (!not_after || limit < *not_after) {
        not_after = limit;
        r.clipped = true;
      }
    }
  }
  r.not_after = not_after;
  r.valid = r.lacks == nullptr && (!e.not_before || *e.not_before <= now) &&
            (!not_after || now < *not_after) && (!e.withdrawn_at || now < *e.withdrawn_at);
  if (e.country) {
    r.country = Jurisdiction(set, *e.country);
    r.country_unknown = r.country < 0;
  }
  if (e.origin) {
    r.origin = Jurisdiction(set, *e.origin);
    r.origin_unknown = r.origin < 0;
  }
  return r;
}

struct RawTag {
  const std::string* cls;
  const std::string* origin;
  std::optional<double> subjects, sensitive, cumulative;
  int part = 0;  // which partition of the artifact (lineage included) it comes from
  // The lineage dataset it was inherited from; null when the artifact itself carries it.
  const std::string* via = nullptr;
};
using RawTags = absl::InlinedVector<RawTag, 8>;

class LineageWalker {
 public:
  LineageWalker(const EvalOptions& o, Facts* f) : options_(o), facts_(f) {}

  void Dataset(const residency::Dataset& d, int depth, RawTags* out) {
    if (!Enter(d.id, "dataset", depth)) return;
    for (const auto& p : d.partitions) {
      int part = parts_++;
      for (const auto& c : p.classes) {
        // Each number as given: a missing cumulative count is unknown, never the partition's
        // own count (a rule on it then cannot be ruled out, and is judged as if it applied).
        out->push_back(RawTag{&c, &p.origin, p.subjects, p.sensitive_subjects,
                              p.cumulative_subjects, part, depth > 1 ? &d.id : nullptr});
      }
    }
    for (const auto& parent : d.derived_from) Dataset(parent, depth + 1, out);
    Leave(d.id);
  }

  void Model(const residency::Model& m, int depth, RawTags* out) {
    if (!Enter(m.id, "model", depth)) return;
    if (!m.trained_on) {
      Fail("residency.missing_lineage",
           absl::StrCat("model `", m.id.empty() ? "(no id)" : m.id,
                        "` does not say what it was trained on (`trained_on` is absent; an "
                        "explicit empty list is a claim the caller makes)"));
    } else {
      for (const auto& d : *m.trained_on) Dataset(d, depth + 1, out);
    }
    for (const auto& b : m.base_models) Model(b, depth + 1, out);
    Leave(m.id);
  }

 private:
  bool Enter(const std::string& id, const char* what, int depth) {
    if (++nodes_ > options_.max_lineage_nodes || depth > options_.max_lineage_depth) {
      if (!limit_reported_) {
        limit_reported_ = true;
        Fail("residency.limit", absl::StrCat("lineage exceeds ", options_.max_lineage_nodes,
                                             " nodes or depth ", options_.max_lineage_depth));
      }
      return false;
    }
    if (!id.empty() && std::find_if(path_.begin(), path_.end(), [&](const std::string* p) {
                         return *p == id;
                       }) != path_.end()) {
      Fail("residency.lineage_cycle", absl::StrCat(what, " `", id, "` appears in its own lineage"));
      return false;
    }
    path_.push_back(&id);
    return true;
  }
  void Leave(const std::string&) { path_.pop_back(); }
  void Fail(const char* rule, std::string msg) {
    facts_->fail.push_back(FailReason{rule, std::move(msg)});
  }

  const EvalOptions& options_;
  Facts* facts_;
  absl::InlinedVector<const std::string*, 8> path_;  // ids from the artifact down
  size_t nodes_ = 0;
  int parts_ = 0;
  bool limit_reported_ = false;
};

void AddSum(std::optional<double>* acc, const std::optional<double>& v, bool first) {
  if (first) {
    *acc = v;
  } else if (acc->has_value() && v.has_value()) {
    **acc += *v;
  } else {
    acc->reset();
  }
}

template <typename List>
bool HasAttestation(const CompiledSet& set, const List& own, const List& req, const TagFact& t) {
  for (const auto* list : {&own, &req}) {
    for (const auto& e : *list) {
      if (!e.valid || e.type != set.attestation_type || e.origin_unknown) continue;
      if (e.origin >= 0 && !t.origin_bits.SubsetOf(set.catalogue.jurisdiction_members[e.origin])) {
        continue;
      }
      return true;
    }
  }
  return false;
}

using TagNames = absl::InlinedVector<std::pair<const std::string*, const std::string*>, 8>;

void FinishTags(const CompiledSet& set, const RawTags& raw, Artifact* a, Facts* f,
                TagNames* names) {
  // The tag (index into a->tags) of each raw tag, -1 when its class or origin is unknown.
  absl::InlinedVector<int, 8> tag_of;
  // The first few class names resolved (lineage repeats the same few): name, id (-1: unknown).
  // Bounded, so that a request with many distinct names costs no more than hashing each.
  constexpr size_t kRecent = 8;
  absl::InlinedVector<std::pair<const std::string*, int>, kRecent> seen;
  for (const auto& r : raw) {
    int cls = -2;
    for (const auto& [name, id] : seen) {
      if (*name == *r.cls) {
        cls = id;
        break;
      }
    }
    if (cls == -2) {
      auto ci = set.class_index.find(*r.cls);
      cls = ci == set.class_index.end() ? -1 : ci->second;
      if (seen.size() < kRecent) seen.emplace_back(r.cls, cls);
    }
    int origin = Jurisdiction(set, *r.origin);
    tag_of.push_back(-1);
    // `names` is sorted and made unique at the end; skipping the repeats found among its first
    // few entries only saves building their text.
    bool named = false;
    for (size_t k = 0; k < names->size() && k < kRecent && !named; ++k)
      named = *(*names)[k].first == *r.origin && *(*names)[k].second == *r.cls;
    if (!named) names->emplace_back(r.origin, r.cls);
    if (cls < 0) {
      f->fail.push_back({"residency.unknown_class",
                         absl::StrCat("data class `", *r.cls, "` is not in the vocabulary",
                                      ClassHint(set, *r.cls))});
    }
    if (origin < 0) {
      f->fail.push_back({"residency.unknown_origin",
                         absl::StrCat("origin `", *r.origin,
                                      "` is neither an ISO 3166-1 code nor a catalogue group",
                                      JurisdictionHint(set, *r.origin))});
    }
    if (cls < 0 || origin < 0) continue;
    auto it = std::find_if(a->tags.begin(), a->tags.end(),
                           [&](const TagFact& t) { return t.cls == cls && t.origin == origin; });
    tag_of.back() = static_cast<int>(it - a->tags.begin());
    if (it == a->tags.end()) {
      TagFact& t = a->tags.emplace_back();
      t.cls = t.effective_cls = cls;
      t.origin = origin;
      t.origin_bits = set.catalogue.jurisdiction_members[origin];
      t.origin_name = r.origin;
      t.class_name = r.cls;
      t.via = r.via;
      AddSum(&t.subjects, r.subjects, true);
      AddSum(&t.sensitive_subjects, r.sensitive, true);
      AddSum(&t.cumulative_subjects, r.cumulative, true);
      t.has_partition = true;
    } else {
      AddSum(&it->subjects, r.subjects, false);
      AddSum(&it->sensitive_subjects, r.sensitive, false);
      AddSum(&it->cumulative_subjects, r.cumulative, false);
    }
  }
  for (auto& t : a->tags) {
    f->tag_origins |= t.origin_bits;
    if (set.anonymized_class >= 0 && t.cls == set.anonymized_class &&
        !HasAttestation(set, a->evidence, f->request_evidence, t)) {
      t.effective_cls = set.pseudonymized_class;
    }
  }
  // Partitions, for numbers summed over what a rule's tag filter matches.
  for (size_t k = 0; k < raw.size(); ++k) {
    const RawTag& r = raw[k];
    if (tag_of[k] < 0) continue;
    const TagFact& t = a->tags[tag_of[k]];
    auto pit = std::find_if(a->parts.begin(), a->parts.end(),
                            [&](const PartFact& p) { return p.id == r.part; });
    if (pit == a->parts.end()) {
      PartFact& p = a->parts.emplace_back();
      p.id = r.part;
      p.origin_bits = t.origin_bits;
      p.subjects = r.subjects;
      p.sensitive_subjects = r.sensitive;
      p.cumulative_subjects = r.cumulative;
      pit = a->parts.end() - 1;
    }
    pit->effective_classes.push_back(t.effective_cls);
  }
}

int LocationIndex(const CompiledSet& set, const std::string& name) {
  auto it = set.catalogue.location_index.find(name);
  return it == set.catalogue.location_index.end() ? -1 : it->second;
}

}  // namespace

// ORIGIN:class (on the hot path: one allocation at most, and none for short tags).
std::string JoinTag(const std::string& origin, const std::string& cls) {
  std::string out(origin.size() + 1 + cls.size(), ':');
  std::memcpy(out.data(), origin.data(), origin.size());
  std::memcpy(out.data() + origin.size() + 1, cls.data(), cls.size());
  return out;
}

std::string TagText(const TagFact& t) { return JoinTag(*t.origin_name, *t.class_name); }

void BuildFacts(const CompiledSet& set, const policy_internal::EvalIndex& ix, const Request& req,
                absl::Time now, const EvalOptions& options, Facts* f) {
  f->request = &req;
  f->now = now;
  for (const auto& e : req.evidence) f->request_evidence.push_back(Resolve(set, e, now));
  f->lang = options.lang;
  LineageWalker walker(options, f);
  TagNames names;  // of every raw tag, for `all_tags`
  auto add_dataset = [&](const Dataset& d) {
    Artifact& a = f->artifacts.emplace_back();
    a.kind = ArtifactKind::kDataset;
    a.dataset = &d;
    for (const auto& e : d.evidence) a.evidence.push_back(Resolve(set, e, now));
    RawTags raw;
    walker.Dataset(d, 1, &raw);
    FinishTags(set, raw, &a, f, &names);
  };
  auto add_model = [&](const Model& m) {
    Artifact& a = f->artifacts.emplace_back();
    a.kind = ArtifactKind::kModel;
    a.model = &m;
    for (const auto& e : m.evidence) a.evidence.push_back(Resolve(set, e, now));
    RawTags raw;
    walker.Model(m, 1, &raw);
    FinishTags(set, raw, &a, f, &names);
    if (!m.tier.empty()) f->tiers.push_back(&m.tier);
    if (m.training_flops) {
      f->training_flops = std::max(f->training_flops.value_or(0), *m.training_flops);
    }
  };
  absl::InlinedVector<const std::string*, 4> loc_names;  // checked, the placement first
  switch (req.kind) {
    case Request::Kind::kDataset:
      add_dataset(*req.dataset);
      loc_names.push_back(req.destination.empty() ? &req.dataset->location : &req.destination);
      break;
    case Request::Kind::kModel:
      add_model(*req.model);
      loc_names.push_back(req.destination.empty() ? &req.model->location : &req.destination);
      break;
    case Request::Kind::kCompute: {
      const Compute& c = *req.compute;
      loc_names.push_back(&c.location);
      for (const auto& in : c.inputs) {
        if (in.dataset) {
          add_dataset(*in.dataset);
          if (!in.dataset->location.empty()) loc_names.push_back(&in.dataset->location);
        } else {
          add_model(*in.model);
          if (!in.model->location.empty()) loc_names.push_back(&in.model->location);
        }
      }
      for (const auto& o : c.outputs) loc_names.push_back(&o.location);
      if (c.user && !c.user->jurisdiction.empty()) {
        f->user_jurisdiction = Jurisdiction(set, c.user->jurisdiction);
        if (f->user_jurisdiction < 0) {
          f->fail.push_back({"residency.unknown_origin",
                             absl::StrCat("user jurisdiction `", c.user->jurisdiction,
                                          "` is neither an ISO 3166-1 code nor a group",
                                          JurisdictionHint(set, c.user->jurisdiction))});
        }
      }
      if (c.prompt_classes && !c.prompt_classes->empty()) {
        Artifact& a = f->artifacts.emplace_back();
        a.kind = ArtifactKind::kPrompt;
        RawTags raw;
        if (!c.user || c.user->jurisdiction.empty()) {
          f->fail.push_back({"residency.unknown_origin",
                             "the prompt carries data classes but the user's jurisdiction is "
                             "unknown"});
        } else {
          // A prompt carries the data of one person, its user; counted as possibly sensitive.
          // The stream it belongs to is counted by the caller (`cumulative_subjects`), or is
          // unknown: one prompt says nothing of the aggregate a threshold counts.
          for (const auto& cls : *c.prompt_classes) {
            raw.push_back(
                RawTag{&cls, &c.user->jurisdiction, 1.0, 1.0, c.prompt_cumulative_subjects});
          }
        }
        FinishTags(set, raw, &a, f, &names);
      }
      break;
    }
  }
  if (!loc_names.empty()) f->primary_name = *loc_names[0];
  std::array<int, 8> resolved;
  for (size_t i = 0; i < loc_names.size(); ++i) {
    // A job often names one location several times (inputs, outputs): the first few names are
    // hashed once each.
    int idx = -2;
    for (size_t k = 0; k < i && k < resolved.size(); ++k) {
      if (*loc_names[k] == *loc_names[i]) {
        idx = resolved[k];
        break;
      }
    }
    if (idx == -2) idx = LocationIndex(set, *loc_names[i]);
    if (i < resolved.size()) resolved[i] = idx;
    if (idx < 0) {
      f->fail.push_back(
          {"residency.unknown_location",
           absl::StrCat("location `", *loc_names[i], "` is not in the region catalogue",
                        LocationHint(set, *loc_names[i])),
           *loc_names[i] == *loc_names[0]});  // the placement, however often named
      if (i == 0) f->primary = -1;
      continue;
    }
    if (std::find(f->locations.begin(), f->locations.end(), idx) != f->locations.end()) {
      if (i == 0) {
        f->primary = static_cast<int>(std::find(f->locations.begin(), f->locations.end(), idx) -
                                      f->locations.begin());
      }
      continue;
    }
    if (i == 0) f->primary = static_cast<int>(f->locations.size());
    f->locations.push_back(idx);
  }
  // Request-unit numbers: sums over every tag of every artifact.
  bool first = true;
  for (const auto& a : f->artifacts) {
    for (const auto& t : a.tags) {
      if (!t.has_partition) continue;
      AddSum(&f->subjects, t.subjects, first);
      AddSum(&f->sensitive_subjects, t.sensitive_subjects, first);
      AddSum(&f->cumulative_subjects, t.cumulative_subjects, first);
      first = false;
    }
  }
  // A party's country decides which policies bind it and which country conditions hold: one that
  // is written but not an ISO 3166-1 alpha-2 code fails closed rather than match nothing.
  auto party_country = [&](const std::optional<Party>& party, const char* who, int* out) {
    if (!party) return;
    *out = policy_internal::IsoCountryIndex(party->country);
    if (*out < 0 && !party->country.empty()) {
      f->fail.push_back(
          {"residency.unknown_country",
           absl::StrCat(who, " country `", party->country, "` is not an ISO 3166-1 alpha-2 code",
                        JurisdictionHint(set, party->country))});
    }
  };
  party_country(req.operator_party, "operator", &f->operator_country);
  f->own_locations = &NoLocations();
  if (req.operator_party && !ix.controller_locations.empty()) {
    auto own = ix.controller_locations.find(req.operator_party->id);
    if (own != ix.controller_locations.end()) f->own_locations = &own->second;
  }
  party_country(req.recipient, "recipient", &f->recipient_country);
  f->all_tags.reserve(names.size());
  for (const auto& [origin, cls] : names) f->all_tags.push_back(JoinTag(*origin, *cls));
  std::sort(f->all_tags.begin(), f->all_tags.end());
  f->all_tags.erase(std::unique(f->all_tags.begin(), f->all_tags.end()), f->all_tags.end());
}

}  // namespace residency::eval_internal
