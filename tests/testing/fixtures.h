// Shared test fixtures: a small catalogue and helpers to compile inline policy text.
#ifndef RESIDENCY_TESTS_TESTING_FIXTURES_H_
#define RESIDENCY_TESTS_TESTING_FIXTURES_H_

#include <string>
#include <vector>

#include "residency/policy.h"

namespace residency::testing {

// A catalogue with the traps: London and Zurich under `eu-` codes, Hong Kong, Korean providers.
inline const char kTestCatalogue[] = R"(kind: catalogue
id: regions
groups:
  EU: {members: [AT, BE, DE, FR, IE, IT, NL, ES, SE, PL]}
  EEA: {members: [EU, IS, LI, "NO"]}
  CN_MAINLAND: {members: [CN]}
providers:
  aws: {hq_country: US}
  ncp: {hq_country: KR}
  nhn: {hq_country: KR}
  alibaba: {hq_country: CN}
  site: {}
locations:
  - {id: "ncp:KR", country: KR, site: public, attributes: {korean_provider: true}}
  - {id: "ncp:gov-KR", country: KR, site: gov, certifications: ["csap:high", "csap:medium", "csap:low"]}
  - {id: "nhn:kr1", country: KR, site: public, attributes: {korean_provider: true}}
  - {id: "aws:ap-northeast-2", country: KR, city: Seoul}
  - {id: "site:naver-gak-sejong", country: KR, site: onprem}
  - {id: "aws:ap-northeast-1", country: JP, city: Tokyo}
  - {id: "aws:eu-central-1", country: DE, city: Frankfurt}
  - {id: "aws:eu-west-2", country: GB, city: London}
  - {id: "aws:eu-central-2", country: CH, city: Zurich}
  - {id: "aws:us-east-1", country: US}
  - {id: "aws:ap-east-1", country: HK, city: Hong Kong}
  - {id: "alibaba:cn-beijing", country: CN}
  - {id: "alibaba:cn-hongkong", country: HK}
  - {id: "aws:eu-north-1", country: SE}
  - {id: "ncp:JPN", country: JP}
)";

inline CompileResult CompileWith(const std::vector<std::string>& policies,
                                 const CompileOptions& options = CompileOptions()) {
  std::vector<PolicySource> sources = {{"regions.yaml", kTestCatalogue}};
  int i = 0;
  for (const auto& p : policies) sources.push_back({"p" + std::to_string(i++) + ".yaml", p});
  return CompilePolicySources(sources, options);
}

// The first diagnostic whose code is `code`, or nullptr.
inline const Diagnostic* Find(const CompileResult& r, const std::string& code) {
  for (const auto& d : r.diagnostics)
    if (d.code == code) return &d;
  return nullptr;
}

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_TESTING_FIXTURES_H_
