// residency diff: request profiles (what a request carries besides its shape, location, class
// and origin), the profiles that make a rule's conditions hold, and the features of a request
// a rule looks at and a profile sets.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "diff/diff_internal.h"

namespace residency::diff_internal {

// ---------------------------------------------------------------------------------------------
// Request profiles: what a request carries besides its shape, location, class and origin.

std::string FirstCountry(const CountryBits& b) {
  for (size_t i = 0; i < policy_internal::IsoCountryCount() && i < CountryBits::kCapacity; ++i) {
    if (b.Test(i)) return policy_internal::IsoCountryCode(i);
  }
  return "";
}

namespace {

void SetIfEmpty(std::string* dst, const std::string& v) {
  if (dst->empty()) *dst = v;
}

Profile Merge(const Profile& a, const Profile& b) {
  Profile out = a;
  for (const auto& e : b.evidence) out.evidence.push_back(e);
  std::sort(out.evidence.begin(), out.evidence.end());
  out.evidence.erase(std::unique(out.evidence.begin(), out.evidence.end()), out.evidence.end());
  out.has_operator |= b.has_operator;
  SetIfEmpty(&out.operator_id, b.operator_id);
  SetIfEmpty(&out.operator_country, b.operator_country);
  for (const auto& s : b.sectors) {
    if (std::find(out.sectors.begin(), out.sectors.end(), s) == out.sectors.end()) {
      out.sectors.push_back(s);
    }
  }
  for (const auto& [k, v] : b.operator_attributes) out.operator_attributes.emplace(k, v);
  out.has_recipient |= b.has_recipient;
  SetIfEmpty(&out.recipient_id, b.recipient_id);
  SetIfEmpty(&out.recipient_country, b.recipient_country);
  SetIfEmpty(&out.role, b.role);
  for (const auto& [k, v] : b.recipient_attributes) out.recipient_attributes.emplace(k, v);
  SetIfEmpty(&out.transfer_type, b.transfer_type);
  SetIfEmpty(&out.transfer_pattern, b.transfer_pattern);
  SetIfEmpty(&out.transaction, b.transaction);
  SetIfEmpty(&out.purpose, b.purpose);
  SetIfEmpty(&out.use_case, b.use_case);
  SetIfEmpty(&out.tier, b.tier);
  SetIfEmpty(&out.job, b.job);
  SetIfEmpty(&out.provenance, b.provenance);
  if (!out.subjects) out.subjects = b.subjects;
  if (!out.sensitive_subjects) out.sensitive_subjects = b.sensitive_subjects;
  if (!out.cumulative_subjects) out.cumulative_subjects = b.cumulative_subjects;
  if (!out.training_flops) out.training_flops = b.training_flops;
  if (!out.retention_hours) out.retention_hours = b.retention_hours;
  return out;
}

constexpr size_t kMaxWitnesses = 16;

// A value within the bounds of a number condition.
double NumberWitness(const Condition& c) {
  auto step = [](double x) { return std::max(1.0, std::abs(x) * 1e-6); };
  const NumberBounds& b = *c.bounds;
  if (b.gte) return *b.gte;
  if (b.gt) return *b.gt + step(*b.gt);
  if (b.lte) return *b.lte;
  if (b.lt) return std::max(0.0, *b.lt - step(*b.lt));
  return 0;
}

const std::string* FirstListValue(const Policy& p, int list) {
  if (list < 0 || list >= static_cast<int>(p.lists.size())) return nullptr;
  if (p.lists[list].entries.empty()) return nullptr;
  return &p.lists[list].entries.front().value;
}

// Profiles that satisfy the parts of `c` a profile can carry (evidence, parties, transfer,
// purpose, use case, tier, job, provenance, numbers); the location, class and origin are other
// dimensions of the space. `any` gives one profile per branch; `not` gives none of its own.
std::vector<Profile> Witness(const Policy& p, const Condition& c) {
  using K = Condition::Kind;
  using policy_internal::Field;
  Profile w;
  switch (c.kind) {
    case K::kAll: {
      std::vector<Profile> acc = {Profile()};
      for (const auto& ch : c.children) {
        std::vector<Profile> next;
        for (const auto& x : Witness(p, ch)) {
          for (const auto& a : acc) {
            if (next.size() < kMaxWitnesses) next.push_back(Merge(a, x));
          }
        }
        acc = std::move(next);
      }
      return acc;
    }
    case K::kAny: {
      std::vector<Profile> out;
      for (const auto& ch : c.children) {
        for (auto& x : Witness(p, ch)) {
          if (out.size() < kMaxWitnesses) out.push_back(std::move(x));
        }
      }
      if (out.empty()) out.emplace_back();
      return out;
    }
    case K::kValues:
      if (c.values.empty()) break;
      switch (c.field) {
        case Field::kPurpose:
          w.purpose = c.values[0];
          break;
        case Field::kUseCase:
          w.use_case = c.values[0];
          break;
        case Field::kTier:
          w.tier = c.values[0];
          break;
        case Field::kTransferType:
          w.transfer_type = c.values[0];
          break;
        case Field::kTransferPattern:
          w.transfer_pattern = c.values[0];
          break;
        case Field::kTransaction:
          w.transaction = c.values[0];
          break;
        case Field::kUserProvenance:
          w.provenance = c.values[0];
          break;
        case Field::kJob:
          // Inference is a shape of its own; other jobs replace the training job.
          for (const auto& v : c.values) {
            if (v != "inference" && v != "training") {
              w.job = v;
              break;
            }
          }
          break;
        default:
          break;
      }
      break;
    case K::kNumber: {
      double v = NumberWitness(c);
      switch (c.field) {
        case Field::kSubjects:
          w.subjects = v;
          break;
        case Field::kSensitiveSubjects:
          w.sensitive_subjects = v;
          break;
        case Field::kCumulativeSubjects:
          w.cumulative_subjects = v;
          break;
        case Field::kTrainingFlops:
          w.training_flops = v;
          break;
        case Field::kRetentionHours:
          w.retention_hours = v;
          break;
        default:
          break;
      }
      break;
    }
    case K::kOperator:
    case K::kRecipient: {
      const auto& q = *c.party;
      if (q.present && !*q.present) break;
      bool op = c.kind == K::kOperator;
      std::string id = !q.ids.empty() ? q.ids[0] : "";
      if (id.empty() && q.in_list >= 0) {
        if (const std::string* v = FirstListValue(p, q.in_list)) id = *v;
      }
      std::string country = q.has_countries ? FirstCountry(q.countries) : "";
      for (const auto& [k, v] : q.attributes) {
        (op ? w.operator_attributes : w.recipient_attributes).emplace(k, v);
      }
      if (op) {
        w.has_operator = true;
        w.operator_id = id;
        w.operator_country = country;
        if (!q.sectors.empty()) w.sectors.push_back(q.sectors[0]);
      } else {
        w.has_recipient = true;
        w.recipient_id = id;
        w.recipient_country = country;
        if (!q.roles.empty()) w.role = q.roles[0];
      }
      break;
    }
    case K::kUser:
      if (!c.user->provenance.empty()) w.provenance = c.user->provenance[0];
      break;
    case K::kEvidence:
      if (!c.evidence->types.empty()) w.evidence.push_back(c.evidence->types[0]);
      break;
    default:
      break;
  }
  return {w};
}

std::vector<Profile> Cross(const std::vector<Profile>& a, const std::vector<Profile>& b) {
  std::vector<Profile> out;
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (out.size() < kMaxWitnesses) out.push_back(Merge(x, y));
    }
  }
  return out;
}

}  // namespace

// Profiles that make the rule apply, and each of its alternatives and exceptions hold.
std::vector<Profile> RuleWitnesses(const Policy& p, int rule_index) {
  const Rule& r = p.rules[rule_index];
  std::vector<Profile> base = Witness(p, r.when);
  std::vector<Profile> out = base;
  for (const auto& a : r.alternatives) {
    for (auto& x : Cross(base, Witness(p, a.when))) out.push_back(std::move(x));
  }
  for (const auto& e : p.exceptions) {
    if (std::find(e.rules.begin(), e.rules.end(), rule_index) == e.rules.end()) continue;
    for (auto& x : Cross(base, Witness(p, e.when))) out.push_back(std::move(x));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Features: what part of a request a rule looks at, and what part a profile sets. A profile is
// combined only with the classes and origins of the rules that look at something it sets.

void AddLeafFeatures(const Condition& c, Features* f) {
  using K = Condition::Kind;
  using policy_internal::Field;
  switch (c.kind) {
    case K::kEvidence:
      for (const auto& t : c.evidence->types) f->insert("ev:" + t);
      break;
    case K::kOperator:
      f->insert("op");
      for (const auto& s : c.party->sectors) f->insert("sector:" + s);
      for (const auto& kv : c.party->attributes) f->insert("opattr:" + kv.first);
      break;
    case K::kRecipient:
      f->insert("rec");
      for (const auto& r : c.party->roles) f->insert("role:" + r);
      for (const auto& kv : c.party->attributes) f->insert("recattr:" + kv.first);
      break;
    case K::kUser:
      if (!c.user->provenance.empty()) f->insert("provenance");
      break;
    case K::kValues:
      switch (c.field) {
        case Field::kPurpose:
          f->insert("purpose");
          break;
        case Field::kUseCase:
          f->insert("use_case");
          break;
        case Field::kTier:
          f->insert("tier");
          break;
        case Field::kJob:
          f->insert("job");
          break;
        case Field::kUserProvenance:
          f->insert("provenance");
          break;
        case Field::kTransferType:
        case Field::kTransferPattern:
        case Field::kTransaction:
          f->insert("transfer");
          break;
        default:
          break;
      }
      break;
    case K::kNumber:
      f->insert(absl::StrCat("num:", static_cast<int>(c.field)));
      break;
    default:
      break;
  }
}

Features ProfileFeatures(const Profile& pr) {
  using policy_internal::Field;
  Features f;
  for (const auto& e : pr.evidence) f.insert("ev:" + e);
  if (pr.has_operator) {
    // The operator a sector profile needs is incidental; one the profile is about counts.
    if (!pr.operator_country.empty() || !pr.operator_id.empty()) {
      f.insert("op");
    }
    for (const auto& s : pr.sectors) f.insert("sector:" + s);
    for (const auto& kv : pr.operator_attributes) f.insert("opattr:" + kv.first);
  }
  // The recipient that evidence needs is incidental; one the profile is about counts.
  if (pr.has_recipient) {
    f.insert("rec");
    if (!pr.role.empty()) f.insert("role:" + pr.role);
    for (const auto& kv : pr.recipient_attributes) f.insert("recattr:" + kv.first);
  }
  if (!pr.transfer_type.empty() || !pr.transfer_pattern.empty() || !pr.transaction.empty()) {
    f.insert("transfer");
  }
  if (!pr.purpose.empty()) f.insert("purpose");
  if (!pr.use_case.empty()) f.insert("use_case");
  if (!pr.tier.empty()) f.insert("tier");
  if (!pr.job.empty()) f.insert("job");
  if (!pr.provenance.empty()) f.insert("provenance");
  auto num = [&](const std::optional<double>& v, Field field) {
    if (v) f.insert(absl::StrCat("num:", static_cast<int>(field)));
  };
  num(pr.subjects, Field::kSubjects);
  num(pr.sensitive_subjects, Field::kSensitiveSubjects);
  num(pr.cumulative_subjects, Field::kCumulativeSubjects);
  num(pr.training_flops, Field::kTrainingFlops);
  num(pr.retention_hours, Field::kRetentionHours);
  return f;
}

bool Intersect(const Features& a, const Features& b) {
  for (const auto& x : a)
    if (b.count(x)) return true;
  return false;
}

}  // namespace residency::diff_internal
