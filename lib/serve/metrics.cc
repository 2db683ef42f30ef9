#include "residency/serve/metrics.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"

namespace residency::serve {
namespace {

std::atomic<uint64_t> next_metrics_id{1};
constexpr const char* kEffectNames[4] = {"allow", "allow_with_obligations", "escalate", "deny"};

std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

struct Metrics::Shard {
  std::atomic<uint64_t> effects[4] = {};
  std::atomic<uint64_t> buckets[kBuckets.size() + 1] = {};
  std::atomic<uint64_t> latency_ns{0};
  std::atomic<uint64_t> audit_failures{0};
  std::atomic<uint64_t> bad_requests{0};
  // Written by the owning thread, read by Render: a per-shard mutex that is never contended on
  // the hot path (only a scrape takes it from another thread).
  std::mutex mu;
  std::map<std::pair<std::string, int>, uint64_t> by_policy;  // (policy, effect)
  std::map<std::pair<std::string, int>, uint64_t> responses;  // (protocol, status)
};

Metrics::Metrics() : id_(next_metrics_id.fetch_add(1, std::memory_order_relaxed)) {}
Metrics::~Metrics() = default;

Metrics::Shard& Metrics::Local() {
  struct Entry {
    uint64_t id;
    Shard* shard;
  };
  thread_local std::vector<Entry> cache;
  for (const Entry& e : cache) {
    if (e.id == id_) return *e.shard;
  }
  auto shard = std::make_unique<Shard>();
  Shard* raw = shard.get();
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    shards_.push_back(std::move(shard));
  }
  if (cache.size() >= 8) cache.erase(cache.begin());
  cache.push_back({id_, raw});
  return *raw;
}

void Metrics::CountDecision(int effect, const std::vector<std::string_view>& policies,
                            double seconds) {
  Shard& s = Local();
  if (effect < 0 || effect > 3) effect = 3;
  s.effects[effect].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  s.buckets[b].fetch_add(1, std::memory_order_relaxed);
  s.latency_ns.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  if (policies.empty()) return;
  std::lock_guard<std::mutex> lock(s.mu);
  for (std::string_view p : policies) {
    auto it = s.by_policy.find({std::string(p), effect});  // allocates only the first time
    if (it == s.by_policy.end()) {
      s.by_policy.emplace(std::make_pair(std::string(p), effect), 1);
    } else {
      ++it->second;
    }
  }
}

void Metrics::CountResponse(std::string_view protocol, int status) {
  Shard& s = Local();
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.responses[{std::string(protocol), status}];
}

void Metrics::CountReload(bool ok) { (ok ? reloads_ok_ : reloads_failed_).fetch_add(1); }
void Metrics::CountAuditFailure() {
  Local().audit_failures.fetch_add(1, std::memory_order_relaxed);
}
void Metrics::CountBadRequest() { Local().bad_requests.fetch_add(1, std::memory_order_relaxed); }

std::string Metrics::Render(const std::string& extra) const {
  uint64_t effects[4] = {};
  uint64_t buckets[kBuckets.size() + 1] = {};
  uint64_t latency_ns = 0, audit_failures = 0, bad = 0;
  std::map<std::pair<std::string, int>, uint64_t> by_policy, responses;
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    for (const auto& s : shards_) {
      for (int i = 0; i < 4; ++i) effects[i] += s->effects[i].load(std::memory_order_relaxed);
      for (size_t i = 0; i <= kBuckets.size(); ++i)
        buckets[i] += s->buckets[i].load(std::memory_order_relaxed);
      latency_ns += s->latency_ns.load(std::memory_order_relaxed);
      audit_failures += s->audit_failures.load(std::memory_order_relaxed);
      bad += s->bad_requests.load(std::memory_order_relaxed);
      std::lock_guard<std::mutex> shard_lock(s->mu);
      for (const auto& [k, v] : s->by_policy) by_policy[k] += v;
      for (const auto& [k, v] : s->responses) responses[k] += v;
    }
  }
  std::string out;
  out +=
      "# HELP residency_decisions_total Decisions by effect.\n"
      "# TYPE residency_decisions_total counter\n";
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&out, "residency_decisions_total{effect=\"", kEffectNames[i], "\"} ",
                    effects[i], "\n");
  }
  out +=
      "# HELP residency_policy_decisions_total Decisions by the policy of a deciding rule and "
      "effect.\n"
      "# TYPE residency_policy_decisions_total counter\n";
  for (const auto& [k, v] : by_policy) {
    absl::StrAppend(&out, "residency_policy_decisions_total{policy=\"", Escape(k.first),
                    "\",effect=\"", kEffectNames[k.second], "\"} ", v, "\n");
  }
  out +=
      "# HELP residency_decision_seconds Time to decide (parse or map, evaluate, record).\n"
      "# TYPE residency_decision_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBuckets.size(); ++i) {
    cumulative += buckets[i];
    std::string le = i < kBuckets.size() ? absl::StrCat(kBuckets[i]) : "+Inf";
    absl::StrAppend(&out, "residency_decision_seconds_bucket{le=\"", le, "\"} ", cumulative, "\n");
  }
  char sum[64];
  std::snprintf(sum, sizeof(sum), "%.9f", latency_ns / 1e9);
  absl::StrAppend(&out, "residency_decision_seconds_sum ", sum, "\n",
                  "residency_decision_seconds_count ", cumulative, "\n");
  out +=
      "# HELP residency_responses_total Responses by protocol and status.\n"
      "# TYPE residency_responses_total counter\n";
  for (const auto& [k, v] : responses) {
    absl::StrAppend(&out, "residency_responses_total{protocol=\"", k.first, "\",code=\"", k.second,
                    "\"} ", v, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP residency_reloads_total Policy reloads by result.\n"
                  "# TYPE residency_reloads_total counter\n"
                  "residency_reloads_total{result=\"ok\"} ",
                  reloads_ok_.load(), "\nresidency_reloads_total{result=\"error\"} ",
                  reloads_failed_.load(), "\n",
                  "# HELP residency_audit_failures_total Decisions the audit log could not take "
                  "(answered deny).\n"
                  "# TYPE residency_audit_failures_total counter\n"
                  "residency_audit_failures_total ",
                  audit_failures, "\n",
                  "# HELP residency_bad_requests_total Requests refused as bad input.\n"
                  "# TYPE residency_bad_requests_total counter\n"
                  "residency_bad_requests_total ",
                  bad, "\n");
  out += extra;
  return out;
}

}  // namespace residency::serve
