// Fuzzer for the `residency tag` input lines: any line either parses or gives a one-line error;
// a parsed request is tagged and its output line is valid JSON with the fixed keys.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "residency/tagging.h"

namespace {
namespace tg = residency::tagging;

constexpr char kConfig[] = R"(kind: tagging
max_scan_bytes: 1024
country_headers: [x-user-country]
tenants: {t1: KR}
networks:
  - {jurisdiction: KR, cidrs: [203.0.113.0/24, "2001:db8::/32"]}
)";

const tg::TaggerPlan& Plan() {
  static const tg::TaggerPlan* plan = [] {
    auto p = tg::TaggerPlan::Compile(kConfig, "fuzz.yaml");
    if (!p.ok()) std::abort();
    return new tg::TaggerPlan(std::move(*p));
  }();
  return *plan;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  tg::OwnedRequest req;
  const std::string err = tg::ParseRequestLine(line, &req);
  if (!err.empty()) {
    if (err.find('\n') != std::string::npos) std::abort();
    const auto e = nlohmann::json::parse(tg::RenderErrorLine(1, err), nullptr, false);
    if (e.is_discarded()) std::abort();
    return 0;
  }
  static tg::TagScratch* scratch = new tg::TagScratch(Plan());
  const tg::TagResult r = tg::TagRequest(Plan(), req.view(), *scratch);
  const auto out = nlohmann::json::parse(tg::RenderResultLine(r), nullptr, false);
  if (out.is_discarded() || !out.contains("tags") || !out.contains("status") ||
      !out.contains("bytes_scanned")) {
    std::fprintf(stderr, "tagging_request_fuzzer: bad output line\n");
    std::abort();
  }
  return 0;
}
