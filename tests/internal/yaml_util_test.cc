// LoadOneYamlDocument: one document per text, with or without document markers.
#include "internal/yaml_util.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "residency/request.h"

namespace residency::internal {
namespace {

using ::testing::HasSubstr;

YamlLoadError LoadError(const std::string& text) {
  YAML::Node node;
  YamlLoadError error;
  EXPECT_FALSE(LoadOneYamlDocument(text, &node, &error)) << text;
  return error;
}

TEST(LoadOneYamlDocument, OneDocumentLoadsAsYamlLoadDoes) {
  for (const char* text : {"a: 1\n", "---\na: 1\n", "a: 1\n...\n# end\n", "!!map {a: 1}\n"}) {
    YAML::Node node;
    YamlLoadError error;
    ASSERT_TRUE(LoadOneYamlDocument(text, &node, &error)) << text << ": " << error.message;
    EXPECT_EQ(node["a"].as<int>(), 1) << text;
  }
  YAML::Node empty;
  YamlLoadError error;
  ASSERT_TRUE(LoadOneYamlDocument("", &empty, &error));
  EXPECT_TRUE(empty.IsNull());
}

TEST(LoadOneYamlDocument, ASecondDocumentWithoutAMarkerIsStillASecondDocument) {
  // yaml-cpp starts a new document after any complete node: YAML::Load kept the first and
  // dropped the rest of these texts without a word.
  YamlLoadError flow = LoadError("!!map {a: 1}\n{a: 2}\n");
  EXPECT_EQ(flow.kind, YamlLoadError::kSecondDocument);
  EXPECT_EQ(flow.line, 2);
  EXPECT_EQ(flow.column, 1);
  YamlLoadError same_line = LoadError("&x {a: 1} [b]");
  EXPECT_EQ(same_line.kind, YamlLoadError::kSecondDocument);
  EXPECT_EQ(same_line.line, 1);
  EXPECT_EQ(same_line.column, 11);
  EXPECT_EQ(LoadError("'a'\n'b'\n").kind, YamlLoadError::kSecondDocument);
}

TEST(LoadOneYamlDocument, MarkedSecondDocumentsEvenMalformedOrEmpty) {
  YamlLoadError marked = LoadError("a: 1\n---\nb: 2\n");
  EXPECT_EQ(marked.kind, YamlLoadError::kSecondDocument);
  EXPECT_EQ(marked.line, 2);
  EXPECT_EQ(LoadError("a: 1\n---\n").kind, YamlLoadError::kSecondDocument);
  YamlLoadError malformed = LoadError("a: 1\n---\nb: [unclosed\n");
  EXPECT_EQ(malformed.kind, YamlLoadError::kSecondDocument);
  EXPECT_EQ(malformed.line, 2);
  EXPECT_EQ(LoadError("a: [unclosed\n").kind, YamlLoadError::kSyntax);
}

TEST(LoadOneYamlDocument, EndsOnTextsWhereYamlLoadAllLoopsForever) {
  // YAML::LoadAll never returns on this text; loading one document must.
  YAML::Node node;
  YamlLoadError error;
  ASSERT_FALSE(LoadOneYamlDocument("---\n, &a x\n", &node, &error));
  EXPECT_EQ(error.kind, YamlLoadError::kSecondDocument);
  EXPECT_EQ(error.line, 2);
}

TEST(ParseRequestYaml, ATrailingFlowNodeIsRefusedNotDropped) {
  // The second node would make this a model request; it must not vanish.
  auto r = ParseRequest(
      "!!map {kind: dataset, classes: [personal], location: \"ncp:KR\"}\n"
      "{kind: model}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("2:1: a second YAML document"));
}

}  // namespace
}  // namespace residency::internal
