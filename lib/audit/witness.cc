// Witness cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) and the witness itself
// (c2sp.org/tlog-witness semantics: cosign only a checkpoint consistent with the last one seen).
#include "audit/witness.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/codec.h"
#include "audit/fs.h"
#include "audit/tiles.h"
#include "audit/verify.h"
#include "internal/openssl_util.h"
#include "internal/status_macros.h"
#include "residency/audit_tiles.h"

namespace residency::audit {

namespace {
constexpr uint8_t kCosignatureV1Type = 0x04;
constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";
}  // namespace

uint32_t CosignerKeyId(std::string_view name, std::string_view public_key) {
  std::string in(name);
  in.push_back('\n');
  in.push_back(static_cast<char>(kCosignatureV1Type));
  in.append(public_key.data(), public_key.size());
  auto d = internal::Sha256(in);
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
}

std::string CosignerVkey(std::string_view name, std::string_view public_key) {
  std::string id;
  PutU32(&id, CosignerKeyId(name, public_key));
  std::string blob(1, static_cast<char>(kCosignatureV1Type));
  blob.append(public_key.data(), public_key.size());
  return absl::StrCat(std::string(name), "+", HexEncode(id), "+", Base64Encode(blob));
}

std::string CosignedMessage(uint64_t timestamp, std::string_view body) {
  return absl::StrCat("cosignature/v1\ntime ", timestamp, "\n", std::string(body));
}

absl::StatusOr<CosignerKey> ParseCosignerVkey(std::string_view vkey) {
  auto bad = [&vkey](const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("witness key `", std::string(vkey.substr(0, 80)), "` ", why));
  };
  std::vector<std::string> parts = absl::StrSplit(std::string(vkey), absl::MaxSplits('+', 2));
  if (parts.size() != 3) return bad("is not `name+hash+key`");
  if (!IsValidKeyName(parts[0])) return bad("has a bad name");
  auto id = HexDecode(parts[1]);
  auto blob = Base64Decode(parts[2]);
  if (!id || id->size() != 4) return bad("has a bad key id");
  if (!blob || blob->size() != 33) return bad("is not an ed25519 key");
  if (static_cast<uint8_t>((*blob)[0]) != kCosignatureV1Type) {
    return bad("is not a cosignature/v1 key (type 0x04)");
  }
  CosignerKey k;
  k.name = std::string(parts[0]);
  k.key_id = CosignerKeyId(k.name, blob->substr(1));
  if (k.key_id != LoadU32(id->data())) return bad("has a key id that does not match");
  RESIDENCY_ASSIGN_OR_RETURN(k.verifier, NoteVerifier::FromRawEd25519(k.name, blob->substr(1)));
  return k;
}

absl::StatusOr<std::string> CosignatureLine(const NoteSigner& signer, std::string_view body,
                                            uint64_t timestamp) {
  RESIDENCY_ASSIGN_OR_RETURN(std::string pub, signer.PublicKey());
  RESIDENCY_ASSIGN_OR_RETURN(std::string sig, signer.SignRaw(CosignedMessage(timestamp, body)));
  std::string blob;
  PutU32(&blob, CosignerKeyId(signer.name(), pub));
  PutU64(&blob, timestamp);
  blob += sig;
  return absl::StrCat(std::string(kEmDashSpace), signer.name(), " ", Base64Encode(blob), "\n");
}

CosignatureVerdict VerifyCosignature(const Note& note, const CosignerKey& key,
                                     uint64_t* timestamp) {
  CosignatureVerdict v = CosignatureVerdict::kAbsent;
  for (const NoteSignature& s : note.signatures) {
    if (s.name != key.name || s.key_hash != key.key_id) continue;
    if (s.signature.size() != 8 + 64) return CosignatureVerdict::kBad;
    const uint64_t ts = LoadU64(s.signature.data());
    if (ts > (uint64_t{1} << 63) - 1) return CosignatureVerdict::kBad;
    if (!key.verifier->Verify(CosignedMessage(ts, note.text), s.signature.substr(8))) {
      return CosignatureVerdict::kBad;
    }
    if (timestamp) *timestamp = ts;
    v = CosignatureVerdict::kValid;
  }
  return v;
}

}  // namespace residency::audit

namespace residency {

absl::StatusOr<std::string> GenerateWitnessKey(const std::string& name,
                                               const std::string& out_dir) {
  // The same PKCS#8 Ed25519 key as a log key; only its vkey differs (type 0x04).
  RESIDENCY_RETURN_IF_ERROR(GenerateAuditKey(name, out_dir).status());
  RESIDENCY_ASSIGN_OR_RETURN(auto signer,
                             audit::NoteSigner::FromPemFile(out_dir + "/" + name + ".pem"));
  RESIDENCY_ASSIGN_OR_RETURN(std::string pub, signer->PublicKey());
  std::string vkey = audit::CosignerVkey(name, pub);
  RESIDENCY_RETURN_IF_ERROR(
      audit::PosixFileSystem()->WriteFileAtomic(out_dir + "/" + name + ".vkey", vkey + "\n"));
  return vkey;
}

absl::StatusOr<std::string> WitnessAuditCheckpoint(const std::string& location,
                                                   const AuditWitnessOptions& options,
                                                   absl::Time now) {
  using namespace audit;  // NOLINT
  if (options.key_file.empty()) return absl::InvalidArgumentError("no witness key given");
  if (options.state_dir.empty())
    return absl::InvalidArgumentError("no witness state directory given");
  RESIDENCY_ASSIGN_OR_RETURN(auto signer, NoteSigner::FromPemFile(options.key_file));
  RESIDENCY_ASSIGN_OR_RETURN(auto owned, LoadVerifierKeys(options.log_vkeys));
  std::vector<const NoteVerifier*> keys;
  for (const auto& k : owned) keys.push_back(k.get());
  RESIDENCY_ASSIGN_OR_RETURN(auto source, OpenTileSource(location));
  RESIDENCY_ASSIGN_OR_RETURN(std::string note, source->Get(kTilesCheckpointFile));
  RESIDENCY_ASSIGN_OR_RETURN(FetchedCheckpoint fresh, ParseSignedCheckpoint(note, keys));

  FileSystem* fs = PosixFileSystem();
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir, ec);
  const std::string state =
      absl::StrCat(options.state_dir, "/", internal::HexEncode(internal::Sha256(fresh.cp.origin)));
  if (fs->Exists(state)) {
    RESIDENCY_ASSIGN_OR_RETURN(std::string old_note, fs->ReadFile(state, 1 << 20));
    auto old_parsed = ParseNote(old_note);
    if (!old_parsed.ok()) {
      return absl::DataLossError(absl::StrCat("witness state `", state, "` is damaged"));
    }
    RESIDENCY_ASSIGN_OR_RETURN(Checkpoint old_cp, ParseCheckpointText(old_parsed->text));
    TileReader reader(source.get(), fresh.cp.size);
    RESIDENCY_RETURN_IF_ERROR(CheckConsistent(&reader, old_cp, fresh.cp));
  }
  const uint64_t ts = static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixSeconds(now)));
  RESIDENCY_ASSIGN_OR_RETURN(std::string line, CosignatureLine(*signer, fresh.parsed.text, ts));
  // Remember the checkpoint (the log's note as received) before handing out the cosignature.
  RESIDENCY_RETURN_IF_ERROR(fs->WriteFileAtomic(state, note));
  std::string out = note;
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out + line;
}

}  // namespace residency
