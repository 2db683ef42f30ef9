// The ext_authz v3 subset encodes and decodes exactly as Envoy's messages do: bytes built here
// from Envoy's field numbers (tag = field << 3 | wire type) parse into the right fields, the
// messages serialise to those bytes, fields this subset leaves out are skipped, and
// `protoc --decode_raw` (which knows no schema) reads the service's answers by field number.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "envoy/service/auth/v3/external_auth.pb.h"
#include "eval/eval_fixtures.h"
#include "gtest/gtest.h"
#include "residency/serve/grpc_server.h"
#include "residency/serve/service.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace residency::serve {
namespace {

namespace auth = envoy::service::auth::v3;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Len(int field, const std::string& bytes) {  // wire type 2
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(bytes.size()) + bytes;
}
std::string Int(int field, uint64_t v) {  // wire type 0
  return Varint(static_cast<uint64_t>(field) << 3) + Varint(v);
}
std::string MapEntry(int field, const std::string& k, const std::string& v) {
  return Len(field, Len(1, k) + Len(2, v));
}

// CheckRequest.attributes(1) → AttributeContext{request(4) → Request{http(2) → HttpRequest{
// method(2), headers(3), path(4), body(11)}}, context_extensions(10)}.
std::string CheckRequestBytes() {
  std::string http = Len(2, "POST") + MapEntry(3, "x-residency-user-jurisdiction", "KR") +
                     Len(4, "/chat") + Len(11, "hello");
  std::string attrs = Len(4, Len(2, http)) + MapEntry(10, "destination", "ncp:KR");
  return Len(1, attrs);
}

TEST(Wire, CheckRequestParsesFromEnvoyFieldNumbers) {
  auth::CheckRequest r;
  ASSERT_TRUE(r.ParseFromString(CheckRequestBytes()));
  const auto& http = r.attributes().request().http();
  EXPECT_EQ(http.method(), "POST");
  EXPECT_EQ(http.path(), "/chat");
  EXPECT_EQ(http.body(), "hello");
  ASSERT_EQ(http.headers().count("x-residency-user-jurisdiction"), 1u);
  EXPECT_EQ(http.headers().at("x-residency-user-jurisdiction"), "KR");
  EXPECT_EQ(r.attributes().context_extensions().at("destination"), "ncp:KR");
}

TEST(Wire, CheckRequestSerialisesToTheSameBytes) {
  auth::CheckRequest r;
  auto* http = r.mutable_attributes()->mutable_request()->mutable_http();
  http->set_method("POST");
  (*http->mutable_headers())["x-residency-user-jurisdiction"] = "KR";
  http->set_path("/chat");
  http->set_body("hello");
  (*r.mutable_attributes()->mutable_context_extensions())["destination"] = "ncp:KR";
  EXPECT_EQ(r.SerializeAsString(), CheckRequestBytes());
}

TEST(Wire, FieldsLeftOutOfTheSubsetAreSkipped) {
  // Envoy also sends Request.time (1, a Timestamp), AttributeContext.metadata_context (11),
  // tls_session (12) and Peer.address with a SocketAddress; a future field (99) too.
  std::string time = Len(1, Int(1, 1782777600));
  std::string http = Len(2, "GET") + Int(9, 42);
  std::string source = Len(1, Len(1, Len(2, "203.0.113.7") + Int(3, 5555))) + Len(4, "spiffe://a");
  std::string attrs = Len(1, source) + Len(4, time + Len(2, http)) + Len(11, Len(1, "x")) +
                      Len(12, Len(1, "sni.example")) + Len(99, "future");
  auth::CheckRequest r;
  ASSERT_TRUE(r.ParseFromString(Len(1, attrs)));
  EXPECT_EQ(r.attributes().request().http().method(), "GET");
  EXPECT_EQ(r.attributes().request().http().size(), 42);
  EXPECT_EQ(r.attributes().source().address().socket_address().address(), "203.0.113.7");
  EXPECT_EQ(r.attributes().source().address().socket_address().port_value(), 5555u);
  EXPECT_EQ(r.attributes().source().principal(), "spiffe://a");
}

TEST(Wire, OkResponseBytes) {
  auth::CheckResponse resp;
  resp.mutable_status()->set_code(0);
  auto* h = resp.mutable_ok_response()->add_headers();
  h->mutable_header()->set_key("x-residency-decision");
  h->mutable_header()->set_value("allow");
  h->set_append_action(envoy::config::core::v3::HeaderValueOption::OVERWRITE_IF_EXISTS_OR_ADD);
  // status(1) = {} ; ok_response(3) = {headers(2) = {header(1) = {key(1), value(2)},
  // append_action(3) = 2}}
  std::string want =
      Len(1, "") +
      Len(3, Len(2, Len(1, Len(1, "x-residency-decision") + Len(2, "allow")) + Int(3, 2)));
  EXPECT_EQ(resp.SerializeAsString(), want);
}

std::string DecodeRaw(const std::string& bytes, const std::string& dir) {
  std::string in = dir + "/msg.bin";
  std::ofstream(in, std::ios::binary) << bytes;
  std::string cmd = "protoc --decode_raw < " + in + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(Wire, ServiceAnswersReadByFieldNumberWithProtocDecodeRaw) {
  std::string p = testing::kKrPolicy;
  auto snap = testing::CompileWith({p}).snapshot;
  ASSERT_TRUE(snap);
  ServiceOptions o;
  o.suggest = false;
  DecisionService service(snap, o, nullptr, nullptr);
  testing::TempDir dir;

  auth::CheckRequest deny_req;
  ASSERT_TRUE(deny_req.ParseFromString(CheckRequestBytes()));
  (*deny_req.mutable_attributes()->mutable_context_extensions())["destination"] =
      "aws:ap-northeast-1";
  (*deny_req.mutable_attributes()
        ->mutable_request()
        ->mutable_http()
        ->mutable_headers())["x-residency-prompt-classes"] = "personal";
  deny_req.mutable_attributes()->mutable_request()->mutable_http()->clear_body();
  auth::CheckResponse deny;
  HandleCheck(&service, deny_req, &deny);
  std::string raw = DecodeRaw(deny.SerializeAsString(), dir.path());
  // status(1).code(1) = 7 (PERMISSION_DENIED); denied_response(2).status(1).code(1) = 403;
  // a header option: header(1).key(1) / value(2), append_action(3) = 2.
  EXPECT_EQ(raw.rfind("1 {\n  1: 7\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("2 {\n  1 {\n    1: 403\n  }\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("      1: \"x-residency-decision\"\n      2: \"deny\"\n    }\n    3: 2\n"),
            std::string::npos)
      << raw;

  auth::CheckRequest allow_req = deny_req;
  (*allow_req.mutable_attributes()->mutable_context_extensions())["destination"] = "ncp:KR";
  auth::CheckResponse allow;
  HandleCheck(&service, allow_req, &allow);
  raw = DecodeRaw(allow.SerializeAsString(), dir.path());
  // status(1) empty (OK; decode_raw shows an empty field as a string), ok_response(3).
  EXPECT_EQ(raw.rfind("1: \"\"\n3 {\n  2 {\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("2: \"allow_with_obligations\""), std::string::npos) << raw;
}

}  // namespace
}  // namespace residency::serve
