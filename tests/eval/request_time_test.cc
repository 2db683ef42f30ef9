// EvalOptions::request_time: whether a request may choose the time its law is applied at
// (issue 13: a gateway must be able to refuse or ignore a request's `now`).
#include "eval_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "internal/time_util.h"
#include "residency/decision.h"
#include "testing/fixtures.h"

namespace residency {
namespace {

using ::testing::HasSubstr;

// KR personal data to the EU: KR recognises the EU only from 2025-09-16 (kKrPolicy's list).
Request ToEuAt(const std::string& now) {
  std::string yaml = "kind: dataset\naction: transfer\n";
  if (!now.empty()) yaml += "now: \"" + now + "\"\n";
  yaml +=
      "destination: \"aws:eu-central-1\"\n"
      "recipient: {id: \"X GmbH\", country: DE, role: processor}\n"
      "dataset: {id: ds-1, location: \"ncp:KR\", partitions: [{classes: [personal], origin: KR, "
      "subjects: 1000}]}\n";
  auto req = ParseRequest(yaml);
  EXPECT_TRUE(req.ok()) << req.status();
  return req.ok() ? *req : Request{};
}

class RequestTimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CompileResult r = testing::CompileWith({testing::kKrPolicy, testing::kCorpPolicy});
    ASSERT_TRUE(r.ok());
    snapshot_ = r.snapshot;
  }
  std::shared_ptr<const PolicySnapshot> snapshot_;
  const absl::Time server_now_ = *internal::ParseTimestamp("2026-06-30T00:00:00Z");
};

TEST_F(RequestTimeTest, HonourIsTheDefaultAndUsesTheRequestsNow) {
  EvalOptions o;
  o.now = server_now_;
  EXPECT_EQ(o.request_time, RequestTime::kHonour);
  auto before = Evaluate(*snapshot_, ToEuAt("2025-01-01T00:00:00Z"), o);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->now, *internal::ParseTimestamp("2025-01-01T00:00:00Z"));
  EXPECT_EQ(before->decision, Effect::kDeny);  // the EU not yet recognised then
  auto after = Evaluate(*snapshot_, ToEuAt(""), o);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->decision, Effect::kAllow);
}

TEST_F(RequestTimeTest, RefuseAnswersARequestWithNowAsInvalidArgument) {
  EvalOptions o;
  o.now = server_now_;
  o.request_time = RequestTime::kRefuse;
  auto d = Evaluate(*snapshot_, ToEuAt("2025-01-01T00:00:00Z"), o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("`now`"));
  auto without = Evaluate(*snapshot_, ToEuAt(""), o);  // no `now`: evaluated at the server's
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(without->now, server_now_);
}

TEST_F(RequestTimeTest, IgnoreEvaluatesAtTheServersTime) {
  EvalOptions o;
  o.now = server_now_;
  o.request_time = RequestTime::kIgnore;
  auto d = Evaluate(*snapshot_, ToEuAt("2025-01-01T00:00:00Z"), o);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->now, server_now_);
  EXPECT_EQ(d->decision, Effect::kAllow);
}

}  // namespace
}  // namespace residency
