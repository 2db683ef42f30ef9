#include "cli_util.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "commands.h"
#include "residency/util.h"

namespace residency::cli {

absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes) {
  std::string data;
  auto read_stream = [&](std::istream& in) -> absl::Status {
    char buf[1 << 16];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
      data.append(buf, static_cast<size_t>(in.gcount()));
      if (data.size() > max_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": input exceeds ", max_bytes, " bytes"));
      }
    }
    return absl::OkStatus();
  };
  if (path == "-") {
    absl::Status s = read_stream(std::cin);
    if (!s.ok()) return s;
    return data;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open: ", err != 0 ? std::strerror(err) : "unknown reason"));
  }
  absl::Status s = read_stream(in);
  if (s.ok() && in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  if (!s.ok()) return s;
  return data;
}

std::shared_ptr<const PolicySnapshot> LoadPolicies(const std::string& prog,
                                                   const std::vector<std::string>& paths) {
  CompileResult r = CompilePolicies(paths);
  if (r.snapshot) return r.snapshot;
  int shown = 0;
  for (const auto& d : r.diagnostics) {
    if (d.severity != Diagnostic::Severity::kError) continue;
    if (++shown > 5) break;
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), FormatDiagnostic(d).c_str());
  }
  if (shown == 0) std::fprintf(stderr, "%s: policies could not be compiled\n", prog.c_str());
  return nullptr;
}

std::string UnknownFlagHint(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> known;
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) known.push_back("--" + l);
    for (const auto& s : o->get_snames()) known.push_back("-" + s);
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") continue;
    arg = arg.substr(0, arg.find('='));
    if (std::find(known.begin(), known.end(), arg) != known.end()) continue;
    std::string hint = DidYouMeanSuffix(arg, known);
    if (!hint.empty()) return hint;
  }
  return "";
}

int ParseFlags(CLI::App& app, const char* prog, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::fputs(app.help().c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "%s: %s%s\n", prog, e.what(), UnknownFlagHint(app, argc, argv).c_str());
    return kExitCannotRun;
  }
  return -1;
}

bool ReadRequest(const char* prog, const std::string& path, std::string* text, Request* request) {
  auto read = ReadInput(path, RequestLimits().max_bytes);
  if (!read.ok()) {
    std::fprintf(stderr, "%s: %s\n", prog, std::string(read.status().message()).c_str());
    return false;
  }
  *text = std::move(*read);
  auto req = ParseRequest(*text);
  if (!req.ok()) {
    std::string msg(req.status().message());
    bool positioned = !msg.empty() && msg[0] >= '0' && msg[0] <= '9';
    std::fprintf(stderr, "%s: %s:%s%s\n", prog, path.c_str(), positioned ? "" : " ", msg.c_str());
    return false;
  }
  *request = std::move(*req);
  return true;
}

void AddLangOption(CLI::App& app, std::string* lang) {
  app.add_option("--lang", *lang,
                 "language of messages, citations and obligation texts where the policies give "
                 "them (`ko`); default English")
      ->check(CLI::Validator(
          [](const std::string& v) -> std::string {
            return IsLanguageCode(v) ? std::string()
                                     : "want a language code of two or three lower-case letters";
          },
          "CODE"));
}

bool SetNow(const char* prog, const std::string& now_text, EvalOptions* options) {
  if (now_text.empty()) {
    options->now = absl::Now();  // read once
    return true;
  }
  auto t = ParseTimestamp(now_text);
  if (!t.ok()) {
    std::fprintf(stderr, "%s: --now: %s\n", prog, std::string(t.status().message()).c_str());
    return false;
  }
  options->now = *t;
  return true;
}

}  // namespace residency::cli
