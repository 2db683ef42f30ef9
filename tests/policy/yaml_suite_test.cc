// Every input of the YAML test suite (valid and invalid YAML, none of it a policy) given to
// `residency lint`: exit 0 or 1, never a crash or hang, and a rejection's first line is
// FILE:LINE:COL: ... (or FILE: ... when the problem has no position).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "gtest/gtest.h"
#include "testing/shared_testdata.h"

namespace {

TEST(YamlTestSuite, LintNeverCrashesAndNamesThePosition) {
  std::filesystem::path dir = std::filesystem::path(RESIDENCY_SHARED_TESTDATA) / "yaml-test-suite";
  if (!std::filesystem::exists(dir)) {
    RESIDENCY_SHARED_TESTDATA_ABSENT("no " << dir << " (shared test data absent)");
  }
  std::filesystem::path out =
      std::filesystem::temp_directory_path() / ("yaml_suite_" + std::to_string(::getpid()));
  std::string catalogue = std::string(RESIDENCY_SOURCE_DIR) + "/policies/regions.yaml";
  int files = 0, rejected = 0;
  std::regex positioned("^[^:]+\\.yaml(:[0-9]+:[0-9]+)?: (error|warning): .*");
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    ++files;
    std::string cmd = "timeout 20 " + std::string(RESIDENCY_CLI_PATH) + " lint --catalogue " +
                      catalogue + " '" + e.path().string() + "' >" + out.string() + " 2>&1";
    int raw = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(raw)) << e.path();
    int status = WEXITSTATUS(raw);
    ASSERT_TRUE(status == 0 || status == 1) << e.path() << " exit " << status;
    if (status == 1) {
      ++rejected;
      std::ifstream in(out);
      std::string first;
      std::getline(in, first);
      EXPECT_TRUE(std::regex_match(first, positioned)) << e.path() << ": " << first;
    }
  }
  std::filesystem::remove(out);
  EXPECT_GT(files, 100);
  EXPECT_GT(rejected, 0);
}

}  // namespace
