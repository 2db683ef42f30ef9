// The compiled tagger plan (private).
#ifndef RESIDENCY_LIB_TAGGING_PLAN_H_
#define RESIDENCY_LIB_TAGGING_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "residency/tagging.h"
#include "tagging/ip_lpm.h"
#include "tagging/kernels.h"

namespace residency::tagging::internal {

inline constexpr size_t kMaxKeywords = 32;
inline constexpr size_t kMaxKeywordBytes = 64;
inline constexpr size_t kMaxKeywordPairs = 8;
inline constexpr size_t kMaxHeaders = 16;
inline constexpr size_t kMaxScanBytesLimit = size_t{16} << 20;

struct Keyword {
  std::string bytes;             // as written (UTF-8)
  bool boundary_before = false;  // first byte ASCII alnum: must not follow an ASCII alnum
  bool boundary_after = false;
};

struct HeaderRule {
  std::string name;  // lower case
};

struct Network {
  Country country;
  Provenance provenance = Provenance::kVerified;
};

struct PlanData {
  // The configuration it was compiled from (TaggerPlan::source_name/source_text).
  std::string source_name, source_text;
  // Detectors.
  uint8_t enabled = 0;  // bit per Detector
  std::vector<Keyword> keywords;
  KernelParams kernel_params;
  // Keyword fingerprints: anchor indices of the first two (or three) folded bytes; a keyword can
  // start only where its fingerprint's anchors line up. third == kNoAnchor: two bytes only.
  static constexpr uint8_t kNoAnchor = 0xFF;
  uint8_t num_fingerprints = 0;
  uint8_t fp_first[kMaxKeywordPairs] = {};
  uint8_t fp_second[kMaxKeywordPairs] = {};
  uint8_t fp_third[kMaxKeywordPairs] = {};
  KernelKind kernel = KernelKind::kScalar;
  ClassifyBlocksFn classify = nullptr;
  size_t max_scan_bytes = 65536;
  // Metadata.
  Country unknown_origin;
  Country default_kr;
  std::vector<HeaderRule> headers;  // in order of preference
  absl::flat_hash_map<std::string, Country> tenants;
  std::vector<Network> networks;
  LpmTable v4;
  LpmTable v6;
};

}  // namespace residency::tagging::internal

#endif  // RESIDENCY_LIB_TAGGING_PLAN_H_
