// `residency where --format html` in a real browser: headless Chromium (Debian's `chromium`)
// loads the page from a file, runs its script, and the DOM it leaves shows each allowed
// location with its effect, as `residency where --format json` lists them. Without Chromium the
// test skips, except in CI (CI=true), where a missing browser is a failure.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"
#include "testing/shared_testdata.h"

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `cmd` through the shell; its stdout, and the exit status in *status.
std::string Shell(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int raw = ::pclose(p);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::string Chromium() {
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"}) {
    int status = 0;
    std::string path = Shell(std::string("command -v ") + c + " 2>/dev/null", &status);
    if (status == 0 && !path.empty()) return path.substr(0, path.find('\n'));
  }
  return "";
}

class WhereHtmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    browser_ = Chromium();
    if (browser_.empty()) {
      if (residency::testing::InCi()) FAIL() << "chromium is not installed (CI needs it)";
      GTEST_SKIP() << "chromium is not installed; `apt-get install chromium` runs this test";
    }
    dir_ = std::filesystem::temp_directory_path() /
           ("residency_where_html_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The DOM a browser leaves once it has loaded the page and run its script.
  std::string Dom(const std::string& html_path) {
    int status = 0;
    // A profile of its own in the test's folder: nothing is read from or left in $HOME.
    std::string dom = Shell(
        "timeout 120 '" + browser_ +
            "' --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir='" +
            (dir_ / "profile").string() + "' --dump-dom 'file://" + html_path + "' 2>/dev/null",
        &status);
    EXPECT_EQ(status, 0) << dom;
    return dom;
  }

  // (location, effect) of every location the page shows, and the count it says.
  std::vector<std::pair<std::string, std::string>> Shown(const std::string& dom,
                                                         std::string* count) {
    std::vector<std::pair<std::string, std::string>> out;
    re2::StringPiece in(dom);
    std::string loc, effect;
    while (RE2::FindAndConsume(&in, R"re(data-location="([^"]*)" data-effect="([^"]*)")re", &loc,
                               &effect)) {
      out.emplace_back(loc, effect);
    }
    RE2::PartialMatch(dom, R"re(<span id="count">(\d+)</span>)re", count);
    return out;
  }

  std::string Cli(const std::string& args, int* status) {
    return Shell(std::string(RESIDENCY_CLI_PATH) + " " + args, status);
  }

  std::string browser_;
  std::filesystem::path dir_;
};

TEST_F(WhereHtmlTest, TheBrowserShowsTheAllowedLocationsColouredByEffect) {
  const std::string policies = std::string(RESIDENCY_SOURCE_DIR) + "/policies";
  for (const char* name : {"kr-prompt-to-tokyo", "kr-public-csap"}) {
    SCOPED_TRACE(name);
    const std::string req =
        std::string(RESIDENCY_SOURCE_DIR) + "/examples/requests/" + name + ".yaml";
    int status = 0;
    const std::string html_path = (dir_ / (std::string(name) + ".html")).string();
    Cli("where --policies " + policies + " --format html " + req + " >" + html_path, &status);
    ASSERT_EQ(status, 0);
    const std::string html = Slurp(html_path);
    EXPECT_EQ(html.find("http://"), std::string::npos) << "the page loads nothing";
    EXPECT_EQ(html.find("https://"), std::string::npos) << "the page loads nothing";
    // Before a browser runs it, the page holds no location cell: the script draws them.
    EXPECT_EQ(html.find("data-location="), std::string::npos);

    auto expected = nlohmann::json::parse(
        Cli("where --policies " + policies + " --format json " + req, &status));
    std::string count;
    auto shown = Shown(Dom(html_path), &count);
    ASSERT_EQ(shown.size(), expected["allowed"].size());
    EXPECT_EQ(count, std::to_string(shown.size()));
    std::vector<std::pair<std::string, std::string>> want;
    for (const auto& a : expected["allowed"]) want.emplace_back(a["location"], a["effect"]);
    std::sort(shown.begin(), shown.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(shown, want);
  }
}

TEST_F(WhereHtmlTest, AllowedNowhereIsSaid) {
  const std::string policies = std::string(RESIDENCY_SOURCE_DIR) + "/policies";
  const std::string req =
      std::string(RESIDENCY_SOURCE_DIR) + "/examples/requests/kr-prompt-to-tokyo.yaml";
  int status = 0;
  const std::string html_path = (dir_ / "none.html").string();
  Cli("where --policies " + policies + " --format html --country US --provider ncp " + req + " >" +
          html_path,
      &status);
  EXPECT_EQ(status, 1);
  std::string count;
  const std::string dom = Dom(html_path);
  EXPECT_TRUE(Shown(dom, &count).empty());
  EXPECT_NE(dom.find("Allowed nowhere among the locations asked about."), std::string::npos) << dom;
}

}  // namespace
