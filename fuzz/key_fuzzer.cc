// Key reading, as it meets the files a user names: a verifier key (`.vkey`), a PEM private key
// (`--audit-key`) and a signed note. Never crashes, and an error never quotes the input: it
// names the file and says what the input is, in words of its own (after digits, every message
// is one of a fixed set). A private key given as a verifier key is called one; a verifier key
// given as a private key is called one. Seeds (fuzz/corpus/key/): the files `residency audit
// keygen` writes (a throwaway key made for the corpus; it guards nothing), a checkpoint note it
// signed, its PEM public key (`openssl pkey -pubout`) and its raw 32-byte seed.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "audit/codec.h"
#include "audit/note.h"

namespace {

using residency::audit::CheckPrivateKeyText;
using residency::audit::NoteSigner;
using residency::audit::ParseNote;
using residency::audit::ParseVerifierKeyText;

constexpr char kWhere[] = "`fuzz.key`";

// `m` with each run of digits as one `#`.
std::string Shape(std::string_view m) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] >= '0' && m[i] <= '9') {
      if (out.empty() || out.back() != '#') out.push_back('#');
    } else {
      out.push_back(m[i]);
    }
  }
  return out;
}

// Every reason a key reader may give after "`fuzz.key`: " (digits as `#`).
const std::set<std::string>& KeyReasons() {
  static const auto* reasons = new std::set<std::string>{
      "a private key; pass the `.vkey`",
      "a pem public key, not a signed-note verifier key; pass the `.vkey`",
      "a pem file, not a verifier key; pass the `.vkey`",
      "not UTF-# text at byte #",
      "empty; a `.vkey` holds one verifier key",
      "more than one line; a `.vkey` holds one verifier key",
      "a control character at byte #",
      "verifier key is not `name+hash+key`",
      "verifier key has a key hash that is not # hex digits",
      "verifier key has a key hash that is not # lowercase hex digits",
      "verifier key has a key that is not base# of # bytes",
      "verifier key is not an ed# key",
      "verifier key has a name that is not a valid signed-note key name",
      "verifier key has a key hash that does not match",
      "a public key; pass the private `.pem`",
      "a pem file without a private key; pass the private `.pem`",
      "a verifier key (public); pass the private `.pem`",
      "not a pem private key (pkcs#, as `residency audit keygen` writes)",
  };
  return *reasons;
}

void CheckKeyMessage(std::string_view m) {
  const std::string prefix = std::string(kWhere) + ": ";
  if (m.substr(0, prefix.size()) != prefix) std::abort();
  std::string_view reason = m.substr(prefix.size());
  // OpenSSL may refuse a 32-byte public key; its reason strings are its own.
  if (reason.substr(0, 22) == "bad ed25519 public key") return;
  if (!KeyReasons().count(Shape(reason))) std::abort();
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

void CheckOneLine(std::string_view m) {
  if (m.size() > 1024) std::abort();
  for (char c : m) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto verifier = ParseVerifierKeyText(in, kWhere);
  if (!verifier.ok()) CheckKeyMessage(Msg(verifier.status()));

  absl::Status as_private = CheckPrivateKeyText(in, kWhere);
  if (!as_private.ok()) CheckKeyMessage(Msg(as_private));
  // A good verifier key is never taken for a private key, and is named when given as one.
  if (verifier.ok() &&
      (as_private.ok() || Shape(Msg(as_private)) !=
                              std::string(kWhere) + ": a verifier key (public); pass the private "
                                                    "`.pem`")) {
    std::abort();
  }

  auto signer = NoteSigner::FromPem(in, "fuzz");
  if (signer.ok()) {
    // A private key given where a verifier key goes is called one.
    if (verifier.ok() ||
        Msg(verifier.status()) != std::string(kWhere) + ": a private key; pass the `.vkey`") {
      std::abort();
    }
    if (!as_private.ok()) std::abort();
  } else {
    const std::string m = Msg(signer.status());
    CheckOneLine(m);
    if (m.rfind("`fuzz` is not a pem private key", 0) != 0 &&
        m != "key `fuzz` is not an ed25519 key") {
      std::abort();
    }
  }

  auto note = ParseNote(in);
  if (!note.ok()) {
    CheckOneLine(Msg(note.status()));
    if (note.status().message().size() > 80) std::abort();  // fixed reasons, never the note
  }
  return 0;
}
