// The offline verifier, `show`, `prove`, proof checking and key generation.
#include "audit/verify.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/record.h"
#include "audit/segment.h"
#include "internal/status_macros.h"

namespace residency::audit {
namespace {

int Severity(AuditLogStatus s) {
  switch (s) {
    case AuditLogStatus::kValid:
      return 0;
    case AuditLogStatus::kGap:
      return 1;
    case AuditLogStatus::kMissing:
      return 2;
    case AuditLogStatus::kTruncated:
      return 3;
    case AuditLogStatus::kInvalid:
      return 4;
    case AuditLogStatus::kEquivocation:
      return 5;
  }
  return 4;
}

struct VerifiedCheckpoint {
  Checkpoint cp;
  std::string where;
};

class LogVerifier {
 public:
  LogVerifier(const std::vector<const NoteVerifier*>& keys, const AuditVerifyOptions& opts,
              const std::vector<VerifiedCheckpoint>& trusted)
      : keys_(keys), opts_(opts), trusted_(trusted) {}

  AuditLogReport Run(FileSystem* fs, const std::string& dir, std::set<size_t>* used_trusted);

 private:
  void Add(AuditLogStatus st, std::string kind, std::string msg) {
    AddFinding(&report_, st, std::move(kind), std::move(msg));
  }
  // Parses and checks the signature of a note; nullopt (with a finding) when it fails.
  std::optional<Checkpoint> CheckNote(std::string_view note, const std::string& where,
                                      bool* unknown_key);

  const std::vector<const NoteVerifier*>& keys_;
  const AuditVerifyOptions& opts_;
  const std::vector<VerifiedCheckpoint>& trusted_;
  AuditLogReport report_;
};

std::optional<Checkpoint> LogVerifier::CheckNote(std::string_view text, const std::string& where,
                                                 bool* unknown_key) {
  auto note = ParseNote(text);
  if (!note.ok()) {
    Add(AuditLogStatus::kInvalid, "malformed", absl::StrCat(where, ": ", note.status().message()));
    return std::nullopt;
  }
  switch (VerifyNote(*note, keys_)) {
    case NoteVerdict::kValid:
      break;
    case NoteVerdict::kBadSignature:
      Add(AuditLogStatus::kInvalid, "bad signature",
          absl::StrCat(where, ": checkpoint signature does not verify"));
      return std::nullopt;
    case NoteVerdict::kUnknownKey:
      *unknown_key = true;
      return std::nullopt;
  }
  auto cp = ParseCheckpointText(note->text);
  if (!cp.ok()) {
    Add(AuditLogStatus::kInvalid, "malformed", absl::StrCat(where, ": ", cp.status().message()));
    return std::nullopt;
  }
  return *cp;
}

AuditLogReport LogVerifier::Run(FileSystem* fs, const std::string& dir,
                                std::set<size_t>* used_trusted) {
  report_ = AuditLogReport();
  report_.path = dir;
  auto files_or = ReadLogFiles(fs, dir);
  if (!files_or.ok()) {
    Add(AuditLogStatus::kMissing, "unreadable", std::string(files_or.status().message()));
    return report_;
  }
  const LogFiles& files = *files_or;
  if (files.segments.empty()) {
    Add(AuditLogStatus::kMissing, "no segments",
        absl::StrCat("log `", dir, "` has no segment files"));
    return report_;
  }
  const size_t last_seg = files.segments.size() - 1;
  bool record_damage = false;
  const bool torn_last_header = !TornLastSegmentHeader(files).empty();

  // Segment structure.
  for (size_t i = 0; i < files.segments.size(); ++i) {
    const SegmentScan& s = files.segments[i];
    if (i == last_seg && torn_last_header) {
      Add(AuditLogStatus::kTruncated, "torn tail",
          absl::StrCat("segment `", s.name, "` ends inside its header (a rotation cut short)"));
      continue;
    }
    if (!s.header_ok) {
      Add(AuditLogStatus::kInvalid, "bit flip",
          absl::StrCat("segment `", s.name, "` has a damaged header"));
      record_damage = true;
      continue;
    }
    if (s.first_index != s.name_first_index) {
      Add(AuditLogStatus::kInvalid, "segment reordered",
          absl::StrCat("segment `", s.name, "` holds records from index ", s.first_index));
      record_damage = true;
    }
    if (s.torn) {
      if (s.resynced_after_tear) {
        Add(AuditLogStatus::kInvalid, "bit flip",
            absl::StrCat("segment `", s.name, "` has a damaged frame at offset ", s.torn_offset));
        record_damage = true;
      } else if (i != last_seg) {
        Add(AuditLogStatus::kInvalid, "deleted",
            absl::StrCat("segment `", s.name, "` is cut short at offset ", s.torn_offset));
        record_damage = true;
      } else {
        Add(AuditLogStatus::kTruncated, "torn tail",
            absl::StrCat("segment `", s.name, "` ends inside a frame at offset ", s.torn_offset));
      }
    }
  }

  // Roots needed at sizes named by checkpoints kept outside the segments.
  std::vector<std::pair<std::string, std::string>> external;  // (note, where)
  if (files.has_latest) external.emplace_back(files.latest_checkpoint, "latest checkpoint file");

  TreeHasher hasher;
  CompactRange range;
  RecordView rec;
  std::vector<uint64_t> idx;
  std::vector<std::string_view> payloads;
  struct CpFrame {
    uint64_t pos;
    std::string_view note;
    std::string where;
    Hash root;
  };
  std::vector<CpFrame> cps;
  idx.reserve(files.frames.size());
  payloads.reserve(files.frames.size());
  std::map<uint64_t, Hash> roots;  // size -> root, at every in-stream checkpoint position
  bool roots_ok = true;
  bool saw_close = false;
  uint64_t close_pos = 0;
  size_t cur_seg = SIZE_MAX;
  for (const FrameRef& f : files.frames) {
    const uint64_t pos = idx.size();
    if (f.segment != cur_seg) {
      cur_seg = f.segment;
      const SegmentScan& s = files.segments[cur_seg];
      if (s.header_ok && s.first_index != pos && s.first_index == s.name_first_index) {
        bool elsewhere = false;
        for (const auto& o : files.segments) elsewhere |= o.header_ok && o.first_index == pos;
        if (elsewhere) {
          Add(AuditLogStatus::kInvalid, "segment reordered",
              absl::StrCat("segment `", s.name, "` is out of order"));
        } else if (s.first_index > pos) {
          Add(AuditLogStatus::kInvalid, "segment missing",
              absl::StrCat("records ", pos, "..", s.first_index - 1,
                           " are missing before segment `", s.name, "`"));
        } else {
          Add(AuditLogStatus::kInvalid, "inserted",
              absl::StrCat("segment `", s.name, "` overlaps earlier records"));
        }
        record_damage = true;
      }
    }
    auto where_of = [&files](const FrameRef& fr) {
      return absl::StrCat("`", files.segments[fr.segment].name, "` offset ", fr.offset);
    };
    if (f.type == 0) {
      std::string where = where_of(f);
      Add(AuditLogStatus::kInvalid, "bit flip", absl::StrCat(where, ": frame checksum mismatch"));
      record_damage = true;
      roots_ok = false;
      idx.push_back(UINT64_MAX);
      payloads.push_back(f.payload);
      continue;
    }
    if (f.type == kFrameCheckpoint) {
      cps.push_back({pos, f.payload, where_of(f), roots_ok ? range.Root(&hasher) : Hash{}});
      if (roots_ok) roots[pos] = cps.back().root;
      continue;
    }
    absl::Status s = DecodeRecord(f.payload, &rec);
    if (!s.ok()) {
      Add(AuditLogStatus::kInvalid, "bit flip", absl::StrCat(where_of(f), ": ", s.message()));
      record_damage = true;
      roots_ok = false;
      idx.push_back(UINT64_MAX);
      payloads.push_back(f.payload);
      continue;
    }
    if (pos == 0) {
      if (rec.type == RecordType::kLogOpen) {
        report_.origin = std::string(rec.origin);
      } else {
        Add(AuditLogStatus::kInvalid, "deleted", "the log_open record is missing");
        record_damage = true;
      }
    } else if (rec.type == RecordType::kLogOpen) {
      Add(AuditLogStatus::kInvalid, "inserted",
          absl::StrCat(where_of(f), ": a second log_open record"));
      record_damage = true;
    }
    if (saw_close) {
      Add(AuditLogStatus::kInvalid, "inserted",
          absl::StrCat(where_of(f), ": record after the close record"));
      record_damage = true;
    }
    if (rec.type == RecordType::kClose) {
      saw_close = true;
      close_pos = pos;
    }
    idx.push_back(rec.index);
    payloads.push_back(f.payload);
    if (roots_ok) range.Append(hasher.Leaf(f.payload), &hasher);
  }
  const uint64_t n = idx.size();
  report_.records = n;
  if (roots_ok) roots[n] = range.Root(&hasher);

  // Index anomalies: name what happened to the records.
  bool anomaly = false;
  for (uint64_t p = 0; p < n && !anomaly; ++p) anomaly = idx[p] != p && idx[p] != UINT64_MAX;
  if (anomaly) {
    record_damage = true;
    uint64_t first_bad = 0;
    while (first_bad < n && idx[first_bad] == first_bad) ++first_bad;
    std::unordered_map<std::string_view, uint64_t> seen;
    bool duplicate = false;
    uint64_t dup_pos = 0;
    for (uint64_t p = 0; p < n && !duplicate; ++p) {
      auto [it, fresh] = seen.emplace(payloads[p], p);
      if (!fresh) {
        duplicate = true;
        dup_pos = p;
      }
    }
    std::vector<uint64_t> sorted = idx;
    std::sort(sorted.begin(), sorted.end());
    bool permutation = true;
    for (uint64_t p = 0; p < n; ++p) permutation &= sorted[p] == p;
    bool increasing = true;
    for (uint64_t p = 1; p < n; ++p) increasing &= idx[p] > idx[p - 1];
    if (duplicate) {
      Add(AuditLogStatus::kInvalid, "duplicated",
          absl::StrCat("record ", idx[dup_pos], " appears twice (again at position ", dup_pos,
                       ")"));
    } else if (permutation) {
      Add(AuditLogStatus::kInvalid, "reordered",
          absl::StrCat("record at position ", first_bad, " has index ", idx[first_bad]));
    } else if (increasing) {
      Add(AuditLogStatus::kInvalid, "deleted",
          absl::StrCat("record ", first_bad, " is missing (next present is ", idx[first_bad], ")"));
    } else {
      Add(AuditLogStatus::kInvalid, "inserted",
          absl::StrCat("record at position ", first_bad, " has index ", idx[first_bad],
                       ": a record was inserted"));
    }
  }

  // In-stream checkpoints.
  std::vector<VerifiedCheckpoint> valid;
  std::vector<std::string> mismatches;
  uint64_t max_size = 0;
  bool have_valid = false, unknown_key = false;
  for (const CpFrame& c : cps) {
    auto cp = CheckNote(c.note, c.where, &unknown_key);
    if (!cp) continue;
    if (!report_.origin.empty() && cp->origin != report_.origin) {
      Add(AuditLogStatus::kInvalid, "malformed",
          absl::StrCat(c.where, ": checkpoint of another log `", cp->origin, "`"));
      continue;
    }
    ++report_.checkpoints;
    valid.push_back({*cp, c.where});
    if (have_valid && cp->size <= max_size) {
      Add(AuditLogStatus::kInvalid, "replayed checkpoint",
          absl::StrCat(c.where, ": checkpoint of size ", cp->size, " after one of size ",
                       max_size));
      continue;
    }
    have_valid = true;
    max_size = std::max(max_size, cp->size);
    if (cp->size > c.pos) {
      if (!record_damage) {
        Add(AuditLogStatus::kInvalid, "deleted",
            absl::StrCat(c.where, ": checkpoint covers ", cp->size, " records, ", c.pos,
                         " precede it"));
        record_damage = true;
      }
    } else if (cp->size < c.pos) {
      Add(AuditLogStatus::kInvalid, "replayed checkpoint",
          absl::StrCat(c.where, ": checkpoint of size ", cp->size, " placed after ", c.pos,
                       " records"));
    } else if (roots_ok && cp->root != c.root) {
      mismatches.push_back(
          absl::StrCat(c.where, ": root of size ", cp->size, " does not match the records"));
    }
  }

  // Checkpoints kept outside the segments: the latest file and trusted ones.
  std::vector<std::pair<VerifiedCheckpoint, bool>> outside;  // (checkpoint, trusted)
  for (const auto& [note, where] : external) {
    auto cp = CheckNote(note, where, &unknown_key);
    if (cp && (report_.origin.empty() || cp->origin == report_.origin)) {
      outside.push_back({{*cp, where}, false});
    }
  }
  for (size_t t = 0; t < trusted_.size(); ++t) {
    if (trusted_[t].cp.origin != report_.origin) continue;
    used_trusted->insert(t);
    outside.push_back({trusted_[t], true});
  }
  bool equivocation = false;
  // Records that disagree with their own signed checkpoints: the records were changed.
  if (!record_damage && !mismatches.empty()) {
    for (const auto& m : mismatches) Add(AuditLogStatus::kInvalid, "root mismatch", m);
    record_damage = true;
  }
  for (const auto& [vc, trusted] : outside) {
    const Checkpoint& cp = vc.cp;
    if (cp.size > n) {
      Add(AuditLogStatus::kTruncated, trusted ? "rollback" : "truncated",
          absl::StrCat(vc.where, " covers ", cp.size, " records; the log has ", n));
      continue;
    }
    auto it = roots.find(cp.size);
    if (it != roots.end() && it->second != cp.root && !record_damage) {
      Add(AuditLogStatus::kEquivocation, "equivocation",
          absl::StrCat(vc.where, " (size ", cp.size,
                       ") is validly signed but disagrees with the log"));
      equivocation = true;
    } else if (it == roots.end() && roots_ok && !record_damage) {
      // A size between in-stream checkpoints: recompute the prefix root.
      TreeHasher h;
      CompactRange r;
      for (uint64_t p = 0; p < cp.size; ++p) r.Append(h.Leaf(payloads[p]), &h);
      if (r.Root(&h) != cp.root) {
        Add(AuditLogStatus::kEquivocation, "equivocation",
            absl::StrCat(vc.where, " (size ", cp.size,
                         ") is validly signed but disagrees with the log"));
        equivocation = true;
      }
    }
    valid.push_back(vc);
  }
  // Two valid checkpoints of one size with different roots.
  std::map<uint64_t, Hash> by_size;
  for (const auto& vc : valid) {
    auto [it, fresh] = by_size.emplace(vc.cp.size, vc.cp.root);
    if (!fresh && it->second != vc.cp.root && !equivocation) {
      Add(AuditLogStatus::kEquivocation, "equivocation",
          absl::StrCat("two validly signed checkpoints of size ", vc.cp.size,
                       " have different roots (", vc.where, ")"));
      equivocation = true;
    }
  }
  if (unknown_key && report_.checkpoints == 0) {
    Add(AuditLogStatus::kInvalid, "wrong key",
        "no checkpoint is signed by a given key (signed with another key)");
  } else if (unknown_key) {
    Add(AuditLogStatus::kInvalid, "wrong key", "a checkpoint is signed by an unknown key");
  }

  // Completeness.
  if (report_.findings.empty() || report_.status == AuditLogStatus::kValid) {
    bool final_cp = have_valid && max_size == n;
    if (saw_close && close_pos + 1 == n && !final_cp) {
      Add(AuditLogStatus::kTruncated, "truncated", "the final checkpoint is missing");
    } else if (!saw_close && !opts_.open) {
      Add(AuditLogStatus::kGap, "unclean end",
          absl::StrCat("no close record: records after index ", have_valid ? max_size : 0,
                       " may be missing (use --open for a live log)"));
    } else if (!have_valid) {
      Add(AuditLogStatus::kGap, "unsigned", "no valid checkpoint yet");
    }
  }
  return report_;
}

bool IsLogDir(FileSystem* fs, const std::string& dir) {
  auto names = fs->ListDir(dir);
  if (!names.ok()) return false;
  for (const auto& n : *names) {
    uint64_t first;
    if (ParseSegmentName(n, &first) || n == kLatestCheckpointFile) return true;
  }
  return false;
}

}  // namespace

void AddFinding(AuditLogReport* report, AuditLogStatus status, std::string kind, std::string msg) {
  if (Severity(status) > Severity(report->status)) report->status = status;
  report->findings.push_back({status, std::move(kind), std::move(msg)});
}

absl::StatusOr<std::vector<std::unique_ptr<NoteVerifier>>> LoadVerifierKeys(
    const std::vector<std::string>& vkeys) {
  std::vector<std::unique_ptr<NoteVerifier>> out;
  for (size_t i = 0; i < vkeys.size(); ++i) {
    RESIDENCY_ASSIGN_OR_RETURN(
        auto v, ParseVerifierKeyText(vkeys[i], absl::StrCat("verifier key ", i + 1)));
    out.push_back(std::move(v));
  }
  return out;
}

absl::StatusOr<AuditVerifyReport> VerifyAuditLogsOn(FileSystem* fs, const std::string& path_in,
                                                    const AuditVerifyOptions& options) {
  if (options.vkeys.empty()) return absl::InvalidArgumentError("no verifier key given");
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, LoadVerifierKeys(options.vkeys));
  std::vector<const NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  std::string path = path_in;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (!fs->IsDir(path)) {
    return absl::NotFoundError(absl::StrCat("`", path, "` is not a directory"));
  }
  // Trusted checkpoints must be validly signed by a given key to be of any use.
  std::vector<VerifiedCheckpoint> trusted;
  for (size_t i = 0; i < options.trusted_checkpoints.size(); ++i) {
    auto note = ParseNote(options.trusted_checkpoints[i]);
    if (!note.ok()) return note.status();
    if (VerifyNote(*note, keys) != NoteVerdict::kValid) {
      return absl::InvalidArgumentError(
          absl::StrCat("trusted checkpoint ", i + 1, " is not signed by a given key"));
    }
    RESIDENCY_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointText(note->text));
    trusted.push_back({cp, absl::StrCat("trusted checkpoint ", i + 1)});
  }
  std::vector<std::string> dirs;
  if (IsLogDir(fs, path)) {
    dirs.push_back(path);
  } else {
    RESIDENCY_ASSIGN_OR_RETURN(auto names, fs->ListDir(path));
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      if (!n.empty() && n[0] != '.' && fs->IsDir(path + "/" + n)) dirs.push_back(path + "/" + n);
    }
  }
  AuditVerifyReport report;
  std::set<size_t> used;
  for (const auto& d : dirs) {
    LogVerifier v(keys, options, trusted);
    report.logs.push_back(v.Run(fs, d, &used));
  }
  for (size_t t = 0; t < trusted.size(); ++t) {
    if (used.count(t)) continue;
    AuditLogReport missing;
    missing.path = trusted[t].cp.origin;
    missing.origin = trusted[t].cp.origin;
    missing.status = AuditLogStatus::kMissing;
    missing.findings.push_back({AuditLogStatus::kMissing, "missing",
                                absl::StrCat(trusted[t].where, " names log `", trusted[t].cp.origin,
                                             "`, which is not there")});
    report.logs.push_back(std::move(missing));
  }
  if (report.logs.empty()) {
    AuditLogReport missing;
    missing.path = path;
    missing.status = AuditLogStatus::kMissing;
    missing.findings.push_back(
        {AuditLogStatus::kMissing, "missing", absl::StrCat("no audit log under `", path, "`")});
    report.logs.push_back(std::move(missing));
  }
  return report;
}

absl::StatusOr<std::vector<ReadRecord>> ReadRecords(FileSystem* fs, const std::string& dir,
                                                    LogFiles* files) {
  RESIDENCY_ASSIGN_OR_RETURN(*files, ReadLogFiles(fs, dir));
  if (files->segments.empty()) {
    return absl::NotFoundError(absl::StrCat("`", dir, "` holds no audit log segments"));
  }
  std::vector<ReadRecord> out;
  for (const FrameRef& f : files->frames) {
    if (f.type == 0) {
      return absl::DataLossError(absl::StrCat("`", files->segments[f.segment].name, "` offset ",
                                              f.offset, ": frame checksum mismatch"));
    }
    out.push_back({f.type, f.payload});
  }
  return out;
}

absl::StatusOr<std::string> ShowOn(FileSystem* fs, const std::string& dir, ShowMode mode) {
  LogFiles files;
  RESIDENCY_ASSIGN_OR_RETURN(auto frames, ReadRecords(fs, dir, &files));
  std::string out;
  RecordView rec;
  for (const auto& f : frames) {
    if (f.type == kFrameCheckpoint) {
      if (mode == ShowMode::kCheckpoints) absl::StrAppend(&out, std::string(f.payload), "\n");
      continue;
    }
    if (mode == ShowMode::kRaw) {
      absl::StrAppend(&out, Base64Encode(f.payload), "\n");
    } else if (mode == ShowMode::kJson) {
      RESIDENCY_RETURN_IF_ERROR(DecodeRecord(f.payload, &rec));
      absl::StrAppend(&out, RecordToJson(rec), "\n");
    }
  }
  return out;
}

absl::StatusOr<std::string> ProveOn(FileSystem* fs, const std::string& dir, uint64_t index) {
  LogFiles files;
  RESIDENCY_ASSIGN_OR_RETURN(auto frames, ReadRecords(fs, dir, &files));
  std::vector<Hash> leaves;
  std::vector<std::string_view> records;
  TreeHasher h;
  std::string best_note;
  uint64_t best_size = 0;
  CompactRange range;
  for (const auto& f : frames) {
    if (f.type == kFrameRecord) {
      leaves.push_back(h.Leaf(f.payload));
      range.Append(leaves.back(), &h);
      records.push_back(f.payload);
      continue;
    }
    auto note = ParseNote(f.payload);
    if (!note.ok()) continue;
    auto cp = ParseCheckpointText(note->text);
    if (!cp.ok() || cp->size != leaves.size() || cp->root != range.Root(&h)) continue;
    if (cp->size > index && cp->size >= best_size) {
      best_size = cp->size;
      best_note = std::string(f.payload);
    }
  }
  if (index >= leaves.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is beyond the log's ", leaves.size(), " records"));
  }
  if (best_note.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no checkpoint of `", dir, "` covers record ", index, " yet"));
  }
  RESIDENCY_ASSIGN_OR_RETURN(auto path, InclusionProof(leaves, index, best_size));
  std::string out = absl::StrCat("c2sp.org/tlog-proof@v1\nextra ", Base64Encode(records[index]),
                                 "\nindex ", index, "\n");
  for (const auto& p : path) absl::StrAppend(&out, Base64Encode(AsView(p)), "\n");
  absl::StrAppend(&out, "\n", best_note);
  return out;
}

absl::StatusOr<std::string> CheckProof(std::string_view text,
                                       const std::vector<std::string>& vkeys) {
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("malformed tlog-proof: ", why));
  };
  if (vkeys.empty()) return absl::InvalidArgumentError("no verifier key given");
  if (text.size() > (1 << 20)) return bad("too large");
  size_t blank = text.find("\n\n");
  if (blank == std::string_view::npos) return bad("no blank line before the checkpoint");
  std::string_view head = text.substr(0, blank + 1), note_text = text.substr(blank + 2);
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    lines.push_back(head.substr(0, nl));
    head.remove_prefix(nl + 1);
  }
  size_t i = 0;
  if (lines.empty() || lines[i++] != "c2sp.org/tlog-proof@v1") return bad("missing header line");
  std::optional<std::string> extra;
  if (i < lines.size() && lines[i].substr(0, 6) == "extra ") {
    extra = Base64Decode(lines[i].substr(6));
    if (!extra) return bad("extra is not base64");
    ++i;
  }
  if (i >= lines.size() || lines[i].substr(0, 6) != "index ") return bad("missing index line");
  std::string_view num = lines[i++].substr(6);
  uint64_t index = 0;
  if (num.empty() || num.size() > 19 || (num.size() > 1 && num[0] == '0')) return bad("bad index");
  for (char c : num) {
    if (c < '0' || c > '9') return bad("bad index");
    index = index * 10 + static_cast<uint64_t>(c - '0');
  }
  std::vector<std::string> path;
  for (; i < lines.size(); ++i) {
    auto hsh = Base64Decode(lines[i]);
    if (!hsh || hsh->size() != 32) return bad("proof line is not a base64 hash");
    path.push_back(*hsh);
    if (path.size() > 64) return bad("proof too long");
  }
  if (!extra) return bad("no extra line with the record (this verifier needs it)");
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, LoadVerifierKeys(vkeys));
  std::vector<const NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  RESIDENCY_ASSIGN_OR_RETURN(Note note, ParseNote(note_text));
  switch (VerifyNote(note, keys)) {
    case NoteVerdict::kValid:
      break;
    case NoteVerdict::kBadSignature:
      return absl::InvalidArgumentError("proof checkpoint: bad signature");
    case NoteVerdict::kUnknownKey:
      return absl::InvalidArgumentError("proof checkpoint: not signed by a given key (wrong key)");
  }
  RESIDENCY_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointText(note.text));
  RecordView rec;
  if (absl::Status s = DecodeRecord(*extra, &rec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("proof record: ", s.message()));
  }
  if (rec.index != index) {
    return absl::InvalidArgumentError(
        absl::StrCat("proof record has index ", rec.index, ", the proof says ", index));
  }
  TreeHasher h;
  Hash leaf = h.Leaf(*extra);
  if (absl::Status s = VerifyInclusion(index, cp.size, AsView(leaf), path, AsView(cp.root));
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("inclusion proof fails: ", s.message()));
  }
  std::string json = RecordToJson(rec);
  json.insert(json.size() - 1, absl::StrCat(",\"origin\":\"\",\"tree_size\":", cp.size));
  // Replace the empty origin placeholder with the escaped origin.
  std::string origin_json;
  AppendJsonString(cp.origin, &origin_json);
  size_t at = json.find(",\"origin\":\"\"");
  json.replace(at, 12, absl::StrCat(",\"origin\":", origin_json));
  return json;
}

}  // namespace residency::audit

namespace residency {

const char* AuditLogStatusName(AuditLogStatus s) {
  switch (s) {
    case AuditLogStatus::kValid:
      return "valid";
    case AuditLogStatus::kInvalid:
      return "invalid";
    case AuditLogStatus::kMissing:
      return "missing";
    case AuditLogStatus::kTruncated:
      return "truncated";
    case AuditLogStatus::kGap:
      return "gap";
    case AuditLogStatus::kEquivocation:
      return "equivocation";
  }
  return "invalid";
}

bool AuditVerifyReport::ok() const {
  for (const auto& l : logs) {
    if (l.status != AuditLogStatus::kValid) return false;
  }
  return !logs.empty();
}

absl::StatusOr<AuditVerifyReport> VerifyAuditLogs(const std::string& path,
                                                  const AuditVerifyOptions& options) {
  return audit::VerifyAuditLogsOn(audit::PosixFileSystem(), path, options);
}

absl::StatusOr<std::string> ProveAuditRecord(const std::string& log_dir, uint64_t index) {
  return audit::ProveOn(audit::PosixFileSystem(), log_dir, index);
}

absl::StatusOr<std::string> VerifyAuditProof(std::string_view proof,
                                             const std::vector<std::string>& vkeys) {
  return audit::CheckProof(proof, vkeys);
}

absl::StatusOr<std::string> ShowAuditLog(const std::string& log_dir) {
  return audit::ShowOn(audit::PosixFileSystem(), log_dir, audit::ShowMode::kJson);
}
absl::StatusOr<std::string> ShowAuditLogRaw(const std::string& log_dir) {
  return audit::ShowOn(audit::PosixFileSystem(), log_dir, audit::ShowMode::kRaw);
}
absl::StatusOr<std::string> ShowAuditCheckpoints(const std::string& log_dir) {
  return audit::ShowOn(audit::PosixFileSystem(), log_dir, audit::ShowMode::kCheckpoints);
}

absl::StatusOr<std::string> ReadAuditVerifierKey(const std::string& file_or_vkey) {
  // Not a file: a vkey string (it has `+`), or key text pasted where a path goes (a PEM, several
  // lines). Either is judged as text and never echoed; anything else is a path to report.
  const bool exists = audit::PosixFileSystem()->Exists(file_or_vkey);
  if (!exists && (file_or_vkey.find('+') != std::string::npos ||
                  file_or_vkey.find('\n') != std::string::npos ||
                  file_or_vkey.find("-----BEGIN") != std::string::npos)) {
    RESIDENCY_RETURN_IF_ERROR(
        audit::ParseVerifierKeyText(file_or_vkey, "the verifier key given as text").status());
    return std::string(audit::TrimKeyText(file_or_vkey));
  }
  RESIDENCY_ASSIGN_OR_RETURN(std::string text, audit::ReadKeyFile(file_or_vkey));
  RESIDENCY_RETURN_IF_ERROR(
      audit::ParseVerifierKeyText(text, absl::StrCat("`", audit::Excerpt(file_or_vkey, 200), "`"))
          .status());
  return std::string(audit::TrimKeyText(text));
}

absl::StatusOr<std::string> GenerateAuditKey(const std::string& name, const std::string& out_dir) {
  if (!audit::IsValidKeyName(name) || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("key name `", audit::Excerpt(name), "` is not valid"));
  }
  RESIDENCY_ASSIGN_OR_RETURN(auto signer, audit::NoteSigner::Generate(name));
  RESIDENCY_ASSIGN_OR_RETURN(std::string pem, signer->PrivatePem());
  auto write = [](const std::string& path, const std::string& data, mode_t mode) -> absl::Status {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
      return absl::Status(
          errno == EEXIST ? absl::StatusCode::kAlreadyExists : absl::StatusCode::kInvalidArgument,
          absl::StrCat("cannot create `", path, "`: ", std::strerror(errno)));
    }
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return absl::InternalError(absl::StrCat("cannot write `", path, "`"));
      }
      off += static_cast<size_t>(n);
    }
    bool ok = ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok) return absl::InternalError(absl::StrCat("cannot sync `", path, "`"));
    return absl::OkStatus();
  };
  std::string dir = out_dir.empty() ? "." : out_dir;
  std::string vkey_path = dir + "/" + name + ".vkey";
  if (audit::PosixFileSystem()->Exists(vkey_path)) {
    return absl::AlreadyExistsError(absl::StrCat("`", vkey_path, "` already exists"));
  }
  RESIDENCY_RETURN_IF_ERROR(write(dir + "/" + name + ".pem", pem, 0600));
  RESIDENCY_RETURN_IF_ERROR(write(vkey_path, signer->vkey() + "\n", 0644));
  return signer->vkey();
}

}  // namespace residency
