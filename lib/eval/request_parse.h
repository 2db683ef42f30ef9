// Internal to lib/eval: the two paths of ParseRequest (the fast JSON decoder and the general
// path), for ParseRequest itself and for the tests that hold them to the same results.
#ifndef RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_
#define RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "residency/request.h"

namespace residency::eval_internal {

// Decodes strict JSON straight into `*r`. False: not decoded here (an error, or valid but unusual
// input); the general path then decides and words any error.
bool DecodeJsonFast(std::string_view text, const RequestLimits& limits, Request* r);

// The checks every decoded request passes (a kind has its artifact, the action fits the kind).
absl::Status CheckRequestShape(Request* r);

// ParseRequest through the general path only (nlohmann tree, then decoding).
absl::StatusOr<Request> ParseRequestGeneral(std::string_view text, const RequestLimits& limits);

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_
