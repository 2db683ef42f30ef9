// Deciding many requests (residency/batch.h): the same answers as one Evaluate per request, in
// input order, whatever the number of threads; error lines for what cannot be decided; a caller
// feeding one line at a time gets each answer before it sends the next.
#include "residency/batch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "request_generator.h"
#include "testing/temp_dir.h"

namespace residency {
namespace {

std::shared_ptr<const PolicySnapshot> Shipped() {
  auto snap = CompilePolicy({std::string(RESIDENCY_SOURCE_DIR) + "/policies"});
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : nullptr;
}

// Generated requests as JSON lines, with lines that cannot be decided among them.
std::vector<std::string> Lines(const PolicySnapshot& snap, int n) {
  testing::RandomChoices choices(7);
  testing::RequestGenerator gen(snap, &choices);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    if (i % 97 == 5) out.push_back("");
    if (i % 89 == 7) out.push_back("{not json");
    if (i % 83 == 3) out.push_back(R"({"kind":"datset"})");
    out.push_back(RequestToJson(gen.Make()));
  }
  return out;
}

// An error line: {"error":"...","line":N}.
std::string ErrorLine(size_t n, const std::string& message) {
  return nlohmann::json{{"line", n}, {"error", message}}.dump();
}

// What each line must give: Evaluate's decision, or an error line naming it.
std::string Expected(const PolicySnapshot& snap, const std::vector<std::string>& lines,
                     const EvalOptions& o, BatchSummary* sum) {
  std::string out;
  size_t n = 0;
  for (const auto& line : lines) {
    ++n;
    if (line.empty()) {
      absl::StrAppend(&out, ErrorLine(n, "empty line"), "\n");
      ++sum->errors;
      continue;
    }
    auto req = ParseRequest(line);
    auto d = req.ok() ? Evaluate(snap, *req, o) : absl::StatusOr<Decision>(req.status());
    if (d.ok()) {
      absl::StrAppend(&out, DecisionToJson(*d), "\n");
      ++sum->decided;
      ++sum->by_effect[static_cast<int>(d->decision)];
      for (const Reason& r : d->reasons) {
        ++sum->by_rule[std::string(r.rule())];
        ++sum->by_location[std::string(r.location())];
      }
    } else {
      absl::StrAppend(&out, ErrorLine(n, std::string(d.status().message())), "\n");
      ++sum->errors;
    }
  }
  return out;
}

std::string Slurp(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  ::lseek(fd, 0, SEEK_SET);
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

TEST(DecideJsonLines, SameAsEvaluateInOrderOnAnyNumberOfThreads) {
  auto snap = Shipped();
  ASSERT_NE(snap, nullptr);
  const auto lines = Lines(*snap, 5000);  // more than one block
  EvalOptions o;
  o.now = absl::FromUnixSeconds(1782777600);
  BatchSummary want_sum;
  const std::string want = Expected(*snap, lines, o, &want_sum);
  testing::TempDir dir;
  const std::string in_path = dir.path() + "/in.jsonl";
  {
    std::FILE* f = std::fopen(in_path.c_str(), "w");
    for (size_t i = 0; i < lines.size(); ++i) {
      std::fputs(lines[i].c_str(), f);
      if (i + 1 < lines.size()) std::fputc('\n', f);  // the last line has no newline
    }
    std::fclose(f);
  }
  for (int threads : {1, 2, 3, 0}) {
    SCOPED_TRACE(absl::StrCat(threads, " threads"));
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const std::string out_path = dir.path() + "/out" + std::to_string(threads);
    const int out = ::open(out_path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(in, 0);
    ASSERT_GE(out, 0);
    BatchOptions bo;
    bo.eval = o;
    bo.threads = threads;
    std::vector<size_t> progress;
    bo.progress = [&](size_t done) { progress.push_back(done); };
    auto sum = DecideJsonLines(*snap, in, out, bo);
    ASSERT_TRUE(sum.ok()) << sum.status();
    const std::string got = Slurp(out);
    ::close(in);
    ::close(out);
    const std::vector<absl::string_view> got_lines = absl::StrSplit(got, '\n');
    const std::vector<absl::string_view> want_lines = absl::StrSplit(want, '\n');
    ASSERT_EQ(got_lines.size(), want_lines.size());
    for (size_t i = 0; i < got_lines.size(); ++i) ASSERT_EQ(got_lines[i], want_lines[i]) << i;
    EXPECT_EQ(sum->lines, lines.size());
    EXPECT_EQ(sum->decided, want_sum.decided);
    EXPECT_EQ(sum->errors, want_sum.errors);
    EXPECT_EQ(sum->by_effect, want_sum.by_effect);
    EXPECT_EQ(sum->by_rule, want_sum.by_rule);
    EXPECT_EQ(sum->by_location, want_sum.by_location);
    EXPECT_GT(sum->by_rule.size(), 10u);
    ASSERT_GE(progress.size(), 2u);
    EXPECT_EQ(progress.back(), lines.size());
    EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  }
}

TEST(DecideJsonLines, AnswersEachLineBeforeTheNextArrives) {
  auto snap = Shipped();
  ASSERT_NE(snap, nullptr);
  int to_batch[2], from_batch[2];
  ASSERT_EQ(::pipe(to_batch), 0);
  ASSERT_EQ(::pipe(from_batch), 0);
  BatchOptions bo;
  bo.threads = 2;
  absl::StatusOr<BatchSummary> sum;
  std::thread t([&] {
    sum = DecideJsonLines(*snap, to_batch[0], from_batch[1], bo);
    ::close(from_batch[1]);
  });
  const std::string req =
      R"({"kind":"dataset","action":"store","now":"2026-06-30T00:00:00Z","destination":"ncp:KR","dataset":{"id":"d","partitions":[{"classes":["personal"],"origin":"KR","subjects":10}]}})";
  for (int i = 0; i < 3; ++i) {
    const std::string line = req + "\n";
    ASSERT_EQ(::write(to_batch[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
    // The answer comes while the input is still open.
    std::string answer;
    char c;
    while (::read(from_batch[0], &c, 1) == 1 && c != '\n') answer.push_back(c);
    EXPECT_EQ(answer.rfind(R"({"decision":"allow")", 0), 0u) << answer;
  }
  ::close(to_batch[1]);
  t.join();
  ::close(to_batch[0]);
  ::close(from_batch[0]);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->lines, 3u);
  EXPECT_EQ(sum->decided, 3u);
}

TEST(DecideMany, SameAsEvaluateInOrder) {
  auto snap = Shipped();
  ASSERT_NE(snap, nullptr);
  const auto lines = Lines(*snap, 600);
  std::vector<std::string_view> texts(lines.begin(), lines.end());
  EvalOptions o;
  o.now = absl::FromUnixSeconds(1782777600);
  auto got = DecideMany(*snap, texts, o, 3);
  ASSERT_EQ(got.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto req = ParseRequest(texts[i]);
    auto d = req.ok() ? Evaluate(*snap, *req, o) : absl::StatusOr<Decision>(req.status());
    ASSERT_EQ(got[i].ok(), d.ok()) << i;
    if (d.ok()) {
      ASSERT_EQ(DecisionToJson(*got[i]), DecisionToJson(*d)) << i;
    } else {
      ASSERT_EQ(got[i].status(), d.status()) << i;
    }
  }
}

}  // namespace
}  // namespace residency
