// RAII over the OpenSSL objects the library uses, error-queue draining, and SHA-256.
// Thread safety: every function here is safe to call from any thread.
#ifndef RESIDENCY_LIB_INTERNAL_OPENSSL_UTIL_H_
#define RESIDENCY_LIB_INTERNAL_OPENSSL_UTIL_H_

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace residency::internal {

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct EvpPkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct EvpMdDeleter {
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
using UniqueEvpMdCtx = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;
using UniqueEvpPkey = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using UniqueEvpPkeyCtx = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter>;
using UniqueEvpMd = std::unique_ptr<EVP_MD, EvpMdDeleter>;

// Empties this thread's OpenSSL error queue into a status of `code` whose message starts with
// `context`. Always returns a non-OK status.
absl::Status DrainOpenSslErrors(std::string_view context,
                                absl::StatusCode code = absl::StatusCode::kInternal);

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of `data`. The EVP_MD is fetched once per process.
Sha256Digest Sha256(std::string_view data);

// Incremental SHA-256; not thread-safe (one per thread).
class Sha256Hasher {
 public:
  Sha256Hasher();
  void Update(std::string_view data);
  Sha256Digest Finish();

 private:
  UniqueEvpMdCtx ctx_;
};

// Lowercase hex of `bytes`.
std::string HexEncode(std::string_view bytes);
inline std::string HexEncode(const Sha256Digest& d) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_OPENSSL_UTIL_H_
