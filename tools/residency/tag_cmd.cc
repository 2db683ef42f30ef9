// `residency tag --config FILE [INPUT.jsonl]`: tags one request per input line (docs/tagging.md).
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "commands.h"
#include "residency/tagging.h"

namespace residency::cli {
namespace tg = residency::tagging;

int RunTag(int argc, char** argv) {
  CLI::App app{
      "Tag inference requests, one JSON object per input line (docs/tagging.md).\n"
      "Input lines: {\"headers\": {...}, \"peer\": \"IP\", \"tenant\": \"ID\", "
      "\"payload\": \"...\" | [\"chunk\", ...]}, every field optional.\n"
      "Exit status: 0 every line tagged, 2 bad config or any bad line.",
      "residency tag"};
  std::string config;
  std::string input = "-";
  app.add_option("--config", config, "tagging configuration (kind: tagging)")->required();
  app.add_option("input", input, "JSON-lines requests (default: stdin)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "residency tag: %s%s\n", e.what(),
                 UnknownFlagHint(app, argc, argv).c_str());
    return kExitCannotRun;
  }
  auto plan = tg::TaggerPlan::Load(config);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plan.status().message()).c_str());
    return kExitCannotRun;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::fprintf(stderr, "residency tag: `%s` is a directory, not a file\n", input.c_str());
      return kExitCannotRun;
    }
    errno = 0;
    file.open(input, std::ios::binary);
    if (!file) {
      const int err = errno;
      std::fprintf(stderr, "residency tag: cannot open `%s`: %s\n", input.c_str(),
                   err != 0 ? std::strerror(err) : "unknown reason");
      return kExitCannotRun;
    }
    in = &file;
  }
  tg::TagScratch scratch(*plan);
  std::string line;
  long lineno = 0;
  bool bad = false;
  while (std::getline(*in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    tg::OwnedRequest req;
    const std::string err = tg::ParseRequestLine(line, &req);
    if (!err.empty()) {
      bad = true;
      std::cout << tg::RenderErrorLine(lineno, err) << '\n';
      continue;
    }
    const tg::TagResult r = tg::TagRequest(*plan, req.view(), scratch);
    std::cout << tg::RenderResultLine(r) << '\n';
  }
  if (in->bad()) {
    std::fprintf(stderr, "residency tag: cannot read `%s`\n", input.c_str());
    return kExitCannotRun;
  }
  std::cout.flush();
  return bad ? kExitCannotRun : kExitOk;
}

}  // namespace residency::cli
