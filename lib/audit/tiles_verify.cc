// Verification of a published tiles tree (directory or HTTP), inclusion proofs from tiles, and
// `residency audit tiles` (publishing an existing log).
#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "audit/record.h"
#include "audit/tiles.h"
#include "audit/verify.h"
#include "audit/witness.h"
#include "internal/status_macros.h"
#include "residency/audit_tiles.h"

namespace residency {
namespace {

using audit::Hash;

void Add(AuditLogReport* r, AuditLogStatus st, std::string kind, std::string msg) {
  audit::AddFinding(r, st, std::move(kind), std::move(msg));
}

// A fetch failure as a finding: a missing resource is "tile missing", bad bytes "malformed".
void AddFetch(AuditLogReport* r, const absl::Status& s) {
  if (absl::IsNotFound(s)) {
    Add(r, AuditLogStatus::kInvalid, "tile missing", std::string(s.message()));
  } else if (absl::IsUnavailable(s)) {
    Add(r, AuditLogStatus::kMissing, "unreachable", std::string(s.message()));
  } else {
    Add(r, AuditLogStatus::kInvalid, "malformed", std::string(s.message()));
  }
}

// Every entry against the level-0 tiles, every higher tile against the tiles below it, the root
// against the checkpoint. Stops at the first damage.
// Entries before bundle `first` are not read (a monitor has seen them; the level-1 hashes that
// stand for them are bound to the signed root through the levels above). `on_entry` sees every
// entry read, in order.
void CheckTree(audit::TileReader* reader, const audit::Checkpoint& cp, AuditLogReport* r,
               uint64_t first = 0,
               const std::function<void(uint64_t, std::string_view)>& on_entry = nullptr) {
  const uint64_t size = cp.size;
  audit::TreeHasher hasher;
  std::vector<Hash> computed;  // hashes of the level above, from full tiles below
  const uint64_t bundles = (size + audit::kTileWidth - 1) / audit::kTileWidth;
  computed.reserve(bundles - std::min(first, bundles));
  std::string storage;
  for (uint64_t n = first; n < bundles; ++n) {
    auto tile = reader->Tile(0, n);
    if (!tile.ok()) return AddFetch(r, tile.status());
    auto entries = reader->Entries(n, &storage);
    if (!entries.ok()) return AddFetch(r, entries.status());
    const std::vector<Hash>& t = **tile;
    for (size_t i = 0; i < entries->size(); ++i) {
      if (hasher.Leaf((*entries)[i]) != t[i]) {
        const uint32_t w = audit::TileWidth(0, n, size);
        return Add(
            r, AuditLogStatus::kInvalid, "bit flip",
            absl::StrCat("entry ", n * audit::kTileWidth + i, " in `", audit::EntriesPath(n, w),
                         "` does not hash to its leaf in `", audit::TilePath(0, n, w), "`"));
      }
      if (on_entry) on_entry(n * audit::kTileWidth + i, (*entries)[i]);
    }
    if (t.size() == audit::kTileWidth) {
      computed.push_back(audit::SubtreeRoot(t, 0, audit::kTileWidth, &hasher));
    }
    reader->Forget(0, n);
  }
  for (int l = 1; l * audit::kTileHeight < 64 && (size >> (audit::kTileHeight * l)) > 0; ++l) {
    std::vector<Hash> next;
    const uint64_t tiles =
        ((size >> (audit::kTileHeight * l)) + audit::kTileWidth - 1) / audit::kTileWidth;
    for (uint64_t n = 0; n < tiles; ++n) {
      auto tile = reader->Tile(l, n);
      if (!tile.ok()) return AddFetch(r, tile.status());
      const std::vector<Hash>& t = **tile;
      for (size_t i = 0; i < t.size(); ++i) {
        const uint64_t j = n * audit::kTileWidth + i;
        const uint64_t base = l == 1 ? first : 0;
        if (j >= base && t[i] != computed[j - base]) {
          return Add(r, AuditLogStatus::kInvalid, "bit flip",
                     absl::StrCat("hash ", i, " of `",
                                  audit::TilePath(l, n, static_cast<uint32_t>(t.size())),
                                  "` is not the root of the tile below it"));
        }
      }
      if (t.size() == audit::kTileWidth) {
        next.push_back(audit::SubtreeRoot(t, 0, audit::kTileWidth, &hasher));
      }
    }
    computed = std::move(next);
  }
  if (size == 0) {
    if (cp.root != audit::TreeHasher::Empty()) {
      Add(r, AuditLogStatus::kInvalid, "root mismatch", "empty tree with a non-empty root");
    }
    return;
  }
  auto root = reader->RangeHash(0, size);
  if (!root.ok()) return AddFetch(r, root.status());
  if (*root != cp.root) {
    Add(r, AuditLogStatus::kInvalid, "root mismatch",
        absl::StrCat("the tiles' root is not the root of checkpoint ",
                     audit::DescribeCheckpoint(cp)));
  }
}

}  // namespace

absl::StatusOr<uint64_t> PublishAuditTiles(const std::string& log_dir, const std::string& out_dir) {
  RESIDENCY_ASSIGN_OR_RETURN(auto store, audit::OpenDirTileStore(out_dir));
  RESIDENCY_ASSIGN_OR_RETURN(
      auto writer, audit::CatchUpTiles(audit::PosixFileSystem(), log_dir, store.get(), false));
  return writer->published_size();
}

absl::StatusOr<AuditLogReport> VerifyAuditTiles(const std::string& location,
                                                const AuditTilesVerifyOptions& options) {
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, audit::LoadVerifierKeys(options.vkeys));
  std::vector<const audit::NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  std::vector<audit::CosignerKey> witnesses;
  for (const auto& v : options.witness_vkeys) {
    RESIDENCY_ASSIGN_OR_RETURN(audit::CosignerKey k, audit::ParseCosignerVkey(v));
    witnesses.push_back(std::move(k));
  }
  const int needed =
      options.witnesses_needed < 0 ? static_cast<int>(witnesses.size()) : options.witnesses_needed;
  if (needed > static_cast<int>(witnesses.size())) {
    return absl::InvalidArgumentError(absl::StrCat("--witnesses-needed ", needed, " but only ",
                                                   witnesses.size(), " witness keys given"));
  }
  AuditLogReport r;
  r.path = location;
  auto source = audit::OpenTileSource(location);
  if (!source.ok()) {
    Add(&r, AuditLogStatus::kMissing, "missing", std::string(source.status().message()));
    return r;
  }
  std::string note = options.checkpoint;
  if (note.empty()) {
    auto got = (*source)->Get(audit::kTilesCheckpointFile);
    if (!got.ok()) {
      Add(&r, AuditLogStatus::kMissing, "missing", std::string(got.status().message()));
      return r;
    }
    note = *std::move(got);
  }
  auto fc = audit::ParseSignedCheckpoint(note, keys);
  if (!fc.ok()) {
    const bool sig = absl::IsPermissionDenied(fc.status());
    const bool unknown =
        std::string(fc.status().message()).find("not signed by") != std::string::npos;
    Add(&r, AuditLogStatus::kInvalid,
        !sig      ? "malformed"
        : unknown ? "wrong key"
                  : "bad signature",
        absl::StrCat("checkpoint: ", std::string(fc.status().message())));
    return r;
  }
  r.origin = fc->cp.origin;
  r.records = fc->cp.size;
  r.checkpoints = 1;
  audit::TileReader reader(source->get(), fc->cp.size);
  if (options.entries) CheckTree(&reader, fc->cp, &r);
  for (const auto& t : options.trusted_checkpoints) {
    auto old = audit::ParseSignedCheckpoint(t, keys);
    if (!old.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted checkpoint: ", std::string(old.status().message())));
    }
    absl::Status s = audit::CheckConsistent(&reader, old->cp, fc->cp);
    if (s.ok()) {
      ++r.checkpoints;
      continue;
    }
    const std::string msg(s.message());
    if (msg.rfind("rollback", 0) == 0) {
      Add(&r, AuditLogStatus::kTruncated, "rollback", msg);
    } else if (msg.rfind("fork", 0) == 0) {
      Add(&r, AuditLogStatus::kEquivocation, "equivocation", msg);
    } else {
      AddFetch(&r, s);
    }
  }
  if (!witnesses.empty()) {
    int valid = 0;
    std::vector<std::string> missing;
    for (const auto& w : witnesses) {
      switch (audit::VerifyCosignature(fc->parsed, w)) {
        case audit::CosignatureVerdict::kValid:
          ++valid;
          break;
        case audit::CosignatureVerdict::kBad:
          Add(&r, AuditLogStatus::kInvalid, "bad cosignature",
              absl::StrCat("witness `", w.name, "`'s cosignature does not verify"));
          break;
        case audit::CosignatureVerdict::kAbsent:
          missing.push_back(w.name);
          break;
      }
    }
    if (valid < needed) {
      Add(&r, AuditLogStatus::kInvalid, "witnesses",
          absl::StrCat("checkpoint ", audit::DescribeCheckpoint(fc->cp), " has ", valid, " of ",
                       needed, " needed witness cosignatures (none from ",
                       absl::StrJoin(missing, ", "), ")"));
    }
  }
  return r;
}

absl::StatusOr<std::string> ProveAuditRecordFromTiles(const std::string& location, uint64_t index,
                                                      const std::vector<std::string>& vkeys) {
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, audit::LoadVerifierKeys(vkeys));
  std::vector<const audit::NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  RESIDENCY_ASSIGN_OR_RETURN(auto source, audit::OpenTileSource(location));
  RESIDENCY_ASSIGN_OR_RETURN(std::string note, source->Get(audit::kTilesCheckpointFile));
  RESIDENCY_ASSIGN_OR_RETURN(audit::FetchedCheckpoint fc, audit::ParseSignedCheckpoint(note, keys));
  if (index >= fc.cp.size) {
    return absl::OutOfRangeError(
        absl::StrCat("record ", index, " is not in checkpoint ", audit::DescribeCheckpoint(fc.cp)));
  }
  audit::TileReader reader(source.get(), fc.cp.size);
  std::string storage;
  RESIDENCY_ASSIGN_OR_RETURN(auto entries, reader.Entries(index / audit::kTileWidth, &storage));
  const std::string entry(entries[index % audit::kTileWidth]);
  RESIDENCY_ASSIGN_OR_RETURN(std::vector<Hash> path, reader.InclusionProof(index, fc.cp.size));
  std::string out = absl::StrCat("c2sp.org/tlog-proof@v1\nextra ", audit::Base64Encode(entry),
                                 "\nindex ", index, "\n");
  for (const auto& p : path) absl::StrAppend(&out, audit::Base64Encode(audit::AsView(p)), "\n");
  absl::StrAppend(&out, "\n", note);
  return out;
}

absl::StatusOr<int> MonitorAuditLogs(const std::vector<std::string>& locations,
                                     const AuditMonitorOptions& options, std::string* out) {
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, audit::LoadVerifierKeys(options.vkeys));
  std::vector<const audit::NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  if (options.state_file.empty()) return absl::InvalidArgumentError("no monitor state file given");
  audit::FileSystem* fs = audit::PosixFileSystem();
  nlohmann::json state = nlohmann::json::object();
  if (fs->Exists(options.state_file)) {
    RESIDENCY_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(options.state_file, 64u << 20));
    state = nlohmann::json::parse(text, nullptr, false);
    if (state.is_discarded() || !state.is_object()) {
      return absl::DataLossError(
          absl::StrCat("monitor state `", options.state_file, "` is not a json object"));
    }
  }
  int findings = 0;
  auto line = [&](nlohmann::json j) {
    out->append(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    out->push_back('\n');
  };
  for (const std::string& loc : locations) {
    auto finding = [&](const std::string& origin, AuditLogStatus st, const std::string& kind,
                       const std::string& msg) {
      ++findings;
      line({{"event", "finding"},
            {"location", loc},
            {"origin", origin},
            {"status", AuditLogStatusName(st)},
            {"kind", kind},
            {"message", msg}});
    };
    auto source = audit::OpenTileSource(loc);
    if (!source.ok()) {
      finding("", AuditLogStatus::kMissing, "missing", std::string(source.status().message()));
      continue;
    }
    auto note = (*source)->Get(audit::kTilesCheckpointFile);
    if (!note.ok()) {
      finding("", AuditLogStatus::kMissing, "missing", std::string(note.status().message()));
      continue;
    }
    auto fc = audit::ParseSignedCheckpoint(*note, keys);
    if (!fc.ok()) {
      finding("", AuditLogStatus::kInvalid, "bad signature", std::string(fc.status().message()));
      continue;
    }
    const std::string& origin = fc->cp.origin;
    nlohmann::json& st = state[origin];
    if (!st.is_object())
      st = {{"size", 0}, {"records", 0}, {"decisions", nlohmann::json::object()}};
    audit::TileReader reader(source->get(), fc->cp.size);
    uint64_t old_size = 0;
    if (st.contains("note")) {
      auto old = audit::ParseSignedCheckpoint(st["note"].get<std::string>(), keys);
      if (!old.ok()) {
        finding(origin, AuditLogStatus::kInvalid, "state", "remembered checkpoint does not verify");
        continue;
      }
      absl::Status s = audit::CheckConsistent(&reader, old->cp, fc->cp);
      if (!s.ok()) {
        const std::string msg(s.message());
        finding(origin,
                msg.rfind("rollback", 0) == 0 ? AuditLogStatus::kTruncated
                : msg.rfind("fork", 0) == 0   ? AuditLogStatus::kEquivocation
                                              : AuditLogStatus::kInvalid,
                msg.rfind("rollback", 0) == 0 ? "rollback"
                : msg.rfind("fork", 0) == 0   ? "equivocation"
                                              : "tile missing",
                msg);
        continue;  // the remembered checkpoint stays: the next run reports it again
      }
      old_size = old->cp.size;
    }
    // Every new entry (from the bundle holding the first one not yet seen).
    AuditLogReport r;
    std::map<std::string, uint64_t> decisions;
    int64_t last_ns = st.value("last_record_time_ns", int64_t{0});
    uint64_t undecodable = 0;
    audit::RecordView view;
    const uint64_t first_bundle = old_size / audit::kTileWidth;
    CheckTree(&reader, fc->cp, &r, first_bundle, [&](uint64_t index, std::string_view entry) {
      if (index < old_size) return;
      if (!audit::DecodeRecord(entry, &view).ok()) {
        ++undecodable;
        return;
      }
      last_ns = std::max(last_ns, view.time_ns);
      if (view.type == audit::RecordType::kDecision)
        ++decisions[audit::DecisionName(view.decision)];
    });
    for (const auto& f : r.findings) finding(origin, f.status, f.kind, f.message);
    if (!r.findings.empty()) continue;
    if (undecodable > 0) {
      finding(origin, AuditLogStatus::kInvalid, "malformed",
              absl::StrCat(undecodable, " new records do not decode"));
    }
    for (const auto& [k, v] : decisions) {
      st["decisions"][k] = st["decisions"].value(k, uint64_t{0}) + v;
    }
    st["records"] = fc->cp.size;
    st["size"] = fc->cp.size;
    st["root"] = audit::Base64Encode(audit::AsView(fc->cp.root));
    st["note"] = *note;
    st["last_record_time_ns"] = last_ns;
    line(
        {{"event", "summary"},
         {"location", loc},
         {"origin", origin},
         {"records", fc->cp.size},
         {"new_records", fc->cp.size - old_size},
         {"decisions", st["decisions"]},
         {"last_checkpoint_root", st["root"]},
         {"last_record_time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixNanos(last_ns),
                                               absl::UTCTimeZone())}});
  }
  RESIDENCY_RETURN_IF_ERROR(fs->WriteFileAtomic(options.state_file, state.dump(1) + "\n"));
  return findings;
}

}  // namespace residency
