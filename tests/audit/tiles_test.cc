// C2SP tlog-tiles: paths, the writer, proofs from tiles against the in-memory tree and the
// transparency-dev vectors, resumption, the entry size limit, and a crash during publication.
#include "audit/tiles.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/witness.h"
#include "internal/status_macros.h"
#include "residency/audit_tiles.h"
#include "test_util.h"
#include "testing/shared_testdata.h"

namespace residency::audit {
namespace {

using testing::ReadAll;
using testing::SharedTestdata;
using testing::TempDir;

class MemStore : public TileStore {
 public:
  absl::StatusOr<std::string> Get(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError(path);
    return it->second;
  }
  std::string Describe() const override { return "mem"; }
  absl::Status Put(const std::string& path, std::string_view data) override {
    files[path] = std::string(data);
    return absl::OkStatus();
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
  absl::Status PutDurable(const std::string& path, std::string_view data) override {
    return Put(path, data);
  }
  std::map<std::string, std::string> files;
};

struct Log {
  std::unique_ptr<NoteSigner> signer = *NoteSigner::Generate("tilestest");
  std::string origin = "tilestest/log";
  std::vector<std::string> entries;
  std::vector<Hash> leaves;
  TreeHasher h;
  void AddTo(TilesWriter* w, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      entries.push_back("entry " + std::to_string(entries.size()));
      leaves.push_back(h.Leaf(entries.back()));
      ASSERT_TRUE(w->Add(entries.back()).ok());
    }
  }
  std::string Note(uint64_t size) {
    Hash root = size == 0 ? TreeHasher::Empty() : SubtreeRoot(leaves, 0, size, &h);
    return *signer->Sign(FormatCheckpointText(origin, size, root));
  }
};

TEST(TilesPaths, FollowTheSpec) {
  EXPECT_EQ(TileIndexPath(0), "000");
  EXPECT_EQ(TileIndexPath(67), "067");
  EXPECT_EQ(TileIndexPath(1000), "x001/000");
  EXPECT_EQ(TileIndexPath(1234067), "x001/x234/067");
  EXPECT_EQ(TilePath(0, 5, 256), "tile/0/005");
  EXPECT_EQ(TilePath(1, 1234, 17), "tile/1/x001/234.p/17");
  EXPECT_EQ(EntriesPath(1234067, 256), "tile/entries/x001/x234/067");
  EXPECT_EQ(EntriesPath(0, 1), "tile/entries/000.p/1");
  EXPECT_EQ(TileWidth(0, 273, 70000), 112u);
  EXPECT_EQ(TileWidth(1, 1, 70000), 17u);
  EXPECT_EQ(TileWidth(2, 0, 70000), 1u);
  EXPECT_EQ(TileWidth(0, 274, 70000), 0u);
}

// The spec's example: a tree of 70,000 is 273 full level-0 tiles, a level-0 partial of 112, one
// full level-1 tile, a level-1 partial of 17 and a level-2 partial of 1.
TEST(TilesWriter, SeventyThousandMatchesTheSpecExample) {
  MemStore store;
  Log log;
  auto w = *TilesWriter::Open(&store, log.origin);
  log.AddTo(w.get(), 70000);
  ASSERT_TRUE(w->Publish(log.Note(70000)).ok());
  int full0 = 0, full1 = 0, bundles = 0;
  std::set<std::string> partials;
  for (const auto& [path, data] : store.files) {
    if (path.find(".p/") != std::string::npos) {
      partials.insert(path);
    } else if (path.rfind("tile/0/", 0) == 0) {
      ++full0;
      EXPECT_EQ(data.size(), 8192u);
    } else if (path.rfind("tile/1/", 0) == 0) {
      ++full1;
    } else if (path.rfind("tile/entries/", 0) == 0) {
      ++bundles;
    }
  }
  EXPECT_EQ(full0, 273);
  EXPECT_EQ(full1, 1);
  EXPECT_EQ(bundles, 273);
  EXPECT_EQ(partials, (std::set<std::string>{"tile/0/273.p/112", "tile/1/001.p/17",
                                             "tile/2/000.p/1", "tile/entries/273.p/112"}));
  // Bundles: big-endian u16 length prefixes.
  const std::string& b = store.files["tile/entries/000"];
  ASSERT_GE(b.size(), 2u);
  EXPECT_EQ((static_cast<uint8_t>(b[0]) << 8) | static_cast<uint8_t>(b[1]), 7);  // "entry 0"
  EXPECT_EQ(b.substr(2, 7), "entry 0");
}

TEST(TilesReader, ProofsEqualTheInMemoryTree) {
  MemStore store;
  Log log;
  auto w = *TilesWriter::Open(&store, log.origin);
  std::mt19937_64 rng(7);
  for (uint64_t target : {1u, 2u, 255u, 256u, 257u, 1000u, 65536u, 65537u, 70001u}) {
    log.AddTo(w.get(), target - w->size());
    ASSERT_TRUE(w->Publish(log.Note(target)).ok()) << target;
    TileReader reader(&store, target);
    EXPECT_EQ(*reader.RangeHash(0, target), SubtreeRoot(log.leaves, 0, target, &log.h));
    for (int k = 0; k < 20; ++k) {
      uint64_t size = 1 + rng() % target, index = rng() % size, size1 = 1 + rng() % size;
      EXPECT_EQ(*reader.InclusionProof(index, size), *InclusionProof(log.leaves, index, size))
          << index << "/" << size;
      EXPECT_EQ(*reader.ConsistencyProof(size1, size), *ConsistencyProof(log.leaves, size1, size))
          << size1 << "->" << size;
    }
  }
  // Reads only what it needs: a consistency proof from a big tree touches a handful of tiles.
  TileReader reader(&store, 70001);
  ASSERT_TRUE(reader.ConsistencyProof(1000, 70001).ok());
  EXPECT_LT(reader.fetches(), 10u);
}

// The RFC 6962 reference tree of transparency-dev/merkle; its vectors pass through tiles.
TEST(TilesReader, TransparencyDevVectorsThroughTiles) {
  const std::vector<std::string> leaves = {
      "",
      std::string(1, '\0'),
      "\x10",
      "\x20\x21",
      "\x30\x31",
      "\x40\x41\x42\x43",
      "\x50\x51\x52\x53\x54\x55\x56\x57",
      "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  MemStore store;
  auto signer = *NoteSigner::Generate("ref");
  auto w = *TilesWriter::Open(&store, "ref/log");
  TreeHasher h;
  std::vector<Hash> lh;
  for (const auto& l : leaves) {
    ASSERT_TRUE(w->Add(l).ok());
    lh.push_back(h.Leaf(l));
  }
  ASSERT_TRUE(
      w->Publish(*signer->Sign(FormatCheckpointText("ref/log", 8, SubtreeRoot(lh, 0, 8, &h))))
          .ok());
  TileReader reader(&store, 8);
  auto b64 = [](const nlohmann::json& j) { return *Base64Decode(j.get<std::string>()); };
  int matched = 0;
  const std::filesystem::path root = SharedTestdata() + "/merkle";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    RESIDENCY_SHARED_TESTDATA_ABSENT("no merkle vectors under " << root);
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".json") continue;
    auto j = nlohmann::json::parse(ReadAll(e.path().string()));
    if (j.value("wantErr", true)) continue;
    std::vector<std::string> want;
    if (!j["proof"].is_null()) {
      for (const auto& p : j["proof"]) want.push_back(b64(p));
    }
    if (j.contains("leafIdx")) {
      const uint64_t idx = j["leafIdx"], size = j["treeSize"];
      if (size == 0 || size > 8 || b64(j["leafHash"]) != std::string(AsView(lh[idx]))) continue;
      EXPECT_EQ(std::string(AsView(*reader.RangeHash(0, size))), b64(j["root"])) << e.path();
      std::vector<std::string> got;
      const std::vector<Hash> proof = *reader.InclusionProof(idx, size);
      for (const Hash& x : proof) got.emplace_back(AsView(x));
      EXPECT_EQ(got, want) << e.path();
      EXPECT_TRUE(VerifyInclusion(idx, size, AsView(lh[idx]), got, b64(j["root"])).ok());
      ++matched;
    } else {
      const uint64_t s1 = j["size1"], s2 = j["size2"];
      if (s1 == 0 || s2 > 8) continue;
      if (std::string(AsView(*reader.RangeHash(0, s2))) != b64(j["root2"])) continue;
      EXPECT_EQ(std::string(AsView(*reader.RangeHash(0, s1))), b64(j["root1"])) << e.path();
      std::vector<std::string> got;
      const std::vector<Hash> proof = *reader.ConsistencyProof(s1, s2);
      for (const Hash& x : proof) got.emplace_back(AsView(x));
      EXPECT_EQ(got, want) << e.path();
      ++matched;
    }
  }
  EXPECT_GT(matched, 2);
}

TEST(TilesWriter, ResumesFromThePublishedTree) {
  MemStore a, b;
  Log log;
  auto wa = *TilesWriter::Open(&a, log.origin);
  log.AddTo(wa.get(), 300);
  ASSERT_TRUE(wa->Publish(log.Note(300)).ok());
  b.files = a.files;
  auto wb = *TilesWriter::Open(&b, log.origin);  // reads the partials back
  EXPECT_EQ(wb->size(), 300u);
  log.AddTo(wa.get(), 70000);
  for (uint64_t i = 300; i < log.entries.size(); ++i) ASSERT_TRUE(wb->Add(log.entries[i]).ok());
  ASSERT_TRUE(wa->Publish(log.Note(70300)).ok());
  ASSERT_TRUE(wb->Publish(log.Note(70300)).ok());
  EXPECT_EQ(a.files, b.files);
  // Another origin's tiles are refused; a damaged partial tile is refused.
  EXPECT_FALSE(TilesWriter::Open(&b, "other/log").ok());
  ASSERT_EQ(b.files.count("tile/0/274.p/156"), 1u);
  b.files["tile/0/274.p/156"][0] ^= 1;
  auto bad = TilesWriter::Open(&b, log.origin);
  EXPECT_FALSE(bad.ok());
}

TEST(TilesWriter, EntrySizeLimitAndCheckpointMismatch) {
  MemStore store;
  Log log;
  auto w = *TilesWriter::Open(&store, log.origin);
  EXPECT_TRUE(w->Add(std::string(65535, 'x')).ok());
  absl::Status big = w->Add(std::string(65536, 'x'));
  EXPECT_FALSE(big.ok());
  EXPECT_NE(std::string(big.message()).find("65535"), std::string::npos) << big;
  log.AddTo(w.get(), 3);
  // A checkpoint whose size or root does not match the tiles is not published.
  EXPECT_FALSE(w->Publish(log.Note(3)).ok());
  EXPECT_EQ(store.files.count("checkpoint"), 0u);
}

// A store over a real directory that crashes after `ops` writes: what was Put after the last
// Barrier is lost, torn or kept at random (unsynced data on power loss).
class CrashingStore : public TileStore {
 public:
  CrashingStore(TileStore* inner, std::string dir, int ops, uint64_t seed)
      : inner_(inner), dir_(std::move(dir)), ops_(ops), rng_(seed) {}
  absl::StatusOr<std::string> Get(const std::string& p) override { return inner_->Get(p); }
  std::string Describe() const override { return dir_; }
  absl::Status Put(const std::string& p, std::string_view d) override {
    RESIDENCY_RETURN_IF_ERROR(Tick());
    unsynced_.insert(p);
    return inner_->Put(p, d);
  }
  absl::Status Barrier() override {
    RESIDENCY_RETURN_IF_ERROR(Tick());
    unsynced_.clear();
    return inner_->Barrier();
  }
  absl::Status PutDurable(const std::string& p, std::string_view d) override {
    RESIDENCY_RETURN_IF_ERROR(Tick());
    return inner_->PutDurable(p, d);
  }
  bool crashed() const { return crashed_; }

 private:
  absl::Status Tick() {
    if (crashed_) return absl::UnavailableError("crashed");
    if (ops_-- > 0) return absl::OkStatus();
    crashed_ = true;
    for (const auto& p : unsynced_) {
      const std::string f = dir_ + "/" + p;
      switch (rng_() % 3) {
        case 0:
          std::filesystem::remove(f);
          break;
        case 1:
          std::filesystem::resize_file(f, std::filesystem::file_size(f) / 2);
          break;
        default:
          break;
      }
    }
    return absl::UnavailableError("crashed");
  }
  TileStore* inner_;
  std::string dir_;
  int ops_;
  std::mt19937_64 rng_;
  std::set<std::string> unsynced_;
  bool crashed_ = false;
};

TEST(TilesWriter, CrashDuringPublicationLeavesAVerifiableTree) {
  Log log;
  for (uint64_t i = 0; i < 70600; ++i) {
    log.entries.push_back("entry " + std::to_string(i));
    log.leaves.push_back(log.h.Leaf(log.entries.back()));
  }
  int crashes = 0;
  for (int ops : {0, 2, 5, 9, 300, 540, 556}) {
    TempDir dir;
    const std::string out = dir.path() + "/t";
    auto real = *OpenDirTileStore(out);
    CrashingStore store(real.get(), out, ops, ops);
    auto w = *TilesWriter::Open(&store, log.origin);
    uint64_t published = 0;
    for (uint64_t target : {100u, 300u, 70000u, 70500u}) {
      bool ok = true;
      for (uint64_t i = w->size(); i < target && ok; ++i) ok = w->Add(log.entries[i]).ok();
      if (!ok || !w->Publish(log.Note(target)).ok()) break;
      published = target;
    }
    if (!store.crashed()) continue;  // ran to the end before its crash point
    ++crashes;
    AuditTilesVerifyOptions vo;
    vo.vkeys = {log.signer->vkey()};
    auto report = *VerifyAuditTiles(out, vo);
    if (published == 0) {
      EXPECT_EQ(report.status, AuditLogStatus::kMissing) << ops;
      continue;
    }
    EXPECT_EQ(report.status, AuditLogStatus::kValid)
        << ops << ": " << (report.findings.empty() ? "" : report.findings[0].message);
    EXPECT_EQ(report.records, published) << ops;
    // A restarted writer resumes from the published checkpoint and goes on.
    auto w2 = *TilesWriter::Open(real.get(), log.origin);
    ASSERT_EQ(w2->size(), published);
    for (uint64_t i = published; i < 70600; ++i) ASSERT_TRUE(w2->Add(log.entries[i]).ok());
    ASSERT_TRUE(w2->Publish(log.Note(70600)).ok());
    report = *VerifyAuditTiles(out, vo);
    EXPECT_EQ(report.status, AuditLogStatus::kValid) << ops;
    EXPECT_EQ(report.records, 70600u);
  }
  EXPECT_GE(crashes, 6);
}

TEST(Cosignature, FormatAndVerification) {
  auto w = *NoteSigner::Generate("witness.example/w1");
  const std::string pub = *w->PublicKey();
  const std::string vkey = CosignerVkey(w->name(), pub);
  auto key = *ParseCosignerVkey(vkey);
  EXPECT_EQ(key.key_id, CosignerKeyId(w->name(), pub));
  EXPECT_FALSE(ParseCosignerVkey(w->vkey()).ok());  // a log key (type 0x01) is not a cosigner key
  auto log = *NoteSigner::Generate("log");
  const std::string body = FormatCheckpointText("log/1", 3, TreeHasher::Empty());
  std::string note = *log->Sign(body);
  EXPECT_EQ(CosignedMessage(1679315147, "o\n1\nr\n"), "cosignature/v1\ntime 1679315147\no\n1\nr\n");
  note += *CosignatureLine(*w, body, 1679315147);
  auto parsed = *ParseNote(note);
  uint64_t ts = 0;
  EXPECT_EQ(VerifyCosignature(parsed, key, &ts), CosignatureVerdict::kValid);
  EXPECT_EQ(ts, 1679315147u);
  // The log's own signature still verifies with the cosignature line present.
  auto lv = *NoteVerifier::FromVkey(log->vkey());
  EXPECT_EQ(VerifyNote(parsed, {lv.get()}), NoteVerdict::kValid);
  // Over another body it does not.
  std::string other = *log->Sign(FormatCheckpointText("log/1", 4, TreeHasher::Empty()));
  other += note.substr(note.rfind("\xE2\x80\x94 "));
  EXPECT_EQ(VerifyCosignature(*ParseNote(other), key), CosignatureVerdict::kBad);
}

}  // namespace
}  // namespace residency::audit

namespace residency::audit {
namespace {

DecisionRecord Decision(int i) {
  DecisionRecord d;
  d.decision = i % 3 ? "allow" : "deny";
  d.rule_ids = {"rule." + std::to_string(i % 7)};
  d.tags = {"EU:personal"};
  d.policy_digest = "sha256:" + std::string(64, 'a');
  return d;
}

// Continuous publication from AuditLog, and a resumed log bringing its tiles up to date.
TEST(TilesPublication, AuditLogPublishesAndResumes) {
  TempDir dir;
  auto vkey = GenerateAuditKey("pub", dir.path());
  ASSERT_TRUE(vkey.ok()) << vkey.status();
  AuditOptions o;
  o.audit_dir = dir.path() + "/logs";
  std::filesystem::create_directories(o.audit_dir);
  o.key_file = dir.path() + "/pub.pem";
  o.tiles_dir = dir.path() + "/tiles";
  o.checkpoint_every_records = 100;
  // A first process writes and dies without closing (kill -9 after its last Flush).
  const std::string id = "20260101T000000Z-0000abcd";
  o.log_id = id;
  const std::string log_dir = o.audit_dir + "/" + id, tiles = o.tiles_dir + "/" + id;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = AuditLog::Open(o);
    if (!log.ok()) _exit(3);
    for (int i = 0; i < 1000; ++i) {
      if (!(*log)->Append(Decision(i)).ok()) _exit(4);
    }
    if (!(*log)->Flush().ok()) _exit(5);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  AuditTilesVerifyOptions vo;
  vo.vkeys = {*vkey};
  // Publication is asynchronous: whatever was published before the crash verifies.
  std::string first_checkpoint;
  uint64_t first = 0;
  if (std::filesystem::exists(tiles + "/checkpoint")) {
    auto report = *VerifyAuditTiles(tiles, vo);
    EXPECT_EQ(report.status, AuditLogStatus::kValid)
        << (report.findings.empty() ? "" : report.findings[0].message);
    first = report.records;
    first_checkpoint = ReadAll(tiles + "/checkpoint");
  }
  // Resume: the tiles continue from where they were, consistent with the first checkpoint.
  o.resume_log_dir = log_dir;
  o.log_id.clear();
  {
    auto log = AuditLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 300; ++i) ASSERT_TRUE((*log)->Append(Decision(i)).ok());
    ASSERT_TRUE((*log)->Close().ok());
  }
  if (!first_checkpoint.empty()) vo.trusted_checkpoints = {first_checkpoint};
  auto report = *VerifyAuditTiles(tiles, vo);
  EXPECT_EQ(report.status, AuditLogStatus::kValid)
      << (report.findings.empty() ? "" : report.findings[0].message);
  EXPECT_GT(report.records, 1300u);
  EXPECT_GT(report.records, first);
  // `audit tiles` over the same log builds the same checkpoint.
  auto size = PublishAuditTiles(log_dir, dir.path() + "/rebuilt");
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, report.records);
  EXPECT_EQ(ReadAll(dir.path() + "/rebuilt/checkpoint"), ReadAll(tiles + "/checkpoint"));
}

}  // namespace
}  // namespace residency::audit
