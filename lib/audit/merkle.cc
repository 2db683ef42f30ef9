// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but still built by
// default; they skip the EVP layer's per-digest allocation. Without them the EVP path is used.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "audit/merkle.h"

#include <openssl/evp.h>
#include <openssl/opensslconf.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace residency::audit {
namespace {

const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // the library cannot run without SHA-256
  return md;
}

int BitLength(uint64_t x) { return x == 0 ? 0 : 64 - __builtin_clzll(x); }
uint64_t LargestPow2Below(uint64_t n) {  // largest power of two < n, n > 1
  return uint64_t{1} << (BitLength(n - 1) - 1);
}

Hash ToHash(std::string_view s) {
  Hash h{};
  std::memcpy(h.data(), s.data(), h.size());
  return h;
}

void Path(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin, uint64_t end, TreeHasher* h,
          std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (n <= 1) return;
  uint64_t k = LargestPow2Below(n);
  if (m < k) {
    Path(leaves, m, begin, begin + k, h, out);
    out->push_back(SubtreeRoot(leaves, begin + k, end, h));
  } else {
    Path(leaves, m - k, begin + k, end, h, out);
    out->push_back(SubtreeRoot(leaves, begin, begin + k, h));
  }
}

void SubProof(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin, uint64_t end,
              bool complete, TreeHasher* h, std::vector<Hash>* out) {
  uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out->push_back(SubtreeRoot(leaves, begin, end, h));
    return;
  }
  uint64_t k = LargestPow2Below(n);
  if (m <= k) {
    SubProof(leaves, m, begin, begin + k, complete, h, out);
    out->push_back(SubtreeRoot(leaves, begin + k, end, h));
  } else {
    SubProof(leaves, m - k, begin + k, end, false, h, out);
    out->push_back(SubtreeRoot(leaves, begin, begin + k, h));
  }
}

absl::Status Mismatch(const char* what) {
  return absl::InvalidArgumentError(absl::StrCat(what, " does not match the proof"));
}

}  // namespace

#if defined(OPENSSL_NO_DEPRECATED_3_0)
TreeHasher::TreeHasher() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) std::abort();
}

Hash TreeHasher::Leaf(std::string_view leaf) {
  static const unsigned char kZero = 0;
  Hash out{};
  EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx_.get(), &kZero, 1);
  EVP_DigestUpdate(ctx_.get(), leaf.data(), leaf.size());
  EVP_DigestFinal_ex(ctx_.get(), out.data(), nullptr);
  return out;
}

Hash TreeHasher::Node(const Hash& l, const Hash& r) {
  unsigned char buf[65];
  buf[0] = 1;
  std::memcpy(buf + 1, l.data(), 32);
  std::memcpy(buf + 33, r.data(), 32);
  Hash out{};
  EVP_DigestInit_ex2(ctx_.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx_.get(), buf, sizeof(buf));
  EVP_DigestFinal_ex(ctx_.get(), out.data(), nullptr);
  return out;
}
#else
TreeHasher::TreeHasher() = default;

Hash TreeHasher::Leaf(std::string_view leaf) {
  static const unsigned char kZero = 0;
  Hash out{};
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, &kZero, 1);
  SHA256_Update(&c, leaf.data(), leaf.size());
  SHA256_Final(out.data(), &c);
  return out;
}

Hash TreeHasher::Node(const Hash& l, const Hash& r) {
  unsigned char buf[65];
  buf[0] = 1;
  std::memcpy(buf + 1, l.data(), 32);
  std::memcpy(buf + 33, r.data(), 32);
  Hash out{};
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, buf, sizeof(buf));
  SHA256_Final(out.data(), &c);
  return out;
}
#endif

Hash TreeHasher::Empty() {
  Hash out{};
  EVP_Digest("", 0, out.data(), nullptr, Sha256Md(), nullptr);
  return out;
}

void CompactRange::Append(const Hash& leaf, TreeHasher* h) {
  nodes_.push_back(leaf);
  for (uint64_t s = size_; s & 1; s >>= 1) {
    Hash right = nodes_.back();
    nodes_.pop_back();
    nodes_.back() = h->Node(nodes_.back(), right);
  }
  ++size_;
}

void CompactRange::Append(const Hash& leaf, TreeHasher* h, int height, Hash* subtree) {
  nodes_.push_back(leaf);
  int merged = 0;
  for (uint64_t s = size_; s & 1; s >>= 1) {
    Hash right = nodes_.back();
    nodes_.pop_back();
    nodes_.back() = h->Node(nodes_.back(), right);
    if (++merged == height) *subtree = nodes_.back();
  }
  ++size_;
}

Hash CompactRange::Root(TreeHasher* h) const {
  if (nodes_.empty()) return TreeHasher::Empty();
  Hash acc = nodes_.back();
  for (size_t i = nodes_.size() - 1; i-- > 0;) acc = h->Node(nodes_[i], acc);
  return acc;
}

Hash SubtreeRoot(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end, TreeHasher* h) {
  uint64_t n = end - begin;
  if (n == 0) return TreeHasher::Empty();
  if (n == 1) return leaves[begin];
  uint64_t k = LargestPow2Below(n);
  return h->Node(SubtreeRoot(leaves, begin, begin + k, h), SubtreeRoot(leaves, begin + k, end, h));
}

absl::StatusOr<std::vector<Hash>> InclusionProof(const std::vector<Hash>& leaves, uint64_t index,
                                                 uint64_t size) {
  if (size > leaves.size() || index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not in a tree of size ", size));
  }
  TreeHasher h;
  std::vector<Hash> out;
  Path(leaves, index, 0, size, &h, &out);
  return out;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(const std::vector<Hash>& leaves, uint64_t size1,
                                                   uint64_t size2) {
  if (size2 > leaves.size() || size1 > size2 || size1 == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("no consistency proof from size ", size1, " to size ", size2));
  }
  TreeHasher h;
  std::vector<Hash> out;
  if (size1 < size2) SubProof(leaves, size1, 0, size2, true, &h, &out);
  return out;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             const std::vector<std::string>& proof, std::string_view root) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is beyond the tree size ", size));
  }
  if (leaf_hash.size() != 32) return absl::InvalidArgumentError("leaf hash is not 32 bytes");
  for (const auto& p : proof) {
    if (p.size() != 32) return absl::InvalidArgumentError("proof hash is not 32 bytes");
  }
  TreeHasher h;
  uint64_t fn = index, sn = size - 1;
  Hash r = ToHash(leaf_hash);
  for (const auto& ps : proof) {
    if (sn == 0) return absl::InvalidArgumentError("inclusion proof is too long");
    Hash p = ToHash(ps);
    if ((fn & 1) || fn == sn) {
      r = h.Node(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = h.Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("inclusion proof is too short");
  if (AsView(r) != root) return Mismatch("root");
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const std::vector<std::string>& proof, std::string_view root1,
                               std::string_view root2) {
  if (size2 < size1) {
    return absl::InvalidArgumentError(absl::StrCat("size ", size1, " is beyond size ", size2));
  }
  if (size1 == 0) return absl::InvalidArgumentError("consistency with an empty tree is vacuous");
  if (size1 == size2) {
    if (!proof.empty()) return absl::InvalidArgumentError("equal sizes need an empty proof");
    if (root1 != root2) return absl::InvalidArgumentError("roots of equal sizes differ");
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::InvalidArgumentError("consistency proof is empty");
  for (const auto& p : proof) {
    if (p.size() != 32) return absl::InvalidArgumentError("proof hash is not 32 bytes");
  }
  if (root1.size() != 32) return absl::InvalidArgumentError("first root is not 32 bytes");
  std::vector<std::string> path = proof;
  // If size1 is an exact power of two, the first root is the first node of the path.
  if ((size1 & (size1 - 1)) == 0) path.insert(path.begin(), std::string(root1));
  TreeHasher h;
  uint64_t fn = size1 - 1, sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = ToHash(path[0]), sr = ToHash(path[0]);
  for (size_t i = 1; i < path.size(); ++i) {
    if (sn == 0) return absl::InvalidArgumentError("consistency proof is too long");
    Hash c = ToHash(path[i]);
    if ((fn & 1) || fn == sn) {
      fr = h.Node(c, fr);
      sr = h.Node(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = h.Node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("consistency proof is too short");
  if (AsView(fr) != root1) return Mismatch("first root");
  if (AsView(sr) != root2) return Mismatch("second root");
  return absl::OkStatus();
}

}  // namespace residency::audit
