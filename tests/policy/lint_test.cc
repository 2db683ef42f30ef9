// LintPolicies: what `residency lint` and Python's residency.lint both run: the catalogue given,
// else the one beside the first path, and the side files of policy folders.
#include "residency/lint.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace residency {
namespace {

const char kPolicy[] =
    "kind: policy\nid: p\nbasis: law\nscope: {always: true}\nrules:\n"
    "  - {id: p.r, citation: c, message: m, when: {classes: [personal]}, effect: allow}\n";

void Write(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

TEST(LintPolicies, TheCatalogueBesideTheFirstFileOrTheOneGiven) {
  testing::TempDir dir;
  const std::filesystem::path root(dir.path());
  Write(root / "a" / "p.yaml", kPolicy);
  Write(root / "a" / "regions.yaml", testing::kTestCatalogue);
  Write(root / "b" / "regions.yaml", testing::kTestCatalogue);
  Write(root / "c" / "p.yaml", kPolicy);

  // A file named alone: the regions.yaml beside it.
  CompileResult beside = LintPolicies({(root / "a" / "p.yaml").string()});
  EXPECT_TRUE(beside.ok()) << (beside.diagnostics.empty()
                                   ? ""
                                   : FormatDiagnostic(beside.diagnostics[0]));
  // None beside it: an error naming the regions.yaml it looked for.
  CompileResult none = LintPolicies({(root / "c" / "p.yaml").string()});
  EXPECT_FALSE(none.ok());
  bool named = false;
  for (const auto& d : none.diagnostics)
    named |= FormatDiagnostic(d).find("regions.yaml") != std::string::npos;
  EXPECT_TRUE(named) << FormatDiagnostic(none.diagnostics.at(0));
  // The one given.
  CompileResult given =
      LintPolicies({(root / "c" / "p.yaml").string()}, (root / "b" / "regions.yaml").string());
  EXPECT_TRUE(given.ok());
}

TEST(LintPolicies, SideFilesOfAFolderAreCheckedToo) {
  testing::TempDir dir;
  const std::filesystem::path root(dir.path());
  Write(root / "p.yaml", kPolicy);
  Write(root / "regions.yaml", testing::kTestCatalogue);
  Write(root / "tests" / "broken.yaml", "kind: tests\ncases: [\n");
  CompileResult r = LintPolicies({root.string()});
  ASSERT_NE(r.snapshot, nullptr);  // the folder's top level compiles
  EXPECT_GE(CountErrors(r.diagnostics), 1);
  bool named = false;
  for (const auto& d : r.diagnostics) named |= d.file.find("broken.yaml") != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace residency
