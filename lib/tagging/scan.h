// The payload scan: kernel masks -> candidates -> shared verifiers, plus the normalising slow
// path for JSON `\u` escapes and full-width forms.
#ifndef RESIDENCY_LIB_TAGGING_SCAN_H_
#define RESIDENCY_LIB_TAGGING_SCAN_H_

#include <cstddef>
#include <cstdint>

#include "tagging/kernels.h"
#include "tagging/plan.h"

namespace residency::tagging::internal {

inline constexpr size_t kBatchBlocks = 16;  // masks computed per kernel call (1 KB of input)

struct ScanOutcome {
  uint8_t found = 0;        // bit per Detector
  uint8_t checksum = 0;     // bit per Detector: a match with a valid checksum
  bool needs_slow = false;  // a `\u` escape or a full-width form was seen
  bool settled = false;     // every enabled detector is settled: rescanning cannot add anything
};

// Scans s[0..n). `check_slow`: look for slow-path triggers (off when rescanning normalised text).
// `batch` holds kBatchBlocks masks.
void ScanBuffer(const PlanData& plan, const uint8_t* s, size_t n, bool check_slow,
                BlockMasks* batch, ScanOutcome* out);

// Whether s[p] starts a sequence the normaliser rewrites (`\u`, EF BC xx, EF BD xx).
bool IsSlowTrigger(const uint8_t* s, size_t n, size_t p);

// Decodes JSON escapes and folds full-width ASCII forms, ideographic space and Unicode dashes to
// ASCII. Writes at most n bytes to out; returns the length written.
size_t Normalize(const uint8_t* s, size_t n, uint8_t* out);

// Whether keyword `k` occurs at s[p] (ASCII case-insensitive, boundaries as configured).
bool KeywordAt(const Keyword& k, const uint8_t* s, size_t n, size_t p);

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_SCAN_H_
