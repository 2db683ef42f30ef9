// The inference routing table.
#include "residency/route.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "policy/compiled_set.h"

namespace residency {
namespace route_internal {

struct Key {
  int user = -1;  // jurisdiction index, -1 unknown
  int provenance = 0;
  std::array<uint64_t, 4> classes{};
  int model = -1;
  int op = -1;
  bool operator==(const Key& o) const {
    return user == o.user && provenance == o.provenance && classes == o.classes &&
           model == o.model && op == o.op;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Key& k) {
    return H::combine(std::move(h), k.user, k.provenance, k.classes[0], k.classes[1], k.classes[2],
                      k.classes[3], k.model, k.op);
  }
};

struct Entry {
  absl::Time from = absl::InfinitePast(), until = absl::InfiniteFuture();
  std::vector<bool> allowed;
  std::vector<Effect> effects;
};

struct Table {
  uint64_t id = 0;  // unique per Router for the process's life (never reused)
  std::shared_mutex mu;
  std::vector<Model> models;
  std::vector<Party> operators;
  absl::flat_hash_map<Key, std::unique_ptr<Entry>> entries;
  std::vector<absl::Time> change_dates;  // sorted, unique
  // Entries replaced when their date window passed (or raced): kept so that a Result handed out
  // earlier stays valid for the Router's lifetime.
  std::vector<std::unique_ptr<Entry>> retired;
};

}  // namespace route_internal

namespace {

using route_internal::Entry;
using route_internal::Key;

constexpr const char* kProvenances[] = {"claimed", "verified", "inferred"};

std::atomic<uint64_t> g_next_table_id{1};

// Per thread, the entries this thread last found, by key hash: a warm lookup takes no lock.
// An entry stays valid for its Router's lifetime (replaced ones are retired, not freed), and a
// slot is used only for the Router (table id) that filled it, so a stale slot never matches.
struct CacheSlot {
  uint64_t table = 0;
  Key key;
  const Entry* entry = nullptr;
};
constexpr size_t kCacheSlots = 64;
std::array<CacheSlot, kCacheSlots>& RouteCache() {
  thread_local std::array<CacheSlot, kCacheSlots> cache;
  return cache;
}

void CollectDates(const policy_internal::CompiledSet& set, std::vector<absl::Time>* out) {
  for (const auto& p : set.policies) {
    for (const auto& r : p.rules) {
      if (r.from) out->push_back(*r.from);
      if (r.until) out->push_back(*r.until);
      if (r.enforce_from) out->push_back(*r.enforce_from);
    }
    for (const auto& l : p.lists) {
      for (const auto& e : l.entries) {
        if (e.from) out->push_back(*e.from);
        if (e.until) out->push_back(*e.until);
      }
    }
    for (const auto& x : p.exceptions) {
      if (x.not_before) out->push_back(*x.not_before);
      if (x.not_after) out->push_back(*x.not_after);
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

}  // namespace

Router::Router(std::shared_ptr<const PolicySnapshot> snapshot)
    : snapshot_(std::move(snapshot)), table_(std::make_unique<route_internal::Table>()) {
  table_->id = g_next_table_id.fetch_add(1);
  CollectDates(snapshot_->impl(), &table_->change_dates);
}

Router::~Router() = default;

absl::StatusOr<int> Router::AddModel(const Model& model) {
  std::unique_lock lock(table_->mu);
  table_->models.push_back(model);
  return static_cast<int>(table_->models.size() - 1);
}

absl::StatusOr<int> Router::AddOperator(const Party& op) {
  std::unique_lock lock(table_->mu);
  table_->operators.push_back(op);
  return static_cast<int>(table_->operators.size() - 1);
}

int Router::LocationIndex(std::string_view id) const {
  const auto& idx = snapshot_->impl().catalogue.location_index;
  auto it = idx.find(absl::string_view(id.data(), id.size()));
  return it == idx.end() ? -1 : it->second;
}

Router::Result Router::Route(const Query& q, absl::Time now, int preferred) {
  const auto& set = snapshot_->impl();
  Result result;
  Key key;
  if (!q.user_jurisdiction.empty()) {
    // ISO countries come first in the jurisdiction index, at their ISO index: no hashing.
    key.user = policy_internal::IsoCountryIndex(q.user_jurisdiction);
    if (key.user < 0) {
      auto it = set.catalogue.jurisdiction_index.find(
          absl::string_view(q.user_jurisdiction.data(), q.user_jurisdiction.size()));
      if (it == set.catalogue.jurisdiction_index.end()) {
        result.status = absl::InvalidArgumentError("unknown user jurisdiction");
        return result;
      }
      key.user = it->second;
    }
  }
  key.provenance = -1;
  for (int i = 0; i < 3; ++i)
    if (q.provenance == kProvenances[i]) key.provenance = i;
  if (key.provenance < 0) {
    result.status = absl::InvalidArgumentError("provenance must be verified, claimed or inferred");
    return result;
  }
  for (std::string_view c : q.prompt_classes) {
    auto it = set.class_index.find(absl::string_view(c.data(), c.size()));
    if (it == set.class_index.end()) {
      result.status = absl::InvalidArgumentError("unknown prompt class");
      return result;
    }
    key.classes[it->second >> 6] |= uint64_t{1} << (it->second & 63);
  }
  key.model = q.model;
  key.op = q.operator_profile;
  auto answer = [&](const Entry& e) {
    result.allowed = &e.allowed;
    if (preferred >= 0 && static_cast<size_t>(preferred) < e.effects.size()) {
      result.preferred = e.effects[preferred];
    }
    return result;
  };
  // A key in the cache was valid when cached (profiles are never removed).
  CacheSlot& cached = RouteCache()[absl::Hash<Key>()(key) % kCacheSlots];
  if (cached.table == table_->id && cached.key == key && cached.entry->from <= now &&
      now < cached.entry->until) {
    return answer(*cached.entry);
  }
  {
    std::shared_lock lock(table_->mu);
    if ((q.model >= static_cast<int>(table_->models.size())) ||
        (q.operator_profile >= static_cast<int>(table_->operators.size()))) {
      result.status = absl::InvalidArgumentError("unknown model or operator profile");
      return result;
    }
    auto it = table_->entries.find(key);
    if (it != table_->entries.end() && it->second->from <= now && now < it->second->until) {
      cached = CacheSlot{table_->id, key, it->second.get()};
      return answer(*it->second);
    }
  }
  // First request of this shape (or the table's date window moved): evaluate at every location.
  auto entry = std::make_unique<Entry>();
  const auto& dates = table_->change_dates;
  auto next = std::upper_bound(dates.begin(), dates.end(), now);
  if (next != dates.end()) entry->until = *next;
  if (next != dates.begin()) entry->from = *(next - 1);
  Request r;
  r.kind = Request::Kind::kCompute;
  r.action = "infer";
  r.now = now;
  Compute c;
  c.job = "inference";
  c.user = User{std::string(q.user_jurisdiction), kProvenances[key.provenance]};
  if (q.user_jurisdiction.empty()) c.user.reset();
  c.prompt_classes.emplace();
  for (std::string_view pc : q.prompt_classes) c.prompt_classes->emplace_back(pc);
  {
    std::shared_lock lock(table_->mu);
    if (q.model >= 0) {
      ComputeInput in;
      in.model = table_->models[q.model];
      c.inputs.push_back(std::move(in));
    }
    if (q.operator_profile >= 0) r.operator_party = table_->operators[q.operator_profile];
  }
  r.compute = std::move(c);
  EvalOptions options;
  options.suggest = false;
  const size_t n = set.catalogue.locations.size();
  entry->allowed.assign(n, false);
  entry->effects.assign(n, Effect::kDeny);
  for (size_t i = 0; i < n; ++i) {
    const std::string& id = set.catalogue.locations[i].id;
    r.compute->location = id;
    if (!r.compute->inputs.empty()) r.compute->inputs[0].model->location = id;
    auto d = Evaluate(*snapshot_, r, options);
    Effect e = d.ok() ? d->decision : Effect::kDeny;
    entry->effects[i] = e;
    // Routing serves only where no human approval is pending: allow or allow_with_obligations.
    entry->allowed[i] = e == Effect::kAllow || e == Effect::kAllowWithObligations;
  }
  std::unique_lock lock(table_->mu);
  auto& slot = table_->entries[key];
  if (slot) table_->retired.push_back(std::move(slot));
  slot = std::move(entry);
  cached = CacheSlot{table_->id, key, slot.get()};
  return answer(*slot);
}

}  // namespace residency
