// Loading one YAML document with yaml-cpp, for the readers that use its node graph (requests,
// test files, the tagger's configuration). A text is one document: a second one is an error at
// its position, never silently dropped as YAML::Load does.
#ifndef RESIDENCY_LIB_INTERNAL_YAML_UTIL_H_
#define RESIDENCY_LIB_INTERNAL_YAML_UTIL_H_

#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <string>

namespace residency::internal {

// Why a text could not be loaded. `line` and `column` are 1-based (0 when there is no position).
// `kind`: kSyntax (not YAML), kSecondDocument (more than one document), kInternal (out of memory
// or a bug: never the user's mistake).
struct YamlLoadError {
  enum Kind { kSyntax, kSecondDocument, kInternal };
  Kind kind = kSyntax;
  int line = 0;
  int column = 0;
  std::string message;
};

// Called after `parser` handled a document: whether another document follows, and where it
// starts (its `---`, or its first token after a `...`). A second document that is malformed or
// empty still counts. Throws YAML::Exception when the text after the first document is not YAML
// and no document starts in it.
bool NextDocumentFollows(YAML::Parser& parser, YAML::Mark* where);

// Loads the one document of `text` into `*out` as YAML::Load does; false with `*error` set
// otherwise. Never throws.
bool LoadOneYamlDocument(const std::string& text, YAML::Node* out, YamlLoadError* error);

}  // namespace residency::internal

#endif  // RESIDENCY_LIB_INTERNAL_YAML_UTIL_H_
