// Prometheus counters for the service, kept in per-thread shards so that counting a decision
// touches only the counting thread's cache lines (no lock, no shared atomic on the hot path).
// Render() sums the shards.
//
// Thread safety: every method may be called concurrently.
#ifndef RESIDENCY_SERVE_METRICS_H_
#define RESIDENCY_SERVE_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace residency::serve {

class Metrics {
 public:
  // Upper bounds of the latency histogram, in seconds (+Inf is implied).
  static constexpr std::array<double, 11> kBuckets = {25e-6,  50e-6, 100e-6, 250e-6, 500e-6, 1e-3,
                                                      2.5e-3, 5e-3,  10e-3,  25e-3,  100e-3};
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // effect: 0 allow, 1 allow_with_obligations, 2 escalate, 3 deny (residency::Effect values).
  void CountDecision(int effect, const std::vector<std::string_view>& policies, double seconds);
  void CountResponse(std::string_view protocol, int status);  // protocol: http | grpc
  void CountReload(bool ok);
  void CountAuditFailure();
  void CountBadRequest();

  // Prometheus text format (version 0.0.4) of every counter; `extra` is appended verbatim.
  std::string Render(const std::string& extra) const;

 private:
  struct Shard;
  Shard& Local();

  const uint64_t id_;
  mutable std::mutex registry_mu_;
  std::vector<std::unique_ptr<Shard>> shards_;  // guarded by registry_mu_ (the vector)
  std::atomic<uint64_t> reloads_ok_{0}, reloads_failed_{0};
};

}  // namespace residency::serve

#endif  // RESIDENCY_SERVE_METRICS_H_
