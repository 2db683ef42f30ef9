// Key-by-key validation of the files a policy folder holds besides policies and the catalogue:
// `kind: tests` (decision tables run by `residency test`) and `kind: tagging` (the tagger's
// configuration). Both are checked wherever the folder is compiled, so `residency lint` covers
// every file of the folder.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "internal/time_util.h"
#include "policy/compiler.h"
#include "residency/tagging.h"

namespace residency::policy_internal {

const std::vector<std::string>& TestsFileKeys() {
  static const auto* k = new std::vector<std::string>{"kind", "cases"};
  return *k;
}
const std::vector<std::string>& TestCaseKeys() {
  static const auto* k =
      new std::vector<std::string>{"name", "now", "request", "request_file", "want", "note"};
  return *k;
}
const std::vector<std::string>& TestWantKeys() {
  static const auto* k = new std::vector<std::string>{
      "decision", "rules", "not_rules", "obligations", "suggested", "lifted", "dry_run"};
  return *k;
}
const std::vector<std::string>& TestDecisions() {
  static const auto* k =
      new std::vector<std::string>{"allow", "allow_with_obligations", "escalate", "deny"};
  return *k;
}

void CheckTestsFile(YNode root, const std::string& file, DiagSink* sink) {
  MapReader r(root, file, sink, nullptr, "a tests file");
  if (!r.ok()) return;
  r.Raw("kind");  // checked by the loader
  YNode cases = r.Raw("cases");
  r.Finish();
  if (!cases.IsDefined() || cases.IsNull()) {
    sink->Error(file, root.Mark(), "missing-key", "a tests file needs `cases`, a list");
    return;
  }
  if (!cases.IsSequence()) {
    sink->Error(file, cases.Mark(), "wrong-type", "`cases` must be a list");
    return;
  }
  for (YNode c : cases) {
    MapReader cr(c, file, sink, nullptr, "a test case");
    if (!cr.ok()) continue;
    cr.String("name", /*required=*/true);
    if (YNode now = cr.Raw("now"); now.IsDefined() && !now.IsNull()) {
      if (!now.IsScalar()) {
        sink->Error(file, now.Mark(), "wrong-type", "`now` must be a timestamp");
      } else if (auto t = internal::ParseTimestamp(now.Scalar()); !t.ok()) {
        sink->Error(file, now.Mark(), "invalid-date",
                    absl::StrCat("`now`: ", std::string(t.status().message())));
      }
    }
    YNode req = cr.Raw("request");
    auto req_file = cr.String("request_file");
    const bool has_req = req.IsDefined() && !req.IsNull();
    if (has_req && !req.IsMap()) {
      sink->Error(file, req.Mark(), "wrong-type", "`request` must be a mapping");
    }
    if (has_req && req_file) {
      sink->Error(file, cr.mark(), "bad-value",
                  "a test case takes one of `request` and `request_file`, not both");
    } else if (!has_req && !req_file) {
      sink->Error(file, cr.mark(), "missing-key", "a test case needs `request` or `request_file`");
    }
    YNode want = cr.Raw("want");
    cr.Ignore("note");
    cr.Finish();
    if (!want.IsDefined() || want.IsNull()) {
      sink->Error(file, cr.mark(), "missing-key", "a test case needs `want`");
      continue;
    }
    MapReader wr(want, file, sink, nullptr, "`want`");
    if (!wr.ok()) continue;
    wr.Enum("decision", TestDecisions());
    for (const char* key :
         {"rules", "not_rules", "obligations", "suggested", "lifted", "dry_run"}) {
      wr.StringList(key);
    }
    wr.Finish();
  }
}

void CheckTaggingFile(const PolicySource& src, DiagSink* sink) {
  absl::StatusOr<tagging::TaggerPlan> plan = tagging::TaggerPlan::Compile(src.text, src.name);
  if (plan.ok()) return;
  // The tagger's errors read "<source>:LINE:COL: error: <message>".
  std::string msg(plan.status().message());
  int line = 0, col = 0;
  const std::string prefix = src.name + ":";
  if (msg.rfind(prefix, 0) == 0) {
    std::string rest = msg.substr(prefix.size());
    size_t c1 = rest.find(':'), c2 = c1 == std::string::npos ? c1 : rest.find(':', c1 + 1);
    const std::string tag = ": error: ";
    if (c2 != std::string::npos && absl::SimpleAtoi(rest.substr(0, c1), &line) &&
        absl::SimpleAtoi(rest.substr(c1 + 1, c2 - c1 - 1), &col) &&
        rest.compare(c2, tag.size(), tag) == 0) {
      msg = rest.substr(c2 + tag.size());
    } else {
      line = col = 0;
    }
  }
  std::string code = "tagging";
  if (msg.rfind("unknown key", 0) == 0) code = "unknown-key";
  if (msg.rfind("duplicate key", 0) == 0) code = "duplicate-key";
  if (msg.find(" must be ") != std::string::npos) code = "wrong-type";
  if (msg.rfind("a second YAML document", 0) == 0) code = "multiple-documents";
  sink->Add(Diagnostic::Severity::kError, src.name, line, col, code, msg);
}

}  // namespace residency::policy_internal
