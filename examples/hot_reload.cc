// hot_reload: swap policies while worker threads keep deciding.
//
// A service holds a residency::PolicyStore. Each request takes one snapshot with Get() and uses
// it from start to end, so a reload never changes the rules under a request already running.
// Here four workers decide the same transfer (an EU customer dataset copied to a US processor
// under SCCs) in a loop while the main thread
//   1. reloads with an added company policy that freezes new copies to aws:us-east-1, and
//   2. tries a reload with a broken file, which fails and leaves the current policies in place.
// Every decision is checked against the snapshot that made it: one digest, one answer.
//
//   hot_reload [POLICY_DIR]           (default: the policies/ folder of the source tree)
//
// Exit status: 0 both snapshots were seen and every decision matched its snapshot, 1 otherwise,
// 2 the policies could not be loaded.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

#ifndef RESIDENCY_EXAMPLES_POLICIES
#define RESIDENCY_EXAMPLES_POLICIES "policies"
#endif

namespace {

// The added policy: a company change freeze on one region (basis corp).
constexpr char kFreezePolicy[] = R"(kind: policy
id: ops-freeze
basis: corp
title: "Change freeze: no new copies to aws:us-east-1"
rules:
  - id: ops-freeze.us_east_1
    citation: "OPS change ticket CHG-2041"
    message: "aws:us-east-1 is frozen for new data copies during the migration"
    when: {location: {in: ["aws:us-east-1"]}}
    effect: deny
)";

residency::Request Transfer() {
  residency::Request req;
  req.kind = residency::Request::Kind::kDataset;
  req.action = "transfer";
  req.now = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  req.destination = "aws:us-east-1";
  req.operator_party = residency::Party{"acme-eu-gmbh", "DE", {}, "", {}};
  req.recipient =
      residency::Party{"US Analytics LLC", "US", {}, "processor", {{"dpf_certified", "false"}}};
  req.transfer.type = "entrustment";
  req.transfer.pattern = "systematic";
  residency::Evidence scc;
  scc.type = "scc_2021_914";
  scc.country = "US";
  scc.recipient = "US Analytics LLC";
  residency::Evidence tia;
  tia.type = "tia";
  tia.country = "US";
  tia.recipient = "US Analytics LLC";
  req.evidence = {scc, tia};
  residency::Dataset ds;
  ds.id = "eu-customers-2026";
  ds.location = "aws:eu-central-1";
  ds.partitions.push_back({{"personal"}, "DE", 420000, std::nullopt, std::nullopt});
  req.dataset = ds;
  return req;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string policy_dir = argc > 1 ? argv[1] : RESIDENCY_EXAMPLES_POLICIES;
  absl::StatusOr<std::shared_ptr<const residency::PolicySnapshot>> initial =
      residency::CompilePolicy({policy_dir});
  if (!initial.ok()) {
    std::fprintf(stderr, "%s\n", std::string(initial.status().message()).c_str());
    return 2;
  }
  residency::PolicyStore store(*initial);
  const std::string first_digest = (*initial)->digest();
  std::printf("loaded   %s\n", first_digest.c_str());

  // Per snapshot digest: how many decisions of each kind it made.
  std::mutex mu;
  std::map<std::string, std::map<std::string, int>> seen;
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  const residency::Request request = Transfer();
  residency::EvalOptions options;
  options.suggest = false;  // a worker that never shows alternatives need not compute them

  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      std::map<std::string, std::map<std::string, int>> local;
      do {
        // One snapshot per request, held until the request is answered.
        std::shared_ptr<const residency::PolicySnapshot> snap = store.Get();
        absl::StatusOr<residency::Decision> d = residency::Evaluate(*snap, request, options);
        if (!d.ok() || d->policy_digest() != snap->digest()) {
          errors.fetch_add(1);  // fail closed: counted as an error, never as an allow
          continue;
        }
        ++local[std::string(d->policy_digest())][residency::EffectName(d->decision)];
      } while (!stop.load());
      std::lock_guard<std::mutex> lock(mu);
      for (auto& [digest, counts] : local) {
        for (auto& [effect, n] : counts) seen[digest][effect] += n;
      }
    });
  }

  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(200)); };
  pause();

  // 1. Reload with the freeze added: the policy folder plus one more file.
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  const std::string tag =
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::string freeze_file = (tmp / ("residency-freeze-" + tag + ".yaml")).string();
  { std::ofstream(freeze_file) << kFreezePolicy; }
  absl::Status st = store.Reload({policy_dir, freeze_file});
  std::printf("reload   %s -> %s\n", st.ok() ? "ok" : std::string(st.message()).c_str(),
              store.Get()->digest().c_str());
  pause();

  // 2. A broken file: the reload fails and the store keeps what it had.
  const std::string broken_file = (tmp / ("residency-broken-" + tag + ".yaml")).string();
  { std::ofstream(broken_file) << "kind: policy\nid: broken\nbasis: corp\nrules: [{id: x}]\n"; }
  const std::string before = store.Get()->digest();
  st = store.Reload({policy_dir, broken_file});
  std::printf("reload   refused: %s\n", std::string(st.message()).c_str());
  const bool kept = !st.ok() && store.Get()->digest() == before;
  std::printf("         current policies kept: %s\n", kept ? "yes" : "NO");
  pause();

  stop = true;
  for (std::thread& t : workers) t.join();
  std::filesystem::remove(freeze_file);
  std::filesystem::remove(broken_file);

  // Each snapshot must have given one answer only, and the two answers must differ.
  bool consistent = errors.load() == 0 && seen.size() == 2 && kept;
  for (const auto& [digest, counts] : seen) {
    std::printf("%s %s:", digest == first_digest ? "before" : "after ", digest.c_str());
    for (const auto& [effect, n] : counts) std::printf(" %s x%d", effect.c_str(), n);
    std::printf("\n");
    consistent = consistent && counts.size() == 1;
  }
  if (consistent &&
      seen.begin()->second.begin()->first == std::next(seen.begin())->second.begin()->first) {
    consistent = false;  // the freeze must have changed the answer
  }
  std::printf("errors %d; %s\n", errors.load(),
              consistent ? "every decision matched its snapshot" : "INCONSISTENT");
  return consistent ? 0 : 1;
}
