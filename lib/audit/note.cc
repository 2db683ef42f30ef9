#include "audit/note.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "internal/status_macros.h"

namespace residency::audit {
namespace {

constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014 then a space
constexpr uint8_t kEd25519Type = 0x01;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;

std::string Stem(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

absl::StatusOr<std::string> RawPublicKey(EVP_PKEY* key) {
  std::string pub(32, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 ||
      len != 32) {
    return internal::DrainOpenSslErrors("cannot read the ed25519 public key");
  }
  return pub;
}

bool IsUnicodeSpace(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000;
}

// Decodes UTF-8 (already validated) into code points.
std::vector<uint32_t> CodePoints(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  const std::string where = absl::StrCat("`", Excerpt(path, 200), "`");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read key file ", where, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(where, dir ? ": a directory, not a key file" : ": not a regular file"));
  }
  constexpr size_t kMaxKeyFile = 64 * 1024;
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read key file ", where, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxKeyFile) {
      ::close(fd);
      return absl::InvalidArgumentError(absl::StrCat(where, ": too large for a key file"));
    }
  }
  ::close(fd);
  return text;
}

namespace {

// What a key file holds when it is not what was asked for; empty when it may be. Judged from
// markers and byte classes only, so that the verdict never quotes the file.
std::string WrongKeyText(std::string_view text, bool want_private) {
  const bool pem = text.find("-----BEGIN ") != std::string_view::npos;
  if (pem && text.find("PRIVATE KEY-----") != std::string_view::npos) {
    return want_private ? "" : "a private key; pass the `.vkey`";
  }
  if (pem && text.find("PUBLIC KEY-----") != std::string_view::npos) {
    return want_private ? "a public key; pass the private `.pem`"
                        : "a pem public key, not a signed-note verifier key; pass the `.vkey`";
  }
  if (pem) {
    return want_private ? "a pem file without a private key; pass the private `.pem`"
                        : "a pem file, not a verifier key; pass the `.vkey`";
  }
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    return absl::StrCat("not UTF-8 text at byte ", bad);
  }
  return "";
}

}  // namespace

std::string_view TrimKeyText(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  return text;
}

absl::Status CheckPrivateKeyText(std::string_view text, const std::string& where) {
  std::string wrong = WrongKeyText(text, /*want_private=*/true);
  if (wrong.empty() && text.find("-----BEGIN ") == std::string_view::npos) {
    // One line of `name+hash+base64` is the verifier key written beside the private one.
    std::string_view line = TrimKeyText(text);
    wrong = line.find('\n') == std::string_view::npos && NoteVerifier::FromVkey(line).ok()
                ? "a verifier key (public); pass the private `.pem`"
                : "not a pem private key (pkcs#8, as `residency audit keygen` writes)";
  }
  if (wrong.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", wrong));
}

absl::StatusOr<std::unique_ptr<NoteVerifier>> ParseVerifierKeyText(std::string_view text,
                                                                   const std::string& where) {
  auto fail = [&where](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", why));
  };
  if (std::string wrong = WrongKeyText(text, /*want_private=*/false); !wrong.empty()) {
    return fail(wrong);
  }
  std::string_view line = TrimKeyText(text);
  if (line.empty()) return fail("empty; a `.vkey` holds one verifier key");
  for (size_t i = 0; i < line.size(); ++i) {
    auto u = static_cast<unsigned char>(line[i]);
    if (line[i] == '\n') return fail("more than one line; a `.vkey` holds one verifier key");
    if (u < 0x20 || u == 0x7f) return fail(absl::StrCat("a control character at byte ", i));
  }
  auto v = NoteVerifier::FromVkey(line);
  if (!v.ok()) return fail(v.status().message());
  return v;
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty() || !IsValidUtf8(name)) return false;
  for (uint32_t cp : CodePoints(name)) {
    if (cp < 0x20 || cp == 0x7f || cp == '+' || IsUnicodeSpace(cp)) return false;
  }
  return true;
}

uint32_t KeyHash(std::string_view name, std::string_view pub) {
  internal::Sha256Hasher h;
  h.Update(name);
  h.Update("\n");
  char t = static_cast<char>(kEd25519Type);
  h.Update(std::string_view(&t, 1));
  h.Update(pub);
  auto d = h.Finish();
  return (uint32_t{d[0]} << 24) | (uint32_t{d[1]} << 16) | (uint32_t{d[2]} << 8) | d[3];
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromKey(internal::UniqueEvpPkey key,
                                                                std::string name) {
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key name `", Excerpt(name), "` is not a valid signed-note key name"));
  }
  if (EVP_PKEY_is_a(key.get(), "ED25519") != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key `", Excerpt(name), "` is not an ed25519 key"));
  }
  RESIDENCY_ASSIGN_OR_RETURN(std::string pub, RawPublicKey(key.get()));
  std::unique_ptr<NoteSigner> s(new NoteSigner());
  s->key_ = std::move(key);
  s->name_ = std::move(name);
  s->key_hash_ = KeyHash(s->name_, pub);
  char hash_hex[9];
  snprintf(hash_hex, sizeof(hash_hex), "%08x", s->key_hash_);
  std::string typed(1, static_cast<char>(kEd25519Type));
  typed += pub;
  s->vkey_ = absl::StrCat(s->name_, "+", hash_hex, "+", Base64Encode(typed));
  return s;
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromPem(std::string_view pem,
                                                                std::string name) {
  UniqueBio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return internal::DrainOpenSslErrors("cannot read the private key");
  // A passphrase callback that refuses: an encrypted key is an error, never a prompt.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  internal::UniqueEvpPkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, +no_passphrase, nullptr));
  if (!key) {
    return internal::DrainOpenSslErrors(
        absl::StrCat("`", Excerpt(name), "` is not a pem private key"),
        absl::StatusCode::kInvalidArgument);
  }
  return FromKey(std::move(key), std::move(name));
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromPemFile(const std::string& path) {
  RESIDENCY_ASSIGN_OR_RETURN(std::string pem, ReadKeyFile(path));
  const std::string where = absl::StrCat("`", Excerpt(path, 200), "`");
  if (absl::Status s = CheckPrivateKeyText(pem, where); !s.ok()) return s;
  auto signer = FromPem(pem, Stem(path));
  if (!signer.ok()) {
    // OpenSSL's reasons name the failing step, never the key's bytes.
    return absl::Status(signer.status().code(),
                        absl::StrCat(where, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::Generate(std::string name) {
  internal::UniqueEvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_generate(ctx.get(), &raw) != 1) {
    return internal::DrainOpenSslErrors("ed25519 key generation failed");
  }
  return FromKey(internal::UniqueEvpPkey(raw), std::move(name));
}

absl::StatusOr<std::unique_ptr<NoteSigner>> NoteSigner::FromSeed(std::string_view seed,
                                                                 std::string name) {
  if (seed.size() != 32) return absl::InvalidArgumentError("ed25519 seed is not 32 bytes");
  internal::UniqueEvpPkey key(EVP_PKEY_new_raw_private_key_ex(
      nullptr, "ED25519", nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
      seed.size()));
  if (!key) return internal::DrainOpenSslErrors("bad ed25519 seed");
  return FromKey(std::move(key), std::move(name));
}

absl::StatusOr<std::string> NoteSigner::Sign(std::string_view text) const {
  internal::UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof(sig);
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_.get(), nullptr) !=
          1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size()) != 1 ||
      len != 64) {
    return internal::DrainOpenSslErrors("ed25519 signing failed");
  }
  std::string blob;
  PutU32(&blob, key_hash_);
  blob.append(reinterpret_cast<const char*>(sig), len);
  return absl::StrCat(std::string(text), "\n", std::string(kEmDashSpace), name_, " ",
                      Base64Encode(blob), "\n");
}

absl::StatusOr<std::string> NoteSigner::SignRaw(std::string_view msg) const {
  internal::UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof(sig);
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_.get(), nullptr) !=
          1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1 ||
      len != 64) {
    return internal::DrainOpenSslErrors("ed25519 signing failed");
  }
  return std::string(reinterpret_cast<const char*>(sig), len);
}

absl::StatusOr<std::string> NoteSigner::PublicKey() const { return RawPublicKey(key_.get()); }

absl::StatusOr<std::string> NoteSigner::PrivatePem() const {
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return internal::DrainOpenSslErrors("cannot write the private key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<std::unique_ptr<NoteVerifier>> NoteVerifier::FromRawEd25519(std::string name,
                                                                           std::string_view pub) {
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("key name `", Excerpt(name), "` is not valid"));
  }
  if (pub.size() != 32) return absl::InvalidArgumentError("ed25519 public key is not 32 bytes");
  internal::UniqueEvpPkey key(EVP_PKEY_new_raw_public_key_ex(
      nullptr, "ED25519", nullptr, reinterpret_cast<const unsigned char*>(pub.data()), pub.size()));
  if (!key) {
    return internal::DrainOpenSslErrors("bad ed25519 public key",
                                        absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<NoteVerifier> v(new NoteVerifier());
  v->key_ = std::move(key);
  v->name_ = std::move(name);
  v->key_hash_ = KeyHash(v->name_, pub);
  return v;
}

absl::StatusOr<std::unique_ptr<NoteVerifier>> NoteVerifier::FromVkey(std::string_view vkey) {
  // Never quotes `vkey`: what was passed may be a secret given in the wrong place.
  auto bad = [](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat("verifier key ", why));
  };
  size_t p1 = vkey.find('+');
  if (p1 == std::string_view::npos) return bad("is not `name+hash+key`");
  size_t p2 = vkey.find('+', p1 + 1);
  if (p2 == std::string_view::npos) return bad("is not `name+hash+key`");
  std::string_view name = vkey.substr(0, p1), hash_hex = vkey.substr(p1 + 1, p2 - p1 - 1),
                   b64 = vkey.substr(p2 + 1);
  if (hash_hex.size() != 8) return bad("has a key hash that is not 8 hex digits");
  auto hash_raw = HexDecode(hash_hex);
  auto typed = Base64Decode(b64);
  if (!hash_raw) return bad("has a key hash that is not 8 lowercase hex digits");
  if (!typed || typed->size() != 33) return bad("has a key that is not base64 of 33 bytes");
  if (static_cast<uint8_t>((*typed)[0]) != kEd25519Type) return bad("is not an ed25519 key");
  if (!IsValidKeyName(name)) return bad("has a name that is not a valid signed-note key name");
  RESIDENCY_ASSIGN_OR_RETURN(auto v,
                             FromRawEd25519(std::string(name), std::string_view(*typed).substr(1)));
  if (LoadU32(hash_raw->data()) != v->key_hash_) return bad("has a key hash that does not match");
  return v;
}

bool NoteVerifier::Verify(std::string_view msg, std::string_view sig) const {
  if (sig.size() != 64) return false;
  internal::UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  bool ok =
      ctx &&
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_.get(), nullptr) ==
          1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  ERR_clear_error();  // a failed verification is an answer, not an error
  return ok;
}

absl::StatusOr<Note> ParseNote(std::string_view note) {
  auto bad = [](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat("malformed signed note: ", why));
  };
  if (note.size() > 1 << 20) return bad("too large");
  if (!IsValidUtf8(note)) return bad("not utf-8");
  for (char c : note) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) return bad("control character");
  }
  if (note.empty() || note.back() != '\n') return bad("does not end with a newline");
  size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return bad("no blank line before the signatures");
  Note out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return bad("no signatures");
  while (!sigs.empty()) {
    size_t nl = sigs.find('\n');
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (line.substr(0, kEmDashSpace.size()) != kEmDashSpace) {
      return bad("signature line does not start with an em dash");
    }
    line.remove_prefix(kEmDashSpace.size());
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return bad("signature line has no signature");
    NoteSignature s;
    s.name = std::string(line.substr(0, sp));
    if (!IsValidKeyName(s.name)) return bad("bad key name in a signature line");
    auto blob = Base64Decode(line.substr(sp + 1));
    if (!blob || blob->size() < 5) return bad("bad signature encoding");
    s.key_hash = LoadU32(blob->data());
    s.signature = blob->substr(4);
    out.signatures.push_back(std::move(s));
    if (out.signatures.size() > 100) return bad("too many signatures");
  }
  // The text itself: non-empty lines only.
  if (out.text.size() < 2 || out.text.find("\n\n") != std::string::npos || out.text[0] == '\n') {
    return bad("empty line in the note text");
  }
  return out;
}

NoteVerdict VerifyNote(const Note& note, const std::vector<const NoteVerifier*>& keys,
                       std::string* signer) {
  bool any_valid = false;
  for (const auto& s : note.signatures) {
    for (const NoteVerifier* k : keys) {
      if (k->name() != s.name || k->key_hash() != s.key_hash) continue;
      if (!k->Verify(note.text, s.signature)) return NoteVerdict::kBadSignature;
      if (!any_valid && signer) *signer = s.name;
      any_valid = true;
    }
  }
  return any_valid ? NoteVerdict::kValid : NoteVerdict::kUnknownKey;
}

absl::StatusOr<Checkpoint> ParseCheckpointText(std::string_view text) {
  auto bad = [](const char* why) {
    return absl::InvalidArgumentError(absl::StrCat("malformed checkpoint: ", why));
  };
  if (text.empty() || text.back() != '\n') return bad("text does not end with a newline");
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) return bad("fewer than three lines");
  Checkpoint cp;
  if (lines[0].empty()) return bad("empty origin");
  cp.origin = std::string(lines[0]);
  std::string_view size = lines[1];
  if (size.empty() || size.size() > 19 || (size.size() > 1 && size[0] == '0')) {
    return bad("tree size is not a canonical decimal");
  }
  for (char c : size) {
    if (c < '0' || c > '9') return bad("tree size is not a decimal");
    cp.size = cp.size * 10 + static_cast<uint64_t>(c - '0');
  }
  auto root = Base64Decode(lines[2]);
  if (!root || root->size() != 32) return bad("root is not base64 of 32 bytes");
  std::memcpy(cp.root.data(), root->data(), 32);
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].empty()) return bad("empty extension line");
    cp.extensions.emplace_back(lines[i]);
  }
  return cp;
}

std::string FormatCheckpointText(std::string_view origin, uint64_t size, const Hash& root) {
  return absl::StrCat(std::string(origin), "\n", size, "\n", Base64Encode(AsView(root)), "\n");
}

}  // namespace residency::audit
