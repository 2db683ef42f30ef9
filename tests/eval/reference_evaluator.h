// A small, slow, obviously correct evaluator used only by tests: it reads the compiled rules
// directly (no class index, no outcome slots, no shortcuts) and recomputes tags from the request
// itself. The differential test requires it to agree with Evaluate().
#ifndef RESIDENCY_TESTS_EVAL_REFERENCE_EVALUATOR_H_
#define RESIDENCY_TESTS_EVAL_REFERENCE_EVALUATOR_H_

#include <set>
#include <string>

#include "policy/compiled_set.h"
#include "residency/request.h"

namespace residency::testing {

struct RefDecision {
  std::string decision;
  std::set<std::string> rules;        // policy/rule of every reason
  std::set<std::string> obligations;  // policy/id
  std::set<std::string> lifted;       // policy/tag
  std::set<std::string> tags;
};

RefDecision ReferenceEvaluate(const policy_internal::CompiledSet& set, const Request& request,
                              absl::Time now);

// The definitions behind suggestions and `where`, written out field by field: a request's
// placement (a compute job's location, else its destination, else its dataset's or model's
// location), and the request with its placement at `to`, a compute job taking along whatever
// it holds at the same location.
std::string ReferencePlacement(const Request& request);
Request ReferenceMovedTo(Request request, const std::string& to);

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_EVAL_REFERENCE_EVALUATOR_H_
