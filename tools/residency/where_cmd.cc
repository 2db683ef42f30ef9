// residency where --policies DIR [REQUEST]: every catalogue location where the request may go
// (docs/where.md). The search is in the library (include/residency/where.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli_util.h"
#include "commands.h"
#include "residency/util.h"
#include "residency/where.h"

namespace residency::cli {
namespace {

std::string Text(const Placements& p, bool filtered) {
  std::string out;
  if (p.allowed.empty()) {
    out = filtered ? "allowed nowhere among the locations asked about"
                   : "allowed nowhere in the region catalogue";
  } else {
    absl::StrAppend(&out, "allowed at ", p.allowed.size(),
                    p.allowed.size() == 1 ? " location" : " locations");
  }
  absl::StrAppend(&out, " (now ", FormatTimestamp(p.now), ", policies ",
                  p.policy_digest.substr(0, 19), ")\n");
  size_t width = 0;
  for (const auto& a : p.allowed) width = std::max(width, a.location.size());
  for (const auto& a : p.allowed) {
    absl::StrAppend(&out, "  ", a.location, std::string(width + 2 - a.location.size(), ' '),
                    a.country, "  ", EffectName(a.effect));
    if (!a.site.empty() && a.site != "public") absl::StrAppend(&out, "  site: ", a.site);
    if (!a.reserved_for.empty()) absl::StrAppend(&out, " (for ", a.reserved_for, ")");
    if (!a.obligations.empty()) {
      std::vector<std::string> ids;
      for (const auto& ob : a.obligations)
        ids.push_back(std::string(ob.policy()) + "/" + std::string(ob.id()));
      absl::StrAppend(&out, "\n", std::string(width + 4, ' '),
                      "obligations: ", absl::StrJoin(ids, ", "));
    }
    out += '\n';
  }
  return out;
}

}  // namespace

int RunWhere(int argc, char** argv) {
  CLI::App app{
      "Every catalogue location where a request (JSON or YAML, a file or - for stdin) may go: "
      "its placement (a dataset's or model's destination, a compute job's location) is moved to "
      "each location and the request decided there; inputs, outputs and lineage stay where "
      "they are. Listed with the effect and the obligations at each, the placement's own "
      "provider and country first, then its provider, its country, the rest. Sector clouds "
      "(government and financial sites) are left out unless the operator is in their sector.\n"
      "Exit: 0 allowed somewhere, 1 allowed nowhere, 2 bad input.",
      "residency where"};
  std::string policies_arg, request_path = "-", now_text, format = "text";
  std::vector<std::string> providers, countries;
  bool include_escalate = false, include_reserved = false;
  app.add_option("--policies", policies_arg,
                 "policy folder or file with the catalogue; several separated by commas")
      ->required();
  app.add_option("request", request_path, "request file, or - for stdin (default)");
  // One value per flag: `--country KR file.json` leaves the file to the positional argument.
  app.add_option("--provider", providers, "only this provider's locations (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--country", countries,
                 "only locations in this country or catalogue group (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("--include-escalate", include_escalate,
               "also list where the request would escalate (a person must approve)");
  app.add_flag("--include-reserved", include_reserved,
               "also list sector clouds whose sector the operator is not in");
  app.add_option("--now", now_text, "evaluation time (RFC 3339) when the request has no `now`");
  app.add_option("--format", format,
                 "text (default), json, or html (one self-contained page: a grid by country and "
                 "provider, coloured by effect, obligations on hover)")
      ->check(CLI::IsMember({"text", "json", "html"}));
  std::string lang;
  AddLangOption(app, &lang);
  if (int rc = ParseFlags(app, "residency where", argc, argv); rc >= 0) return rc;

  EvalOptions options;
  options.lang = lang;
  if (!SetNow("residency where", now_text, &options)) return kExitCannotRun;
  auto snapshot =
      LoadPolicies("residency where",
                   std::vector<std::string>(absl::StrSplit(policies_arg, ',', absl::SkipEmpty())));
  if (!snapshot) return kExitCannotRun;
  std::string text;
  Request req;
  if (!ReadRequest("residency where", request_path, &text, &req)) return kExitCannotRun;
  WhereOptions where;
  where.providers = providers;
  where.countries = countries;
  where.include_escalate = include_escalate;
  where.include_reserved = include_reserved;
  auto placements = AllowedLocations(*snapshot, req, where, options);
  if (!placements.ok()) {
    std::fprintf(stderr, "residency where: %s: %s\n", request_path.c_str(),
                 std::string(placements.status().message()).c_str());
    return kExitCannotRun;
  }
  std::string out =
      format == "json" ? PlacementsToJson(*placements) + "\n"
      : format == "html"
          ? PlacementsToHtml(*placements,
                             request_path == "-"
                                 ? std::string()
                                 : std::filesystem::path(request_path).filename().string())
          : Text(*placements, !providers.empty() || !countries.empty());
  std::fwrite(out.data(), 1, out.size(), stdout);
  return placements->allowed.empty() ? kExitFindings : kExitOk;
}

}  // namespace residency::cli
