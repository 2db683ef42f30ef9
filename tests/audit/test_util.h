// Shared helpers of the audit tests.
#ifndef RESIDENCY_TESTS_AUDIT_TEST_UTIL_H_
#define RESIDENCY_TESTS_AUDIT_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/temp_dir.h"

namespace residency::audit::testing {

inline std::string SharedTestdata() { return RESIDENCY_SHARED_TESTDATA; }

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

using residency::testing::TempDir;  // tests/testing/temp_dir.h

}  // namespace residency::audit::testing

#endif  // RESIDENCY_TESTS_AUDIT_TEST_UTIL_H_
