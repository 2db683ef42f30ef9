// Byte classification kernels of the payload stage. Every kernel computes exactly the same masks
// as the scalar reference; tests compare them bit for bit.
#ifndef RESIDENCY_LIB_TAGGING_KERNELS_H_
#define RESIDENCY_LIB_TAGGING_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace residency::tagging::internal {

inline constexpr int kMaxAnchorBytes = 6;

// The masks of one 64-byte block: bit i describes byte i of the block.
struct BlockMasks {
  uint64_t digit;                    // '0'..'9'
  uint64_t at;                       // '@'
  uint64_t plus;                     // '+'
  uint64_t slow;                     // '\\' or 0xEF (JSON escape, full-width form lead byte)
  uint64_t anchor[kMaxAnchorBytes];  // (byte | 0x20) == anchor byte (keyword prefixes)
};

// Folded keyword anchor bytes; unused slots are never set in the masks.
struct KernelParams {
  uint8_t anchor[kMaxAnchorBytes] = {};
  int num_anchors = 0;
};

enum class KernelKind : uint8_t { kScalar = 0, kSse42 = 1, kAvx2 = 2 };
inline constexpr int kNumKernels = 3;

const char* KernelName(KernelKind k);
bool ParseKernelName(std::string_view name, KernelKind* out);
bool KernelSupported(KernelKind k);  // CPU detection (scalar: always)
KernelKind BestKernel();

// Classifies `nblocks` full 64-byte blocks starting at `p` into out[0..nblocks).
using ClassifyBlocksFn = void (*)(const uint8_t* p, size_t nblocks, const KernelParams& params,
                                  BlockMasks* out);
ClassifyBlocksFn GetKernel(KernelKind k);

// Classifies any length: ceil(n / 64) masks; bits past `n` in the last block are zero. Used by
// tests and fuzzers; the scanner has its own batched loop over the same kernels.
void ClassifyAll(KernelKind k, const uint8_t* p, size_t n, const KernelParams& params,
                 BlockMasks* out);

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_KERNELS_H_
