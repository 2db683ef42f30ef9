#include "policy/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "internal/yaml_util.h"

namespace residency::policy_internal {

// Records yaml-cpp's events as YAML::NodeBuilder does (src/nodebuilder.cpp): an anchor names the
// node at its start, an alias attaches the anchored node, a map's children alternate key, value.
class YamlDocBuilder : public YAML::EventHandler {
 public:
  explicit YamlDocBuilder(YamlDoc* doc) : doc_(doc) { anchors_.push_back(0); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Attach(NewNode(YamlDoc::kNull, mark, anchor));
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    // yaml-cpp's parser rejects an alias to an unknown anchor before this is called.
    if (anchor < anchors_.size() && anchors_[anchor] != kNoNode) {
      Attach(anchors_[anchor]);
    } else {
      Attach(NewNode(YamlDoc::kNull, mark, 0));
    }
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    uint32_t id = NewNode(YamlDoc::kScalar, mark, anchor);
    YamlDoc::Node& n = doc_->nodes_[id];
    n.first = static_cast<uint32_t>(doc_->pool_.size());
    n.count = static_cast<uint32_t>(value.size());
    doc_->pool_.append(value);
    Attach(id);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({NewNode(YamlDoc::kSequence, mark, anchor), pending_.size()});
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back({NewNode(YamlDoc::kMap, mark, anchor), pending_.size()});
  }
  void OnMapEnd() override { Close(); }

 private:
  static constexpr uint32_t kNoNode = UINT32_MAX;
  struct Open {
    uint32_t id;
    size_t start;  // its children in pending_
  };

  uint32_t NewNode(YamlDoc::Type type, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (doc_->nodes_.size() >= kNoNode - 1) throw std::length_error("YAML document too large");
    uint32_t id = static_cast<uint32_t>(doc_->nodes_.size());
    uint32_t col = static_cast<uint32_t>(std::clamp(mark.column, 0, (1 << 29) - 1));
    doc_->nodes_.push_back(YamlDoc::Node{mark.line, col << 2 | type, 0, 0});
    if (anchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, kNoNode);
      anchors_[anchor] = id;
    }
    return id;
  }

  void Attach(uint32_t id) {
    if (open_.empty()) {
      if (doc_->root_ < 0) doc_->root_ = id;
      return;
    }
    pending_.push_back(id);
  }

  void Close() {
    if (open_.empty()) return;
    Open o = open_.back();
    open_.pop_back();
    YamlDoc::Node& n = doc_->nodes_[o.id];
    size_t kids = pending_.size() - o.start;
    if (n.type() == YamlDoc::kMap) kids &= ~size_t{1};  // a key without value cannot occur
    n.first = static_cast<uint32_t>(doc_->kids_.size());
    n.count = static_cast<uint32_t>(n.type() == YamlDoc::kMap ? kids / 2 : kids);
    doc_->kids_.insert(doc_->kids_.end(), pending_.begin() + o.start,
                       pending_.begin() + o.start + kids);
    pending_.resize(o.start);
    Attach(o.id);
  }

  YamlDoc* doc_;
  std::vector<uint32_t> anchors_;
  std::vector<Open> open_;
  std::vector<uint32_t> pending_;
};

namespace {

constexpr char kSecondDocument[] =
    "a second YAML document starts here; a file holds one document (split it into two files)";

}  // namespace

std::unique_ptr<YamlDoc> YamlDoc::Build(const std::string& text, bool* second,
                                        YAML::Mark* second_mark) {
  auto doc = std::make_unique<YamlDoc>();
  // Rough sizes for flow-style policies (about one node per 8 bytes) to avoid regrowth.
  doc->nodes_.reserve(text.size() / 8 + 16);
  doc->kids_.reserve(text.size() / 8 + 16);
  doc->pool_.reserve(text.size() / 2 + 16);
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    YamlDocBuilder builder(doc.get());
    parser.HandleNextDocument(builder);
    // Anything after the first document is a second one, even if it is malformed or empty.
    *second = internal::NextDocumentFollows(parser, second_mark);
  }
  doc->nodes_.shrink_to_fit();
  doc->kids_.shrink_to_fit();
  doc->pool_.shrink_to_fit();
  return doc;
}

std::unique_ptr<YamlDoc> YamlDoc::Parse(const std::string& text) {
  bool second = false;
  YAML::Mark mark;
  auto doc = Build(text, &second, &mark);
  if (second) throw YAML::ParserException(mark, kSecondDocument);
  return doc;
}

std::unique_ptr<YamlDoc> YamlDoc::Read(const std::string& text, YamlError* error) {
  auto fail = [&](const YAML::Mark& m, const char* code, std::string message) {
    error->line = m.is_null() ? 0 : m.line + 1;
    error->column = m.is_null() ? 0 : m.column + 1;
    error->code = code;
    error->message = std::move(message);
    return nullptr;
  };
  try {
    bool second = false;
    YAML::Mark mark;
    auto doc = Build(text, &second, &mark);
    if (second) return fail(mark, "multiple-documents", kSecondDocument);
    return doc;
  } catch (const YAML::Exception& e) {
    return fail(e.mark, "yaml-syntax", e.msg);
  } catch (const std::length_error&) {
    return fail(YAML::Mark::null_mark(), "limit", "the document has too many nodes");
  } catch (const std::bad_alloc&) {
    return fail(YAML::Mark::null_mark(), "internal", "out of memory reading the document");
  } catch (const std::exception& e) {
    return fail(YAML::Mark::null_mark(), "internal",
                std::string("internal error reading the document: ") + e.what());
  }
}

YNode YamlDoc::root() const {
  if (root_ < 0) {
    // YAML::Load of an empty stream: a null node without position.
    static const YamlDoc* const kEmpty = [] {
      auto* d = new YamlDoc();
      d->nodes_.push_back(Node{-1, 0u | kNull, 0, 0});
      d->root_ = 0;
      return d;
    }();
    return YNode(kEmpty, 0);
  }
  return YNode(this, static_cast<uint32_t>(root_));
}

size_t YamlDoc::MemoryBytes() const {
  return nodes_.capacity() * sizeof(Node) + kids_.capacity() * sizeof(uint32_t) + pool_.capacity();
}

bool YNode::IsNull() const { return doc_ && doc_->nodes_[id_].type() == YamlDoc::kNull; }
bool YNode::IsScalar() const { return doc_ && doc_->nodes_[id_].type() == YamlDoc::kScalar; }
bool YNode::IsSequence() const { return doc_ && doc_->nodes_[id_].type() == YamlDoc::kSequence; }
bool YNode::IsMap() const { return doc_ && doc_->nodes_[id_].type() == YamlDoc::kMap; }

std::string_view YNode::ScalarView() const {
  if (!IsScalar()) return {};
  const YamlDoc::Node& n = doc_->nodes_[id_];
  return std::string_view(doc_->pool_.data() + n.first, n.count);
}

YAML::Mark YNode::Mark() const {
  YAML::Mark m;  // {0, 0, 0}
  if (!doc_) return m;
  const YamlDoc::Node& n = doc_->nodes_[id_];
  if (n.line < 0) return YAML::Mark::null_mark();
  m.line = n.line;
  m.column = static_cast<int>(n.col_type >> 2);
  return m;
}

size_t YNode::size() const {
  if (!doc_) return 0;
  const YamlDoc::Node& n = doc_->nodes_[id_];
  return n.type() == YamlDoc::kSequence || n.type() == YamlDoc::kMap ? n.count : 0;
}

YNode YNode::operator[](size_t i) const {
  if (!IsSequence() || i >= size()) return YNode();
  return YNode(doc_, doc_->kids_[doc_->nodes_[id_].first + i]);
}

YNode YNode::Key(size_t i) const {
  if (!IsMap() || i >= size()) return YNode();
  return YNode(doc_, doc_->kids_[doc_->nodes_[id_].first + 2 * i]);
}

YNode YNode::Value(size_t i) const {
  if (!IsMap() || i >= size()) return YNode();
  return YNode(doc_, doc_->kids_[doc_->nodes_[id_].first + 2 * i + 1]);
}

YNode YNode::Get(std::string_view key) const {
  if (!IsMap()) return YNode();
  const YamlDoc::Node& n = doc_->nodes_[id_];
  for (uint32_t i = 0; i < n.count; ++i) {
    uint32_t k = doc_->kids_[n.first + 2 * i];
    const YamlDoc::Node& kn = doc_->nodes_[k];
    if (kn.type() == YamlDoc::kScalar && kn.count == key.size() &&
        std::string_view(doc_->pool_.data() + kn.first, kn.count) == key) {
      return YNode(doc_, doc_->kids_[n.first + 2 * i + 1]);
    }
  }
  return YNode();
}

YNode::Iterator YNode::begin() const { return Iterator(doc_, id_, 0); }

YNode::Iterator YNode::end() const { return Iterator(doc_, id_, IsSequence() ? size() : 0); }

}  // namespace residency::policy_internal
