// `residency audit keygen|verify|show|prove` (docs/audit.md).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "residency/audit.h"

namespace residency::cli {
namespace {

constexpr char kUsage[] =
    "usage: residency audit <keygen|verify|show|prove|tiles|witness|witness-keygen|monitor> "
    "[options]\n\n"
    "  keygen --name NAME --out DIR        write DIR/NAME.pem (private) and DIR/NAME.vkey\n"
    "  verify --key K.vkey [--key ...] [--open] [--trusted-checkpoint FILE] [--format json]\n"
    "         DIR|LOG                      verify every log under the path offline\n"
    "  verify --key K.vkey --proof FILE    check one tlog-proof offline\n"
    "  show [--raw | --checkpoints] LOG    records as JSON lines; leaves as base64; notes\n"
    "  prove --index N LOG                 print a c2sp.org/tlog-proof for record N\n"
    "  tiles LOG OUTDIR                    publish LOG as C2SP tlog-tiles under OUTDIR\n"
    "  verify --key K [--witness W ...] [--witnesses-needed K] [--trusted-checkpoint F]\n"
    "         [--checkpoint F] [--no-entries] TILES|URL   verify a published tree\n"
    "  prove --index N --key K TILES|URL   a tlog-proof from tiles\n"
    "  witness-keygen --name NAME --out DIR   a witness key (cosignature/v1 vkey)\n"
    "  witness --key W.pem --log-key K --state DIR [--update] [--out F] TILES|URL\n"
    "                                      cosign a checkpoint consistent with the last one seen\n"
    "  monitor --key K --state FILE TILES|URL...   follow many logs; JSON lines\n\n"
    "verify exits 0 when every log is valid, 1 on findings (invalid, missing, truncated, gap,\n"
    "equivocation), 2 when it could not run.\n";

void Error(const std::string& msg) { std::fprintf(stderr, "residency audit: %s\n", msg.c_str()); }

// A command-line argument as it may be echoed: control characters and bytes outside printable
// ASCII as `\xNN`, at most 200 bytes.
std::string Printable(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// Parses CLI11 flags; returns -1 to go on, else the exit status.
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

int Keygen(int argc, char** argv) {
  CLI::App app("Generate an Ed25519 audit key: NAME.pem (PKCS#8, 0600) and NAME.vkey",
               "residency audit keygen");
  std::string name, out = ".";
  app.add_option("--name", name, "key name (also the files' stem)")->required();
  app.add_option("--out", out, "output directory");
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  std::error_code ec;
  std::filesystem::create_directories(out, ec);  // GenerateAuditKey reports what still fails
  auto vkey = GenerateAuditKey(name, out);
  if (!vkey.ok()) {
    Error(std::string(vkey.status().message()));
    return kExitCannotRun;
  }
  std::printf("%s\n", vkey->c_str());
  return kExitOk;
}

int Verify(int argc, char** argv) {
  CLI::App app("Verify audit logs (or one tlog-proof) offline", "residency audit verify");
  std::vector<std::string> keys, trusted_files;
  std::string path, proof_file, format = "text";
  bool open = false;
  app.add_option("--key", keys, "verifier key file (NAME.vkey) or vkey string; repeatable")
      ->required()
      ->allow_extra_args(false);
  app.add_flag("--open", open, "logs may still be written (no close record is not a gap)");
  app.add_option("--trusted-checkpoint", trusted_files,
                 "checkpoint note kept elsewhere; the log must be consistent with it")
      ->allow_extra_args(false);
  app.add_option("--proof", proof_file, "check this c2sp.org/tlog-proof instead of logs");
  app.add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("path", path, "a log directory or a directory of logs");
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;

  std::vector<std::string> vkeys;
  for (const auto& k : keys) {
    // Names the file and what is wrong with it; never prints its content (a private key given
    // by mistake must not reach the terminal).
    auto vkey = ReadAuditVerifierKey(k);
    if (!vkey.ok()) {
      Error(std::string(vkey.status().message()));
      return kExitCannotRun;
    }
    vkeys.push_back(*std::move(vkey));
  }
  if (!proof_file.empty()) {
    if (!path.empty()) {
      Error("give either --proof FILE or a log path, not both");
      return kExitCannotRun;
    }
    std::string proof;
    if (!ReadFile(proof_file, &proof)) {
      Error("cannot read proof file `" + Printable(proof_file) + "`");
      return kExitCannotRun;
    }
    auto rec = VerifyAuditProof(proof, vkeys);
    if (!rec.ok()) {
      std::string msg(rec.status().message());
      Error("proof `" + Printable(proof_file) + "`: " + msg);
      return msg.rfind("malformed", 0) == 0 || msg.rfind("verifier key", 0) == 0 ? kExitCannotRun
                                                                                 : kExitFindings;
    }
    std::printf("%s\n", rec->c_str());
    return kExitOk;
  }
  if (path.empty()) {
    Error("no log path given (see `residency audit verify --help`)");
    return kExitCannotRun;
  }
  AuditVerifyOptions opts;
  opts.vkeys = vkeys;
  opts.open = open;
  for (const auto& f : trusted_files) {
    std::string note;
    if (!ReadFile(f, &note)) {
      Error("cannot read trusted checkpoint `" + Printable(f) + "`");
      return kExitCannotRun;
    }
    opts.trusted_checkpoints.push_back(note);
  }
  auto report = VerifyAuditLogs(path, opts);
  if (!report.ok()) {
    Error(std::string(report.status().message()));
    return kExitCannotRun;
  }
  size_t valid = 0;
  for (const auto& l : report->logs) valid += l.status == AuditLogStatus::kValid;
  if (format == "json") {
    nlohmann::json out = nlohmann::json::object();
    out["ok"] = report->ok();
    out["logs"] = nlohmann::json::array();
    for (const auto& l : report->logs) {
      nlohmann::json j = {{"path", l.path},
                          {"origin", l.origin},
                          {"status", AuditLogStatusName(l.status)},
                          {"records", l.records},
                          {"checkpoints", l.checkpoints},
                          {"findings", nlohmann::json::array()}};
      for (const auto& f : l.findings) {
        j["findings"].push_back(
            {{"status", AuditLogStatusName(f.status)}, {"kind", f.kind}, {"message", f.message}});
      }
      out["logs"].push_back(j);
    }
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    for (const auto& l : report->logs) {
      if (l.status == AuditLogStatus::kValid) {
        std::printf("%s: valid (%llu records, %llu checkpoints)\n", l.path.c_str(),
                    static_cast<unsigned long long>(l.records),
                    static_cast<unsigned long long>(l.checkpoints));
        continue;
      }
      for (const auto& f : l.findings) {
        std::printf("%s: %s: %s: %s\n", l.path.c_str(), AuditLogStatusName(f.status),
                    f.kind.c_str(), f.message.c_str());
      }
    }
    std::printf("%zu/%zu logs valid\n", valid, report->logs.size());
  }
  return report->ok() ? kExitOk : kExitFindings;
}

int Show(int argc, char** argv) {
  CLI::App app("Show one audit log: records as JSON lines, or raw leaves, or checkpoints",
               "residency audit show");
  std::string log;
  bool raw = false, checkpoints = false;
  app.add_flag("--raw", raw, "every leaf's exact bytes, base64, one per line in index order");
  app.add_flag("--checkpoints", checkpoints,
               "every checkpoint note, each followed by a blank line");
  app.add_option("log", log, "the log directory")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  if (raw && checkpoints) {
    Error("--raw and --checkpoints exclude each other");
    return kExitCannotRun;
  }
  auto out = raw           ? ShowAuditLogRaw(log)
             : checkpoints ? ShowAuditCheckpoints(log)
                           : ShowAuditLog(log);
  if (!out.ok()) {
    Error(std::string(out.status().message()));
    return kExitCannotRun;
  }
  std::fwrite(out->data(), 1, out->size(), stdout);
  return kExitOk;
}

int Prove(int argc, char** argv) {
  CLI::App app("Print a c2sp.org/tlog-proof for one record", "residency audit prove");
  uint64_t index = 0;
  std::string log;
  app.add_option("--index", index, "the record's index")->required();
  app.add_option("log", log, "the log directory")->required();
  if (int rc = Parse(app, argc, argv); rc >= 0) return rc;
  auto proof = ProveAuditRecord(log, index);
  if (!proof.ok()) {
    Error(std::string(proof.status().message()));
    return kExitCannotRun;
  }
  std::fwrite(proof->data(), 1, proof->size(), stdout);
  return kExitOk;
}

}  // namespace

int RunAudit(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "%s", kUsage);
    return kExitCannotRun;
  }
  std::string sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::printf("%s", kUsage);
    return kExitOk;
  }
  // CLI11 sees "residency audit <sub>" as the program name and the rest as arguments.
  // C2SP tiles, witnesses and the monitor: audit_tiles_cmd.cc.
  if (sub == "tiles") return RunAuditTilesPublish(argc - 1, argv + 1);
  if (sub == "witness") return RunAuditWitness(argc - 1, argv + 1);
  if (sub == "witness-keygen") return RunAuditWitnessKeygen(argc - 1, argv + 1);
  if (sub == "monitor") return RunAuditMonitor(argc - 1, argv + 1);
  if ((sub == "verify" || sub == "prove") && IsAuditTilesInvocation(argc - 1, argv + 1)) {
    return sub == "verify" ? RunAuditVerifyTiles(argc - 1, argv + 1)
                           : RunAuditProveTiles(argc - 1, argv + 1);
  }
  if (sub == "keygen") return Keygen(argc - 1, argv + 1);
  if (sub == "verify") return Verify(argc - 1, argv + 1);
  if (sub == "show") return Show(argc - 1, argv + 1);
  if (sub == "prove") return Prove(argc - 1, argv + 1);
  Error("unknown subcommand `" + Printable(sub) +
        "` (keygen, verify, show, prove, tiles, witness, witness-keygen, monitor)");
  return kExitCannotRun;
}

}  // namespace residency::cli
