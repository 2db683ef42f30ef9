// The example requests say in their comments what `check`, `explain` and `where` give for them:
//   # Expected decision: EFFECT[, by RULE (note) and RULE ...].
//   # Explain: RULE at PLACE: EFFECT          (one line per reason; PLACE as explain prints it)
//   # Where: allowed at N locations, LOCATION first   |   # Where: allowed nowhere ...
// This test keeps the comments and the engine in step.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "residency/explain.h"
#include "residency/where.h"

namespace residency {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Consume(std::string* line, const std::string& prefix) {
  if (line->compare(0, prefix.size(), prefix) != 0) return false;
  line->erase(0, prefix.size());
  return true;
}

// The block of `text` that explains `rule`: from its header line to the next empty line.
std::string RuleBlock(const std::string& text, const std::string& rule) {
  for (absl::string_view block : absl::StrSplit(text, "\n\n")) {
    std::string_view first = std::string_view(block.data(), block.size());
    first = first.substr(0, first.find('\n'));
    if (absl::StrContains(absl::string_view(first.data(), first.size()),
                          absl::StrCat("  ", rule, "  ("))) {
      return std::string(block);
    }
  }
  return "";
}

TEST(ExampleComments, MatchCheckExplainAndWhere) {
  const std::filesystem::path dir =
      std::filesystem::path(RESIDENCY_SOURCE_DIR) / "examples" / "requests";
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  ASSERT_TRUE(snap.ok()) << snap.status();
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().filename().string());
    const std::string text = Slurp(entry.path());
    auto req = ParseRequest(text);
    ASSERT_TRUE(req.ok()) << req.status();
    auto e = Explain(**snap, *req);
    ASSERT_TRUE(e.ok()) << e.status();
    const Decision& d = e->decision;
    const std::string explained = ExplanationToText(*e);
    auto where = AllowedLocations(**snap, *req);
    ASSERT_TRUE(where.ok()) << where.status();

    bool expected = false, where_said = false;
    std::set<std::string> explain_rules;
    for (absl::string_view piece : absl::StrSplit(text, '\n')) {
      std::string line(piece);
      if (Consume(&line, "# Expected decision: ")) {
        expected = true;
        // EFFECT, then the rule ids named after "by" (notes in parentheses left out).
        std::string effect, rest;
        ASSERT_TRUE(RE2::FullMatch(line, R"(([a-z_]+)[.,]?\s*(.*))", &effect, &rest)) << line;
        EXPECT_EQ(effect, EffectName(d.decision));
        RE2::GlobalReplace(&rest, R"(\([^)]*\))", "");
        std::set<std::string> named, reasons;
        re2::StringPiece in(rest);
        std::string id;
        while (RE2::FindAndConsume(&in, R"(([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+))", &id)) {
          named.insert(id);
        }
        for (const Reason& r : d.reasons) reasons.insert(std::string(r.rule()));
        EXPECT_EQ(named, reasons) << line;
      } else if (Consume(&line, "# Explain: ")) {
        std::string rule, place, effect;
        ASSERT_TRUE(RE2::FullMatch(line, R"((\S+) at (.*): ([a-z_]+))", &rule, &place, &effect))
            << line;
        explain_rules.insert(rule);
        const std::string block = RuleBlock(explained, rule);
        ASSERT_FALSE(block.empty()) << rule << " is not explained:\n" << explained;
        EXPECT_TRUE(absl::StrContains(block, absl::StrCat("\n  at ", place, ": ", effect, "\n")))
            << line << "\n"
            << block;
      } else if (Consume(&line, "# Where: ")) {
        where_said = true;
        if (absl::StartsWith(line, "allowed nowhere")) {
          EXPECT_TRUE(where->allowed.empty()) << line;
          continue;
        }
        std::string count, first;
        ASSERT_TRUE(
            RE2::FullMatch(line, R"(allowed at (\d+) locations?, (\S+) first)", &count, &first))
            << line;
        EXPECT_EQ(count, std::to_string(where->allowed.size())) << line;
        ASSERT_FALSE(where->allowed.empty());
        EXPECT_EQ(first, where->allowed[0].location) << line;
      }
    }
    EXPECT_TRUE(expected) << "no `# Expected decision:` line";
    EXPECT_TRUE(where_said) << "no `# Where:` line";
    std::set<std::string> reasons;
    for (const Reason& r : d.reasons) reasons.insert(std::string(r.rule()));
    EXPECT_EQ(explain_rules, reasons) << "one `# Explain:` line per reason";
  }
  EXPECT_GE(files, 10);
}

}  // namespace
}  // namespace residency
