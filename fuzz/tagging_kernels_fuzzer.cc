// Differential fuzzer for the payload stage: every kernel the CPU supports must give exactly the
// scalar kernel's masks, the whole tagger must give the same result with every kernel, and a
// chunked payload must give the whole buffer's result. Any disagreement aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "residency/tagging.h"
#include "tagging/kernels.h"

namespace {

namespace tg = residency::tagging;
namespace in = residency::tagging::internal;

constexpr char kConfig[] = R"(kind: tagging
max_scan_bytes: 4096
rrn_keywords: ["주민등록번호", "주민번호", "RRN"]
country_headers: [x-user-country]
tenants: {t1: KR}
)";

struct Plans {
  std::vector<std::unique_ptr<tg::TaggerPlan>> plans;
  std::vector<std::unique_ptr<tg::TagScratch>> scratch;
};

Plans& GetPlans() {
  static Plans* p = [] {
    auto* out = new Plans();
    for (int k = 0; k < in::kNumKernels; ++k) {
      if (!in::KernelSupported(static_cast<in::KernelKind>(k))) continue;
      tg::TaggerOptions o;
      o.force_kernel = in::KernelName(static_cast<in::KernelKind>(k));
      auto plan = tg::TaggerPlan::Compile(kConfig, "fuzz.yaml", o);
      if (!plan.ok()) std::abort();
      out->plans.push_back(std::make_unique<tg::TaggerPlan>(std::move(*plan)));
      out->scratch.push_back(std::make_unique<tg::TagScratch>(*out->plans.back()));
    }
    return out;
  }();
  return *p;
}

void Fail(const char* what) {
  std::fprintf(stderr, "tagging_kernels_fuzzer: %s\n", what);
  std::abort();
}

bool SameResult(const tg::TagResult& a, const tg::TagResult& b) {
  if (a.detectors != b.detectors || a.high_confidence != b.high_confidence ||
      a.classes != b.classes || a.status != b.status || a.bytes_scanned != b.bytes_scanned ||
      a.num_tags != b.num_tags) {
    return false;
  }
  for (int i = 0; i < a.num_tags; ++i) {
    if (a.tags[i].origin != b.tags[i].origin || a.tags[i].data_class != b.tags[i].data_class ||
        a.tags[i].provenance != b.tags[i].provenance) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Byte 0 drives the anchors used by the mask check and the chunk split points.
  const uint8_t ctl = data[0];
  const uint8_t* text = data + 1;
  const size_t n = size - 1;

  in::KernelParams params;
  params.num_anchors = ctl % (in::kMaxAnchorBytes + 1);
  for (int a = 0; a < params.num_anchors; ++a) {
    params.anchor[a] = static_cast<uint8_t>((n > static_cast<size_t>(a) ? text[a] : 'r') | 0x20);
  }
  const size_t nb = (n + 63) / 64 + 1;
  std::vector<in::BlockMasks> ref(nb), got(nb);
  in::ClassifyAll(in::KernelKind::kScalar, text, n, params, ref.data());
  for (int k = 1; k < in::kNumKernels; ++k) {
    const auto kind = static_cast<in::KernelKind>(k);
    if (!in::KernelSupported(kind)) continue;
    in::ClassifyAll(kind, text, n, params, got.data());
    if (std::memcmp(ref.data(), got.data(), sizeof(in::BlockMasks) * ((n + 63) / 64)) != 0) {
      Fail("kernel masks differ from scalar");
    }
  }

  Plans& p = GetPlans();
  const std::string_view whole(reinterpret_cast<const char*>(text), n);
  tg::RequestView v;
  v.payload = absl::MakeConstSpan(&whole, 1);
  const tg::TagResult base = tg::TagRequest(*p.plans[0], v, *p.scratch[0]);
  for (size_t i = 1; i < p.plans.size(); ++i) {
    if (!SameResult(base, tg::TagRequest(*p.plans[i], v, *p.scratch[i]))) {
      Fail("tagger result depends on the kernel");
    }
  }
  // Chunked: split points from the control byte (1..32 bytes per chunk, some empty chunks).
  std::vector<std::string_view> chunks;
  size_t pos = 0, step = 1 + (ctl >> 3);
  while (pos < n) {
    const size_t len = std::min(n - pos, step);
    chunks.push_back(whole.substr(pos, len));
    if ((pos & 7) == 3) chunks.push_back(std::string_view());
    pos += len;
    step = 1 + ((step * 7 + ctl) % 32);
  }
  v.payload = chunks;
  for (size_t i = 0; i < p.plans.size(); ++i) {
    if (!SameResult(base, tg::TagRequest(*p.plans[i], v, *p.scratch[i]))) {
      Fail("chunked result differs from the whole buffer");
    }
  }
  return 0;
}
