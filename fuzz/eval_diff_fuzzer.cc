// Differential fuzzing of the evaluator: requests built from the fuzz bytes (the generator of the
// differential test, tests/eval/request_generator.h) go through Evaluate() and the reference
// evaluator, and Explain(); any difference in decision, deciding rules, obligations, lifted or
// request tags, or an explanation that disagrees with the decision, aborts. The first byte picks
// the policy set: the shipped policies/ (compiled once per process) or the evaluator tests'
// fixture policies; every following byte feeds the generator's choices.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "eval_fixtures.h"
#include "request_generator.h"
#include "residency/policy.h"
#include "testing/fixtures.h"

namespace {

// At most this many requests per input, so that one input stays fast.
constexpr int kMaxRequestsPerInput = 16;

std::shared_ptr<const residency::PolicySnapshot> Compile(bool shipped) {
  if (shipped) {
    auto snap = residency::CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
    if (!snap.ok()) {
      std::fprintf(stderr, "eval_diff_fuzzer: %s\n", snap.status().ToString().c_str());
      std::abort();
    }
    return *snap;
  }
  auto r = residency::testing::CompileWith(
      {residency::testing::kKrPolicy, residency::testing::kCorpPolicy});
  if (!r.ok()) std::abort();
  return r.snapshot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* const kShipped =
      new std::shared_ptr<const residency::PolicySnapshot>(Compile(true));
  static const auto* const kFixtures =
      new std::shared_ptr<const residency::PolicySnapshot>(Compile(false));
  if (size == 0) return 0;
  const residency::PolicySnapshot& snap = (data[0] & 1) ? **kFixtures : **kShipped;
  residency::testing::ByteChoices choices(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  residency::testing::RequestGenerator gen(snap, &choices);
  for (int i = 0; i < kMaxRequestsPerInput && (i == 0 || !choices.exhausted()); ++i) {
    residency::Request request = gen.Make();
    residency::testing::Comparison c = residency::testing::CompareWithReference(snap, request);
    if (!c.mismatch.empty()) {
      std::fprintf(stderr, "eval_diff_fuzzer: request #%d: %s\n", i, c.mismatch.c_str());
      std::abort();
    }
    const std::string explained = residency::testing::CompareExplainWithEvaluate(snap, request);
    if (!explained.empty()) {
      std::fprintf(stderr, "eval_diff_fuzzer: request #%d: explain: %s\n", i, explained.c_str());
      std::abort();
    }
  }
  return 0;
}
