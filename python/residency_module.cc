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
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
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
#include "residency/diff.h"
#include "residency/explain.h"
#include "residency/lint.h"
#include "residency/policy.h"
#include "residency/policy_test.h"
#include "residency/request.h"
#include "residency/route.h"
#include "residency/tagging.h"
#include "residency/util.h"
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
// `structured`: the request was a Mapping, whose JSON text was written here: the error's line and
// column (of that text) mean nothing to the caller and are left 0; the field path says where.
py::object RequestErrorFor(const absl::Status& status, const std::string& prefix = "",
                           bool structured = false) {
  residency::RequestErrorLocation at = residency::LocateRequestError(status);
  std::string message = Message(status);
  if (structured && at.line > 0) {  // drop the `line:column: ` of the written text
    const size_t colon = message.find(": ");
    if (colon != std::string::npos) message = message.substr(colon + 2);
  }
  py::object e = g_errors.request(prefix + (message.empty() ? "error" : message));
  e.attr("path") = at.path;
  e.attr("line") = structured ? 0 : at.line;
  e.attr("column") = structured ? 0 : at.column;
  return e;
}
[[noreturn]] void RaiseRequestError(const absl::Status& status, const std::string& prefix = "",
                                    bool structured = false) {
  py::object e = RequestErrorFor(status, prefix, structured);
  PyErr_SetObject(g_errors.request.ptr(), e.ptr());
  throw py::error_already_set();
}

[[noreturn]] void RaiseAuditError(const std::string& message) { Raise(g_errors.audit, message); }

[[noreturn]] void RaisePolicyError(const residency::CompileResult& r);

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

// A value of a request given as Python objects that JSON cannot carry; `path` is filled in on
// the way out (the field path, as the parser names fields).
struct UnsupportedValue {
  std::string path;
  std::string message;
};

void PrependPath(UnsupportedValue* e, const std::string& segment) {
  if (e->path.empty() || e->path[0] == '[') {
    e->path = segment + e->path;
  } else {
    e->path = segment + "." + e->path;
  }
}

// The RequestError for a value of a Mapping request that JSON cannot carry: its field path, no
// line or column (there is no text).
[[noreturn]] void RaiseUnsupported(const UnsupportedValue& e) {
  py::object err = g_errors.request((e.path.empty() ? "" : e.path + ": ") + e.message);
  err.attr("path") = e.path;
  err.attr("line") = 0;
  err.attr("column") = 0;
  PyErr_SetObject(g_errors.request.ptr(), err.ptr());
  throw py::error_already_set();
}

// A JSON text being written: a string written through a cursor, grown by doubling, so that a
// single character is a store (std::string::push_back is a call into libstdc++ for each one).
class JsonOut {
 public:
  explicit JsonOut(std::string start = {}) : buf_(std::move(start)), n_(buf_.size()) {
    buf_.resize(std::max<size_t>(512, 2 * n_));
  }
  void Put(char c) {
    Room(1);
    buf_[n_++] = c;
  }
  void Put(std::string_view s) {
    Room(s.size());
    std::memcpy(&buf_[n_], s.data(), s.size());
    n_ += s.size();
  }
  std::string Take() && {
    buf_.resize(n_);
    return std::move(buf_);
  }

 private:
  void Room(size_t k) {
    if (buf_.size() - n_ < k) buf_.resize(std::max(2 * buf_.size(), n_ + k));
  }
  std::string buf_;
  size_t n_;
};

// Whether any of the eight bytes of `w` must be escaped in JSON (a quote, a backslash or a control
// character): exact for the question asked of the whole word.
inline bool AnyJsonEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [&](uint64_t x) { return ((x - kOnes) & ~x & kHigh) != 0; };
  const bool control = ((w - kOnes * 0x20) & ~w & kHigh) != 0;  // a byte below 0x20
  return control || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}

inline void AppendJsonText(std::string_view text, JsonOut* out) {
  out->Put('"');
  size_t plain = 0;  // start of the run of bytes that go in as they are
  for (size_t i = 0; i < text.size(); ++i) {
    // Eight bytes at a time while none needs escaping (most request text).
    while (text.size() - i >= 8) {
      uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      if (AnyJsonEscape(w)) break;
      i += 8;
    }
    if (i >= text.size()) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    out->Put(text.substr(plain, i - plain));
    plain = i + 1;
    if (c == '"' || c == '\\') {
      out->Put('\\');
      out->Put(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out->Put("\\u00");
      out->Put(kHex[c >> 4]);
      out->Put(kHex[c & 15]);
    }
  }
  out->Put(text.substr(plain));
  out->Put('"');
}

std::string_view Utf8(py::handle str) {
  // Most request text is ASCII, stored compactly: its bytes are its UTF-8, read in place.
  if (PyUnicode_IS_COMPACT_ASCII(str.ptr())) {
    return std::string_view(static_cast<const char*>(PyUnicode_DATA(str.ptr())),
                            static_cast<size_t>(PyUnicode_GET_LENGTH(str.ptr())));
  }
  Py_ssize_t n = 0;
  const char* data = PyUnicode_AsUTF8AndSize(str.ptr(), &n);
  if (data == nullptr) {
    PyErr_Clear();
    throw UnsupportedValue{"", "a string that is not valid Unicode (a lone surrogate)"};
  }
  return std::string_view(data, static_cast<size_t>(n));
}

// Writes `v` as compact JSON (a Mapping's items in its order; list or tuple; str; bool; int;
// float; None), in C++ without the json module. Anything else, a non-string key, NaN or an
// infinity, or nesting past 64 levels is an UnsupportedValue.
void AppendRequestValue(py::handle v, int depth, JsonOut* out) {
  if (depth > 64) throw UnsupportedValue{"", "nested deeper than 64 levels"};
  PyObject* o = v.ptr();
  if (PyUnicode_Check(o)) {
    AppendJsonText(Utf8(v), out);
  } else if (o == Py_True || o == Py_False) {
    out->Put(o == Py_True ? "true" : "false");
  } else if (o == Py_None) {
    out->Put("null");
  } else if (PyLong_Check(o)) {
    int overflow = 0;
    const long long n = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) throw UnsupportedValue{"", "an integer too large for 64 bits"};
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
    out->Put(std::string_view(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0));
  } else if (PyFloat_Check(o)) {
    const double d = PyFloat_AS_DOUBLE(o);
    if (!std::isfinite(d)) throw UnsupportedValue{"", "NaN or an infinity (not JSON)"};
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);  // shortest round trip
    const std::string_view written(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
    out->Put(written);
    if (written.find_first_of(".eE") == std::string_view::npos) out->Put(".0");
  } else if (PyList_Check(o) || PyTuple_Check(o)) {
    out->Put('[');
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    PyObject** items = PySequence_Fast_ITEMS(o);
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (i > 0) out->Put(',');
      try {
        AppendRequestValue(items[i], depth + 1, out);
      } catch (UnsupportedValue& e) {
        PrependPath(&e, "[" + std::to_string(i) + "]");
        throw;
      }
    }
    out->Put(']');
  } else if (PyDict_Check(o) ||
             py::isinstance(v, py::module_::import("collections.abc").attr("Mapping"))) {
    out->Put('{');
    bool first = true;
    auto item = [&](py::handle key, py::handle value) {
      if (!PyUnicode_Check(key.ptr())) {
        throw UnsupportedValue{
            "", "a key that is not a string (" +
                    py::str(py::type::handle_of(key).attr("__name__")).cast<std::string>() + ")"};
      }
      std::string_view k = Utf8(key);
      if (!first) out->Put(',');
      first = false;
      AppendJsonText(k, out);
      out->Put(':');
      try {
        AppendRequestValue(value, depth + 1, out);
      } catch (UnsupportedValue& e) {
        PrependPath(&e, std::string(k));
        throw;
      }
    };
    if (PyDict_Check(o)) {
      PyObject *key = nullptr, *value = nullptr;
      Py_ssize_t pos = 0;
      while (PyDict_Next(o, &pos, &key, &value)) item(key, value);
    } else {
      for (py::handle kv : v.attr("items")()) {
        py::tuple pair = py::reinterpret_borrow<py::tuple>(kv);
        item(pair[0], pair[1]);
      }
    }
    out->Put('}');
  } else {
    throw UnsupportedValue{
        "", "a value of type " +
                py::str(py::type::handle_of(v).attr("__name__")).cast<std::string>() +
                ", which JSON cannot carry"};
  }
}

// A request: a Mapping (written as JSON here, then read by the library's parser with its strict
// validation and field paths), or JSON/YAML text (str or bytes). `*structured` says which; for a
// Mapping, errors carry the field path and no line or column.
std::string RequestText(py::handle request, bool* structured = nullptr) {
  if (structured != nullptr) *structured = false;
  if (py::isinstance<py::str>(request)) return request.cast<std::string>();
  if (py::isinstance<py::bytes>(request)) return request.cast<std::string>();
  if (!PyDict_Check(request.ptr()) &&
      !py::isinstance(request, py::module_::import("collections.abc").attr("Mapping"))) {
    throw py::type_error("request must be a Mapping (a dict), or JSON or YAML text");
  }
  if (structured != nullptr) *structured = true;
  JsonOut out;
  try {
    AppendRequestValue(request, 0, &out);
  } catch (const UnsupportedValue& e) {
    RaiseUnsupported(e);
  }
  return std::move(out).Take();
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

// ---- decisions ------------------------------------------------------------------------------

py::str Text(std::string_view v) {
  // Policy texts and request strings are UTF-8 already (both are checked when read); `replace`
  // keeps a Python str from ever failing on them.
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(v.data(), static_cast<Py_ssize_t>(v.size()), "replace"));
}

// residency.Effect (a str Enum defined in the package) for `e`; looked up once.
py::object EffectObject(residency::Effect e) {
  static std::array<py::object*, 4> members{};
  const int i = static_cast<int>(e);
  if (members[i] == nullptr) {
    py::object cls = py::module_::import("residency").attr("Effect");
    for (int k = 0; k < 4; ++k) {
      // Leaked on purpose: the enum members live as long as the interpreter.
      members[k] = new py::object(cls(residency::EffectName(static_cast<residency::Effect>(k))));
    }
  }
  return *members[i];
}

py::list TextList(const std::vector<std::string_view>& values) {
  py::list out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = Text(values[i]);
  return out;
}

// One reason of a decision (a rule's result), owning its texts.
struct PyReason {
  residency::Reason r;

  py::dict Trigger() const {
    py::dict t;
    const std::pair<const char*, std::string_view> parts[] = {{"kind", r.artifact_kind()},
                                                              {"artifact", r.artifact()},
                                                              {"via", r.via()},
                                                              {"tag", r.tag()},
                                                              {"location", r.location()}};
    for (const auto& [key, value] : parts) {
      if (!value.empty()) t[key] = Text(value);
    }
    return t;
  }
  py::dict ToDict() const {
    py::dict d;
    d["policy"] = Text(r.policy());
    d["rule"] = Text(r.rule());
    d["basis"] = Text(r.basis());
    d["effect"] = residency::EffectName(r.effect());
    d["citation"] = Text(r.citation());
    d["message"] = Text(r.message());
    if (!r.alternative().empty()) d["alternative"] = Text(r.alternative());
    if (!r.exception().empty()) d["exception"] = Text(r.exception());
    py::dict t = Trigger();
    if (!t.empty()) d["trigger"] = t;
    return d;
  }
  std::string Repr() const {
    return "Reason(" + std::string(r.rule()) + ": " + residency::EffectName(r.effect()) + ")";
  }
};

struct PyObligation {
  residency::ObligationRef o;
  py::dict ToDict() const {
    py::dict d;
    d["id"] = Text(o.id());
    d["policy"] = Text(o.policy());
    d["text"] = Text(o.text());
    return d;
  }
};

// A decision, typed: attributes read the C++ decision directly (no JSON); to_dict() is the
// JSON `residency check` prints, as Python objects.
class PyDecision {
 public:
  explicit PyDecision(residency::Decision d) : d_(std::move(d)) {}

  py::object decision() const { return EffectObject(d_.decision); }
  bool allowed() const {
    return d_.decision == residency::Effect::kAllow ||
           d_.decision == residency::Effect::kAllowWithObligations;
  }
  py::list reasons() const { return Reasons(d_.reasons); }
  py::list dry_run() const { return Reasons(d_.dry_run); }
  py::list obligations() const {
    py::list out(d_.obligations.size());
    for (size_t i = 0; i < d_.obligations.size(); ++i)
      out[i] = py::cast(PyObligation{d_.obligations[i]});
    return out;
  }
  py::list suggested_locations() const { return TextList(d_.suggested_locations()); }
  py::list tags() const {
    py::list out(d_.tags.size());
    for (size_t i = 0; i < d_.tags.size(); ++i) out[i] = Text(d_.tags[i]);
    return out;
  }
  py::list lifted() const {
    py::list out(d_.lifted.size());
    for (size_t i = 0; i < d_.lifted.size(); ++i) {
      py::dict l;
      l["tag"] = Text(d_.lifted[i].tag());
      l["policy"] = Text(d_.lifted[i].policy());
      out[i] = l;
    }
    return out;
  }
  std::string now() const { return residency::FormatTimestamp(d_.now); }
  std::string policy_digest() const { return std::string(d_.policy_digest()); }
  py::object audit() const {
    if (!d_.audit) return py::none();
    py::dict a;
    a["log"] = d_.audit->log;
    a["index"] = d_.audit->index;
    return a;
  }
  std::string ToJson() const { return residency::DecisionToJson(d_); }
  py::object ToDict() const { return py::module_::import("json").attr("loads")(py::str(ToJson())); }
  std::string Repr() const {
    std::string out = "Decision(";
    out += residency::EffectName(d_.decision);
    for (size_t i = 0; i < d_.reasons.size(); ++i) {
      out += i == 0 ? ": " : ", ";
      out += d_.reasons[i].rule();
    }
    if (!d_.suggested_locations().empty()) {
      out += "; suggested ";
      out += d_.suggested_locations()[0];
      if (d_.suggested_locations().size() > 1) out += ", ...";
    }
    return out + ")";
  }

 private:
  static py::list Reasons(const std::vector<residency::Reason>& rs) {
    py::list out(rs.size());
    for (size_t i = 0; i < rs.size(); ++i) out[i] = py::cast(PyReason{rs[i]});
    return out;
  }
  residency::Decision d_;
};

// ---- policies -------------------------------------------------------------------------------

// The `audit` argument: an AuditLog, or None for none. Taken as an object and cast only when
// given: pybind11's caster for a pointer tries every other reading of None first (an attribute
// lookup on NoneType that raises and is cleared, about 4,000 instructions a call, a twelfth of a
// whole check) before it takes it as null.
PyAuditLog* OptionalAuditLog(const py::object& audit) {
  if (audit.is_none()) return nullptr;
  if (!py::isinstance<PyAuditLog>(audit)) {
    throw py::type_error("audit must be an AuditLog or None, not " +
                         std::string(py::str(py::type::of(audit).attr("__name__"))));
  }
  return audit.cast<PyAuditLog*>();
}

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

  PyDecision Check(py::object request, py::object now, bool suggest, const py::object& audit_arg,
                   const std::string& principal, const std::string& lang) const {
    PyAuditLog* audit = OptionalAuditLog(audit_arg);
    bool structured = false;
    std::string text = RequestText(request, &structured);
    residency::EvalOptions options;
    options.now = ParseNow(now);
    options.suggest = suggest;
    options.lang = Lang(lang);
    residency::AuditLog* log = audit ? &audit->log() : nullptr;

    absl::StatusOr<residency::Decision> d;
    std::string audit_error;
    {
      py::gil_scoped_release release;
      absl::StatusOr<residency::Request> req = residency::ParseRequest(text);
      d = req.ok() ? residency::Evaluate(*snap_, *req, options)
                   : absl::StatusOr<residency::Decision>(req.status());
      if (d.ok() && log != nullptr) {
        absl::Status recorded = residency::RecordDecision(*log, text, &*d, principal);
        if (!recorded.ok()) audit_error = Message(recorded);
      }
    }
    // Fail closed: an undecidable request or an unrecorded decision is an exception, never a
    // result a caller could mistake for an answer.
    if (!d.ok()) RaiseRequestError(d.status(), "", structured);
    if (!audit_error.empty())
      RaiseAuditError("decision not recorded in the audit log: " + audit_error);
    return PyDecision(*std::move(d));
  }

  py::object Where(py::object request, py::object now, const std::vector<std::string>& providers,
                   const std::vector<std::string>& countries, bool include_escalate,
                   bool include_reserved, const std::string& format,
                   const std::string& lang) const {
    if (format != "dict" && format != "html") {
      throw py::value_error("format must be 'dict' or 'html', not '" + format + "'");
    }
    bool structured = false;
    std::string text = RequestText(request, &structured);
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
    if (!failed.ok()) RaiseRequestError(failed, "", structured);
    if (format == "html") return py::str(out);
    return JsonToPython(out);
  }

  // The explanation as a dict (the shape of `residency explain --format json`), or as text.
  py::object Explain(py::object request, py::object now, const std::string& format,
                     size_t max_places, const std::string& lang) const {
    if (format != "dict" && format != "text") {
      throw py::value_error("format must be 'dict' or 'text', not '" + format + "'");
    }
    bool structured = false;
    std::string text = RequestText(request, &structured);
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
    if (!failed.ok()) RaiseRequestError(failed, "", structured);
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
    // A str request is read in place (its UTF-8 buffer lives as long as the str, which `held`
    // keeps); a Mapping or bytes is written out into `owned`.
    std::vector<py::object> held;
    std::deque<std::string> owned;
    std::vector<std::string_view> views;
    std::vector<bool> structured;
    for (py::handle r : requests) {
      held.push_back(py::reinterpret_borrow<py::object>(r));
      Py_ssize_t n = 0;
      const char* utf8 = PyUnicode_Check(r.ptr()) ? PyUnicode_AsUTF8AndSize(r.ptr(), &n) : nullptr;
      if (utf8 != nullptr) {
        views.emplace_back(utf8, static_cast<size_t>(n));
        structured.push_back(false);
        continue;
      }
      if (PyUnicode_Check(r.ptr())) throw py::error_already_set();  // not encodable
      bool s = false;
      views.emplace_back(owned.emplace_back(RequestText(r, &s)));
      structured.push_back(s);
    }
    std::vector<absl::StatusOr<residency::Decision>> decisions;
    {
      py::gil_scoped_release release;
      decisions = residency::DecideMany(*snap_, views, options, n_threads);
    }
    py::list result(decisions.size());
    for (size_t i = 0; i < decisions.size(); ++i) {
      if (decisions[i].ok()) {
        result[i] = py::cast(PyDecision(*std::move(decisions[i])));
      } else if (errors == "raise") {
        RaiseRequestError(decisions[i].status(),
                          "requests[" + std::to_string(i) + "]: ", structured[i]);
      } else {
        result[i] = RequestErrorFor(decisions[i].status(),
                                    "requests[" + std::to_string(i) + "]: ", structured[i]);
      }
    }
    return result;
  }

  // A JSON-lines file decided into another (residency/batch.h); the summary as a dict.
  py::dict CheckJsonl(py::object src, py::object dst, py::object now, bool suggest,
                      py::object threads, py::object progress, const py::object& audit_arg,
                      const std::string& lang) const {
    PyAuditLog* audit = OptionalAuditLog(audit_arg);
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

  // The policy test files in `paths` run against this snapshot (residency/policy_test.h).
  py::dict Test(py::handle paths) const {
    const std::vector<std::string> files = Paths(paths);
    for (const auto& f : files) RequireExists(f);
    residency::TestRun run;
    {
      py::gil_scoped_release release;
      run = residency::RunPolicyTests(*snap_, files);
    }
    if (!run.errors.empty()) {
      residency::CompileResult failed;
      failed.diagnostics = run.errors;
      RaisePolicyError(failed);
    }
    py::list cases;
    for (const auto& c : run.cases) {
      py::dict d;
      d["file"] = c.file;
      d["line"] = c.line;
      d["name"] = c.name;
      d["passed"] = c.passed();
      d["mismatches"] = c.mismatches;
      d["got"] = c.got;
      cases.append(d);
    }
    py::dict out;
    out["passed"] = run.passed;
    out["failed"] = run.failed;
    out["files_run"] = run.files_run;
    out["cases"] = cases;
    return out;
  }

  // What changes between this set and `other` (residency/diff.h), as `residency diff` reports it.
  py::object Diff(const PyPolicies& other, py::object now, size_t max_evaluations,
                  size_t max_examples, const std::string& format) const {
    if (format != "dict" && format != "text") {
      throw py::value_error("format must be 'dict' or 'text', not '" + format + "'");
    }
    if (max_evaluations == 0 || max_examples == 0) {
      throw py::value_error("max_evaluations and max_examples must be at least 1");
    }
    residency::DiffOptions o;
    o.now = ParseNow(now);
    o.max_evaluations = max_evaluations;
    o.max_examples = max_examples;
    absl::StatusOr<residency::DiffReport> report;
    std::string out;
    {
      py::gil_scoped_release release;
      report = residency::DiffPolicies(*snap_, *other.snap_, o);
      if (report.ok()) {
        out = format == "text" ? residency::DiffReportToText(*report)
                               : residency::DiffReportToJson(*report);
      }
    }
    if (!report.ok()) throw py::value_error("diff: " + Message(report.status()));
    if (format == "text") return py::str(out);
    return JsonToPython(out);
  }

  const std::shared_ptr<const residency::PolicySnapshot>& shared() const { return snap_; }
  const residency::PolicySnapshot& snapshot() const { return *snap_; }
  const std::string& digest() const { return snap_->digest(); }
  std::vector<std::string> policy_ids() const { return snap_->policy_ids(); }
  size_t rule_count() const { return snap_->rule_count(); }
  std::vector<std::string> locations() const { return snap_->locations(); }

 private:
  std::shared_ptr<const residency::PolicySnapshot> snap_;
};

// ---- routing and hot reload -----------------------------------------------------------------

// A request of `kind` read through the parser from `fields` (a Mapping): how a model or an
// operator given to the Router gets the request format's validation and field paths.
residency::Request RequestWith(py::handle value, const char* key, const std::string& envelope) {
  std::string start = envelope;
  start.pop_back();  // the closing brace
  start += ",\"";
  start += key;
  start += "\":";
  JsonOut out(std::move(start));
  try {
    AppendRequestValue(value, 1, &out);
  } catch (UnsupportedValue& e) {
    PrependPath(&e, key);
    RaiseUnsupported(e);
  }
  out.Put('}');
  const std::string text = std::move(out).Take();
  absl::StatusOr<residency::Request> r = residency::ParseRequest(text);
  if (!r.ok()) RaiseRequestError(r.status(), "", /*structured=*/true);
  return *std::move(r);
}

// residency::Router over one Policies snapshot.
class PyRouter {
 public:
  explicit PyRouter(const PyPolicies& policies)
      : snap_(policies.shared()), router_(std::make_unique<residency::Router>(snap_)) {}

  int AddModel(py::handle model) {
    residency::Request r = RequestWith(model, "model", R"({"kind":"model","action":"serve"})");
    auto id = router_->AddModel(*r.model);
    if (!id.ok()) throw py::value_error(Message(id.status()));
    return *id;
  }
  int AddOperator(py::handle party) {
    residency::Request r =
        RequestWith(party, "operator",
                    R"({"kind":"model","action":"serve","model":{"id":"-","artifact":"weights"}})");
    auto id = router_->AddOperator(*r.operator_party);
    if (!id.ok()) throw py::value_error(Message(id.status()));
    return *id;
  }
  py::dict Route(const std::string& user_jurisdiction, const std::string& provenance,
                 const std::vector<std::string>& prompt_classes, int model, int op, py::object now,
                 const std::string& preferred) {
    std::vector<std::string_view> classes(prompt_classes.begin(), prompt_classes.end());
    residency::Router::Query q;
    q.user_jurisdiction = user_jurisdiction;
    q.provenance = provenance;
    q.prompt_classes = classes;
    q.model = model;
    q.operator_profile = op;
    int pref = -1;
    if (!preferred.empty()) {
      pref = router_->LocationIndex(preferred);
      if (pref < 0) throw py::value_error("preferred: `" + preferred + "` is not in the catalogue");
    }
    const absl::Time at = ParseNow(now).value_or(absl::Now());
    residency::Router::Result res = router_->Route(q, at, pref);
    if (!res.status.ok()) throw py::value_error("route: " + Message(res.status));
    const std::vector<std::string> ids = snap_->locations();
    py::list allowed;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (res.Allowed(static_cast<int>(i))) allowed.append(ids[i]);
    }
    py::dict out;
    out["allowed"] = allowed;
    out["preferred"] = pref >= 0 ? EffectObject(res.preferred) : py::none();
    return out;
  }

 private:
  std::shared_ptr<const residency::PolicySnapshot> snap_;
  std::unique_ptr<residency::Router> router_;
};

// residency::PolicyStore: the current snapshot, replaced atomically by a reload.
class PyPolicyStore {
 public:
  explicit PyPolicyStore(py::object paths) : paths_(Paths(paths)) {
    PyPolicies first = Load();
    store_ = std::make_unique<residency::PolicyStore>(first.shared());
  }
  PyPolicies Get() const { return PyPolicies(store_->Get()); }
  // Compiles the paths again; on success swaps the result in and returns True (False when nothing
  // that decides changed); on any error keeps the current snapshot and raises PolicyError.
  bool Reload() {
    const std::string before = store_->Get()->digest();
    PyPolicies next = Load();
    if (next.digest() == before) return false;
    store_->Swap(next.shared());
    return true;
  }
  uint64_t generation() const { return store_->generation(); }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  PyPolicies Load() const;
  std::vector<std::string> paths_;
  std::unique_ptr<residency::PolicyStore> store_;
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

PyPolicies PyPolicyStore::Load() const {
  py::list paths;
  for (const auto& p : paths_) paths.append(p);
  return Compile(paths);
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

  py::class_<PyReason>(m, "Reason",
                       "One rule's result in a decision: which policy and rule, on what basis, "
                       "with what effect, and what triggered it.")
      .def_property_readonly("policy", [](const PyReason& r) { return Text(r.r.policy()); })
      .def_property_readonly("rule", [](const PyReason& r) { return Text(r.r.rule()); })
      .def_property_readonly(
          "basis", [](const PyReason& r) { return Text(r.r.basis()); }, "law, corp or fail_closed")
      .def_property_readonly(
          "effect", [](const PyReason& r) { return EffectObject(r.r.effect()); },
          "an Effect (a str enum)")
      .def_property_readonly("citation", [](const PyReason& r) { return Text(r.r.citation()); })
      .def_property_readonly("message", [](const PyReason& r) { return Text(r.r.message()); })
      .def_property_readonly(
          "alternative", [](const PyReason& r) { return Text(r.r.alternative()); },
          "the way out that allowed it ('' when none)")
      .def_property_readonly(
          "exception", [](const PyReason& r) { return Text(r.r.exception()); },
          "the exception that lifted it ('' when none)")
      .def_property_readonly("trigger", &PyReason::Trigger,
                             "what gave the rule its result, as a dict with only the known "
                             "keys of kind, artifact, via, tag, location")
      .def("to_dict", &PyReason::ToDict, "the reason as in the decision JSON")
      .def("__repr__", &PyReason::Repr);

  py::class_<PyObligation>(m, "Obligation", "What acting on an allow requires.")
      .def_property_readonly("id", [](const PyObligation& o) { return Text(o.o.id()); })
      .def_property_readonly("policy", [](const PyObligation& o) { return Text(o.o.policy()); })
      .def_property_readonly("text", [](const PyObligation& o) { return Text(o.o.text()); })
      .def("to_dict", &PyObligation::ToDict, "the obligation as in the decision JSON")
      .def("__repr__",
           [](const PyObligation& o) { return "Obligation(" + std::string(o.o.id()) + ")"; });

  py::class_<PyDecision>(
      m, "Decision",
      "A decision. Attributes read it directly; to_dict() equals the JSON `residency check`\n"
      "prints, as Python objects; d['key'] reads that dict (as the dict results of earlier\n"
      "versions did), and a Decision equals that dict. It pickles as its JSON.")
      .def_property_readonly("decision", &PyDecision::decision,
                             "an Effect (a str enum: Effect.DENY == 'deny')")
      .def_property_readonly("allowed", &PyDecision::allowed,
                             "True for allow and allow_with_obligations")
      .def_property_readonly("reasons", &PyDecision::reasons, "list of Reason")
      .def_property_readonly("obligations", &PyDecision::obligations, "list of Obligation")
      .def_property_readonly("suggested_locations", &PyDecision::suggested_locations,
                             "list of str: catalogue locations where it would be allowed")
      .def_property_readonly("tags", &PyDecision::tags, "list of str, ORIGIN:class")
      .def_property_readonly("lifted", &PyDecision::lifted, "list of dict {'tag', 'policy'}")
      .def_property_readonly("dry_run", &PyDecision::dry_run, "list of Reason of dry-run rules")
      .def_property_readonly("now", &PyDecision::now, "the evaluation time, RFC 3339")
      .def_property_readonly("policy_digest", &PyDecision::policy_digest)
      .def_property_readonly("audit", &PyDecision::audit,
                             "None, or {'log', 'index'} of its audit record")
      .def("to_dict", &PyDecision::ToDict, "the decision JSON of `residency check` as a dict")
      .def("to_json", &PyDecision::ToJson, "the decision JSON of `residency check` (one line)")
      .def("__getitem__",
           [](const PyDecision& d, const std::string& key) {
             py::object dict = d.ToDict();
             return py::object(dict[py::str(key)]);
           })
      .def(
          "__eq__",
          [](const PyDecision& d, py::object other) -> py::object {
            if (py::isinstance<PyDecision>(other)) {
              return py::bool_(d.ToJson() == other.cast<const PyDecision&>().ToJson());
            }
            if (PyDict_Check(other.ptr())) return py::bool_(d.ToDict().equal(other));
            return py::reinterpret_borrow<py::object>(Py_NotImplemented);
          },
          "equal to another Decision with the same JSON, or to that JSON's dict")
      .def(py::pickle([](const PyDecision& d) { return d.ToJson(); },
                      [](const std::string& json) {
                        auto d = residency::DecisionFromJson(json);
                        if (!d.ok()) throw py::value_error(Message(d.status()));
                        return PyDecision(*std::move(d));
                      }))
      .def("__repr__", &PyDecision::Repr);

  py::class_<PyPolicies>(m, "Policies",
                         "A compiled, immutable policy snapshot; share it between threads.")
      .def("check", &PyPolicies::Check, py::arg("request"), py::arg("now") = py::none(),
           py::arg("suggest") = true, py::arg("audit") = py::none(), py::arg("principal") = "",
           py::arg("lang") = "",
           "Decides one request (a Mapping such as a dict, or JSON/YAML text) and returns a\n"
           "Decision. A Mapping is read in C++ (no json module), with the same validation and\n"
           "field paths as text; its errors carry the `path` and line 0.\n"
           "`lang` ('ko') gives reasons and obligation texts in that language where the policies\n"
           "have them (English otherwise); the decision is the same in every language.\n"
           "`now` (RFC 3339 str or aware datetime) is the evaluation time when the request has\n"
           "none. With `audit`, the decision is appended to that AuditLog and carries\n"
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
           "Decides an iterable of requests (Mappings, or JSON/YAML text) on C++ threads with\n"
           "the GIL released (`threads`: None for one per hardware thread) and returns the\n"
           "Decisions in input order, each as check returns it. A request that cannot be decided\n"
           "raises RequestError naming it (`requests[3]: ...`), or with errors='return' stands\n"
           "in the list as that RequestError instance (treat it as deny).")
      .def("diff", &PyPolicies::Diff, py::arg("new"), py::arg("now") = py::none(),
           py::arg("max_evaluations") = 1000000, py::arg("max_examples") = 1,
           py::arg("format") = "dict",
           "What changes between these policies (old) and `new`, as `residency diff` reports\n"
           "it: with format='dict' the dict of `residency diff --format json` ({'old_digest',\n"
           "'new_digest', 'now', 'changes', 'explored', 'widened', 'narrowed'}), with\n"
           "format='text' its text. `max_evaluations` bounds the exploration (the report says\n"
           "whether it was complete).")
      .def("test", &PyPolicies::Test, py::arg("paths"),
           "Runs the policy test files (`kind: tests`) in `paths` (a path or a list; folders'\n"
           "top-level YAML files) against these policies, as `residency test` does: returns\n"
           "{'passed', 'failed', 'files_run', 'cases': [{'file', 'line', 'name', 'passed',\n"
           "'mismatches', 'got'}]}. Raises PolicyError (with .diagnostics) when the tests cannot\n"
           "run (a file with errors, a request that does not parse, no test file), and\n"
           "FileNotFoundError for a missing path.")
      .def("check_jsonl", &PyPolicies::CheckJsonl, py::arg("src"), py::arg("dst"),
           py::arg("now") = py::none(), py::arg("suggest") = true, py::arg("threads") = py::none(),
           py::arg("progress") = py::none(), py::arg("audit") = py::none(), py::arg("lang") = "",
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

  m.def("load_policies", &Compile, py::arg("paths"),
        "Compiles policy files and folders (a path or a list of paths) into a Policies "
        "snapshot. Raises FileNotFoundError for a path that does not exist and PolicyError (a "
        "ValueError) when they do not compile: its message is the first `FILE:LINE:COL: "
        "error: ...` diagnostic, `.diagnostics` lists them all.");
  m.def("lint", &Lint, py::arg("paths"), py::arg("catalogue") = py::none(),
        "Lints policy files and folders; returns every diagnostic as a dict (file, line, column, "
        "severity, code, message). An empty list means clean.");

  py::class_<PyRouter>(m, "Router",
                       "Where an inference request of a given shape may be served (the library's\n"
                       "residency::Router): answers memoised per shape, per Policies snapshot.")
      .def(py::init<const PyPolicies&>(), py::arg("policies"))
      .def("add_model", &PyRouter::AddModel, py::arg("model"),
           "Registers a served model (a Mapping in the request format: id, artifact,\n"
           "trained_on, base_models, ...); returns its profile id for route(model=...).\n"
           "Raises RequestError for a model the request parser refuses.")
      .def("add_operator", &PyRouter::AddOperator, py::arg("operator"),
           "Registers an operator (a Mapping: id, country, sectors, ...); returns its profile\n"
           "id for route(operator=...).")
      .def("route", &PyRouter::Route, py::arg("user_jurisdiction") = "",
           py::arg("provenance") = "claimed",
           py::arg("prompt_classes") = std::vector<std::string>(), py::arg("model") = -1,
           py::arg("operator") = -1, py::arg("now") = py::none(), py::arg("preferred") = "",
           "The catalogue locations where an inference request of this shape may be served:\n"
           "{'allowed': [location ids, catalogue order], 'preferred': the Effect at `preferred`\n"
           "(a location id) or None}. Raises ValueError for an unknown jurisdiction, class or\n"
           "profile (treat as deny).");

  py::class_<PyPolicyStore>(m, "PolicyStore",
                            "Policies that hot-reload: get() is the current snapshot; reload()\n"
                            "compiles the same paths again and swaps the result in atomically,\n"
                            "or keeps the current one on any error.")
      .def(py::init<py::object>(), py::arg("paths"))
      .def("get", &PyPolicyStore::Get, "the current Policies (lock-free in C++)")
      .def("reload", &PyPolicyStore::Reload,
           "Compiles the paths again: True when swapped in, False when nothing that decides\n"
           "changed (same digest); raises PolicyError (the current snapshot stays) when they do\n"
           "not compile.")
      .def_property_readonly("generation", &PyPolicyStore::generation,
                             "swaps so far (0 for the first snapshot)")
      .def_property_readonly("paths", &PyPolicyStore::paths);

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
  m.def("audit_verify", &AuditVerify, py::arg("paths"), py::arg("keys"),
        py::arg("allow_open") = false, py::arg("trusted_checkpoints") = std::vector<std::string>{},
        "Verifies every audit log under the paths offline with the verifier keys (vkey strings "
        "or .vkey files). Returns {ok, logs: [{path, origin, status, records, checkpoints, "
        "findings}]}; raises ValueError when it cannot run. `allow_open`: accept a log that is "
        "still open (no final "
        "checkpoint: a writer that crashed), as `residency audit verify --open`.");
}
