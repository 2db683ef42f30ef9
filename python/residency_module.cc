// The Python binding: `import residency`.
//
//   policies = residency.compile(["policies"])          # PolicyError: "FILE:LINE:COL: ..."
//   d = policies.check({"kind": "dataset", ...})         # the decision, as the JSON of `residency
//   check` if d["decision"] == "deny": ...
//
// Requests go in as dicts (serialised with Python's json module, then residency::ParseRequest,
// which rejects unknown keys and wrong types exactly as the CLI does) or as JSON/YAML text.
// Decisions come back as dicts parsed from residency::DecisionToJson, so a dict equals the CLI's
// `residency check` output. Evaluation, compilation, tagging and verification run with the GIL
// released: a snapshot is immutable and shared, so Python threads evaluate in parallel.
#include <fcntl.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "residency/audit.h"
#include "residency/batch.h"
#include "residency/decision.h"
#include "residency/explain.h"
#include "residency/lint.h"
#include "residency/policy.h"
#include "residency/request.h"
#include "residency/tagging.h"
#include "residency/version.h"
#include "residency/where.h"

namespace py = pybind11;
namespace tg = residency::tagging;

namespace {

std::string Message(const absl::Status& s) {
  std::string m(s.message());
  return m.empty() ? "error (" + absl::StatusCodeToString(s.code()) + ")" : m;
}

// The module's exceptions (made once at import; kept for the life of the process).
struct Errors {
  py::handle error, policy, request, audit;
};
Errors g_errors;

// Raises `type(message)` with the attributes `set` gives it.
template <typename F>
[[noreturn]] void Raise(py::handle type, const std::string& message, F set) {
  py::object e = py::reinterpret_borrow<py::object>(type)(message.empty() ? "error" : message);
  set(e);
  PyErr_SetObject(type.ptr(), e.ptr());
  throw py::error_already_set();
}
[[noreturn]] void Raise(py::handle type, const std::string& message) {
  Raise(type, message, [](py::object&) {});
}

// FileNotFoundError(ENOENT, ..., path) for a path that does not exist.
void RequireExists(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) || ec) return;  // other errors: the reader says
  py::object e = py::module_::import("builtins")
                     .attr("FileNotFoundError")(ENOENT, "No such file or directory", path);
  PyErr_SetObject(PyExc_FileNotFoundError, e.ptr());
  throw py::error_already_set();
}

// RequestError for a request that cannot be parsed or decided: the message (after `prefix`), and
// `path`, `line` and `column` where the library gives them (empty, 0).
py::object RequestErrorFor(const absl::Status& status, const std::string& prefix = "") {
  residency::RequestErrorLocation at = residency::LocateRequestError(status);
  const std::string message = Message(status);
  py::object e = g_errors.request(prefix + (message.empty() ? "error" : message));
  e.attr("path") = at.path;
  e.attr("line") = at.line;
  e.attr("column") = at.column;
  return e;
}
[[noreturn]] void RaiseRequestError(const absl::Status& status, const std::string& prefix = "") {
  py::object e = RequestErrorFor(status, prefix);
  PyErr_SetObject(g_errors.request.ptr(), e.ptr());
  throw py::error_already_set();
}

[[noreturn]] void RaiseAuditError(const std::string& message) { Raise(g_errors.audit, message); }

// One path or an iterable of paths (str or os.PathLike) -> list of strings.
std::vector<std::string> Paths(py::handle arg) {
  py::object fspath = py::module_::import("os").attr("fspath");
  std::vector<std::string> out;
  if (py::isinstance<py::str>(arg) || py::hasattr(arg, "__fspath__")) {
    out.push_back(fspath(arg).cast<std::string>());
    return out;
  }
  for (py::handle item : py::iter(arg)) out.push_back(fspath(item).cast<std::string>());
  if (out.empty()) throw py::value_error("no policy paths given");
  return out;
}

// A request dict (or JSON/YAML text, str or bytes) -> the text ParseRequest reads.
std::string RequestText(py::handle request) {
  if (py::isinstance<py::str>(request)) return request.cast<std::string>();
  if (py::isinstance<py::bytes>(request)) return request.cast<std::string>();
  if (!py::isinstance<py::dict>(request)) {
    throw py::type_error("request must be a dict, or JSON or YAML text");
  }
  // allow_nan=False: NaN and Infinity are not JSON; ensure_ascii=False keeps UTF-8 as is.
  py::object dumps = py::module_::import("json").attr("dumps");
  return dumps(request, py::arg("allow_nan") = false, py::arg("ensure_ascii") = false)
      .cast<std::string>();
}

py::object JsonToPython(const std::string& text) {
  return py::module_::import("json").attr("loads")(py::str(text));
}

// `threads`: None (one per hardware thread) or a positive int.
int Threads(py::handle threads) {
  if (threads.is_none()) return 0;
  const int n = threads.cast<int>();
  if (n < 1 || n > 1024) throw py::value_error("threads must be None or 1 to 1024");
  return n;
}

// `now`: None, an RFC 3339 string, or a timezone-aware datetime.
std::optional<absl::Time> ParseNow(py::handle now) {
  if (now.is_none()) return std::nullopt;
  std::string text;
  if (py::isinstance<py::str>(now)) {
    text = now.cast<std::string>();
  } else if (py::hasattr(now, "isoformat") && py::hasattr(now, "tzinfo")) {
    if (now.attr("tzinfo").is_none()) {
      throw py::value_error("`now` must be timezone-aware (a naive datetime has no instant)");
    }
    text = now.attr("isoformat")().cast<std::string>();
  } else {
    throw py::type_error("`now` must be None, an RFC 3339 string or an aware datetime");
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    throw py::value_error("`now` `" + text + "` is not an RFC 3339 time: " + err);
  }
  return t;
}

py::dict DiagnosticDict(const residency::Diagnostic& d) {
  py::dict out;
  out["file"] = d.file;
  out["line"] = d.line;
  out["column"] = d.column;
  out["severity"] = d.severity == residency::Diagnostic::Severity::kError ? "error" : "warning";
  out["code"] = d.code;
  out["message"] = d.message;
  return out;
}

// ---- audit ----------------------------------------------------------------------------------

class PyAuditLog {
 public:
  PyAuditLog(const std::string& audit_dir, const std::string& key_file,
             const std::string& durability, const std::string& log_id,
             const std::string& resume_log_dir) {
    residency::AuditOptions o;
    o.audit_dir = audit_dir;
    o.key_file = key_file;
    o.log_id = log_id;
    o.resume_log_dir = resume_log_dir;
    if (durability == "sync") {
      o.durability = residency::AuditDurability::kSync;
    } else if (durability == "async") {
      o.durability = residency::AuditDurability::kAsync;
    } else {
      throw py::value_error("durability must be `async` or `sync`, not `" + durability + "`");
    }
    absl::StatusOr<std::unique_ptr<residency::AuditLog>> log;
    {
      py::gil_scoped_release release;
      if (!audit_dir.empty()) {
        std::error_code ec;  // as `mkdir -p`; Open reports what is still wrong
        std::filesystem::create_directories(audit_dir, ec);
      }
      log = residency::AuditLog::Open(o);
    }
    if (!log.ok()) RaiseAuditError("audit log: " + Message(log.status()));
    log_ = std::shared_ptr<residency::AuditLog>(std::move(*log));
  }

  residency::AuditLog& log() {
    if (!log_) RaiseAuditError("audit log is closed");
    return *log_;
  }
  void Flush() {
    residency::AuditLog& l = log();
    absl::Status st;
    {
      py::gil_scoped_release release;
      st = l.Flush();
    }
    if (!st.ok()) RaiseAuditError("audit log: " + Message(st));
  }
  void Close() {
    if (!log_) return;
    absl::Status st;
    {
      py::gil_scoped_release release;
      st = log_->Close();
    }
    log_.reset();
    if (!st.ok()) RaiseAuditError("audit log: " + Message(st));
  }
  bool closed() const { return !log_; }

 private:
  std::shared_ptr<residency::AuditLog> log_;
};

// ---- policies -------------------------------------------------------------------------------

class PyPolicies {
 public:
  explicit PyPolicies(std::shared_ptr<const residency::PolicySnapshot> snap)
      : snap_(std::move(snap)) {}

  // `lang`: "" or a language code of two or three lower-case letters; anything else is a
  // ValueError.
  static std::string Lang(const std::string& lang) {
    const bool ok = lang.empty() || (lang.size() >= 2 && lang.size() <= 3 &&
                                     std::all_of(lang.begin(), lang.end(),
                                                 [](char c) { return c >= 'a' && c <= 'z'; }));
    if (!ok) {
      throw py::value_error(
          "lang must be a language code of two or three lower-case letters "
          "('ko'), not '" +
          lang + "'");
    }
    return lang;
  }

  py::object Check(py::object request, py::object now, bool suggest, PyAuditLog* audit,
                   const std::string& principal, const std::string& lang) const {
    std::string text = RequestText(request);
    residency::EvalOptions options;
    options.now = ParseNow(now);
    options.suggest = suggest;
    options.lang = Lang(lang);
    residency::AuditLog* log = audit ? &audit->log() : nullptr;

    absl::Status failed;  // set when the request cannot be decided
    std::string audit_error;
    std::string out;
    {
      py::gil_scoped_release release;
      absl::StatusOr<residency::Request> req = residency::ParseRequest(text);
      absl::StatusOr<residency::Decision> d =
          req.ok() ? residency::Evaluate(*snap_, *req, options)
                   : absl::StatusOr<residency::Decision>(req.status());
      if (!d.ok()) {
        failed = d.status();
      } else {
        if (log != nullptr) {
          absl::Status recorded = residency::RecordDecision(*log, text, &*d, principal);
          if (!recorded.ok()) audit_error = Message(recorded);
        }
        out = residency::DecisionToJson(*d);
      }
    }
    // Fail closed: an undecidable request or an unrecorded decision is an exception, never a
    // dict a caller could mistake for an answer.
    if (!failed.ok()) RaiseRequestError(failed);
    if (!audit_error.empty())
      RaiseAuditError("decision not recorded in the audit log: " + audit_error);
    return JsonToPython(out);
  }

  py::object Where(py::object request, py::object now, const std::vector<std::string>& providers,
                   const std::vector<std::string>& countries, bool include_escalate,
                   bool include_reserved, const std::string& format,
                   const std::string& lang) const {
    if (format != "dict" && format != "html") {
      throw py::value_error("format must be 'dict' or 'html', not '" + format + "'");
    }
    std::string text = RequestText(request);
    residency::EvalOptions options;
    options.now = ParseNow(now);
    options.lang = Lang(lang);
    residency::WhereOptions where;
    where.providers = providers;
    where.countries = countries;
    where.include_escalate = include_escalate;
    where.include_reserved = include_reserved;
    absl::Status failed;
    std::string out;
    {
      py::gil_scoped_release release;
      absl::StatusOr<residency::Request> req = residency::ParseRequest(text);
      absl::StatusOr<residency::Placements> p =
          req.ok() ? residency::AllowedLocations(*snap_, *req, where, options)
                   : absl::StatusOr<residency::Placements>(req.status());
      if (p.ok()) {
        out = format == "html" ? residency::PlacementsToHtml(*p) : residency::PlacementsToJson(*p);
      } else {
        failed = p.status();
      }
    }
    if (!failed.ok()) RaiseRequestError(failed);
    if (format == "html") return py::str(out);
    return JsonToPython(out);
  }

  // The explanation as a dict (the shape of `residency explain --format json`), or as text.
  py::object Explain(py::object request, py::object now, const std::string& format,
                     size_t max_places, const std::string& lang) const {
    if (format != "dict" && format != "text") {
      throw py::value_error("format must be 'dict' or 'text', not '" + format + "'");
    }
    std::string text = RequestText(request);
    residency::ExplainOptions options;
    options.eval.now = ParseNow(now);
    options.eval.lang = Lang(lang);
    options.max_units = max_places;
    absl::Status failed;
    std::string out;
    {
      py::gil_scoped_release release;
      absl::StatusOr<residency::Request> req = residency::ParseRequest(text);
      absl::StatusOr<residency::Explanation> e =
          req.ok() ? residency::Explain(*snap_, *req, options)
                   : absl::StatusOr<residency::Explanation>(req.status());
      if (e.ok()) {
        out =
            format == "text" ? residency::ExplanationToText(*e) : residency::ExplanationToJson(*e);
      } else {
        failed = e.status();
      }
    }
    if (!failed.ok()) RaiseRequestError(failed);
    if (format == "text") return py::str(out);
    return JsonToPython(out);
  }

  // Many requests decided on C++ threads with the GIL released; dicts in input order.
  py::list CheckMany(py::iterable requests, py::object now, bool suggest, py::object threads,
                     const std::string& errors, const std::string& lang) const {
    if (errors != "raise" && errors != "return") {
      throw py::value_error("errors must be 'raise' or 'return', not '" + errors + "'");
    }
    residency::EvalOptions options;
    options.now = ParseNow(now);
    options.suggest = suggest;
    options.lang = Lang(lang);
    const int n_threads = Threads(threads);
    std::vector<std::string> texts;
    for (py::handle r : requests) texts.push_back(RequestText(r));
    std::vector<std::string> out(texts.size());
    std::vector<absl::Status> failed(texts.size());
    {
      py::gil_scoped_release release;
      std::vector<std::string_view> views(texts.begin(), texts.end());
      auto decisions = residency::DecideMany(*snap_, views, options, n_threads);
      for (size_t i = 0; i < decisions.size(); ++i) {
        if (decisions[i].ok()) {
          out[i] = residency::DecisionToJson(*decisions[i]);
        } else {
          failed[i] = decisions[i].status();
        }
      }
    }
    py::list result;
    for (size_t i = 0; i < out.size(); ++i) {
      if (failed[i].ok()) {
        result.append(JsonToPython(out[i]));
      } else if (errors == "raise") {
        RaiseRequestError(failed[i], "requests[" + std::to_string(i) + "]: ");
      } else {
        result.append(RequestErrorFor(failed[i], "requests[" + std::to_string(i) + "]: "));
      }
    }
    return result;
  }

  // A JSON-lines file decided into another (residency/batch.h); the summary as a dict.
  py::dict CheckJsonl(py::object src, py::object dst, py::object now, bool suggest,
                      py::object threads, py::object progress, PyAuditLog* audit,
                      const std::string& lang) const {
    py::object fspath = py::module_::import("os").attr("fspath");
    const std::string in_path = fspath(src).cast<std::string>();
    const std::string out_path = fspath(dst).cast<std::string>();
    RequireExists(in_path);
    residency::BatchOptions options;
    options.eval.now = ParseNow(now);
    options.eval.suggest = suggest;
    options.eval.lang = Lang(lang);
    options.threads = Threads(threads);
    options.audit = audit ? &audit->log() : nullptr;
    // The callback runs with the GIL; after it raises it is not called again, the scan runs to the
    // end of the input and the exception is raised then (the output file is complete).
    std::optional<py::error_already_set> callback_error;
    if (!progress.is_none()) {
      options.progress = [&](size_t done) {
        if (callback_error) return;
        py::gil_scoped_acquire gil;
        try {
          progress(done);
        } catch (py::error_already_set& e) {
          callback_error.emplace(std::move(e));
        }
      };
    }
    const int in = ::open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw py::value_error(in_path + ": cannot open: " + std::strerror(errno));
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
      const int err = errno;
      ::close(in);
      throw py::value_error(out_path + ": cannot open: " + std::strerror(err));
    }
    absl::StatusOr<residency::BatchSummary> sum;
    {
      py::gil_scoped_release release;
      sum = residency::DecideJsonLines(*snap_, in, out, options);
    }
    ::close(in);
    const bool closed = ::close(out) == 0;
    if (callback_error) throw std::move(*callback_error);
    if (!sum.ok()) throw std::runtime_error(in_path + ": " + Message(sum.status()));
    if (!closed) throw std::runtime_error(out_path + ": close failed: " + std::strerror(errno));
    py::dict by_decision;
    for (int e = 0; e < 4; ++e) {
      by_decision[residency::EffectName(static_cast<residency::Effect>(e))] = sum->by_effect[e];
    }
    py::dict d;
    d["lines"] = sum->lines;
    d["decided"] = sum->decided;
    d["errors"] = sum->errors;
    d["by_decision"] = by_decision;
    d["by_rule"] = sum->by_rule;
    d["by_location"] = sum->by_location;
    return d;
  }

  const residency::PolicySnapshot& snapshot() const { return *snap_; }
  const std::string& digest() const { return snap_->digest(); }
  std::vector<std::string> policy_ids() const { return snap_->policy_ids(); }
  size_t rule_count() const { return snap_->rule_count(); }
  std::vector<std::string> locations() const { return snap_->locations(); }

 private:
  std::shared_ptr<const residency::PolicySnapshot> snap_;
};

// PolicyError for a failed compile: the first error is the message; every diagnostic is in
// `.diagnostics`.
[[noreturn]] void RaisePolicyError(const residency::CompileResult& r) {
  std::string first;
  py::list diagnostics;
  for (const residency::Diagnostic& d : r.diagnostics) {
    if (d.severity == residency::Diagnostic::Severity::kError && first.empty()) {
      first = residency::FormatDiagnostic(d);
    }
    diagnostics.append(DiagnosticDict(d));
  }
  if (first.empty()) first = "policies did not compile";
  Raise(g_errors.policy, first, [&](py::object& e) { e.attr("diagnostics") = diagnostics; });
}

// Sources are kept: a Policies pickles as them and is compiled again where it is unpickled.
residency::CompileOptions KeepSources() {
  residency::CompileOptions o;
  o.keep_sources = true;
  return o;
}

PyPolicies Compile(py::object paths_arg) {
  std::vector<std::string> paths = Paths(paths_arg);
  for (const std::string& p : paths) RequireExists(p);
  residency::CompileResult r;
  {
    py::gil_scoped_release release;
    r = residency::CompilePolicies(paths, KeepSources());
  }
  if (!r.ok()) RaisePolicyError(r);
  return PyPolicies(r.snapshot);
}

// Pickling: (1, [(name, text bytes), ...], digest). Unpickling compiles the sources and refuses a
// result whose digest differs from the pickled one.
py::tuple PoliciesState(const PyPolicies& p) {
  py::list sources;
  for (const residency::PolicySource& src : p.snapshot().sources()) {
    sources.append(py::make_tuple(src.name, py::bytes(src.text)));
  }
  return py::make_tuple(1, sources, p.digest());
}

PyPolicies PoliciesFromState(const py::tuple& state) {
  if (state.size() != 3 || state[0].cast<int>() != 1) {
    throw py::value_error("not a pickled residency.Policies (version 1)");
  }
  std::vector<residency::PolicySource> sources;
  for (py::handle item : state[1]) {
    auto pair = item.cast<py::tuple>();
    sources.push_back({pair[0].cast<std::string>(), pair[1].cast<std::string>()});
  }
  const std::string digest = state[2].cast<std::string>();
  residency::CompileResult r;
  {
    py::gil_scoped_release release;
    r = residency::CompilePolicySources(sources, KeepSources());
  }
  if (!r.ok()) RaisePolicyError(r);
  if (r.snapshot->digest() != digest) {
    Raise(g_errors.policy,
          "unpickled policies compile to " + r.snapshot->digest() + ", not the pickled " + digest);
  }
  return PyPolicies(r.snapshot);
}

// As `residency lint`: when the paths hold no catalogue, regions.yaml beside the first path is
// used (or `catalogue`); a folder's subfolders (tests/) are checked file by file.
py::list Lint(py::object paths_arg, std::optional<std::string> catalogue) {
  std::vector<std::string> paths = Paths(paths_arg);
  residency::CompileResult r;
  {
    py::gil_scoped_release release;
    r = residency::LintPolicies(paths, catalogue.value_or(""));
  }
  py::list out;
  for (const residency::Diagnostic& d : r.diagnostics) out.append(DiagnosticDict(d));
  return out;
}

// ---- tagging --------------------------------------------------------------------------------

// The request as owned strings; views into them go to the tagger.
struct OwnedTagRequest {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string peer;
  std::string tenant;
  std::vector<std::string> chunks;
};

std::string StrOrBytes(py::handle h, const char* what) {
  if (py::isinstance<py::str>(h) || py::isinstance<py::bytes>(h)) return h.cast<std::string>();
  throw py::type_error(std::string(what) + " must be str or bytes");
}

OwnedTagRequest TagInput(py::handle request) {
  if (!py::isinstance<py::dict>(request)) {
    throw py::type_error("a tag request must be a dict: headers, peer, tenant, payload");
  }
  OwnedTagRequest o;
  for (auto item : request.cast<py::dict>()) {
    const std::string key = py::str(item.first).cast<std::string>();
    py::handle v = item.second;
    if (key == "headers") {
      if (py::isinstance<py::dict>(v)) {
        for (auto h : v.cast<py::dict>()) {
          o.headers.emplace_back(StrOrBytes(h.first, "a header name"),
                                 StrOrBytes(h.second, "a header value"));
        }
      } else {  // a list of (name, value) pairs keeps repeated headers
        for (py::handle pair : py::iter(v)) {
          py::tuple t = py::tuple(py::reinterpret_borrow<py::object>(pair));
          if (t.size() != 2) throw py::value_error("`headers` pairs must be (name, value)");
          o.headers.emplace_back(StrOrBytes(t[0], "a header name"),
                                 StrOrBytes(t[1], "a header value"));
        }
      }
    } else if (key == "peer") {
      if (!v.is_none()) o.peer = StrOrBytes(v, "`peer`");
    } else if (key == "tenant") {
      if (!v.is_none()) o.tenant = StrOrBytes(v, "`tenant`");
    } else if (key == "payload") {
      if (py::isinstance<py::str>(v) || py::isinstance<py::bytes>(v)) {
        o.chunks.push_back(v.cast<std::string>());
      } else if (!v.is_none()) {
        for (py::handle c : py::iter(v)) o.chunks.push_back(StrOrBytes(c, "a payload chunk"));
      }
    } else {
      throw py::value_error("unknown key `" + key + "` (headers, peer, tenant, payload)");
    }
  }
  return o;
}

py::dict TagResultDict(const tg::TagResult& r) {
  py::list tags, detectors, classes;
  py::dict provenance;
  for (const tg::Tag& t : r.tag_span()) {
    tags.append(t.ToString());
    provenance[py::str(t.ToString())] = tg::ProvenanceName(t.provenance);
  }
  for (int i = 0; i < tg::kNumDetectors; ++i) {
    if (r.detectors & (1u << i)) detectors.append(tg::DetectorName(static_cast<tg::Detector>(i)));
  }
  const tg::InferenceFacts facts = tg::ToInferenceFacts(r);
  for (const std::string& c : facts.classes) classes.append(c);
  py::dict user;
  if (facts.user_jurisdiction) {
    user["jurisdiction"] = *facts.user_jurisdiction;
    user["provenance"] = tg::ProvenanceName(facts.user_provenance);
  } else {
    user["jurisdiction"] = py::none();
    user["provenance"] = py::none();
  }
  py::dict out;
  out["tags"] = tags;
  out["detectors"] = detectors;
  out["provenance"] = provenance;
  out["status"] = tg::ScanStatusName(r.status);
  out["bytes_scanned"] = r.bytes_scanned;
  out["user"] = user;
  out["classes"] = classes;  // for compute.prompt.classes
  return out;
}

class PyTagger {
 public:
  PyTagger(const std::string& config_path, const std::string& kernel) : kernel_(kernel) {
    RequireExists(config_path);
    tg::TaggerOptions options;
    options.force_kernel = kernel;
    absl::StatusOr<tg::TaggerPlan> plan = absl::UnknownError("not loaded");
    {
      py::gil_scoped_release release;
      plan = tg::TaggerPlan::Load(config_path, options);
    }
    if (!plan.ok()) throw py::value_error(Message(plan.status()));
    plan_ = std::make_shared<tg::TaggerPlan>(std::move(*plan));
  }

  // Pickling: (1, name, text bytes, kernel asked for, sha256 hex of the text).
  py::tuple State() const {
    py::bytes text(std::string(plan_->source_text()));
    return py::make_tuple(1, std::string(plan_->source_name()), text, kernel_, Sha256Hex(text));
  }
  static PyTagger FromState(const py::tuple& state) {
    if (state.size() != 5 || state[0].cast<int>() != 1) {
      throw py::value_error("not a pickled residency.Tagger (version 1)");
    }
    py::bytes text = state[2].cast<py::bytes>();
    if (Sha256Hex(text) != state[4].cast<std::string>()) {
      throw py::value_error(
          "pickled residency.Tagger: its configuration does not match its digest");
    }
    return PyTagger(state[1].cast<std::string>(), text.cast<std::string>(),
                    state[3].cast<std::string>());
  }

  py::dict Tag(py::object request) const {
    OwnedTagRequest o = TagInput(request);
    tg::IpAddress peer;
    if (!o.peer.empty() && !tg::IpAddress::Parse(o.peer, &peer)) {
      throw py::value_error("`peer` `" + o.peer + "` is not an ip address");
    }
    tg::TagResult result;
    {
      py::gil_scoped_release release;
      std::vector<tg::Header> headers;
      for (const auto& [name, value] : o.headers) headers.push_back({name, value});
      std::vector<std::string_view> chunks(o.chunks.begin(), o.chunks.end());
      tg::RequestView view;
      view.headers = absl::MakeConstSpan(headers);
      view.peer = peer;
      view.tenant = o.tenant;
      view.payload = absl::MakeConstSpan(chunks);
      tg::TagScratch scratch(*plan_);  // per call: Python threads may tag concurrently
      result = tg::TagRequest(*plan_, view, scratch);
    }
    return TagResultDict(result);
  }

  std::string kernel() const { return plan_->kernel_name(); }
  size_t max_scan_bytes() const { return plan_->max_scan_bytes(); }

 private:
  PyTagger(const std::string& name, const std::string& text, const std::string& kernel)
      : kernel_(kernel) {
    tg::TaggerOptions options;
    options.force_kernel = kernel;
    absl::StatusOr<tg::TaggerPlan> plan = absl::UnknownError("not compiled");
    {
      py::gil_scoped_release release;
      plan = tg::TaggerPlan::Compile(text, name, options);
    }
    if (!plan.ok()) throw py::value_error(Message(plan.status()));
    plan_ = std::make_shared<tg::TaggerPlan>(std::move(*plan));
  }
  static std::string Sha256Hex(const py::bytes& b) {
    return py::module_::import("hashlib").attr("sha256")(b).attr("hexdigest")().cast<std::string>();
  }

  std::string kernel_;  // as asked for ("" = the best the CPU has)
  std::shared_ptr<const tg::TaggerPlan> plan_;
};

// ---- audit verification ---------------------------------------------------------------------

// A `.vkey` file or a vkey string. Errors name the file and what is wrong with it, never its
// content (a private key given by mistake must not appear in an exception).
std::string ReadKey(const std::string& k) {
  absl::StatusOr<std::string> vkey = residency::ReadAuditVerifierKey(k);
  if (!vkey.ok()) throw py::value_error(Message(vkey.status()));
  return *std::move(vkey);
}

py::dict AuditVerify(py::object paths_arg, py::object keys_arg, bool open,
                     std::vector<std::string> trusted_checkpoints) {
  std::vector<std::string> paths = Paths(paths_arg);
  residency::AuditVerifyOptions opts;
  opts.open = open;
  if (py::isinstance<py::str>(keys_arg)) {
    opts.vkeys.push_back(ReadKey(keys_arg.cast<std::string>()));
  } else {
    for (py::handle k : py::iter(keys_arg)) {
      opts.vkeys.push_back(
          ReadKey(py::module_::import("os").attr("fspath")(k).cast<std::string>()));
    }
  }
  for (std::string& t : trusted_checkpoints) {
    std::ifstream f(t, std::ios::binary);
    if (f) {  // a file holding a note, or the note itself
      std::stringstream ss;
      ss << f.rdbuf();
      t = ss.str();
    }
    opts.trusted_checkpoints.push_back(t);
  }
  std::vector<residency::AuditLogReport> logs;
  std::string error;
  {
    py::gil_scoped_release release;
    for (const std::string& p : paths) {
      absl::StatusOr<residency::AuditVerifyReport> r = residency::VerifyAuditLogs(p, opts);
      if (!r.ok()) {
        error = "`" + p + "`: " + Message(r.status());
        break;
      }
      for (residency::AuditLogReport& l : r->logs) logs.push_back(std::move(l));
    }
  }
  if (!error.empty()) throw py::value_error(error);
  py::list out_logs;
  bool ok = !logs.empty();
  for (const residency::AuditLogReport& l : logs) {
    py::list findings;
    for (const residency::AuditFinding& f : l.findings) {
      py::dict fd;
      fd["status"] = residency::AuditLogStatusName(f.status);
      fd["kind"] = f.kind;
      fd["message"] = f.message;
      findings.append(fd);
    }
    py::dict ld;
    ld["path"] = l.path;
    ld["origin"] = l.origin;
    ld["status"] = residency::AuditLogStatusName(l.status);
    ld["records"] = l.records;
    ld["checkpoints"] = l.checkpoints;
    ld["findings"] = findings;
    out_logs.append(ld);
    ok = ok && l.status == residency::AuditLogStatus::kValid;
  }
  py::dict out;
  out["ok"] = ok;
  out["logs"] = out_logs;
  return out;
}

}  // namespace

PYBIND11_MODULE(_residency, m) {
  m.doc() =
      "Data-residency policy for AI workloads: compile policies, check requests, tag gateway "
      "requests, verify audit logs. Decisions are dicts shaped like `residency check` JSON.";
  m.attr("__version__") = residency::kVersionString;

  // Exceptions: residency.Error is the base of the module's own; each is also the builtin a
  // caller may already catch (ValueError, RuntimeError). A missing file is FileNotFoundError and
  // a wrong Python type TypeError, as everywhere in Python.
  auto make = [&](const char* name, const char* doc, py::tuple bases) {
    PyObject* e = PyErr_NewExceptionWithDoc((std::string("residency.") + name).c_str(), doc,
                                            bases.ptr(), nullptr);
    if (e == nullptr) throw py::error_already_set();
    py::handle h(e);  // this reference is never released: the module's exceptions live on
    m.add_object(name, h);
    return h;
  };
  g_errors.error = make("Error", "Base of the exceptions residency raises itself.",
                        py::make_tuple(py::handle(PyExc_Exception)));
  g_errors.policy =
      make("PolicyError",
           "Policies did not compile. The message is the first error (FILE:LINE:COL: ...); "
           "`diagnostics` lists them all as dicts: file, line, column, severity, code, message.",
           py::make_tuple(g_errors.error, py::handle(PyExc_ValueError)));
  g_errors.request =
      make("RequestError",
           "A request could not be parsed or decided (treat as deny). `path` is the field it is "
           "about (`dataset.partitions[0].origin`; '' when none), `line` and `column` its 1-based "
           "position in YAML or JSON text (0 when unknown).",
           py::make_tuple(g_errors.error, py::handle(PyExc_ValueError)));
  g_errors.audit = make("AuditError",
                        "An audit log could not be opened or written, or a decision could not "
                        "be recorded (treat the decision as deny).",
                        py::make_tuple(g_errors.error, py::handle(PyExc_RuntimeError)));

  // Registered before the classes whose methods take one, so that their signatures name it.
  py::class_<PyAuditLog>(m, "AuditLog",
                         "An open, signed audit log (one directory under audit_dir).")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                    const std::string&>(),
           py::arg("audit_dir"), py::arg("key_file"), py::arg("durability") = "async",
           py::arg("log_id") = "", py::arg("resume_log_dir") = "")
      .def("flush", &PyAuditLog::Flush,
           "Waits until every record so far is durable and covered by a signed checkpoint.")
      .def("close", &PyAuditLog::Close, "Writes the close record and the final checkpoint.")
      .def_property_readonly("closed", &PyAuditLog::closed)
      .def_property_readonly("log_dir", [](PyAuditLog& l) { return l.log().log_dir(); })
      .def_property_readonly("log_id", [](PyAuditLog& l) { return l.log().log_id(); })
      .def_property_readonly("origin", [](PyAuditLog& l) { return l.log().origin(); })
      .def_property_readonly("durable_size", [](PyAuditLog& l) { return l.log().durable_size(); })
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyAuditLog& l, py::args) { l.Close(); });

  py::class_<PyPolicies>(m, "Policies",
                         "A compiled, immutable policy snapshot; share it between threads.")
      .def("check", &PyPolicies::Check, py::arg("request"), py::arg("now") = py::none(),
           py::arg("suggest") = true, py::arg("audit") = nullptr, py::arg("principal") = "",
           py::arg("lang") = "",
           "Decides one request (a dict, or JSON/YAML text) and returns the decision as a dict.\n"
           "`lang` ('ko') gives reasons and obligation texts in that language where the policies\n"
           "have them (English otherwise); the decision is the same in every language.\n"
           "`now` (RFC 3339 str or aware datetime) is the evaluation time when the request has\n"
           "none. With `audit`, the decision is appended to that AuditLog and the dict carries\n"
           "`audit`; `principal` (a user id) is stored only as a keyed commitment.\n"
           "Raises RequestError (a ValueError) when the request cannot be parsed or decided,\n"
           "with the field `path`, `line` and `column`, and AuditError (a RuntimeError) when the\n"
           "decision could not be recorded; treat either as deny.")
      .def(
          "where", &PyPolicies::Where, py::arg("request"), py::arg("now") = py::none(),
          py::arg("providers") = std::vector<std::string>(),
          py::arg("countries") = std::vector<std::string>(), py::arg("include_escalate") = false,
          py::arg("include_reserved") = false, py::arg("format") = "dict", py::arg("lang") = "",
          "Every catalogue location where the request (a dict, or JSON/YAML text), its placement\n"
          "moved there, would be allowed, as a dict shaped like `residency where --format json`:\n"
          "{'allowed': [{'location', 'provider', 'country', 'site', 'reserved_for', 'effect',\n"
          "'obligations'}], 'now', 'policy_digest'}, the placement's provider and country first.\n"
          "`providers` and `countries` (codes or catalogue groups) filter; sector clouds are left\n"
          "out unless the operator is in their sector or `include_reserved`. format='html'\n"
          "returns the self-contained page of `residency where --format html` as a str.\n"
          "Raises RequestError (a ValueError) when the request cannot be parsed or decided, or\n"
          "a filter names nothing in the catalogue.")
      .def("explain", &PyPolicies::Explain, py::arg("request"), py::arg("now") = py::none(),
           py::arg("format") = "dict", py::arg("max_places") = 64, py::arg("lang") = "",
           "Why the request (a dict, or JSON/YAML text) is decided as it is: with format='dict'\n"
           "(default) a dict shaped like `residency explain --format json`: {'decision': <as\n"
           "check returns it>, 'policies_in_scope', 'policies_out_of_scope', 'rules': [{'policy',\n"
           "'rule', 'effect', 'deciding', 'units': [{'artifact', 'tag', 'location', 'effect',\n"
           "'when', 'alternatives': [{'name', 'effect', 'chosen', 'when'}], 'exceptions'}]}]},\n"
           "each 'when' a condition tree {'condition', 'source', 'value', 'facts', 'children'};\n"
           "with format='text' the text `residency explain` prints. `max_places` bounds the\n"
           "places listed per rule. Raises RequestError as check does.")
      .def("check_many", &PyPolicies::CheckMany, py::arg("requests"), py::arg("now") = py::none(),
           py::arg("suggest") = true, py::arg("threads") = py::none(), py::arg("errors") = "raise",
           py::arg("lang") = "",
           "Decides an iterable of requests (dicts, or JSON/YAML text) on C++ threads with the\n"
           "GIL released (`threads`: None for one per hardware thread) and returns the decision\n"
           "dicts in input order, each as check returns it. A request that cannot be decided\n"
           "raises RequestError naming it (`requests[3]: ...`), or with errors='return' stands\n"
           "in the list as that RequestError instance (treat it as deny).")
      .def("check_jsonl", &PyPolicies::CheckJsonl, py::arg("src"), py::arg("dst"),
           py::arg("now") = py::none(), py::arg("suggest") = true, py::arg("threads") = py::none(),
           py::arg("progress") = py::none(), py::arg("audit") = nullptr, py::arg("lang") = "",
           "Decides a JSON-lines file of requests (`src`, one per line) into `dst`: a decision\n"
           "line each, in order, or {\"error\": ..., \"line\": N} for a line that cannot be\n"
           "decided, as `residency check --batch` writes them. Streams in blocks on C++ threads\n"
           "with the GIL released; `progress(lines_done)` is called after each block; with\n"
           "`audit`, every decision is recorded in order. Returns {'lines', 'decided', 'errors',\n"
           "'by_decision': {'allow': n, ...}, 'by_rule': {rule: reasons}, 'by_location':\n"
           "{location: reasons}}. Raises FileNotFoundError for a missing `src`.")
      .def(py::pickle(&PoliciesState, &PoliciesFromState))
      .def_property_readonly("digest", &PyPolicies::digest,
                             "`sha256:<hex>` of the compiled policy set")
      .def_property_readonly("policy_ids", &PyPolicies::policy_ids)
      .def_property_readonly("rule_count", &PyPolicies::rule_count)
      .def_property_readonly("locations", &PyPolicies::locations)
      .def("__repr__", [](const PyPolicies& p) {
        return "<residency.Policies " + p.digest() + ", " + std::to_string(p.rule_count()) +
               " rules>";
      });

  m.def("compile", &Compile, py::arg("paths"),
        "Compiles policy files and folders (a path or a list of paths) into a Policies "
        "snapshot. Raises FileNotFoundError for a path that does not exist and PolicyError (a "
        "ValueError) when they do not compile: its message is the first `FILE:LINE:COL: "
        "error: ...` diagnostic, `.diagnostics` lists them all.");
  m.def("lint", &Lint, py::arg("paths"), py::arg("catalogue") = py::none(),
        "Lints policy files and folders; returns every diagnostic as a dict (file, line, column, "
        "severity, code, message). An empty list means clean.");

  py::class_<PyTagger>(m, "Tagger", "A compiled tagger configuration (kind: tagging).")
      .def(py::init<const std::string&, const std::string&>(), py::arg("config_path"),
           py::arg("kernel") = "")
      .def("tag", &PyTagger::Tag, py::arg("request"),
           "Tags one request {headers, peer, tenant, payload}; returns tags, detectors, "
           "provenance, status, bytes_scanned, user, classes.")
      .def(py::pickle([](const PyTagger& t) { return t.State(); },
                      [](const py::tuple& state) { return PyTagger::FromState(state); }))
      .def_property_readonly("kernel", &PyTagger::kernel)
      .def_property_readonly("max_scan_bytes", &PyTagger::max_scan_bytes);
  m.def(
      "tag",
      [](const std::string& config_path, py::object request) {
        return PyTagger(config_path, "").Tag(request);
      },
      py::arg("config_path"), py::arg("request"),
      "Loads a tagger configuration and tags one request (use Tagger for many).");

  m.def(
      "audit_keygen",
      [](const std::string& name, const std::string& out_dir) {
        std::error_code ec;
        std::filesystem::create_directories(out_dir, ec);  // as `mkdir -p`; errors surface below
        absl::StatusOr<std::string> v = residency::GenerateAuditKey(name, out_dir);
        if (!v.ok()) throw py::value_error(Message(v.status()));
        return *v;
      },
      py::arg("name"), py::arg("out_dir"),
      "Writes OUT_DIR/NAME.pem (private, mode 0600) and OUT_DIR/NAME.vkey (creating OUT_DIR); "
      "returns the vkey string.");
  m.def("audit_verify", &AuditVerify, py::arg("paths"), py::arg("keys"), py::arg("open") = false,
        py::arg("trusted_checkpoints") = std::vector<std::string>{},
        "Verifies every audit log under the paths offline with the verifier keys (vkey strings "
        "or .vkey files). Returns {ok, logs: [{path, origin, status, records, checkpoints, "
        "findings}]}; raises ValueError when it cannot run.");
}
