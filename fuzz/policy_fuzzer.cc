// Policy YAML: load + validate + compile + lint must never crash, hang or throw, whatever the
// bytes; a compile either yields a snapshot or at least one error diagnostic. A text that
// yaml-cpp reads as more than one document never compiles (nothing after the first document is
// dropped silently).
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "residency/lint.h"
#include "residency/policy.h"

namespace {
// Documents in `text` as yaml-cpp's LoadAll counts them; -1 when it refuses the text.
int DocumentCount(const std::string& text) {
  try {
    return static_cast<int>(YAML::LoadAll(text).size());
  } catch (const std::exception&) {
    return -1;
  }
}

const char kCatalogue[] = R"yaml(kind: catalogue
id: regions
groups:
  EU: {members: [DE, FR]}
providers: {aws: {hq_country: US}, ncp: {hq_country: KR}}
locations:
  - {id: "ncp:KR", country: KR}
  - {id: "aws:eu-central-1", country: DE}
  - {id: "aws:eu-west-2", country: GB}
)yaml";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  residency::CompileOptions o;
  o.max_file_bytes = 1 << 20;
  // As a policy beside a catalogue, and on its own (it may itself be a catalogue).
  for (int mode = 0; mode < 2; ++mode) {
    std::vector<residency::PolicySource> sources = {{"fuzz.yaml", text}};
    if (mode == 0) sources.push_back({"regions.yaml", kCatalogue});
    residency::CompileResult r = residency::CompilePolicySources(sources, o);
    if (!r.snapshot && residency::CountErrors(r.diagnostics) == 0) std::abort();
    // A compiled text was one document (its nesting is bounded, so LoadAll is safe to run).
    if (r.snapshot && DocumentCount(text) > 1) std::abort();
    (void)residency::RenderDiagnostics(r.diagnostics, residency::LintFormat::kSarif);
  }
  return 0;
}
