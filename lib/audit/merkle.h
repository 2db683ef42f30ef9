// RFC 6962 / RFC 9162 Merkle tree: hashing, the writer's compact range, proof generation from
// leaf hashes and proof verification. Thread safety: free functions are safe from any thread;
// TreeHasher and CompactRange are thread-compatible (one per thread).
#ifndef RESIDENCY_LIB_AUDIT_MERKLE_H_
#define RESIDENCY_LIB_AUDIT_MERKLE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/codec.h"
#include "internal/openssl_util.h"

namespace residency::audit {

// Leaf and node hashes. The writer and the verifier make one or two per record, so the cost of
// OpenSSL 3's EVP layer (an allocation and a free per digest) matters: where the OpenSSL build
// still has the plain SHA-256 functions (Debian's does) they are used directly, with the same
// assembly underneath (SHA-NI where the CPU has it); otherwise one EVP_MD_CTX is reused.
class TreeHasher {
 public:
  TreeHasher();
  Hash Leaf(std::string_view leaf_bytes);          // SHA-256(0x00 || leaf)
  Hash Node(const Hash& left, const Hash& right);  // SHA-256(0x01 || left || right)
  static Hash Empty();                             // SHA-256("")

 private:
  internal::UniqueEvpMdCtx ctx_;  // the EVP path only
};

// The frontier of an append-only tree: perfect-subtree roots for the set bits of `size`.
class CompactRange {
 public:
  void Append(const Hash& leaf_hash, TreeHasher* h);
  // Same; when this leaf completes a perfect subtree of 2^height leaves (size() becomes a
  // multiple of it), sets *subtree to that subtree's root, computed on the way (the tiles
  // publisher takes each full tile's root from here). height >= 1.
  void Append(const Hash& leaf_hash, TreeHasher* h, int height, Hash* subtree);
  Hash Root(TreeHasher* h) const;
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> nodes_;  // left to right, largest subtree first
};

// Merkle tree hash of `leaves` (leaf hashes) [begin, end).
Hash SubtreeRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end, TreeHasher* h);

// RFC 6962 PATH(index, D[0:size]) and PROOF(size1, D[0:size2]) from the leaf hashes.
absl::StatusOr<std::vector<Hash>> InclusionProof(const std::vector<Hash>& leaves, uint64_t index,
                                                 uint64_t size);
absl::StatusOr<std::vector<Hash>> ConsistencyProof(const std::vector<Hash>& leaves, uint64_t size1,
                                                   uint64_t size2);

// RFC 9162 §2.1.3.2 and §2.1.4.2. Hashes are passed as byte strings so that wrong lengths are
// rejected rather than truncated. OK when the proof holds.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             const std::vector<std::string>& proof, std::string_view root);
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const std::vector<std::string>& proof, std::string_view root1,
                               std::string_view root2);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_MERKLE_H_
