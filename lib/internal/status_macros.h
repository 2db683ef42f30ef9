// Small local status helpers: Debian's Abseil (20220623) ships none.
#ifndef RESIDENCY_LIB_INTERNAL_STATUS_MACROS_H_
#define RESIDENCY_LIB_INTERNAL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RESIDENCY_INTERNAL_CONCAT2(a, b) a##b
#define RESIDENCY_INTERNAL_CONCAT(a, b) RESIDENCY_INTERNAL_CONCAT2(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RESIDENCY_RETURN_IF_ERROR(expr)                    \
  do {                                                     \
    ::absl::Status residency_status_ = (expr);             \
    if (!residency_status_.ok()) return residency_status_; \
  } while (0)

// `RESIDENCY_ASSIGN_OR_RETURN(auto x, Foo());` declares x from an OK StatusOr or returns its
// status.
#define RESIDENCY_ASSIGN_OR_RETURN(lhs, expr)                                                   \
  RESIDENCY_INTERNAL_ASSIGN_OR_RETURN(RESIDENCY_INTERNAL_CONCAT(residency_sor_, __LINE__), lhs, \
                                      expr)
#define RESIDENCY_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, expr) \
  auto tmp = (expr);                                        \
  if (!tmp.ok()) return std::move(tmp).status();            \
  lhs = std::move(tmp).value()

#endif  // RESIDENCY_LIB_INTERNAL_STATUS_MACROS_H_
