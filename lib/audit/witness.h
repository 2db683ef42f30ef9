// C2SP tlog-cosignature (cosignature/v1, Ed25519): cosigner keys, cosignature lines and their
// verification. Thread safety: Cosigner is immutable after construction; functions are pure.
#ifndef RESIDENCY_LIB_AUDIT_WITNESS_H_
#define RESIDENCY_LIB_AUDIT_WITNESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "audit/note.h"

namespace residency::audit {

// SHA-256(name || "\n" || 0x04 || public key)[:4], big-endian.
uint32_t CosignerKeyId(std::string_view name, std::string_view public_key);
// `<name>+<8 hex key id>+<base64(0x04 || public key)>`.
std::string CosignerVkey(std::string_view name, std::string_view public_key);
// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint body.
std::string CosignedMessage(uint64_t timestamp, std::string_view body);

// A cosigner's public side, from its vkey.
struct CosignerKey {
  std::string name;
  uint32_t key_id = 0;
  std::unique_ptr<NoteVerifier> verifier;  // the raw Ed25519 key
};
absl::StatusOr<CosignerKey> ParseCosignerVkey(std::string_view vkey);

// The signature line `— <name> base64(key id || u64 timestamp || signature)\n` over `body`.
absl::StatusOr<std::string> CosignatureLine(const NoteSigner& signer, std::string_view body,
                                            uint64_t timestamp);

enum class CosignatureVerdict { kAbsent, kValid, kBad };
// Looks for `key`'s cosignature (name and key id) on `note`; kValid when one verifies.
CosignatureVerdict VerifyCosignature(const Note& note, const CosignerKey& key,
                                     uint64_t* timestamp = nullptr);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_WITNESS_H_
