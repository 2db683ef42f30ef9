// Tests that read the shared test vectors (RESIDENCY_SHARED_TESTDATA, beside the checkout) call
// RESIDENCY_SHARED_TESTDATA_ABSENT(message) when they are missing: outside CI the test is skipped
// with the message; when the environment variable CI is set (.ci/run sets CI=true) it fails, so
// CI never passes without having run them.
#ifndef RESIDENCY_TESTS_TESTING_SHARED_TESTDATA_H_
#define RESIDENCY_TESTS_TESTING_SHARED_TESTDATA_H_

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace residency::testing {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0' && std::strcmp(ci, "0") != 0 && std::strcmp(ci, "false") != 0;
}

}  // namespace residency::testing

#define RESIDENCY_SHARED_TESTDATA_ABSENT(message)                                      \
  do {                                                                                 \
    if (::residency::testing::InCi()) {                                                \
      GTEST_FAIL() << message << " (CI is set: the shared test data must be present)"; \
    } else {                                                                           \
      GTEST_SKIP() << message;                                                         \
    }                                                                                  \
  } while (0)

#endif  // RESIDENCY_TESTS_TESTING_SHARED_TESTDATA_H_
