// check_dataset: ask before storing a dataset.
//
// A Korean bank wants to keep a ledger of its customers' personal credit information in the
// cheapest of several cloud locations. Before it writes a byte, it asks the policies where the
// ledger may be stored, in order of preference, and stores it at the first location the
// policies allow, honouring the obligations that come with it.
//
//   check_dataset [POLICY_DIR]        (default: the policies/ folder of the source tree)
//
// Exit status: 0 a location was found (and "stored"), 1 none was allowed, 2 the policies could
// not be loaded.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

#ifndef RESIDENCY_EXAMPLES_POLICIES
#define RESIDENCY_EXAMPLES_POLICIES "policies"
#endif

namespace {

// The dataset as it is now: 2.4 million customers' credit records, collected in Korea.
residency::Dataset CreditLedger() {
  residency::Dataset ds;
  ds.id = "kr-credit-ledger";
  ds.location = "ncp:FKR";  // where it is produced today
  residency::Partition p;
  p.classes = {"personal.credit"};
  p.origin = "KR";
  p.subjects = 2400000;
  ds.partitions.push_back(p);
  return ds;
}

// Asks whether `dataset` may be stored at `destination`. Fails closed: an error is a deny.
bool MayStore(const residency::PolicySnapshot& policies, const residency::Dataset& dataset,
              const std::string& destination, residency::Decision* decision) {
  residency::Request req;
  req.kind = residency::Request::Kind::kDataset;
  req.action = "store";
  req.destination = destination;
  residency::Party op;
  op.id = "kr-bank";
  op.country = "KR";
  op.sectors = {"kr_financial"};  // financial-sector rules apply to this operator
  req.operator_party = op;
  req.dataset = dataset;

  residency::EvalOptions options;
  // A fixed evaluation time keeps the output reproducible; a real caller leaves it unset.
  options.now = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  absl::StatusOr<residency::Decision> d = residency::Evaluate(policies, req, options);
  if (!d.ok()) {
    std::printf("  %-18s deny (cannot decide: %s)\n", destination.c_str(),
                std::string(d.status().message()).c_str());
    return false;
  }
  *decision = *std::move(d);
  std::printf("  %-18s %s", destination.c_str(), residency::EffectName(decision->decision));
  for (const residency::Reason& r : decision->reasons)
    std::printf(" [%s]", std::string(r.rule()).c_str());
  std::printf("\n");
  return decision->decision == residency::Effect::kAllow ||
         decision->decision == residency::Effect::kAllowWithObligations;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string policy_dir = argc > 1 ? argv[1] : RESIDENCY_EXAMPLES_POLICIES;

  // Compile once at start-up; the snapshot is immutable and can be shared by every thread.
  residency::CompileResult compiled = residency::CompilePolicies({policy_dir});
  if (!compiled.ok()) {
    for (const residency::Diagnostic& d : compiled.diagnostics) {
      std::fprintf(stderr, "%s\n", residency::FormatDiagnostic(d).c_str());
    }
    return 2;
  }
  const residency::PolicySnapshot& policies = *compiled.snapshot;
  std::printf("policies %s (%zu rules)\n", policies.digest().c_str(), policies.rule_count());

  const residency::Dataset ledger = CreditLedger();
  // Cheapest first. Only the last one is a Korean financial-sector site.
  const std::vector<std::string> candidates = {"aws:us-east-1", "aws:ap-northeast-1", "ncp:FKR"};
  std::printf("where may %s be stored?\n", ledger.id.c_str());
  for (const std::string& where : candidates) {
    residency::Decision decision;
    if (!MayStore(policies, ledger, where, &decision)) {
      if (!decision.suggested_locations().empty()) {
        std::printf("    suggested instead:");
        for (std::string_view s : decision.suggested_locations())
          std::printf(" %s", std::string(s).c_str());
        std::printf("\n");
      }
      continue;
    }
    std::printf("storing %s at %s\n", ledger.id.c_str(), where.c_str());
    for (const residency::ObligationRef& o : decision.obligations) {
      std::printf("  obligation to fulfil: %s (policy %s)\n", std::string(o.id()).c_str(),
                  std::string(o.policy()).c_str());
    }
    return 0;
  }
  std::printf("no candidate location is allowed: %s is not stored\n", ledger.id.c_str());
  return 1;
}
