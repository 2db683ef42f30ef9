// The metadata stage, tag derivation, budget, chunking, config errors.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "residency/tagging.h"
#include "tagging/tagging_corpus.h"
#include "tagging/tagging_test_util.h"

namespace residency::tagging {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MustCompile;
using testing::ShippedPlan;
using testing::TagChunks;
using testing::TagStrings;
using testing::TagText;

const char kRrn[] = "900101-1234568";  // valid date; checksum irrelevant to detection

TagResult Meta(std::vector<Header> headers, std::string_view tenant, std::string_view peer) {
  return TagChunks(ShippedPlan(), {}, headers, tenant, peer);
}

TEST(TaggerPlanSource, ThePlanKeepsItsConfigurationToBeCompiledAgain) {
  const std::string yaml = "kind: tagging\nversion: 1\n";
  auto p = TaggerPlan::Compile(yaml, "t.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->source_name(), "t.yaml");
  EXPECT_EQ(p->source_text(), yaml);
  auto again = TaggerPlan::Compile(p->source_text(), p->source_name());
  ASSERT_TRUE(again.ok());
  EXPECT_STREQ(again->kernel_name(), p->kernel_name());
  EXPECT_EQ(again->max_scan_bytes(), p->max_scan_bytes());
}

TEST(Metadata, TenantIsVerified) {
  const TagResult r = Meta({}, "t1", "");
  EXPECT_EQ(r.user.view(), "KR");
  EXPECT_EQ(r.user_provenance, Provenance::kVerified);
  EXPECT_EQ(r.user_source, TagResult::UserSource::kTenant);
  EXPECT_EQ(r.num_tags, 0);
  EXPECT_EQ(r.status, ScanStatus::kComplete);
  EXPECT_EQ(Meta({}, "nobody", "").user_provenance, Provenance::kNone);
}

TEST(Metadata, PeerLongestPrefixMatch) {
  EXPECT_EQ(Meta({}, "", "203.0.113.7").user.view(), "KR");
  EXPECT_EQ(Meta({}, "", "203.0.113.7").user_provenance, Provenance::kVerified);
  EXPECT_EQ(Meta({}, "", "192.0.2.200").user.view(), "JP");  // the /25 inside the /24
  EXPECT_EQ(Meta({}, "", "192.0.2.127").user.view(), "US");
  EXPECT_EQ(Meta({}, "", "192.0.2.127").user_provenance, Provenance::kInferred);
  EXPECT_EQ(Meta({}, "", "2001:db8:82::1").user.view(), "KR");
  EXPECT_EQ(Meta({}, "", "2001:db8:49:ffff::1").user.view(), "DE");
  EXPECT_EQ(Meta({}, "", "::ffff:203.0.113.9").user.view(), "KR");
  EXPECT_EQ(Meta({}, "", "3fff:0fff::1").user.view(), "US");
  EXPECT_FALSE(Meta({}, "", "3fff:1000::1").user.has_value());
  EXPECT_FALSE(Meta({}, "", "8.8.8.8").user.has_value());
  EXPECT_FALSE(Meta({}, "", "2001:db8:83::1").user.has_value());
}

TEST(Metadata, HeadersAreClaimedAndWeakerThanVerified) {
  const TagResult a = Meta({{"X-User-Country", " kr "}}, "", "");
  EXPECT_EQ(a.user.view(), "KR");
  EXPECT_EQ(a.user_provenance, Provenance::kClaimed);
  EXPECT_EQ(a.user_source, TagResult::UserSource::kHeader);
  // Verified beats claimed, claimed beats inferred.
  EXPECT_EQ(Meta({{"x-user-country", "KR"}}, "t2", "").user.view(), "DE");
  EXPECT_EQ(Meta({{"x-user-country", "KR"}}, "", "198.51.100.1").user.view(), "DE");
  EXPECT_EQ(Meta({{"x-user-country", "KR"}}, "", "192.0.2.1").user.view(), "KR");
  // Unreferenced headers are ignored; the first configured header present decides.
  EXPECT_FALSE(Meta({{"x-country", "KR"}}, "", "").user.has_value());
  EXPECT_EQ(Meta({{"x-client-country", "JP"}, {"x-user-country", "KR"}}, "", "").user.view(), "KR");
  EXPECT_EQ(Meta({{"x-client-country", "JP"}}, "", "").user.view(), "JP");
}

TEST(Metadata, BadOrConflictingClaimsGiveNoClaim) {
  EXPECT_FALSE(Meta({{"x-user-country", "Korea"}}, "", "").user.has_value());
  EXPECT_FALSE(Meta({{"x-user-country", "XX"}}, "", "").user.has_value());
  EXPECT_FALSE(Meta({{"x-user-country", "EU"}}, "", "").user.has_value());
  EXPECT_FALSE(Meta({{"x-user-country", "KR"}, {"X-USER-COUNTRY", "US"}}, "", "").user.has_value());
  EXPECT_FALSE(Meta({{"x-user-country", "KR"}, {"x-user-country", ""}}, "", "").user.has_value());
  EXPECT_EQ(Meta({{"x-user-country", "KR"}, {"x-user-country", "kr"}}, "", "").user.view(), "KR");
}

TEST(Tags, OriginsAndProvenance) {
  // Unknown user: kr_* detectors default to KR, others to the unknown origin; all inferred.
  const TagResult a =
      TagText(ShippedPlan(), std::string(kRrn) + " kim@example.com 4111111111111111");
  EXPECT_THAT(TagStrings(a), ElementsAre("KR:kr.rrn", "ZZ:personal", "ZZ:personal.financial"));
  for (const Tag& t : a.tag_span()) EXPECT_EQ(t.provenance, Provenance::kInferred);
  // Known user: every tag has the user's origin and provenance.
  const std::vector<std::string_view> chunks = {"010-1234-5678 kim@example.com ", kRrn};
  const TagResult b = TagChunks(ShippedPlan(), chunks, {}, "t2", "");
  EXPECT_THAT(TagStrings(b), ElementsAre("DE:kr.rrn", "DE:personal"));
  for (const Tag& t : b.tag_span()) EXPECT_EQ(t.provenance, Provenance::kVerified);
  const std::vector<Header> h = {{"x-user-country", "JP"}};
  const TagResult c = TagChunks(ShippedPlan(), {"900101-5234561"}, h, "", "");
  EXPECT_THAT(TagStrings(c), ElementsAre("JP:personal.unique_id"));
  EXPECT_EQ(c.tag_span()[0].provenance, Provenance::kClaimed);
  // kr_phone with an unknown user: KR.
  EXPECT_THAT(TagStrings(TagText(ShippedPlan(), "010-1234-5678")), ElementsAre("KR:personal"));
  // Keywords alone add no class.
  EXPECT_THAT(TagStrings(TagText(ShippedPlan(), "주민등록번호")), IsEmpty());
  EXPECT_THAT(TagStrings(TagText(ShippedPlan(), "nothing to see here")), IsEmpty());
}

TEST(Tags, InferenceFactsForTheDecisionEngine) {
  const std::vector<std::string_view> chunks = {kRrn, " 010-1234-5678"};
  const TagResult r = TagChunks(ShippedPlan(), chunks, {}, "t1", "");
  const InferenceFacts f = ToInferenceFacts(r);
  ASSERT_TRUE(f.user_jurisdiction.has_value());
  EXPECT_EQ(*f.user_jurisdiction, "KR");
  EXPECT_EQ(f.user_provenance, Provenance::kVerified);
  EXPECT_THAT(f.classes, ElementsAre("kr.rrn", "personal"));
  EXPECT_THAT(f.tags, ElementsAre("KR:kr.rrn", "KR:personal"));
  const InferenceFacts none = ToInferenceFacts(TagText(ShippedPlan(), "kim@example.com"));
  EXPECT_FALSE(none.user_jurisdiction.has_value());
  EXPECT_EQ(none.user_provenance, Provenance::kNone);
  EXPECT_THAT(none.classes, ElementsAre("personal"));
}

constexpr char kSmallBudget[] = R"(kind: tagging
max_scan_bytes: 64
rrn_keywords: [RRN]
tenants: {t1: KR}
)";

TEST(Budget, OverrunIsTruncatedAndUnscanned) {
  const TaggerPlan plan = MustCompile(kSmallBudget);
  std::string text(80, 'a');
  text += kRrn;  // past the budget: never looked at
  const TagResult r = TagChunks(plan, {text}, {}, "t1", "");
  EXPECT_EQ(r.status, ScanStatus::kTruncated);
  EXPECT_EQ(r.bytes_scanned, 64u);
  EXPECT_EQ(r.detectors, 0);
  EXPECT_THAT(TagStrings(r), ElementsAre("KR:unscanned"));
  EXPECT_THAT(ToInferenceFacts(r).classes, ElementsAre("unscanned"));
  // Unknown user: the unknown origin.
  EXPECT_THAT(TagStrings(TagText(plan, text)), ElementsAre("ZZ:unscanned"));
  // Detections inside the budget are kept alongside.
  const TagResult d = TagText(plan, std::string(kRrn) + std::string(100, ' '));
  EXPECT_THAT(TagStrings(d), ElementsAre("KR:kr.rrn", "ZZ:unscanned"));
  // Exactly the budget is complete.
  const TagResult e = TagText(plan, std::string(64, 'b'));
  EXPECT_EQ(e.status, ScanStatus::kComplete);
  EXPECT_EQ(e.bytes_scanned, 64u);
  EXPECT_THAT(TagStrings(e), IsEmpty());
  // Chunks past the budget count too.
  const TagResult f = TagChunks(plan, {std::string(40, 'c'), std::string(40, 'd')});
  EXPECT_EQ(f.status, ScanStatus::kTruncated);
}

TEST(Budget, ScratchTooSmallFailsClosed) {
  const TaggerPlan small = MustCompile(kSmallBudget);
  TagScratch scratch(small);
  const TaggerPlan& big = ShippedPlan();
  RequestView v;
  const std::vector<std::string_view> chunks = {"hello"};
  v.payload = chunks;
  const TagResult r = TagRequest(big, v, scratch);
  EXPECT_EQ(r.status, ScanStatus::kError);
  EXPECT_THAT(TagStrings(r), ElementsAre("ZZ:unscanned"));
}

void ExpectSameResult(const TagResult& a, const TagResult& b, const std::string& what) {
  EXPECT_EQ(a.detectors, b.detectors) << what;
  EXPECT_EQ(a.high_confidence, b.high_confidence) << what;
  EXPECT_EQ(a.status, b.status) << what;
  EXPECT_EQ(a.bytes_scanned, b.bytes_scanned) << what;
  EXPECT_EQ(TagStrings(a), TagStrings(b)) << what;
}

TEST(Chunks, ChunkedEqualsWhole) {
  corpus::Rng r(99);
  const TaggerPlan small = MustCompile(kSmallBudget);
  std::vector<std::string> inputs;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    inputs.push_back(corpus::Text(seed, static_cast<corpus::Kind>(seed % 4), 50 + seed * 20, 0.03));
  }
  for (const std::string& s : corpus::Adversarial(5, 500)) inputs.push_back(s);
  inputs.push_back(R"(\u0039\u0030\u0030\u0031\u0030\u0031-1234568)");
  for (const std::string& in : inputs) {
    const TagResult whole = TagText(ShippedPlan(), in);
    const TagResult whole_small = TagText(small, in);
    for (int rep = 0; rep < 8; ++rep) {
      std::vector<std::string_view> chunks;
      size_t pos = 0;
      while (pos < in.size()) {
        const size_t len = std::min<size_t>(in.size() - pos, r.Below(rep < 4 ? 8 : 200));
        chunks.emplace_back(in.data() + pos, len);  // may be empty
        pos += len;
      }
      ExpectSameResult(whole, TagChunks(ShippedPlan(), chunks), "chunked");
      ExpectSameResult(whole_small, TagChunks(small, chunks), "chunked, small budget");
    }
  }
  // A split inside every position of a detection.
  const std::string s = std::string("x ") + kRrn + " 010-1234-5678 a@b.co 주민등록번호 \\u0031";
  const TagResult whole = TagText(ShippedPlan(), s);
  EXPECT_EQ(whole.detectors, 0b101101);  // kr_rrn, kr_phone, email, kr_rrn_keyword
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    const std::vector<std::string_view> two = {std::string_view(s).substr(0, cut),
                                               std::string_view(s).substr(cut)};
    ExpectSameResult(whole, TagChunks(ShippedPlan(), two), "cut " + std::to_string(cut));
  }
}

TEST(RequestJson, ParsesAndRejects) {
  OwnedRequest req;
  EXPECT_EQ(ParseRequestLine(
                R"({"headers": {"X-User-Country": "de"}, "peer": "2001:db8:49::1", "tenant": "x",)"
                R"( "payload": ["a@b.co", " 010-1234-5678"]})",
                &req),
            "");
  TagScratch scratch(ShippedPlan());
  const TagResult r = TagRequest(ShippedPlan(), req.view(), scratch);
  EXPECT_EQ(r.user.view(), "DE");
  EXPECT_EQ(RenderResultLine(r),
            R"({"tags":["DE:personal"],"detectors":["kr_phone","email"],)"
            R"("provenance":{"DE:personal":"verified"},"status":"complete","bytes_scanned":20,)"
            R"("user":{"jurisdiction":"DE","provenance":"verified"}})");
  const std::pair<const char*, const char*> bad[] = {
      {"[1]", "a request must be a json object"},
      {R"({"headers": {"a": "1", "a": "2"}})", "duplicate key `a`"},
      {R"({"headers": {"a": 1}})", "header `a` must be a string"},
      {R"({"peer": "1.2.3"})", "`peer` `1.2.3` is not an ip address"},
      {R"({"tenant": 5})", "`tenant` must be a string"},
      {R"({"payload": [1]})", "`payload` must be a string or a list of strings"},
      {R"({"Payload": "x"})", "unknown key `Payload`"},
      // Found by tagging_request_fuzzer: echoed keys and values keep the error on one line.
      {R"({"t\nant": "t2"})", "unknown key `t\\nant` (headers"},
      {R"({"headers": {"a\u0001": 1}})", "header `a\\x01` must be a string"},
      {R"({"peer": "1.2.3\t"})", "`peer` `1.2.3\\t` is not an ip address"},
      {"{\"payload\": ", "malformed json: "},
      {R"({"headers": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})",
       "nesting is deeper than 32 levels"},
  };
  for (const auto& [line, error] : bad) {
    EXPECT_THAT(ParseRequestLine(line, &req), HasSubstr(error)) << line;
  }
  // Invalid UTF-8 in echoed input is replaced (U+FFFD), never emitted raw.
  EXPECT_EQ(RenderErrorLine(3, "bad `\xff`"), "{\"line\":3,\"error\":\"bad `\xEF\xBF\xBD`\"}");
}

TEST(Config, ShippedFileCompiles) {
  const TaggerPlan& p = ShippedPlan();
  EXPECT_EQ(p.max_scan_bytes(), 65536u);
  EXPECT_THAT(std::string(p.kernel_name()), ::testing::AnyOf("scalar", "sse42", "avx2"));
}

struct BadConfig {
  const char* yaml;
  const char* error;
};

TEST(Config, ErrorsNameLineAndColumn) {
  const BadConfig cases[] = {
      {"", "test.yaml:1:1: error: empty file"},
      {"kind: policy\n", "test.yaml:1:7: error: `kind` must be `tagging`, not `policy`"},
      {"version: 1\n", "test.yaml:1:1: error: missing `kind: tagging`"},
      {"kind: tagging\nfoo: 1\n", "test.yaml:2:1: error: unknown key `foo` in the file"},
      {"kind: tagging\nkind: tagging\n", "test.yaml:2:1: error: duplicate key `kind`"},
      {"kind: tagging\ntenants:\n  t1: KR\n  t1: DE\n", "test.yaml:4:3: error: duplicate key `t1`"},
      {"kind: tagging\ntenants: {t1: Korea}\n",
       "test.yaml:2:15: error: tenant `t1` `Korea` is not an iso 3166-1 alpha-2 country code"},
      {"kind: tagging\ntenants: [a]\n", "test.yaml:2:10: error: `tenants` must be a map"},
      {"kind: tagging\nmax_scan_bytes: 10\n", "test.yaml:2:17: error: `max_scan_bytes` must be"},
      {"kind: tagging\nmax_scan_bytes: 1e9\n", "test.yaml:2:17: error: `max_scan_bytes` must be"},
      {"kind: tagging\ndetectors: [ssn]\n", "test.yaml:2:13: error: unknown detector `ssn`"},
      {"kind: tagging\ndetectors: [email, email]\n",
       "test.yaml:2:20: error: detector `email` is listed twice"},
      {"kind: tagging\ndetectors: [kr_rrn_keyword]\nrrn_keywords: []\n",
       "test.yaml:3:15: error: detector `kr_rrn_keyword` is enabled but `rrn_keywords` is empty"},
      {"kind: tagging\nrrn_keywords: [ab, cd, ef, gh]\n",
       "test.yaml:2:28: error: keyword `gh`: the keywords' first two bytes use more than 6"},
      {"kind: tagging\nrrn_keywords: [a]\n", "test.yaml:2:16: error: keyword `a` must be 2 to 64"},
      {"kind: tagging\nrrn_keywords: [ab, AB]\n",
       "test.yaml:2:20: error: keyword `AB` is listed twice"},
      {"kind: tagging\ncountry_headers: [\"x user\"]\n",
       "test.yaml:2:19: error: `x user` is not a valid header name"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, cidrs: [10.0.0.1/8]}\n",
       "test.yaml:3:32: error: `10.0.0.1/8` has host bits set"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, cidrs: [10.0.0.0/33]}\n",
       "test.yaml:3:32: error: `10.0.0.0/33` has a prefix length over 32"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, cidrs: [10.0.0.0]}\n",
       "test.yaml:3:32: error: `10.0.0.0` is not a cidr"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, cidrs: [10.0.0.0/8]}\n"
       "  - {jurisdiction: JP, cidrs: [10.0.0.0/8]}\n",
       "test.yaml:4:32: error: this cidr is listed twice"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, provenance: claimed, cidrs: "
       "[10.0.0.0/8]}\n",
       "test.yaml:3:36: error: `provenance` must be `verified` or `inferred`, not `claimed`"},
      {"kind: tagging\nnetworks:\n  - {jurisdiction: KR, cidr: [10.0.0.0/8]}\n",
       "test.yaml:3:24: error: unknown key `cidr` in a network entry"},
      {"kind: tagging\ntenants: {t1: [KR]\n", "test.yaml:"},
      {"kind: tagging\nunknown_origin: zz\n", "test.yaml:2:17: error: `unknown_origin` must be"},
  };
  for (const BadConfig& c : cases) {
    auto p = TaggerPlan::Compile(c.yaml, "test.yaml");
    ASSERT_FALSE(p.ok()) << c.yaml;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.error)) << c.yaml;
  }
}

TEST(Config, BoundsOnNestingIndentationAndSize) {
  auto deep =
      TaggerPlan::Compile("kind: tagging\ntenants: " + std::string(100, '[') + "\n", "t.yaml");
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(std::string(deep.status().message()),
              HasSubstr("t.yaml:2:74: error: nesting is deeper than 64 levels"));
  // Brackets inside quotes and comments do not count.
  EXPECT_TRUE(TaggerPlan::Compile("kind: tagging # " + std::string(100, '[') +
                                      "\nrrn_keywords: [\"" + std::string(60, '{') + "\"]\n",
                                  "t.yaml")
                  .ok());
  auto indent = TaggerPlan::Compile("kind: tagging\n" + std::string(300, ' ') + "x: 1\n", "t.yaml");
  ASSERT_FALSE(indent.ok());
  EXPECT_THAT(std::string(indent.status().message()),
              HasSubstr("t.yaml:2:257: error: indentation is deeper than 256 columns"));
  auto big = TaggerPlan::Compile(std::string(5 << 20, '#'), "t.yaml");
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("larger than 4 MiB"));
}

TEST(Config, UnreadableFileAndBadKernel) {
  auto p = TaggerPlan::Load("/nonexistent/tagging.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("/nonexistent/tagging.yaml:1:1: error: cannot open"));
  TaggerOptions o;
  o.force_kernel = "neon";
  auto q = TaggerPlan::Compile("kind: tagging\n", "t.yaml", o);
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(std::string(q.status().message()), HasSubstr("unknown kernel `neon`"));
}

TEST(Config, DetectorsCanBeDisabled) {
  const TaggerPlan p = MustCompile("kind: tagging\ndetectors: [email]\n");
  EXPECT_THAT(testing::DetectorNames(TagText(p, std::string(kRrn) + " a@b.co 010-1234-5678")),
              ElementsAre("email"));
}

TEST(Lpm, NestedPrefixesAndDefaults) {
  const TaggerPlan p = MustCompile(R"(kind: tagging
networks:
  - {jurisdiction: US, provenance: inferred, cidrs: [0.0.0.0/0, "::/0"]}
  - {jurisdiction: KR, cidrs: [10.0.0.0/8, "2001:db8::/32"]}
  - {jurisdiction: JP, cidrs: [10.1.0.0/16, 10.1.2.3/32, "2001:db8:1::/48"]}
  - {jurisdiction: DE, cidrs: [10.1.0.0/24, 255.255.255.255/32, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]}
)");
  auto at = [&](const char* ip) { return std::string(TagChunks(p, {}, {}, "", ip).user.view()); };
  EXPECT_EQ(at("9.255.255.255"), "US");
  EXPECT_EQ(at("10.0.0.0"), "KR");
  EXPECT_EQ(at("10.0.255.255"), "KR");
  EXPECT_EQ(at("10.1.0.0"), "DE");
  EXPECT_EQ(at("10.1.0.255"), "DE");
  EXPECT_EQ(at("10.1.1.0"), "JP");
  EXPECT_EQ(at("10.1.2.3"), "JP");
  EXPECT_EQ(at("10.1.2.4"), "JP");
  EXPECT_EQ(at("10.2.0.0"), "KR");
  EXPECT_EQ(at("11.0.0.0"), "US");
  EXPECT_EQ(at("255.255.255.254"), "US");
  EXPECT_EQ(at("255.255.255.255"), "DE");
  EXPECT_EQ(at("0.0.0.0"), "US");
  EXPECT_EQ(at("2001:db8:1:ffff::"), "JP");
  EXPECT_EQ(at("2001:db8:2::"), "KR");
  EXPECT_EQ(at("2001:db9::"), "US");
  EXPECT_EQ(at("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "DE");
  EXPECT_EQ(at("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), "US");
}

TEST(Basics, CountryTableAndIpParsing) {
  int count = 0;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'Z'; ++b) count += IsIsoCountry(std::string{a, b});
  }
  EXPECT_EQ(count, 249);
  EXPECT_TRUE(IsIsoCountry("KR"));
  EXPECT_FALSE(IsIsoCountry("kr"));
  EXPECT_FALSE(IsIsoCountry("ZZ"));
  EXPECT_FALSE(IsIsoCountry("EU"));
  EXPECT_FALSE(IsIsoCountry("KOR"));
  IpAddress ip;
  for (const char* bad :
       {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "::g", "1.2.3.4 ", "01.2.3.4x", "fe80::1%eth0"}) {
    EXPECT_FALSE(IpAddress::Parse(bad, &ip)) << bad;
  }
  EXPECT_FALSE(IpAddress::Parse(std::string_view("1.2.3.4\0", 8), &ip));
  ASSERT_TRUE(IpAddress::Parse("::ffff:1.2.3.4", &ip));
  EXPECT_EQ(ip.family, IpAddress::Family::kV4);
}

}  // namespace
}  // namespace residency::tagging
