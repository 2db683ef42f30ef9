// Small helpers shared by the subcommands.
#ifndef RESIDENCY_TOOLS_RESIDENCY_CLI_UTIL_H_
#define RESIDENCY_TOOLS_RESIDENCY_CLI_UTIL_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "residency/decision.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace residency::cli {

// Reads a whole file (or stdin for "-"), refusing files over `max_bytes`.
absl::StatusOr<std::string> ReadInput(const std::string& path, size_t max_bytes);

// Compiles the policy folder for check/test; prints the first errors to stderr prefixed with
// `prog` and returns null when it fails.
std::shared_ptr<const PolicySnapshot> LoadPolicies(const std::string& prog,
                                                   const std::vector<std::string>& paths);

// " (did you mean `--format`?)" for the first word of argv that looks like a flag `app` does not
// know and is close to one it does; "" otherwise.
std::string UnknownFlagHint(const CLI::App& app, int argc, char** argv);

// Reads and parses the one request at `path` (or stdin for "-") into *request (and its bytes
// into *text); on failure prints one line, `prog: path:line:col: message`, and returns false.
bool ReadRequest(const char* prog, const std::string& path, std::string* text, Request* request);

// Parses --now (RFC 3339) into options->now, or reads the clock once when `now_text` is empty;
// on a bad value prints one line and returns false.
bool SetNow(const char* prog, const std::string& now_text, EvalOptions* options);

// `--lang CODE`: the language of reasons and obligation texts (EvalOptions::lang).
void AddLangOption(CLI::App& app, std::string* lang);

// Runs CLI11 parsing. Returns -1 to continue, else the exit status (help printed: 0; bad
// flags: 2, one line on stderr).
int ParseFlags(CLI::App& app, const char* prog, int argc, char** argv);

}  // namespace residency::cli

#endif  // RESIDENCY_TOOLS_RESIDENCY_CLI_UTIL_H_
