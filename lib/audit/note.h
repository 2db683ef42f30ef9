// C2SP signed notes (Ed25519, signature type 0x01), verifier keys and tlog-checkpoint bodies,
// through OpenSSL 3 EVP. Thread safety: NoteSigner and NoteVerifier are immutable after
// construction and safe to share between threads; parse functions are pure.
#ifndef RESIDENCY_LIB_AUDIT_NOTE_H_
#define RESIDENCY_LIB_AUDIT_NOTE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/codec.h"
#include "internal/openssl_util.h"

namespace residency::audit {

// A signed-note key name: non-empty UTF-8 without spaces, control characters or `+`.
bool IsValidKeyName(std::string_view name);
// First 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public key).
uint32_t KeyHash(std::string_view name, std::string_view public_key);

class NoteSigner {
 public:
  // Loads a PKCS#8 PEM Ed25519 private key; the key name is the file's stem.
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromPemFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromPem(std::string_view pem,
                                                             std::string name);
  static absl::StatusOr<std::unique_ptr<NoteSigner>> Generate(std::string name);
  // From a raw 32-byte Ed25519 seed (known-answer tests).
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromSeed(std::string_view seed,
                                                              std::string name);

  const std::string& name() const { return name_; }
  const std::string& vkey() const { return vkey_; }
  uint32_t key_hash() const { return key_hash_; }
  // The signed note: `text`, a blank line, `— <name> <base64(keyhash || sig)>\n`.
  absl::StatusOr<std::string> Sign(std::string_view text) const;
  absl::StatusOr<std::string> PrivatePem() const;
  // A bare Ed25519 signature (64 bytes) over `msg` (cosignatures sign their own message).
  absl::StatusOr<std::string> SignRaw(std::string_view msg) const;
  // The raw 32-byte Ed25519 public key.
  absl::StatusOr<std::string> PublicKey() const;

 private:
  NoteSigner() = default;
  static absl::StatusOr<std::unique_ptr<NoteSigner>> FromKey(internal::UniqueEvpPkey key,
                                                             std::string name);
  internal::UniqueEvpPkey key_;
  std::string name_, vkey_;
  uint32_t key_hash_ = 0;
};

class NoteVerifier {
 public:
  // Parses `<name>+<8 hex>+<base64(0x01 || 32-byte key)>`; checks the hash.
  static absl::StatusOr<std::unique_ptr<NoteVerifier>> FromVkey(std::string_view vkey);
  static absl::StatusOr<std::unique_ptr<NoteVerifier>> FromRawEd25519(std::string name,
                                                                      std::string_view pub);
  const std::string& name() const { return name_; }
  uint32_t key_hash() const { return key_hash_; }
  bool Verify(std::string_view msg, std::string_view sig) const;

 private:
  NoteVerifier() = default;
  internal::UniqueEvpPkey key_;
  std::string name_;
  uint32_t key_hash_ = 0;
};

// Reads a key file whole (at most 64 KiB). Errors name the file and say why (the OS reason, a
// directory, too large); they never quote its content.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

// Reads the verifier key in `text`, the content of a `.vkey` file (one line; trailing newlines
// and spaces are allowed) or a vkey string. `where` names it in errors (e.g. "`keys/ops.vkey`").
// Errors say what the text is instead ("a private key; pass the `.vkey`", "not UTF-8 text at
// byte N", ...) and never quote it: a private key given in the wrong place must not reach a
// terminal or a log.
absl::StatusOr<std::unique_ptr<NoteVerifier>> ParseVerifierKeyText(std::string_view text,
                                                                   const std::string& where);

// A key file's text without its trailing newlines, carriage returns and spaces.
std::string_view TrimKeyText(std::string_view text);

// OK when `text` may be a PEM private key; otherwise an InvalidArgument error naming `where`
// and what the text is instead (a verifier key, a public key, binary data), never quoting it.
absl::Status CheckPrivateKeyText(std::string_view text, const std::string& where);

struct NoteSignature {
  std::string name;
  uint32_t key_hash = 0;
  std::string signature;  // bytes after the key hash
};
struct Note {
  std::string text;  // ends with "\n"
  std::vector<NoteSignature> signatures;
};
// Parses a signed note (strict: UTF-8, no control characters but newline, 1..100 signatures).
absl::StatusOr<Note> ParseNote(std::string_view note);

enum class NoteVerdict { kValid, kBadSignature, kUnknownKey };
// kValid when at least one signature is by a known key and every signature by a known key
// verifies; kBadSignature when any known key's signature fails; kUnknownKey otherwise.
NoteVerdict VerifyNote(const Note& note, const std::vector<const NoteVerifier*>& keys,
                       std::string* signer = nullptr);

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;
};
absl::StatusOr<Checkpoint> ParseCheckpointText(std::string_view text);
std::string FormatCheckpointText(std::string_view origin, uint64_t size, const Hash& root);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_NOTE_H_
