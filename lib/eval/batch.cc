// Deciding many requests (include/residency/batch.h): DecideMany over a list, DecideJsonLines over
// a stream of JSON lines, read and written in large blocks and decided on several threads.
#include "residency/batch.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace residency {
namespace {

constexpr size_t kBlockLines = 4096;      // lines decided together
constexpr size_t kOutBlock = 256u << 10;  // output written in writes of about this size

int ThreadCount(int asked, size_t items) {
  int n = asked > 0 ? asked : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // A thread is worth starting for some work only.
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(n, (items + 63) / 64)));
}

// Runs f(begin, end, k) over [0, n) split into `threads` contiguous chunks, chunk k on its own
// thread (the last on the calling one).
template <typename F>
void Split(size_t n, int threads, F f) {
  std::vector<std::thread> pool;
  const size_t per = (n + threads - 1) / threads;
  for (int k = 0; k < threads; ++k) {
    const size_t b = std::min(n, k * per), e = std::min(n, b + per);
    if (k + 1 == threads) {
      f(b, e, k);
    } else {
      pool.emplace_back(f, b, e, k);
    }
  }
  for (auto& t : pool) t.join();
}

// The lines of a file descriptor, read in large blocks. A line longer than `limit` bytes is
// consumed whole and reported as too long; a last line without a newline is a line.
class LineReader {
 public:
  // `before_wait` runs before every read that may block (pending output is written there, so
  // that a caller feeding one line at a time through a pipe gets its answer).
  LineReader(int fd, size_t limit, std::function<void()> before_wait)
      : fd_(fd), limit_(limit), before_wait_(std::move(before_wait)) {
    buf_.resize(std::min<size_t>(kBlock, limit_ + 1) + kBlock);
  }

  // The next line (without its newline) in *line, valid until the next call; *too_long instead
  // when it exceeded the limit. False at the end of the input or on a read error (errno_value()).
  bool Next(std::string_view* line, bool* too_long) {
    *too_long = false;
    size_t scanned = pos_;
    for (;;) {
      if (const char* nl =
              static_cast<const char*>(std::memchr(buf_.data() + scanned, '\n', end_ - scanned))) {
        const size_t len = nl - (buf_.data() + pos_);
        *too_long = skipping_ || len > limit_;
        skipping_ = false;
        *line = std::string_view(buf_.data() + pos_, *too_long ? 0 : len);
        pos_ = nl - buf_.data() + 1;
        return true;
      }
      if (end_ - pos_ > limit_) {  // too long already: keep nothing of it
        skipping_ = true;
        pos_ = end_;
      }
      if (eof_) {
        if (pos_ == end_ && !skipping_) return false;
        *too_long = skipping_;
        skipping_ = false;
        *line = std::string_view(buf_.data() + pos_, *too_long ? 0 : end_ - pos_);
        pos_ = end_;
        return true;
      }
      // Move the partial line to the front, grow when it fills the buffer, read more.
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
      scanned = end_;
      if (buf_.size() - end_ < kBlock / 2) buf_.resize(buf_.size() * 2);
      if (before_wait_) before_wait_();
      ssize_t n;
      do {
        n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        eof_ = true;
        if (n < 0) errno_ = errno;
      } else {
        end_ += static_cast<size_t>(n);
      }
    }
  }
  int errno_value() const { return errno_; }
  // Whether Next can return without reading: a whole line is buffered, or the input has ended.
  bool HasLine() const {
    return eof_ || std::memchr(buf_.data() + pos_, '\n', end_ - pos_) != nullptr;
  }

 private:
  static constexpr size_t kBlock = 1 << 20;
  int fd_;
  size_t limit_;
  std::function<void()> before_wait_;
  std::vector<char> buf_;
  size_t pos_ = 0, end_ = 0;
  bool skipping_ = false;  // inside a line that is already too long
  bool eof_ = false;
  int errno_ = 0;
};

void ErrorLine(size_t n, const std::string& message, std::string* out) {
  out->append(nlohmann::json{{"line", n}, {"error", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Writes all of `data` to `fd`; errno's value on failure, else 0.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// One input line of a block: its bytes (in the block's own copy), or too long or empty.
struct Line {
  size_t begin = 0, size = 0;
  size_t number = 0;  // 1-based
  bool too_long = false;
};

class JsonLinesDecider {
 public:
  JsonLinesDecider(const PolicySnapshot& s, const BatchOptions& o) : snap_(s), opt_(o) {}

  // Decides the block's lines into *out (a line each, in order) and counts them into *sum.
  void Block(const std::string& bytes, const std::vector<Line>& lines, std::string* out,
             BatchSummary* sum) {
    const int threads = ThreadCount(opt_.threads, lines.size());
    if (opt_.audit == nullptr && threads == 1) {
      for (const Line& l : lines) Put(l, Decide(bytes, l), out, sum);
      return;
    }
    if (opt_.audit == nullptr) {
      std::vector<std::string> parts(threads);
      std::vector<BatchSummary> sums(threads);
      Split(lines.size(), threads, [&](size_t b, size_t e, int k) {
        for (size_t i = b; i < e; ++i) {
          auto d = Decide(bytes, lines[i]);
          Put(lines[i], d, &parts[k], &sums[k]);
        }
      });
      for (int k = 0; k < threads; ++k) {
        out->append(parts[k]);
        Add(sums[k], sum);
      }
      return;
    }
    // With an audit log: decided on the threads, recorded and written here, in input order.
    std::vector<absl::StatusOr<Decision>> decisions(lines.size(), absl::UnknownError(""));
    Split(lines.size(), threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) decisions[i] = Decide(bytes, lines[i]);
    });
    for (size_t i = 0; i < lines.size(); ++i) {
      auto& d = decisions[i];
      if (d.ok()) {
        absl::Status rec = RecordDecision(*opt_.audit, Text(bytes, lines[i]), &*d);
        if (!rec.ok()) {
          d = absl::Status(rec.code(), absl::StrCat("audit: ", std::string(rec.message())));
        }
      }
      Put(lines[i], d, out, sum);
    }
  }

 private:
  static std::string_view Text(const std::string& bytes, const Line& l) {
    return std::string_view(bytes).substr(l.begin, l.size);
  }
  absl::StatusOr<Decision> Decide(const std::string& bytes, const Line& l) const {
    if (l.too_long) {
      return absl::InvalidArgumentError(
          absl::StrCat("line exceeds ", opt_.limits.max_bytes, " bytes"));
    }
    const std::string_view text = Text(bytes, l);
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) {
      return absl::InvalidArgumentError("empty line");
    }
    auto req = ParseRequest(text, opt_.limits);
    if (!req.ok()) return req.status();
    return Evaluate(snap_, *req, opt_.eval);
  }
  static void Put(const Line& l, const absl::StatusOr<Decision>& d, std::string* out,
                  BatchSummary* sum) {
    if (d.ok()) {
      AppendDecisionJson(*d, out);
      ++sum->decided;
      ++sum->by_effect[static_cast<int>(d->decision)];
      for (const Reason& r : d->reasons) {
        ++sum->by_rule[std::string(r.rule())];
        ++sum->by_location[std::string(r.location())];
      }
    } else {
      ErrorLine(l.number, std::string(d.status().message()), out);
      ++sum->errors;
    }
    out->push_back('\n');
  }
  static void Add(const BatchSummary& a, BatchSummary* to) {
    to->decided += a.decided;
    to->errors += a.errors;
    for (size_t i = 0; i < a.by_effect.size(); ++i) to->by_effect[i] += a.by_effect[i];
    for (const auto& [k, n] : a.by_rule) to->by_rule[k] += n;
    for (const auto& [k, n] : a.by_location) to->by_location[k] += n;
  }

  const PolicySnapshot& snap_;
  const BatchOptions& opt_;
};

}  // namespace

std::vector<absl::StatusOr<Decision>> DecideMany(const PolicySnapshot& snapshot,
                                                 const std::vector<std::string_view>& texts,
                                                 const EvalOptions& options, int threads,
                                                 const RequestLimits& limits) {
  std::vector<absl::StatusOr<Decision>> out(texts.size(), absl::UnknownError(""));
  Split(texts.size(), ThreadCount(threads, texts.size()), [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) {
      auto req = ParseRequest(texts[i], limits);
      out[i] =
          req.ok() ? Evaluate(snapshot, *req, options) : absl::StatusOr<Decision>(req.status());
    }
  });
  return out;
}

absl::StatusOr<BatchSummary> DecideJsonLines(const PolicySnapshot& snapshot, int in_fd, int out_fd,
                                             const BatchOptions& options) {
  BatchSummary sum;
  std::string out;
  out.reserve(kOutBlock + (64u << 10));
  int write_errno = 0;
  auto write_out = [&] {
    if (write_errno == 0 && !out.empty()) write_errno = WriteAll(out_fd, out);
    out.clear();
  };
  LineReader reader(in_fd, options.limits.max_bytes, [&] {
    write_out();
    if (options.before_wait) options.before_wait();
  });
  JsonLinesDecider decider(snapshot, options);
  std::string bytes;  // the block's lines, one after the other
  std::vector<Line> lines;
  auto decide_block = [&] {
    decider.Block(bytes, lines, &out, &sum);
    bytes.clear();
    lines.clear();
    if (out.size() >= kOutBlock) write_out();
    if (options.progress) options.progress(sum.lines);
  };
  std::string_view text;
  bool too_long = false;
  for (;;) {
    // Decide what is read before a read that may block, and every kBlockLines lines.
    if (!lines.empty() && (lines.size() >= kBlockLines || !reader.HasLine())) decide_block();
    if (write_errno != 0) break;
    if (!reader.Next(&text, &too_long)) break;
    Line& l = lines.emplace_back();
    l.number = ++sum.lines;
    l.too_long = too_long;
    l.begin = bytes.size();
    l.size = text.size();
    bytes.append(text);
  }
  if (!lines.empty() && write_errno == 0) decide_block();
  write_out();
  if (write_errno != 0) {
    return absl::ErrnoToStatus(write_errno, absl::StrCat("write failed after line ", sum.lines));
  }
  if (reader.errno_value() != 0) {
    return absl::ErrnoToStatus(reader.errno_value(),
                               absl::StrCat("read failed after line ", sum.lines));
  }
  return sum;
}

}  // namespace residency
