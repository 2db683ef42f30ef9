// Differential fuzzer for the detectors: the tagger's detections on the input must be exactly
// what the RE2 oracle (tests/tagging/tagging_oracle.h: each detector's language written as
// regular expressions, the card issuer ranges and Luhn checked on its matches) finds in the text
// and, when the input has a `\u` escape or a full-width form, in its normalised copy. Any
// disagreement aborts. Seeds: fuzz/corpus/tagging_detectors/ (registration numbers of every
// seventh digit, cards of every issuer range, near misses).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "residency/tagging.h"
#include "tagging/scan.h"
#include "tagging/tagging_oracle.h"

namespace {

namespace tg = residency::tagging;

constexpr char kConfig[] = R"(kind: tagging
max_scan_bytes: 16384
rrn_keywords: ["주민등록번호", "주민번호", "RRN"]
)";

bool HasSlowTrigger(std::string_view s) {
  return s.find("\\u") != std::string_view::npos || s.find("\xEF\xBC") != std::string_view::npos ||
         s.find("\xEF\xBD") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tg::TaggerPlan* plan = [] {
    auto p = tg::TaggerPlan::Compile(kConfig, "fuzz.yaml");
    if (!p.ok()) std::abort();
    return new tg::TaggerPlan(std::move(*p));
  }();
  static tg::TagScratch* scratch = new tg::TagScratch(*plan);
  static const tg::oracle::Oracle* oracle = [] {
    auto* o = new tg::oracle::Oracle({"주민등록번호", "주민번호", "RRN"});
    if (!o->ok()) std::abort();
    return o;
  }();
  if (size > 16384) return 0;  // within the scan budget: the whole input is looked at
  const std::string text(reinterpret_cast<const char*>(data), size);
  uint8_t want = oracle->Detect(text);
  if (HasSlowTrigger(text)) {
    std::string norm(text.size(), '\0');
    norm.resize(tg::internal::Normalize(data, size, reinterpret_cast<uint8_t*>(norm.data())));
    want |= oracle->Detect(norm);
  }
  const std::string_view whole(text);
  tg::RequestView v;
  v.payload = absl::MakeConstSpan(&whole, 1);
  const tg::TagResult r = tg::TagRequest(*plan, v, *scratch);
  if (r.detectors != want) {
    std::fprintf(stderr, "tagging_detectors_fuzzer: tagger 0x%02x, oracle 0x%02x\n", r.detectors,
                 want);
    std::abort();
  }
  return 0;
}
