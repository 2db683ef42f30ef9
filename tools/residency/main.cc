// `residency`: one binary, one subcommand per task (README.md, "What it does").
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "commands.h"
#include "residency/util.h"
#include "residency/version.h"

namespace residency::cli {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"lint", "parse, validate and lint policy files", RunLint},
    {"check", "decide one request or a batch against a policy set", RunCheck},
    {"test", "run YAML policy test cases", RunTest},
    {"tag", "tag inference requests (headers, peer IP, payload)", RunTag},
    {"audit", "audit keys, offline verification, dump and inclusion proofs", RunAudit},
    {"diff", "what a policy change widens or narrows", RunDiff},
    {"explain", "why a request is decided as it is: every rule, alternative and fact", RunExplain},
    {"where", "every location where a request may go", RunWhere},
#ifdef RESIDENCY_HAVE_SERVE
    {"serve", "decision service for gateways (Envoy ext_authz, nginx, JSON)", RunServe},
#endif
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: residency <command> [options]\n\n"
               "Data-residency and data-sovereignty policy for AI workloads.\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-7s %s\n", c.name, c.summary);
  }
  std::fprintf(out,
               "\n`residency <command> --help` describes a command.\n"
               "Exit status: 0 ok, 1 findings or deny, 2 could not run (bad input), 3 escalate.\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return kExitCannotRun;
  }
  const char* name = argv[1];
  if (!std::strcmp(name, "--help") || !std::strcmp(name, "-h") || !std::strcmp(name, "help")) {
    PrintUsage(stdout);
    return kExitOk;
  }
  if (!std::strcmp(name, "--version")) {
    std::printf("residency %s\n", kVersionString);
    return kExitOk;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(c.name, name) != 0) continue;
    return c.run(argc - 1, argv + 1);
  }
  std::vector<std::string> names;
  for (const Command& c : kCommands) names.emplace_back(c.name);
  std::fprintf(stderr, "residency: unknown command `%s`%s (see `residency --help`)\n", name,
               DidYouMeanSuffix(name, names).c_str());
  return kExitCannotRun;
}

}  // namespace
}  // namespace residency::cli

int main(int argc, char** argv) {
  try {
    return residency::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "residency: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "residency: internal error\n");
  }
  return residency::cli::kExitCannotRun;
}
