#include "tagging/kernels.h"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RESIDENCY_TAGGING_X86 1
#else
#define RESIDENCY_TAGGING_X86 0
#endif

namespace residency::tagging::internal {
namespace {

// The reference: one byte at a time, obviously right.
void ClassifyScalar(const uint8_t* p, size_t nblocks, const KernelParams& params, BlockMasks* out) {
  for (size_t b = 0; b < nblocks; ++b) {
    BlockMasks m = {};
    const uint8_t* s = p + 64 * b;
    for (int i = 0; i < 64; ++i) {
      const uint8_t c = s[i];
      const uint64_t bit = uint64_t{1} << i;
      if (c >= '0' && c <= '9') m.digit |= bit;
      if (c == '@') m.at |= bit;
      if (c == '+') m.plus |= bit;
      if (c == '\\' || c == 0xEF) m.slow |= bit;
      const uint8_t f = c | 0x20;
      for (int a = 0; a < params.num_anchors; ++a) {
        if (f == params.anchor[a]) m.anchor[a] |= bit;
      }
    }
    out[b] = m;
  }
}

#if RESIDENCY_TAGGING_X86

__attribute__((target("sse4.2"))) inline uint64_t Mask16x4(__m128i a, __m128i b, __m128i c,
                                                           __m128i d) {
  const uint64_t m0 = static_cast<uint16_t>(_mm_movemask_epi8(a));
  const uint64_t m1 = static_cast<uint16_t>(_mm_movemask_epi8(b));
  const uint64_t m2 = static_cast<uint16_t>(_mm_movemask_epi8(c));
  const uint64_t m3 = static_cast<uint16_t>(_mm_movemask_epi8(d));
  return m0 | (m1 << 16) | (m2 << 32) | (m3 << 48);
}

__attribute__((target("sse4.2"))) void ClassifySse42(const uint8_t* p, size_t nblocks,
                                                     const KernelParams& params, BlockMasks* out) {
  const __m128i lo = _mm_set1_epi8('0' - 1);
  const __m128i hi = _mm_set1_epi8('9' + 1);
  const __m128i at = _mm_set1_epi8('@');
  const __m128i plus = _mm_set1_epi8('+');
  const __m128i bs = _mm_set1_epi8('\\');
  const __m128i ef = _mm_set1_epi8(static_cast<char>(0xEF));
  const __m128i fold = _mm_set1_epi8(0x20);
  __m128i anchor[kMaxAnchorBytes];
  for (int a = 0; a < kMaxAnchorBytes; ++a) {
    anchor[a] = _mm_set1_epi8(static_cast<char>(params.anchor[a]));
  }
  const int na = params.num_anchors;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* s = p + 64 * b;
    __m128i v[4];
    for (int k = 0; k < 4; ++k)
      v[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16 * k));
    __m128i d[4], t[4], u[4], w[4];
    for (int k = 0; k < 4; ++k) {
      d[k] = _mm_and_si128(_mm_cmpgt_epi8(v[k], lo), _mm_cmplt_epi8(v[k], hi));
      t[k] = _mm_cmpeq_epi8(v[k], at);
      u[k] = _mm_cmpeq_epi8(v[k], plus);
      w[k] = _mm_or_si128(_mm_cmpeq_epi8(v[k], bs), _mm_cmpeq_epi8(v[k], ef));
    }
    BlockMasks& m = out[b];
    m.digit = Mask16x4(d[0], d[1], d[2], d[3]);
    m.at = Mask16x4(t[0], t[1], t[2], t[3]);
    m.plus = Mask16x4(u[0], u[1], u[2], u[3]);
    m.slow = Mask16x4(w[0], w[1], w[2], w[3]);
    for (int a = 0; a < kMaxAnchorBytes; ++a) m.anchor[a] = 0;
    if (na > 0) {
      __m128i f[4];
      for (int k = 0; k < 4; ++k) f[k] = _mm_or_si128(v[k], fold);
      for (int a = 0; a < na; ++a) {
        m.anchor[a] = Mask16x4(_mm_cmpeq_epi8(f[0], anchor[a]), _mm_cmpeq_epi8(f[1], anchor[a]),
                               _mm_cmpeq_epi8(f[2], anchor[a]), _mm_cmpeq_epi8(f[3], anchor[a]));
      }
    }
  }
}

__attribute__((target("avx2"))) inline uint64_t Mask32x2(__m256i a, __m256i b) {
  const uint64_t m0 = static_cast<uint32_t>(_mm256_movemask_epi8(a));
  const uint64_t m1 = static_cast<uint32_t>(_mm256_movemask_epi8(b));
  return m0 | (m1 << 32);
}

__attribute__((target("avx2"))) void ClassifyAvx2(const uint8_t* p, size_t nblocks,
                                                  const KernelParams& params, BlockMasks* out) {
  const __m256i lo = _mm256_set1_epi8('0' - 1);
  const __m256i hi = _mm256_set1_epi8('9' + 1);
  const __m256i at = _mm256_set1_epi8('@');
  const __m256i plus = _mm256_set1_epi8('+');
  const __m256i bs = _mm256_set1_epi8('\\');
  const __m256i ef = _mm256_set1_epi8(static_cast<char>(0xEF));
  const __m256i fold = _mm256_set1_epi8(0x20);
  __m256i anchor[kMaxAnchorBytes];
  for (int a = 0; a < kMaxAnchorBytes; ++a) {
    anchor[a] = _mm256_set1_epi8(static_cast<char>(params.anchor[a]));
  }
  const int na = params.num_anchors;
  for (size_t b = 0; b < nblocks; ++b) {
    const uint8_t* s = p + 64 * b;
    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
    BlockMasks& m = out[b];
    m.digit = Mask32x2(_mm256_and_si256(_mm256_cmpgt_epi8(v0, lo), _mm256_cmpgt_epi8(hi, v0)),
                       _mm256_and_si256(_mm256_cmpgt_epi8(v1, lo), _mm256_cmpgt_epi8(hi, v1)));
    m.at = Mask32x2(_mm256_cmpeq_epi8(v0, at), _mm256_cmpeq_epi8(v1, at));
    m.plus = Mask32x2(_mm256_cmpeq_epi8(v0, plus), _mm256_cmpeq_epi8(v1, plus));
    m.slow = Mask32x2(_mm256_or_si256(_mm256_cmpeq_epi8(v0, bs), _mm256_cmpeq_epi8(v0, ef)),
                      _mm256_or_si256(_mm256_cmpeq_epi8(v1, bs), _mm256_cmpeq_epi8(v1, ef)));
    for (int a = 0; a < kMaxAnchorBytes; ++a) m.anchor[a] = 0;
    if (na > 0) {
      const __m256i f0 = _mm256_or_si256(v0, fold);
      const __m256i f1 = _mm256_or_si256(v1, fold);
      for (int a = 0; a < na; ++a) {
        m.anchor[a] = Mask32x2(_mm256_cmpeq_epi8(f0, anchor[a]), _mm256_cmpeq_epi8(f1, anchor[a]));
      }
    }
  }
}

#endif  // RESIDENCY_TAGGING_X86

}  // namespace

const char* KernelName(KernelKind k) {
  switch (k) {
    case KernelKind::kScalar:
      return "scalar";
    case KernelKind::kSse42:
      return "sse42";
    case KernelKind::kAvx2:
      return "avx2";
  }
  return "unknown";
}

bool ParseKernelName(std::string_view name, KernelKind* out) {
  for (int i = 0; i < kNumKernels; ++i) {
    const KernelKind k = static_cast<KernelKind>(i);
    if (name == KernelName(k)) {
      *out = k;
      return true;
    }
  }
  return false;
}

bool KernelSupported(KernelKind k) {
  switch (k) {
    case KernelKind::kScalar:
      return true;
#if RESIDENCY_TAGGING_X86
    case KernelKind::kSse42:
      return __builtin_cpu_supports("sse4.2");
    case KernelKind::kAvx2:
      return __builtin_cpu_supports("avx2");
#else
    default:
      return false;
#endif
  }
  return false;
}

KernelKind BestKernel() {
  if (KernelSupported(KernelKind::kAvx2)) return KernelKind::kAvx2;
  if (KernelSupported(KernelKind::kSse42)) return KernelKind::kSse42;
  return KernelKind::kScalar;
}

ClassifyBlocksFn GetKernel(KernelKind k) {
#if RESIDENCY_TAGGING_X86
  if (k == KernelKind::kSse42) return &ClassifySse42;
  if (k == KernelKind::kAvx2) return &ClassifyAvx2;
#endif
  return &ClassifyScalar;
}

void ClassifyAll(KernelKind k, const uint8_t* p, size_t n, const KernelParams& params,
                 BlockMasks* out) {
  const ClassifyBlocksFn fn = GetKernel(k);
  const size_t full = n / 64;
  if (full > 0) fn(p, full, params, out);
  const size_t rest = n % 64;
  if (rest > 0) {
    alignas(64) uint8_t tail[64] = {};
    std::memcpy(tail, p + 64 * full, rest);
    BlockMasks m;
    fn(tail, 1, params, &m);
    const uint64_t keep = (uint64_t{1} << rest) - 1;
    m.digit &= keep;
    m.at &= keep;
    m.plus &= keep;
    m.slow &= keep;
    for (int a = 0; a < kMaxAnchorBytes; ++a) m.anchor[a] &= keep;
    out[full] = m;
  }
}

}  // namespace residency::tagging::internal
