// store_2thread_scaling: throughput of PolicyStore::Get + Evaluate on 2 threads over 1 thread,
// against the shipped policies (a Korean prompt for Tokyo: the request of
// examples/requests/kr-prompt-to-tokyo.yaml). Each configuration runs for a fixed time; the
// best of several rounds is kept (the machine is shared). Prints one JSON object.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace {

constexpr char kRequest[] = R"({"kind": "compute", "operator": {"id": "acme-chat", "country": "KR"},
  "compute": {"job": "inference", "location": "aws:ap-northeast-1",
  "inputs": [{"model": {"id": "chat-large", "artifact": "weights",
                        "location": "aws:ap-northeast-1", "trained_on": []}}],
  "user": {"jurisdiction": "KR", "provenance": "verified"}, "prompt": {"classes": ["personal"]}}})";

// The store before it took no lock: a mutex around a shared_ptr copy (for comparison).
class MutexStore {
 public:
  explicit MutexStore(std::shared_ptr<const residency::PolicySnapshot> s) : s_(std::move(s)) {}
  std::shared_ptr<const residency::PolicySnapshot> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return s_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const residency::PolicySnapshot> s_;
};

// evaluate = false: Get() alone (and dropping the pointer).
template <typename Store>
double Throughput(Store& store, const residency::Request& req, int threads, double seconds,
                  bool evaluate = true) {
  std::atomic<bool> go{false}, stop{false};
  std::vector<uint64_t> counts(threads * 16, 0);  // padded: one cache line apart
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      residency::EvalOptions o;
      o.now = absl::FromUnixSeconds(1782777600);
      o.suggest = false;
      while (!go.load(std::memory_order_acquire)) {
      }
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto snap = store.Get();
        if (evaluate) {
          auto d = residency::Evaluate(*snap, req, o);
          if (!d.ok()) std::abort();
        } else if (snap == nullptr) {
          std::abort();
        }
        ++n;
      }
      counts[t * 16] = n;
    });
  }
  auto start = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (auto& t : ts) t.join();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t total = 0;
  for (int t = 0; t < threads; ++t) total += counts[t * 16];
  return total / took;
}

}  // namespace

int main(int argc, char** argv) {
  auto snap = residency::CompilePolicy({RESIDENCY_BENCH_POLICIES});
  auto req = residency::ParseRequest(kRequest);
  if (!snap.ok() || !req.ok()) {
    std::fprintf(stderr, "store_scaling: setup failed\n");
    return 2;
  }
  residency::PolicyStore store(*snap);
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  MutexStore mutex_store(*snap);
  double best1 = 0, best2 = 0, get1 = 0, get2 = 0, mget1 = 0, mget2 = 0;
  for (int round = 0; round < 3; ++round) {
    best1 = std::max(best1, Throughput(store, *req, 1, seconds));
    best2 = std::max(best2, Throughput(store, *req, 2, seconds));
    get1 = std::max(get1, Throughput(store, *req, 1, seconds / 4, false));
    get2 = std::max(get2, Throughput(store, *req, 2, seconds / 4, false));
    mget1 = std::max(mget1, Throughput(mutex_store, *req, 1, seconds / 4, false));
    mget2 = std::max(mget2, Throughput(mutex_store, *req, 2, seconds / 4, false));
  }
  std::printf(
      "{\"store_1thread_per_s\": %.0f, \"store_2thread_per_s\": %.0f, "
      "\"store_2thread_scaling\": %.3f, \"store_get_2thread_scaling\": %.3f, "
      "\"store_get_mutex_2thread_scaling\": %.3f}\n",
      best1, best2, best2 / best1, get2 / get1, mget2 / mget1);
  return 0;
}
