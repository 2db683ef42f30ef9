// Policy snapshots and the store that swaps them under readers.
#include <atomic>
#include <memory>
#include <mutex>

#include "policy/compiled_set.h"
#include "policy/eval_index.h"
#include "residency/policy.h"

namespace residency {

using policy_internal::CompiledSet;

PolicySnapshot::PolicySnapshot(std::unique_ptr<const CompiledSet> set)
    : set_(std::move(set)),
      index_(std::make_unique<const policy_internal::EvalIndex>(
          policy_internal::BuildEvalIndex(*set_))) {}
PolicySnapshot::~PolicySnapshot() = default;
const std::string& PolicySnapshot::digest() const { return set_->digest; }

const std::vector<PolicySource>& PolicySnapshot::sources() const { return set_->sources; }
std::vector<std::string> PolicySnapshot::policy_ids() const {
  std::vector<std::string> out;
  for (const auto& p : set_->policies) out.push_back(p.id);
  return out;
}
size_t PolicySnapshot::rule_count() const { return set_->rule_count; }
std::vector<std::string> PolicySnapshot::locations() const {
  std::vector<std::string> out;
  for (const auto& l : set_->catalogue.locations) out.push_back(l.id);
  return out;
}

namespace {

std::atomic<uint64_t> next_store_id{1};

// One thread's reference to one store's snapshot. `holder` is allocated by this thread and its
// control block is the one the pointers handed out by Get() share, so copying and dropping them
// touches only this thread's cache lines.
struct CachedSnapshot {
  uint64_t store = 0;  // PolicyStore::id_, 0 when the slot is free
  uint64_t generation = 0;
  std::shared_ptr<const std::shared_ptr<const PolicySnapshot>> holder;
};

// A few stores per thread (a service has one); the least recently refreshed slot is reused.
constexpr int kCacheSlots = 4;
struct ThreadCache {
  CachedSnapshot slot[kCacheSlots];
  int next = 0;
};
thread_local ThreadCache thread_cache;

}  // namespace

PolicyStore::PolicyStore(std::shared_ptr<const PolicySnapshot> initial)
    : id_(next_store_id.fetch_add(1, std::memory_order_relaxed)), current_(std::move(initial)) {}

PolicyStore::~PolicyStore() {
  // Drop this thread's reference now; other threads' cached references go when those threads
  // refresh that slot or exit (ids are never reused, so no later store can match them).
  for (CachedSnapshot& c : thread_cache.slot) {
    if (c.store == id_) c = CachedSnapshot();
  }
}

std::shared_ptr<const PolicySnapshot> PolicyStore::Get() const {
  const uint64_t gen = generation_.load(std::memory_order_acquire);
  for (const CachedSnapshot& c : thread_cache.slot) {
    if (c.store == id_ && c.generation == gen) {
      if (*c.holder == nullptr) return nullptr;
      // Aliasing: shares the thread's holder, points at the snapshot the holder keeps.
      return std::shared_ptr<const PolicySnapshot>(c.holder, c.holder->get());
    }
  }
  return GetSlow();
}

std::shared_ptr<const PolicySnapshot> PolicyStore::GetSlow() const {
  CachedSnapshot fresh;
  fresh.store = id_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fresh.generation = generation_.load(std::memory_order_relaxed);
    fresh.holder = std::make_shared<const std::shared_ptr<const PolicySnapshot>>(current_);
  }
  ThreadCache& tc = thread_cache;
  CachedSnapshot* target = nullptr;
  for (CachedSnapshot& c : tc.slot) {
    if (c.store == id_) target = &c;
  }
  if (target == nullptr) {
    target = &tc.slot[tc.next];
    tc.next = (tc.next + 1) % kCacheSlots;
  }
  *target = std::move(fresh);
  if (*target->holder == nullptr) return nullptr;
  return std::shared_ptr<const PolicySnapshot>(target->holder, target->holder->get());
}

void PolicyStore::Swap(std::shared_ptr<const PolicySnapshot> next) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(next);
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `next` (the old snapshot) is released here unless a reader or a thread's cache still holds
  // it.
}

absl::Status PolicyStore::Reload(const std::vector<std::string>& paths,
                                 const CompileOptions& options) {
  auto s = CompilePolicy(paths, options);
  if (!s.ok()) return s.status();
  Swap(*std::move(s));
  return absl::OkStatus();
}

}  // namespace residency
