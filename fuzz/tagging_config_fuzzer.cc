// Fuzzer for the tagging.yaml compiler: any input either compiles or gives an error of the form
// "<name>:LINE:COL: error: ..."; a compiled plan then tags a fixed request without trouble.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "residency/tagging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tg = residency::tagging;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tg::TaggerOptions o;
  o.force_kernel = "scalar";
  auto plan = tg::TaggerPlan::Compile(text, "fuzz.yaml", o);
  if (!plan.ok()) {
    const std::string msg(plan.status().message());
    if (msg.rfind("fuzz.yaml:", 0) != 0 || msg.find(": error: ") == std::string::npos) {
      std::fprintf(stderr, "tagging_config_fuzzer: malformed error message: %s\n", msg.c_str());
      std::abort();
    }
    return 0;
  }
  tg::TagScratch scratch(*plan);
  const tg::Header headers[] = {{"x-user-country", "KR"}, {"X-Client-Country", "de"}};
  const std::string_view payload[] = {"주민등록번호 900101-1234568 ",
                                      "kim@example.com 010-1234-5678"};
  tg::RequestView v;
  v.headers = headers;
  v.tenant = "t1";
  tg::IpAddress::Parse("203.0.113.7", &v.peer);
  v.payload = payload;
  const tg::TagResult r = tg::TagRequest(*plan, v, scratch);
  if (r.num_tags > tg::kMaxTags) std::abort();
  return 0;
}
