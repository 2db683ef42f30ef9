// residency explain --policies DIR [REQUEST]: why a request is decided as it is (docs/explain.md).
// The explanation is the library's (include/residency/explain.h).
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/explain.h"

namespace residency::cli {

int RunExplain(int argc, char** argv) {
  CLI::App app{
      "Why a request (JSON or YAML, a file or - for stdin) is decided as it is: the decision, "
      "then every rule that applies, where (artifact, tag, location), and for each place every "
      "alternative and exception tried, with each condition's value and the facts that gave "
      "it (which evidence was missing, outside its window, withdrawn or bound to another "
      "recipient; which fact the request lacks).\n"
      "Exit: as `residency check`: 0 allow or allow_with_obligations, 1 deny, 3 escalate, 2 bad "
      "input.",
      "residency explain"};
  std::string policies_arg, request_path = "-", now_text, format = "text";
  size_t max_units = 64;
  app.add_option("--policies", policies_arg,
                 "policy folder or file with the catalogue; several separated by commas")
      ->required();
  app.add_option("request", request_path, "request file, or - for stdin (default)");
  app.add_option("--now", now_text, "evaluation time (RFC 3339) when the request has no `now`");
  app.add_option("--format", format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--max-places", max_units,
                 "places (artifact, tag, location) shown per rule; the rest are counted "
                 "(default 64)")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  std::string lang;
  AddLangOption(app, &lang);
  if (int rc = ParseFlags(app, "residency explain", argc, argv); rc >= 0) return rc;

  ExplainOptions options;
  options.max_units = max_units;
  options.eval.lang = lang;
  if (!SetNow("residency explain", now_text, &options.eval)) return kExitCannotRun;
  auto snapshot =
      LoadPolicies("residency explain",
                   std::vector<std::string>(absl::StrSplit(policies_arg, ',', absl::SkipEmpty())));
  if (!snapshot) return kExitCannotRun;
  std::string text;
  Request req;
  if (!ReadRequest("residency explain", request_path, &text, &req)) return kExitCannotRun;
  auto e = Explain(*snapshot, req, options);
  if (!e.ok()) {
    std::fprintf(stderr, "residency explain: %s: %s\n", request_path.c_str(),
                 std::string(e.status().message()).c_str());
    return kExitCannotRun;
  }
  std::string out = format == "json" ? ExplanationToJson(*e) + "\n" : ExplanationToText(*e);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return ExitForEffect(e->decision.decision);
}

}  // namespace residency::cli
