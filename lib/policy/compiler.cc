// The policy compiler: YAML sources -> CompiledSet (catalogue, classes, policies, indexes,
// digest) plus diagnostics. This file: the entry points, and loading each file within the
// limits (sizes, file and rule counts, nesting, encoding) before it is compiled.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "absl/strings/str_cat.h"
#include "internal/text_util.h"
#include "policy/compiler_impl.h"
#include "policy/condition_walk.h"
#include "residency/lint.h"

namespace residency::policy_internal {
namespace {

// Depth of `[`/`{` nesting and of indentation, scanned before yaml-cpp sees the text so that a
// pathological file cannot exhaust the parser's stack.
bool NestingWithin(const std::string& text, int limit, int* line_out) {
  int depth = 0, line = 1;
  bool in_single = false, in_double = false, comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      in_single = in_double = false;  // flow scalars spanning lines are rare in policies
      // Indentation depth: count leading spaces of the next line.
      size_t j = i + 1, spaces = 0;
      while (j < text.size() && text[j] == ' ') ++j, ++spaces;
      if (static_cast<int>(spaces / 2) > limit * 2) {
        *line_out = line;
        return false;
      }
      continue;
    }
    if (comment) continue;
    if (in_double) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_double = false;
      }
      continue;
    }
    if (in_single) {
      if (c == '\'') in_single = false;
      continue;
    }
    if (c == '#') {
      comment = true;
    } else if (c == '"') {
      in_double = true;
    } else if (c == '\'') {
      in_single = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) {
        *line_out = line;
        return false;
      }
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  return true;
}

bool IsYamlFile(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

void Compiler::LoadFile(const PolicySource& src) {
  if (src.text.size() > options_.max_file_bytes) {
    sink_->Add(Diagnostic::Severity::kError, src.name, 0, 0, "limit",
               absl::StrCat("file is ", src.text.size(), " bytes; the limit is ",
                            options_.max_file_bytes));
    return;
  }
  int bad_line = 0;
  if (!NestingWithin(src.text, options_.max_nesting, &bad_line)) {
    sink_->Add(Diagnostic::Severity::kError, src.name, bad_line, 1, "limit",
               absl::StrCat("nesting deeper than ", options_.max_nesting, " levels"));
    return;
  }
  if (size_t bad = internal::FirstNonUtf8Byte(src.text); bad != std::string::npos) {
    int line = 0, col = 0;
    internal::LineColumnAt(src.text, bad, &line, &col);
    sink_->Add(Diagnostic::Severity::kError, src.name, line, col, "encoding",
               internal::NotUtf8Message(bad));
    return;
  }
  LoadedFile f;
  f.name = src.name;
  YamlError error;
  f.doc = YamlDoc::Read(src.text, &error);
  if (!f.doc) {
    sink_->Add(Diagnostic::Severity::kError, src.name, error.line, error.column, error.code,
               error.message);
    return;
  }
  f.root = f.doc->root();
  if (!f.root.IsMap()) {
    sink_->Add(Diagnostic::Severity::kError, src.name, 1, 1, "kind",
               "a policy file must be a mapping with a top-level `kind:`");
    return;
  }
  YNode kind = f.root.Get("kind");
  if (!kind.IsDefined() || !kind.IsScalar()) {
    sink_->Error(src.name, f.root.Mark(), "kind",
                 "missing top-level `kind:` (policy, catalogue, tests or tagging)");
    return;
  }
  f.kind = kind.Scalar();
  const std::vector<std::string> kinds = {"policy", "catalogue", "tests", "tagging"};
  if (std::find(kinds.begin(), kinds.end(), f.kind) == kinds.end()) {
    std::string hint = DidYouMean(f.kind, kinds);
    sink_->Error(
        src.name, kind.Mark(), "kind",
        absl::StrCat("unknown kind `", f.kind, "`; want policy, catalogue, tests or tagging",
                     hint.empty() ? "" : absl::StrCat(" (did you mean `", hint, "`?)")));
    return;
  }
  // `tests` and `tagging` files are validated here; only policies and the catalogue compile.
  if (f.kind == "tests") CheckTestsFile(f.root, f.name, sink_);
  if (f.kind == "tagging") CheckTaggingFile(src, sink_);
  if (f.kind != "policy" && f.kind != "catalogue") {
    f.doc.reset();
    f.root = YNode();
  }
  files_.push_back(std::move(f));
}

std::unique_ptr<CompiledSet> Compiler::Run(const std::vector<PolicySource>& sources) {
  size_t total = 0, declared_rules = 0;
  if (sources.size() > options_.max_files) {
    sink_->Add(Diagnostic::Severity::kError, "", 0, 0, "limit",
               absl::StrCat(sources.size(), " files; the limit is ", options_.max_files));
    return nullptr;
  }
  for (const auto& s : sources) {
    total += s.text.size();
    if (total > options_.max_total_bytes) {
      sink_->Add(Diagnostic::Severity::kError, s.name, 0, 0, "limit",
                 absl::StrCat("policy files exceed ", options_.max_total_bytes, " bytes in all"));
      return nullptr;
    }
    size_t loaded = files_.size();
    LoadFile(s);
    // Count rules as files load, so that a set far over the limit stops here, not after all of
    // it has been parsed and compiled.
    if (files_.size() > loaded && files_.back().kind == "policy") {
      const YNode rn = files_.back().root.Get("rules");
      if (rn.IsSequence()) declared_rules += rn.size();
      if (declared_rules > options_.max_rules) {
        sink_->Error(s.name, rn.Mark(), "limit",
                     absl::StrCat("more than ", options_.max_rules, " rules"));
        return nullptr;
      }
    }
  }
  const LoadedFile* catalogue = nullptr;
  for (const auto& f : files_) {
    if (f.kind != "catalogue") continue;
    if (catalogue) {
      sink_->Error(f.name, f.root.Mark(), "duplicate-id",
                   absl::StrCat("a second catalogue; the first is ", catalogue->name));
      continue;
    }
    catalogue = &f;
  }
  if (!catalogue) {
    if (!sink_->has_errors()) {
      sink_->Add(Diagnostic::Severity::kError, sources.empty() ? "" : sources[0].name, 0, 0,
                 "no-catalogue",
                 "no region catalogue (`kind: catalogue`, policies/regions.yaml) among the files");
    }
    return nullptr;
  }
  CompileCatalogue(*catalogue);
  for (auto& f : files_) {
    if (f.kind == "catalogue") {
      f.doc.reset();
      f.root = YNode();
    }
  }
  for (const auto& f : files_)
    if (f.kind == "policy") CollectClasses(f);
  FinishClasses();
  // Each policy file's tree is released once the file is compiled.
  for (auto& f : files_) {
    if (f.kind != "policy") continue;
    CompilePolicyFile(f);
    f.doc.reset();
    f.root = YNode();
  }
  std::stable_sort(set_->policies.begin(), set_->policies.end(),
                   [](const Policy& a, const Policy& b) { return a.id < b.id; });
  if (sink_->has_errors()) return nullptr;
  NumberAndIntern();
  if (!SetDigest()) return nullptr;
  return std::move(set_);
}

namespace {

int EvidenceTypeId(CompiledSet* set, const std::string& type) {
  return set->evidence_types.emplace(type, static_cast<int>(set->evidence_types.size()))
      .first->second;
}

std::vector<int> EvidenceTypeIds(CompiledSet* set, const std::vector<std::string>& types) {
  std::vector<int> ids;
  ids.reserve(types.size());
  for (const auto& t : types) ids.push_back(EvidenceTypeId(set, t));
  return ids;
}

// Numbers `when`'s nodes from set->condition_count on, and its evidence conditions' types.
void NumberConditions(CompiledSet* set, Condition* when) {
  ForEachCondition(*when, [&](Condition& c, int) {
    c.id = static_cast<int32_t>(set->condition_count++);
    if (c.kind == Condition::Kind::kEvidence && c.evidence) {
      auto e = std::make_shared<EvidenceCond>(*c.evidence);
      e->type_ids = EvidenceTypeIds(set, e->types);
      c.evidence = std::move(e);
    }
  });
}

bool Has(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

void Compiler::NumberAndIntern() {
  CompiledSet* set = set_.get();
  set->condition_count = 0;
  set->evidence_types.clear();
  set->evidence_spec_by_type.clear();
  set->attestation_type = EvidenceTypeId(set, "anonymization_attestation");
  auto class_id = [&](const char* name) {
    auto it = set->class_index.find(name);
    return it == set->class_index.end() ? -1 : it->second;
  };
  set->anonymized_class = class_id("anonymized");
  set->pseudonymized_class = class_id("pseudonymized");
  for (auto& p : set->policies) {
    for (auto& l : p.lifts) {
      l.evidence_type_ids = EvidenceTypeIds(set, l.evidence_types);
      l.datasets = Has(l.artifacts, "dataset");
      l.models = Has(l.artifacts, "model");
    }
    for (auto& ig : p.ignores) ig.type_ids = EvidenceTypeIds(set, ig.types);
    for (const auto& spec : p.evidence_specs) {
      const auto id = static_cast<size_t>(EvidenceTypeId(set, spec.type));
      if (set->evidence_spec_by_type.size() <= id) set->evidence_spec_by_type.resize(id + 1);
      set->evidence_spec_by_type[id] = spec;
    }
    auto& order = p.obligation_order;
    order.resize(p.obligations.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return p.obligations[a].id < p.obligations[b].id; });
    p.obligation_rank.assign(order.size(), 0);
    for (size_t k = 0; k < order.size(); ++k) p.obligation_rank[order[k]] = static_cast<int>(k);
    for (auto& x : p.exceptions) NumberConditions(set, &x.when);
    for (auto& r : p.rules) {
      r.corp = r.basis == "corp";
      NumberConditions(set, &r.when);
      for (auto& a : r.alternatives) NumberConditions(set, &a.when);
    }
  }
}

}  // namespace residency::policy_internal

namespace residency {

using policy_internal::CompiledSet;
using policy_internal::DiagSink;

std::string FormatDiagnostic(const Diagnostic& d) {
  std::string out = d.file.empty() ? "residency" : d.file;
  if (d.line > 0) absl::StrAppend(&out, ":", d.line, ":", d.column);
  absl::StrAppend(&out, ": ", d.severity == Diagnostic::Severity::kError ? "error" : "warning",
                  ": ", d.message);
  if (!d.code.empty()) absl::StrAppend(&out, " [", d.code, "]");
  return out;
}

CompileResult CompilePolicySources(const std::vector<PolicySource>& sources,
                                   const CompileOptions& options) {
  DiagSink sink;
  policy_internal::Compiler compiler(options, &sink);
  std::unique_ptr<CompiledSet> set;
  try {
    set = compiler.Run(sources);
  } catch (const std::bad_alloc&) {
    // The loader catches yaml-cpp's exceptions where it reads a file; what reaches here is not
    // the user's mistake.
    sink.Add(Diagnostic::Severity::kError, "", 0, 0, "internal",
             "internal error: out of memory compiling the policies");
    set = nullptr;
  } catch (const std::exception& e) {
    sink.Add(Diagnostic::Severity::kError, "", 0, 0, "internal",
             absl::StrCat("internal error compiling the policies: ", e.what()));
    set = nullptr;
  }
  CompileResult result;
  result.diagnostics = std::move(sink.diagnostics());
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
                   });
  if (set) {
    if (options.keep_sources) set->sources = sources;
    result.snapshot = std::make_shared<const PolicySnapshot>(std::move(set));
  }
  return result;
}

std::vector<Diagnostic> CheckFolderFile(const PolicySource& source) {
  DiagSink sink;
  const CompileOptions options;  // the compiler holds a reference: it must outlive it
  policy_internal::Compiler compiler(options, &sink);
  try {
    compiler.CheckAlone(source);
  } catch (const std::exception& e) {
    sink.Add(Diagnostic::Severity::kError, source.name, 0, 0, "internal",
             absl::StrCat("internal error checking the file: ", e.what()));
  }
  return std::move(sink.diagnostics());
}

CompileResult CompilePolicies(const std::vector<std::string>& paths,
                              const CompileOptions& options) {
  namespace fs = std::filesystem;
  std::vector<PolicySource> sources;
  CompileResult failed;
  // Every size and the file count are checked before any file is read, so memory stays bounded.
  std::vector<fs::path> to_read;
  size_t total_bytes = 0;
  bool over_set_limit = false;  // reported once; later files are not looked at
  auto add_file = [&](const fs::path& p) -> bool {
    if (over_set_limit) return false;
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (ec) {
      failed.diagnostics.push_back(Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "io",
                                              absl::StrCat("cannot read: ", ec.message())});
      return false;
    }
    if (size > options.max_file_bytes) {
      failed.diagnostics.push_back(Diagnostic{
          p.string(), 0, 0, Diagnostic::Severity::kError, "limit",
          absl::StrCat("file is ", size, " bytes; the limit is ", options.max_file_bytes)});
      return false;
    }
    total_bytes += size;
    if (total_bytes > options.max_total_bytes || to_read.size() >= options.max_files) {
      failed.diagnostics.push_back(Diagnostic{
          p.string(), 0, 0, Diagnostic::Severity::kError, "limit",
          total_bytes > options.max_total_bytes
              ? absl::StrCat("policy files exceed ", options.max_total_bytes, " bytes in all")
              : absl::StrCat("more than ", options.max_files, " files")});
      over_set_limit = true;
      return false;
    }
    to_read.push_back(p);
    return true;
  };
  for (const auto& path : paths) {
    fs::path p(path);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_regular_file() && policy_internal::IsYamlFile(e.path())) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& fp : files) add_file(fp);
    } else if (fs::exists(p, ec)) {
      add_file(p);
    } else {
      failed.diagnostics.push_back(
          Diagnostic{path, 0, 0, Diagnostic::Severity::kError, "io", "no such file or directory"});
    }
  }
  if (!failed.diagnostics.empty()) return failed;
  for (const auto& p : to_read) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      failed.diagnostics.push_back(
          Diagnostic{p.string(), 0, 0, Diagnostic::Severity::kError, "io", "cannot open file"});
      return failed;
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    sources.push_back(PolicySource{p.string(), std::move(text)});
  }
  return CompilePolicySources(sources, options);
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> CompilePolicy(
    const std::vector<std::string>& paths, const CompileOptions& options) {
  CompileResult r = CompilePolicies(paths, options);
  if (r.snapshot) return r.snapshot;
  for (const auto& d : r.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) {
      return absl::InvalidArgumentError(FormatDiagnostic(d));
    }
  }
  return absl::InvalidArgumentError("policy compile failed");
}

}  // namespace residency
