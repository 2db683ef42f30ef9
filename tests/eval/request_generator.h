// Generated evaluation requests over a policy set's own locations and classes (plus unknown
// ones, which must fail closed), and the comparison of Evaluate() with the reference evaluator on
// one request. Shared by the differential test and eval_diff_fuzzer; the choices behind a request
// come from a seeded PRNG (tests) or from the fuzz input's bytes.
// Thread safety: a generator and its choices are used by one thread at a time.
#ifndef RESIDENCY_TESTS_EVAL_REQUEST_GENERATOR_H_
#define RESIDENCY_TESTS_EVAL_REQUEST_GENERATOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency::testing {

// The source of every choice a generator makes.
class Choices {
 public:
  virtual ~Choices() = default;
  // A value in [0, n); n >= 1.
  virtual int Pick(int n) = 0;
};

// Choices from std::mt19937 seeded with `seed` (the same sequence on every platform).
class RandomChoices final : public Choices {
 public:
  explicit RandomChoices(uint32_t seed) : rng_(seed) {}
  int Pick(int n) override { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

 private:
  std::mt19937 rng_;
};

// Choices read from bytes (a fuzz input): one byte per choice below 257 values, four above;
// 0 once the bytes run out. The bytes must outlive the object.
class ByteChoices final : public Choices {
 public:
  explicit ByteChoices(std::string_view bytes) : bytes_(bytes) {}
  int Pick(int n) override;
  bool exhausted() const { return pos_ >= bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Requests of every kind (dataset, model, compute with inputs, outputs and a prompt) whose
// locations and classes are mostly those of `snap`. Keeps no reference to `snap`; `choices`
// must outlive the generator.
class RequestGenerator {
 public:
  RequestGenerator(const PolicySnapshot& snap, Choices* choices);
  Request Make();

 private:
  int Pick(int n) { return choices_->Pick(n); }
  std::string Loc();
  std::string Class();
  std::string Origin();
  std::optional<absl::Time> MaybeTime();
  std::vector<Evidence> MakeEvidence();
  Party MakeParty(bool op);
  Dataset MakeDataset(int depth);
  Model MakeModel(int depth);

  Choices* choices_;
  std::vector<std::string> locations_, classes_;
};

// Evaluate() (without suggestions) and the reference evaluator on `request` at `*request.now`
// (set by the generator).
struct Comparison {
  Effect decision = Effect::kDeny;  // Evaluate()'s
  // Empty when both agree on the decision, the deciding rules, the obligations, the lifted tags
  // and the tags; otherwise what differs, with Evaluate()'s decision as JSON.
  std::string mismatch;
};
Comparison CompareWithReference(const PolicySnapshot& snap, const Request& request);

// Explain() against Evaluate() (without suggestions) on `request`: empty when they agree on the
// decision (byte for byte), the deciding and dry-run rules, and when each reason's trigger is
// one of its rule's explained places with the reason's effect there; otherwise what differs.
std::string CompareExplainWithEvaluate(const PolicySnapshot& snap, const Request& request);

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_EVAL_REQUEST_GENERATOR_H_
