// `residency audit tiles|verify (tiles)|prove (tiles)|witness|witness-keygen|monitor`: the audit
// log as C2SP tiles, witnesses and a fleet monitor (docs/audit.md). Reached from RunAudit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "commands.h"
#include "residency/audit.h"
#include "residency/audit_tiles.h"

namespace residency::cli {
namespace {

void Error(const std::string& msg) { std::fprintf(stderr, "residency audit: %s\n", msg.c_str()); }

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

int Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    Error(e.what());
    return kExitCannotRun;
  }
  return -1;
}

// A key given as a file (NAME.vkey) or inline; false when neither.
bool LoadKeys(const std::vector<std::string>& in, std::vector<std::string>* out) {
  for (const auto& k : in) {
    std::string text;
    if (ReadText(k, &text)) {
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
        text.pop_back();
      }
      out->push_back(text);
    } else if (k.find('+') != std::string::npos) {
      out->push_back(k);
    } else {
      Error("cannot read key file `" + k + "`");
      return false;
    }
  }
  return true;
}

bool IsTilesLocation(const std::string& p) {
  if (p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0) return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(p + "/checkpoint", ec) &&
         std::filesystem::is_directory(p + "/tile", ec);
}

void PrintReport(const AuditLogReport& l, const std::string& format) {
  if (format == "json") {
    nlohmann::json j = {{"ok", l.status == AuditLogStatus::kValid},
                        {"logs", nlohmann::json::array()}};
    nlohmann::json log = {{"path", l.path},
                          {"origin", l.origin},
                          {"status", AuditLogStatusName(l.status)},
                          {"records", l.records},
                          {"checkpoints", l.checkpoints},
                          {"findings", nlohmann::json::array()}};
    for (const auto& f : l.findings) {
      log["findings"].push_back(
          {{"status", AuditLogStatusName(f.status)}, {"kind", f.kind}, {"message", f.message}});
    }
    j["logs"].push_back(log);
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  if (l.status == AuditLogStatus::kValid) {
    std::printf("%s: valid (%llu records, %llu checkpoints)\n", l.path.c_str(),
                static_cast<unsigned long long>(l.records),
                static_cast<unsigned long long>(l.checkpoints));
  }
  for (const auto& f : l.findings) {
    std::printf("%s: %s: %s: %s\n", l.path.c_str(), AuditLogStatusName(f.status), f.kind.c_str(),
                f.message.c_str());
  }
  std::printf("%d/1 logs valid\n", l.status == AuditLogStatus::kValid ? 1 : 0);
}

}  // namespace

bool IsAuditTilesInvocation(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--witness" || a == "--witnesses-needed" || a == "--checkpoint" ||
        a == "--no-entries" || a.rfind("--witness=", 0) == 0) {
      return true;
    }
    if (!a.empty() && a[0] != '-' && IsTilesLocation(a)) return true;
  }
  return false;
}

int RunAuditTilesPublish(int argc, char** argv) {
  CLI::App app("Build or bring up to date the C2SP tiles of an audit log", "residency audit tiles");
  std::string log, out;
  app.add_option("log", log, "the log directory")->required();
  app.add_option("out", out, "the tiles directory (created when missing)")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  auto size = PublishAuditTiles(log, out);
  if (!size.ok()) {
    Error(std::string(size.status().message()));
    return kExitCannotRun;
  }
  std::printf("%s: published %llu records\n", out.c_str(), static_cast<unsigned long long>(*size));
  return kExitOk;
}

int RunAuditVerifyTiles(int argc, char** argv) {
  CLI::App app("Verify a published tiles tree (directory or http(s):// URL)",
               "residency audit verify");
  std::vector<std::string> keys, witnesses, trusted_files;
  std::string location, checkpoint_file, format = "text";
  int needed = -1;
  bool no_entries = false, open = false;
  app.add_option("--key", keys, "the log's verifier key (NAME.vkey or vkey); repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--witness", witnesses,
                 "a witness's cosigner key (vkey file or string); repeatable")
      ->allow_extra_args(false);
  app.add_option("--witnesses-needed", needed, "cosignatures needed (default: every --witness)");
  app.add_option("--trusted-checkpoint", trusted_files,
                 "checkpoint note kept elsewhere; the tree must be consistent with it")
      ->allow_extra_args(false);
  app.add_option("--checkpoint", checkpoint_file,
                 "check this checkpoint note (e.g. a cosigned one) instead of the published one");
  app.add_flag("--no-entries", no_entries,
               "check only the checkpoint, cosignatures and consistency (a few tiles)");
  app.add_flag("--open", open,
               "accepted for symmetry with log directories (tiles are always open)");
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("location", location, "a tiles directory or an http(s):// base URL")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  AuditTilesVerifyOptions opts;
  if (!LoadKeys(keys, &opts.vkeys) || !LoadKeys(witnesses, &opts.witness_vkeys)) {
    return kExitCannotRun;
  }
  opts.witnesses_needed = needed;
  opts.entries = !no_entries;
  for (const auto& f : trusted_files) {
    std::string note;
    if (!ReadText(f, &note)) {
      Error("cannot read trusted checkpoint `" + f + "`");
      return kExitCannotRun;
    }
    opts.trusted_checkpoints.push_back(note);
  }
  if (!checkpoint_file.empty() && !ReadText(checkpoint_file, &opts.checkpoint)) {
    Error("cannot read checkpoint `" + checkpoint_file + "`");
    return kExitCannotRun;
  }
  auto report = VerifyAuditTiles(location, opts);
  if (!report.ok()) {
    Error(std::string(report.status().message()));
    return kExitCannotRun;
  }
  PrintReport(*report, format);
  return report->status == AuditLogStatus::kValid ? kExitOk : kExitFindings;
}

int RunAuditProveTiles(int argc, char** argv) {
  CLI::App app("Print a c2sp.org/tlog-proof for one record, from tiles", "residency audit prove");
  uint64_t index = 0;
  std::string location;
  std::vector<std::string> keys;
  app.add_option("--index", index, "the record's index")->required();
  app.add_option("--key", keys, "the log's verifier key (checks the checkpoint)")
      ->required()
      ->allow_extra_args(false);
  app.add_option("location", location, "a tiles directory or URL")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  std::vector<std::string> vkeys;
  if (!LoadKeys(keys, &vkeys)) return kExitCannotRun;
  auto proof = ProveAuditRecordFromTiles(location, index, vkeys);
  if (!proof.ok()) {
    Error(std::string(proof.status().message()));
    return kExitCannotRun;
  }
  std::fwrite(proof->data(), 1, proof->size(), stdout);
  return kExitOk;
}

int RunAuditWitnessKeygen(int argc, char** argv) {
  CLI::App app("Generate a witness (cosigner) key: NAME.pem and NAME.vkey (cosignature/v1)",
               "residency audit witness-keygen");
  std::string name, out = ".";
  app.add_option("--name", name, "the witness's name (a schema-less URL is usual)")->required();
  app.add_option("--out", out, "output directory");
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  auto vkey = GenerateWitnessKey(name, out);
  if (!vkey.ok()) {
    Error(std::string(vkey.status().message()));
    return kExitCannotRun;
  }
  std::printf("%s\n", vkey->c_str());
  return kExitOk;
}

int RunAuditWitness(int argc, char** argv) {
  CLI::App app("Cosign a log's checkpoint if it is consistent with the last one seen",
               "residency audit witness");
  AuditWitnessOptions opts;
  std::vector<std::string> log_keys;
  std::string location, out_file;
  bool update = false;
  app.add_option("--key", opts.key_file, "the witness's private key (NAME.pem)")->required();
  app.add_option("--log-key", log_keys, "verifier key of a log it witnesses; repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--state", opts.state_dir, "state directory (one file per log origin)")
      ->required();
  app.add_option("--out", out_file, "write the cosigned checkpoint here (default: stdout)");
  app.add_flag("--update", update,
               "add the cosignature to the tiles directory's checkpoint if it is still the one "
               "cosigned");
  app.add_option("location", location, "a tiles directory or URL")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  if (!LoadKeys(log_keys, &opts.log_vkeys)) return kExitCannotRun;
  auto note = WitnessAuditCheckpoint(location, opts, absl::Now());
  if (!note.ok()) {
    Error(std::string(note.status().message()));
    return absl::IsFailedPrecondition(note.status()) || absl::IsPermissionDenied(note.status())
               ? kExitFindings
               : kExitCannotRun;
  }
  if (update) {
    // Append our line to the current note when its body is still the one we cosigned.
    const std::string path = location + "/checkpoint";
    std::string current;
    const size_t body_end = note->find("\n\n");
    if (!ReadText(path, &current) || body_end == std::string::npos ||
        current.compare(0, body_end + 2, *note, 0, body_end + 2) != 0) {
      Error("checkpoint `" + path + "` changed since it was cosigned; not updated");
      return kExitCannotRun;
    }
    const std::string line = note->substr(note->rfind("\xE2\x80\x94 "));
    const std::string tmp = location + "/.checkpoint.witness.tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << current << line;
      if (!o.flush()) {
        Error("cannot write `" + tmp + "`");
        return kExitCannotRun;
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      Error("cannot replace `" + path + "`: " + ec.message());
      return kExitCannotRun;
    }
  }
  if (out_file.empty()) {
    std::fwrite(note->data(), 1, note->size(), stdout);
  } else {
    std::ofstream o(out_file, std::ios::binary | std::ios::trunc);
    o << *note;
    if (!o.flush()) {
      Error("cannot write `" + out_file + "`");
      return kExitCannotRun;
    }
  }
  return kExitOk;
}

int RunAuditMonitor(int argc, char** argv) {
  CLI::App app("Follow many published logs; report findings and summaries as JSON lines",
               "residency audit monitor");
  AuditMonitorOptions opts;
  std::vector<std::string> keys, locations;
  app.add_option("--key", keys, "a log verifier key; repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--state", opts.state_file, "state file (last verified checkpoint per origin)")
      ->required();
  app.add_option("locations", locations, "tiles directories or URLs")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  if (!LoadKeys(keys, &opts.vkeys)) return kExitCannotRun;
  std::string out;
  auto findings = MonitorAuditLogs(locations, opts, &out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!findings.ok()) {
    Error(std::string(findings.status().message()));
    return kExitCannotRun;
  }
  return *findings == 0 ? kExitOk : kExitFindings;
}

}  // namespace residency::cli
