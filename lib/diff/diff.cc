// residency diff: compares two compiled policy sets by evaluating both on a generated space of
// requests (see include/residency/diff.h for the space and the counting).
#include "residency/diff.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "diff/diff_internal.h"

namespace residency {
namespace {

using diff_internal::Changes;
using diff_internal::FindChanges;
using diff_internal::kShapes;
using diff_internal::Origin;
using diff_internal::RuleRef;
using diff_internal::Space;
using policy_internal::CompiledSet;

// ---------------------------------------------------------------------------------------------
// Exploration.

struct GroupKey {
  Effect from, to;
  std::vector<std::string> rules;
  bool operator<(const GroupKey& o) const {
    return std::tie(from, to, rules) < std::tie(o.from, o.to, o.rules);
  }
};

struct GroupAcc {
  size_t count = 0;
  std::set<int> location_atoms;
  std::vector<DiffExample> examples;
};

class Explorer {
 public:
  Explorer(const PolicySnapshot& a, const PolicySnapshot& b, const Space& space,
           const DiffOptions& options, absl::Time now)
      : a_(a), b_(b), space_(space), options_(options), now_(now) {
    eval_.suggest = false;
    eval_.now = now;
    nl_ = space.location_atoms().size();
    nc_ = space.class_atoms().size();
    no_ = space.origins().size();
    np_ = space.profiles().size();
  }

  // Representatives in the space: for each profile, its (class, origin) pairs x shapes x
  // location atoms.
  size_t SpaceSize() const {
    size_t n = 0;
    for (size_t p = 0; p < np_; ++p) {
      const auto& m = space_.profile_pairs(p);
      n += static_cast<size_t>(std::count(m.begin(), m.end(), true)) * kShapes * nl_;
    }
    return n;
  }

  // Explores one point; false when the budget is spent.
  bool Visit(size_t l, size_t c, size_t o, int k, size_t p) {
    uint64_t key = ((((static_cast<uint64_t>(p) * kShapes + k) * no_ + o) * nc_ + c) * nl_) + l;
    if (track_ && !seen_.insert(key).second) return true;
    if (!track_ && check_ && seen_.count(key)) return true;
    if (report_.evaluations + 2 > options_.max_evaluations) {
      report_.complete = false;
      return false;
    }
    Request r = space_.Build(l, c, o, k, p, now_);
    report_.evaluations += 2;
    report_.requests_explored++;
    size_t weight =
        space_.location_atoms()[l].members.size() * space_.class_atoms()[c].members.size();
    absl::StatusOr<Decision> da = Evaluate(a_, r, eval_);
    absl::StatusOr<Decision> db = Evaluate(b_, r, eval_);
    if (!da.ok() || !db.ok()) {
      report_.errors++;
      return true;
    }
    report_.requests_covered += weight;
    if (da->decision == db->decision) return true;
    bool widened = db->decision < da->decision;
    const Decision& strict = widened ? *da : *db;
    GroupKey gk{da->decision, db->decision, {}};
    for (const auto& reason : strict.reasons) gk.rules.emplace_back(reason.rule());
    std::sort(gk.rules.begin(), gk.rules.end());
    gk.rules.erase(std::unique(gk.rules.begin(), gk.rules.end()), gk.rules.end());
    GroupAcc& g = (widened ? widened_ : narrowed_)[gk];
    g.count += weight;
    g.location_atoms.insert(static_cast<int>(l));
    if (g.examples.size() < std::max<size_t>(1, options_.max_examples)) {
      DiffExample ex;
      ex.request_json = RequestToJson(r);
      ex.request = std::move(r);
      ex.old_decision = std::move(*da);
      ex.new_decision = std::move(*db);
      g.examples.push_back(std::move(ex));
    }
    return true;
  }

  void Run(const Changes& changes) {
    report_.changes_complete = false;
    bool focused = !changes.global && (!changes.rules.empty() || !changes.locations.empty() ||
                                       !changes.classes.empty() || !changes.groups.empty());
    if (focused) {
      track_ = true;
      if (!changes.rules.empty() && !RuleFocus(changes.rules)) return;
      if (!changes.locations.empty() && !LocationFocus(changes.locations)) return;
      if (!changes.classes.empty() || !changes.groups.empty()) {
        std::vector<bool> cls(nc_, false), org(no_, false);
        for (size_t c = 0; c < nc_; ++c) {
          for (const auto& m : space_.class_atoms()[c].members)
            cls[c] = cls[c] || changes.classes.count(m);
        }
        for (size_t o = 0; o < no_; ++o) {
          const Origin& x = space_.origins()[o];
          org[o] =
              changes.groups.count(x.name) || x.known[0] != x.known[1] || !(x.bits[0] == x.bits[1]);
        }
        if (!Sweep([&](size_t c, size_t o) { return cls[c]; })) return;
        if (!Sweep([&](size_t c, size_t o) { return org[o]; })) return;
      }
      track_ = false;
      check_ = true;
      report_.changes_complete = true;
    }
    if (Sweep([](size_t, size_t) { return true; })) report_.changes_complete = true;
  }

  DiffReport Finish() {
    report_.space = SpaceSize();
    auto emit = [&](std::map<GroupKey, GroupAcc>& in, std::vector<DiffGroup>* out) {
      for (auto& [key, acc] : in) {
        DiffGroup g;
        g.from = key.from;
        g.to = key.to;
        g.rules = key.rules;
        g.count = acc.count;
        std::set<std::string> members;
        for (int a : acc.location_atoms) {
          for (const auto& m : space_.location_atoms()[a].members) members.insert(m);
        }
        for (const auto& id : space_.locations()) {
          if (members.count(id)) g.locations.push_back(id);
        }
        g.examples = std::move(acc.examples);
        out->push_back(std::move(g));
      }
    };
    emit(widened_, &report_.widened);
    emit(narrowed_, &report_.narrowed);
    // Most severe first: widenings from deny (to allow first), narrowings to deny (from allow
    // first); then by rules.
    std::stable_sort(report_.widened.begin(), report_.widened.end(),
                     [](const DiffGroup& x, const DiffGroup& y) {
                       return std::make_tuple(-static_cast<int>(x.from), x.to) <
                              std::make_tuple(-static_cast<int>(y.from), y.to);
                     });
    std::stable_sort(report_.narrowed.begin(), report_.narrowed.end(),
                     [](const DiffGroup& x, const DiffGroup& y) {
                       return std::make_tuple(-static_cast<int>(x.to), x.from) <
                              std::make_tuple(-static_cast<int>(y.to), y.from);
                     });
    return std::move(report_);
  }

 private:
  bool RuleFocus(const std::vector<RuleRef>& rules) {
    std::vector<size_t> profiles = space_.FocusProfiles(rules);
    std::vector<bool> pairs = space_.FocusPairs(rules);
    for (size_t p : profiles) {
      for (int k = 0; k < kShapes; ++k) {
        for (size_t o = 0; o < no_; ++o) {
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o]) continue;
            for (size_t l = 0; l < nl_; ++l)
              if (!Visit(l, c, o, k, p)) return false;
          }
        }
      }
    }
    return true;
  }

  // The whole space (each profile with its pairs) restricted to the pairs `keep` accepts.
  bool Sweep(const std::function<bool(size_t, size_t)>& keep) {
    for (size_t p = 0; p < np_; ++p) {
      const auto& pairs = space_.profile_pairs(p);
      for (int k = 0; k < kShapes; ++k) {
        for (size_t o = 0; o < no_; ++o) {
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o] || !keep(c, o)) continue;
            for (size_t l = 0; l < nl_; ++l)
              if (!Visit(l, c, o, k, p)) return false;
          }
        }
      }
    }
    return true;
  }

  bool LocationFocus(const std::set<std::string>& ids) {
    std::set<size_t> atoms;
    for (const auto& id : ids) {
      int a = space_.location_atom_of(id);
      if (a >= 0) atoms.insert(static_cast<size_t>(a));
    }
    for (size_t p = 0; p < np_; ++p) {
      const auto& pairs = space_.profile_pairs(p);
      for (int k = 0; k < kShapes; ++k) {
        for (size_t o = 0; o < no_; ++o) {
          for (size_t c = 0; c < nc_; ++c) {
            if (!pairs[c * no_ + o]) continue;
            for (size_t l : atoms)
              if (!Visit(l, c, o, k, p)) return false;
          }
        }
      }
    }
    return true;
  }

  const PolicySnapshot& a_;
  const PolicySnapshot& b_;
  const Space& space_;
  const DiffOptions& options_;
  absl::Time now_;
  EvalOptions eval_;
  size_t nl_ = 0, nc_ = 0, no_ = 0, np_ = 0;
  bool track_ = false, check_ = false;
  absl::flat_hash_set<uint64_t> seen_;
  DiffReport report_;
  std::map<GroupKey, GroupAcc> widened_, narrowed_;
};

}  // namespace

absl::StatusOr<DiffReport> DiffPolicies(const PolicySnapshot& old_set,
                                        const PolicySnapshot& new_set, const DiffOptions& options) {
  if (options.max_examples == 0) {
    return absl::InvalidArgumentError("max_examples must be at least 1");
  }
  absl::Time now = options.now ? *options.now : absl::Now();
  const CompiledSet& a = old_set.impl();
  const CompiledSet& b = new_set.impl();
  Changes changes = FindChanges(a, b);
  Space space(a, b);
  Explorer explorer(old_set, new_set, space, options, now);
  if (a.digest != b.digest || options.explore_identical) explorer.Run(changes);
  DiffReport report = explorer.Finish();
  report.old_digest = a.digest;
  report.new_digest = b.digest;
  report.now = now;
  report.changes = std::move(changes.lines);
  return report;
}

}  // namespace residency
