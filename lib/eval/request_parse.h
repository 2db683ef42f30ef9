// Internal to lib/eval: ParseRequest without its fast JSON path, for the tests that hold the two
// paths to the same results.
#ifndef RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_
#define RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "residency/request.h"

namespace residency::eval_internal {

// ParseRequest through the general path only (nlohmann tree, then decoding).
absl::StatusOr<Request> ParseRequestGeneral(std::string_view text, const RequestLimits& limits);

}  // namespace residency::eval_internal

#endif  // RESIDENCY_LIB_EVAL_REQUEST_PARSE_H_
