// A compact, read-only YAML document for the policy loader.
//
// yaml-cpp's parser produces events; YamlDoc::Parse records them in flat arrays (one 16-byte
// record per node, children as index ranges, scalar bytes in one pool) instead of yaml-cpp's
// node graph of shared pointers. The structure is exactly what YAML::Load builds from the same
// events: one document (a second one is an error, never dropped), nulls as nulls, every map pair in
// file order (duplicate keys included, so the reader can report them), aliases resolved to the
// anchored node.
//
// Thread safety: a YamlDoc is immutable after Parse and may be read from several threads.
#ifndef RESIDENCY_LIB_POLICY_YAML_TREE_H_
#define RESIDENCY_LIB_POLICY_YAML_TREE_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace residency::policy_internal {

class YamlDoc;

// A handle to one node of a YamlDoc, or to no node (`IsDefined()` false, as yaml-cpp's
// Undefined). Cheap to copy; valid while its document lives.
class YNode {
 public:
  YNode() = default;

  bool IsDefined() const { return doc_ != nullptr; }
  bool IsNull() const;
  bool IsScalar() const;
  bool IsSequence() const;
  bool IsMap() const;
  // The scalar's text; empty for other nodes.
  std::string Scalar() const { return std::string(ScalarView()); }
  std::string_view ScalarView() const;
  // 0-based position, as yaml-cpp reports it; {0,0,0} for an absent node (as a yaml-cpp
  // Undefined node), so a diagnostic at it names line 1, column 1.
  YAML::Mark Mark() const;
  // Elements of a sequence or pairs of a map; 0 otherwise.
  size_t size() const;
  // Element `i` of a sequence.
  YNode operator[](size_t i) const;
  // Pair `i` of a map.
  YNode Key(size_t i) const;
  YNode Value(size_t i) const;
  // The value of the first pair whose key is a scalar equal to `key`; absent otherwise.
  YNode Get(std::string_view key) const;

  // Iteration over the elements of a sequence; nothing for maps, null, scalars and absent
  // nodes (a caller that wants a list checks IsSequence() and reports the wrong type).
  class Iterator {
   public:
    YNode operator*() const { return YNode(doc_, id_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    friend class YNode;
    Iterator(const YamlDoc* doc, uint32_t id, size_t i) : doc_(doc), id_(id), i_(i) {}
    const YamlDoc* doc_;
    uint32_t id_;
    size_t i_;
  };
  Iterator begin() const;
  Iterator end() const;

 private:
  friend class YamlDoc;
  YNode(const YamlDoc* doc, uint32_t id) : doc_(doc), id_(id) {}

  const YamlDoc* doc_ = nullptr;
  uint32_t id_ = 0;
};

// Why a YAML text could not be read: a 1-based position (0 when there is none), a diagnostic
// code and a message.
//   yaml-syntax          the text is not YAML
//   multiple-documents   a second document follows the first (at its `---` or first token)
//   limit                the document has more nodes than the format can index
//   internal             out of memory or a bug (never the user's mistake)
struct YamlError {
  int line = 0;
  int column = 0;
  std::string code;
  std::string message;
};

class YamlDoc {
 public:
  // Reads the one document of `text`; nullptr with `*error` set when the text is not YAML, holds
  // more than one document, or cannot be held. Never throws: this is where yaml-cpp's exceptions
  // are caught.
  static std::unique_ptr<YamlDoc> Read(const std::string& text, YamlError* error);

  // As Read, for tests: throws YAML::Exception (with its mark) on a syntax error and
  // YAML::ParserException on a second document.
  static std::unique_ptr<YamlDoc> Parse(const std::string& text);

  // The document's root; a null node for an empty document (as YAML::Load).
  YNode root() const;

  // Bytes held (for measurements).
  size_t MemoryBytes() const;

 private:
  friend class YNode;
  friend class YamlDocBuilder;
  // Records the first document; `*second`: another document follows (at `*second_mark`).
  static std::unique_ptr<YamlDoc> Build(const std::string& text, bool* second,
                                        YAML::Mark* second_mark);
  enum Type : uint8_t { kNull = 0, kScalar = 1, kSequence = 2, kMap = 3 };
  struct Node {
    int32_t line;
    uint32_t col_type;  // column << 2 | Type
    uint32_t first;     // scalar: offset into pool_; collection: offset into kids_
    uint32_t count;     // scalar: bytes; sequence: elements; map: pairs
    Type type() const { return static_cast<Type>(col_type & 3); }
  };
  std::vector<Node> nodes_;
  std::vector<uint32_t> kids_;  // sequences: elements; maps: key, value, key, value, ...
  std::string pool_;
  int64_t root_ = -1;
};

}  // namespace residency::policy_internal

#endif  // RESIDENCY_LIB_POLICY_YAML_TREE_H_
