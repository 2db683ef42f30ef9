// Request JSON/YAML: parse, then evaluate what parses against a small policy set. Never crashes;
// a parsed request always gets a decision or a non-OK status, and rendering is deterministic.
// The same bytes are also read as a decision's JSON (DecisionFromJson), and every decision made
// reads back from its JSON to the same bytes. A
// YAML text that yaml-cpp reads as more than one document never parses.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "residency/decision.h"
#include "residency/explain.h"
#include "residency/policy.h"
#include "residency/request.h"

namespace {
const char kCatalogue[] = R"yaml(kind: catalogue
id: regions
groups: {EU: {members: [DE, FR]}}
providers: {aws: {hq_country: US}, ncp: {hq_country: KR}}
locations:
  - {id: "ncp:KR", country: KR}
  - {id: "aws:eu-central-1", country: DE}
  - {id: "aws:ap-northeast-1", country: JP}
)yaml";
const char kPolicy[] = R"yaml(kind: policy
id: kr
basis: law
scope: {origins: [KR], user_jurisdictions: [KR]}
lists: {recognized: [{value: EU, effective_from: "2025-09-16"}]}
rules:
  - id: kr.cross_border
    citation: "PIPA Art. 28-8(1)"
    message: m
    when: {classes: [personal], origins: [KR], location: {not_in: [KR]}}
    alternatives:
      - {name: consent, when: {evidence: {types: [consent.cross_border], require: [country]}}, effect: allow}
      - {name: recognized, when: {location: {in_list: recognized}}, effect: allow}
  - id: kr.volume
    citation: c
    message: m
    when: {classes: [personal], subjects: {gte: 1000000}}
    effect: escalate
)yaml";

const residency::PolicySnapshot& Snapshot() {
  static std::shared_ptr<const residency::PolicySnapshot> s =
      residency::CompilePolicySources({{"regions.yaml", kCatalogue}, {"kr.yaml", kPolicy}})
          .snapshot;
  if (!s) std::abort();
  return *s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // The input as a decision's JSON: refused or read, never a crash; what is read writes back to
  // JSON that reads again to the same bytes.
  if (auto read = residency::DecisionFromJson(text); read.ok()) {
    const std::string once = residency::DecisionToJson(*read);
    auto again = residency::DecisionFromJson(once);
    if (!again.ok() || residency::DecisionToJson(*again) != once) std::abort();
  }
  auto req = residency::ParseRequest(text);
  if (!req.ok()) return 0;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] != '{' && text[first] != '[') {
    size_t docs = 0;
    try {
      docs = YAML::LoadAll(text).size();
    } catch (const std::exception&) {
    }
    if (docs > 1) std::abort();
  }
  residency::EvalOptions o;
  o.now = absl::FromUnixSeconds(1782777600);
  auto a = residency::Evaluate(Snapshot(), *req, o);
  auto b = residency::Evaluate(Snapshot(), *req, o);
  if (a.ok() != b.ok()) std::abort();
  if (a.ok() && residency::DecisionToJson(*a) != residency::DecisionToJson(*b)) std::abort();
  // Every decision reads back from its JSON to the same bytes (how a Python Decision unpickles).
  if (a.ok()) {
    const std::string json = residency::DecisionToJson(*a);
    auto back = residency::DecisionFromJson(json);
    if (!back.ok() || residency::DecisionToJson(*back) != json) std::abort();
  }
  // The explanation of any request that parses: the same decision, and text and JSON that render.
  residency::ExplainOptions eo;
  eo.eval = o;
  eo.max_units = 8;
  auto e = residency::Explain(Snapshot(), *req, eo);
  if (e.ok() != a.ok()) std::abort();
  if (e.ok()) {
    if (residency::DecisionToJson(e->decision) != residency::DecisionToJson(*a)) std::abort();
    if (residency::ExplanationToText(*e).empty() || residency::ExplanationToJson(*e).empty()) {
      std::abort();
    }
  }
  return 0;
}
