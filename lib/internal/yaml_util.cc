#include "internal/yaml_util.h"

#include <yaml-cpp/eventhandler.h>

#include <new>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace residency::internal {
namespace {

// Notes where a document starts and ignores its content.
class DocumentProbe : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (!started) start = mark;
    started = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  bool started = false;
  YAML::Mark start;
};

// Whether a second document follows the first one in `text`, and where it starts. yaml-cpp
// starts a new document after any complete node, with or without a `---` or `...` marker
// (`!!map {a: 1}\n[2]` is two documents), so the whole text is scanned.
bool SecondDocument(const std::string& text, YAML::Mark* where) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentProbe first;
  parser.HandleNextDocument(first);
  return NextDocumentFollows(parser, where);
}

}  // namespace

bool NextDocumentFollows(YAML::Parser& parser, YAML::Mark* where) {
  DocumentProbe probe;
  try {
    parser.HandleNextDocument(probe);
  } catch (const YAML::Exception&) {
    if (!probe.started) throw;
  }
  *where = probe.start;
  return probe.started;
}

namespace {

constexpr char kSecondDocumentMessage[] =
    "a second YAML document starts here; the input holds one document";

bool Fail(YamlLoadError* error, YamlLoadError::Kind kind, const YAML::Mark& m, std::string msg) {
  error->kind = kind;
  error->line = m.is_null() ? 0 : m.line + 1;
  error->column = m.is_null() ? 0 : m.column + 1;
  error->message = std::move(msg);
  return false;
}

}  // namespace

bool LoadOneYamlDocument(const std::string& text, YAML::Node* out, YamlLoadError* error) {
  try {
    // Not YAML::LoadAll: it loops without end on some malformed texts (`---\n, &a x\n`).
    YAML::Node first = YAML::Load(text);
    YAML::Mark second;
    if (SecondDocument(text, &second)) {
      return Fail(error, YamlLoadError::kSecondDocument, second, kSecondDocumentMessage);
    }
    *out = std::move(first);
    return true;
  } catch (const YAML::Exception& e) {
    return Fail(error, YamlLoadError::kSyntax, e.mark, e.msg.empty() ? "invalid YAML" : e.msg);
  } catch (const std::bad_alloc&) {
    return Fail(error, YamlLoadError::kInternal, YAML::Mark::null_mark(),
                "internal error: out of memory reading YAML");
  } catch (const std::exception& e) {
    return Fail(error, YamlLoadError::kInternal, YAML::Mark::null_mark(),
                std::string("internal error reading YAML: ") + e.what());
  }
}

}  // namespace residency::internal
