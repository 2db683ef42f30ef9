// The fast path of ParseRequest for JSON: strict JSON straight into a Request (see FastJson).
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "eval/request_parse.h"
#include "internal/text_util.h"
#include "internal/time_util.h"
#include "residency/request.h"

namespace residency::eval_internal {
namespace {

// ---- Fast path: strict JSON straight into a Request ----------------------------------------
//
// A pull parser over the text that fills the Request as it reads, with no JSON tree, no field
// paths and no per-object handler tables. It accepts only what the general path above accepts and
// decodes it to the same Request; anything else (every error, and a few valid but unusual inputs
// it leaves alone: nesting near the depth limit, numbers past the range of a double) makes it
// give up, and ParseRequest runs the general path, which writes the error message. Errors are
// therefore exactly those of the general path.
class FastJson {
 public:
  FastJson(std::string_view text, const RequestLimits& limits)
      : p_(text.data()), end_(text.data() + text.size()), limits_(limits) {}

  // False: not decoded here (the general path decides).
  bool Decode(Request* r);

 private:
  void Ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool Lit(char c) {
    Ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view w) {
    Ws();
    if (static_cast<size_t>(end_ - p_) >= w.size() && std::memcmp(p_, w.data(), w.size()) == 0) {
      p_ += w.size();
      return true;
    }
    return false;
  }
  bool Null() { return Word("null"); }
  bool Enter(char c) { return Lit(c) && ++depth_ < limits_.max_depth; }

  bool Hex4(uint32_t* u) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        return false;
      }
    }
    *u = v;
    return true;
  }

  static void PutUtf8(uint32_t u, std::string* out) {
    if (u < 0x80) {
      out->push_back(static_cast<char>(u));
    } else if (u < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (u >> 6)));
      out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
    } else if (u < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (u >> 12)));
      out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (u >> 18)));
      out->push_back(static_cast<char>(0x80 | ((u >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((u >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (u & 0x3F)));
    }
  }

  // Moves p_ to the first `"`, backslash or control character, or to the last 7 bytes.
  void SkipPlain() {
    constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
    auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    while (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      // The lowest set bit marks the first such byte exactly (little-endian).
      const uint64_t m = ((w - 0x20 * kOnes) & ~w & kHigh) | has_zero(w ^ ('"' * kOnes)) |
                         has_zero(w ^ ('\\' * kOnes));
      if (m != 0) {
        p_ += __builtin_ctzll(m) >> 3;
        return;
      }
      p_ += 8;
    }
  }

  // A key: a view into the text when it has no escape, else decoded into key_.
  bool Key(std::string_view* k) {
    Ws();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = p_ + 1;
    const char* save = p_;
    p_ = start;
    SkipPlain();
    while (p_ < end_ && static_cast<unsigned char>(*p_) >= 0x20 && *p_ != '"' && *p_ != '\\') ++p_;
    if (p_ < end_ && *p_ == '"') {
      *k = std::string_view(start, p_ - start);
      ++p_;
      return true;
    }
    p_ = save;
    if (!Str(&key_)) return false;
    *k = key_;
    return true;
  }

  // A string token into *out (replacing its content). The text is valid UTF-8 (checked first).
  bool Str(std::string* out) {
    Ws();
    if (p_ >= end_ || *p_ != '"') return false;
    const char* start = ++p_;
    SkipPlain();
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out->assign(start, p_ - start);
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return false;
      ++p_;
    }
    if (p_ >= end_) return false;
    out->assign(start, p_ - start);
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        continue;
      }
      if (p_ >= end_) return false;
      switch (*p_++) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t u;
          if (!Hex4(&u)) return false;
          if (u >= 0xDC00 && u <= 0xDFFF) return false;
          if (u >= 0xD800 && u <= 0xDBFF) {
            uint32_t lo;
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          }
          PutUtf8(u, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  // A number token, as the text it is (JSON grammar).
  bool NumberToken(std::string_view* tok, bool* integer) {
    Ws();
    const char* s = p_;
    auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    if (p_ < end_ && *p_ == '-') ++p_;
    if (!digit()) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (digit()) ++p_;
    }
    *integer = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digit()) return false;
      while (digit()) ++p_;
      *integer = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digit()) return false;
      while (digit()) ++p_;
      *integer = false;
    }
    *tok = std::string_view(s, p_ - s);
    return true;
  }

  static bool ToDouble(std::string_view tok, bool integer, double* v) {
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), *v);
    if (ec != std::errc() || end != tok.data() + tok.size() || !std::isfinite(*v)) return false;
    if (integer && *v == 0) *v = 0;  // `-0` is the integer 0 to nlohmann, not -0.0
    return true;
  }

  // Calls field(i) for the value of every key of an object, i its index in `names`. Unknown and
  // repeated keys give up; a null value is skipped (the same as absent).
  template <size_t N, typename F>
  bool Obj(const std::array<std::string_view, N>& names, F&& field) {
    static_assert(N <= 32);
    if (!Enter('{')) return false;
    uint32_t seen = 0;
    if (!Lit('}')) {
      do {
        std::string_view key;
        if (!Key(&key)) return false;
        size_t i = 0;
        while (i < N && names[i] != key) ++i;
        if (i == N || (seen >> i & 1u)) return false;
        seen |= 1u << i;
        if (!Lit(':')) return false;
        if (Null()) continue;
        if (!field(i)) return false;
      } while (Lit(','));
      if (!Lit('}')) return false;
    }
    --depth_;
    return true;
  }
  template <typename F>
  bool Arr(F&& element) {
    if (!Enter('[')) return false;
    if (!Lit(']')) {
      do {
        if (!element()) return false;
      } while (Lit(','));
      if (!Lit(']')) return false;
    }
    --depth_;
    return true;
  }

  bool Count() { return ++items_ <= limits_.max_items; }
  bool OptStr(std::optional<std::string>* out) { return Str(&out->emplace()); }
  bool Num(std::optional<double>* out) {
    std::string_view tok;
    bool integer;
    double v;
    if (!NumberToken(&tok, &integer) || !ToDouble(tok, integer, &v) || v < 0) return false;
    *out = v;
    return true;
  }
  bool Time(std::optional<absl::Time>* out) {
    if (!Str(&scratch_)) return false;
    auto t = internal::ParseTimestamp(scratch_);
    if (!t.ok()) return false;
    *out = *t;
    return true;
  }
  template <size_t N>
  bool Enum(const std::array<std::string_view, N>& allowed, std::string* out) {
    if (!Str(out)) return false;
    for (std::string_view a : allowed)
      if (*out == a) return true;
    return false;
  }
  bool StrList(std::vector<std::string>* out) {
    return Arr([&] { return Str(&out->emplace_back()); });
  }
  bool Attributes(AttributeMap* out);
  bool EvidenceList(std::vector<Evidence>* out);
  bool PartyObj(bool is_operator, Party* out);
  bool DatasetObj(int depth, Dataset* out);
  bool ModelObj(int depth, Model* out);
  bool ComputeObj(Compute* out);

  const char* p_;
  const char* end_;
  const RequestLimits& limits_;
  int depth_ = 0;
  size_t items_ = 0;
  std::string key_;
  std::string scratch_;
};

bool FastJson::Attributes(AttributeMap* out) {
  if (!Enter('{')) return false;
  if (!Lit('}')) {
    do {
      std::string_view key;
      if (!Key(&key) || !Lit(':')) return false;
      std::string text;
      Ws();
      if (p_ < end_ && *p_ == '"') {
        if (!Str(&text)) return false;
        if (text == "True" || text == "TRUE") text = "true";
        if (text == "False" || text == "FALSE") text = "false";
      } else if (Word("true")) {
        text = "true";
      } else if (Word("false")) {
        text = "false";
      } else {
        // A number as nlohmann prints it: integers as they are, others in its shortest form.
        std::string_view tok;
        bool integer;
        if (!NumberToken(&tok, &integer)) return false;
        const char* e = tok.data() + tok.size();
        int64_t i64;
        uint64_t u64;
        auto whole = [&](std::from_chars_result r) { return r.ec == std::errc() && r.ptr == e; };
        if (integer && tok[0] == '-' && whole(std::from_chars(tok.data(), e, i64))) {
          text = std::to_string(i64);
        } else if (integer && tok[0] != '-' && whole(std::from_chars(tok.data(), e, u64))) {
          text = std::to_string(u64);
        } else {
          double v;
          if (!ToDouble(tok, false, &v)) return false;
          text = nlohmann::json(v).dump();  // the number as the general path writes it
        }
      }
      if (!out->emplace(std::string(key), std::move(text)).second) return false;  // repeated key
    } while (Lit(','));
    if (!Lit('}')) return false;
  }
  --depth_;
  return true;
}

bool FastJson::EvidenceList(std::vector<Evidence>* out) {
  static constexpr std::array<std::string_view, 8> kKeys = {
      "type",       "country",   "recipient",    "origin",
      "not_before", "not_after", "withdrawn_at", "covers"};
  return Arr([&] {
    if (!Count()) return false;
    Evidence& ev = out->emplace_back();
    return Obj(kKeys,
               [&](size_t i) {
                 switch (i) {
                   case 0:
                     return Str(&ev.type);
                   case 1:
                     return OptStr(&ev.country);
                   case 2:
                     return OptStr(&ev.recipient);
                   case 3:
                     return OptStr(&ev.origin);
                   case 4:
                     return Time(&ev.not_before);
                   case 5:
                     return Time(&ev.not_after);
                   case 6:
                     return Time(&ev.withdrawn_at);
                   default:
                     return StrList(&ev.covers);
                 }
               }) &&
           !ev.type.empty();
  });
}

bool FastJson::PartyObj(bool is_operator, Party* out) {
  static constexpr std::array<std::string_view, 4> kOperator = {"id", "country", "attributes",
                                                                "sectors"};
  static constexpr std::array<std::string_view, 4> kRecipient = {"id", "country", "attributes",
                                                                 "role"};
  static constexpr std::array<std::string_view, 3> kRoles = {"processor", "third_party",
                                                             "affiliate"};
  return Obj(is_operator ? kOperator : kRecipient, [&](size_t i) {
    switch (i) {
      case 0:
        return Str(&out->id);
      case 1:
        return Str(&out->country);
      case 2:
        return Attributes(&out->attributes);
      default:
        return is_operator ? StrList(&out->sectors) : Enum(kRoles, &out->role);
    }
  });
}

bool FastJson::DatasetObj(int depth, Dataset* out) {
  static constexpr std::array<std::string_view, 6> kKeys = {
      "id", "uri", "location", "partitions", "evidence", "derived_from"};
  static constexpr std::array<std::string_view, 5> kPartition = {
      "classes", "origin", "subjects", "sensitive_subjects", "cumulative_subjects"};
  if (depth > limits_.max_depth || !Count()) return false;
  return Obj(kKeys, [&](size_t i) {
    switch (i) {
      case 0:
        return Str(&out->id);
      case 1:
        return Str(&out->uri);
      case 2:
        return Str(&out->location);
      case 3:
        return Arr([&] {
          if (!Count()) return false;
          Partition& part = out->partitions.emplace_back();
          return Obj(kPartition,
                     [&](size_t k) {
                       switch (k) {
                         case 0:
                           return StrList(&part.classes);
                         case 1:
                           return Str(&part.origin);
                         case 2:
                           return Num(&part.subjects);
                         case 3:
                           return Num(&part.sensitive_subjects);
                         default:
                           return Num(&part.cumulative_subjects);
                       }
                     }) &&
                 !part.classes.empty() && !part.origin.empty();
        });
      case 4:
        return EvidenceList(&out->evidence);
      default:
        return Arr([&] { return DatasetObj(depth + 1, &out->derived_from.emplace_back()); });
    }
  });
}

bool FastJson::ModelObj(int depth, Model* out) {
  static constexpr std::array<std::string_view, 8> kKeys = {
      "id",         "artifact",    "tier",           "location",
      "trained_on", "base_models", "training_flops", "evidence"};
  static constexpr std::array<std::string_view, 3> kArtifacts = {"weights", "checkpoint",
                                                                 "adapter"};
  if (depth > limits_.max_depth || !Count()) return false;
  return Obj(kKeys, [&](size_t i) {
    switch (i) {
      case 0:
        return Str(&out->id);
      case 1:
        return Enum(kArtifacts, &out->artifact);
      case 2:
        return Str(&out->tier);
      case 3:
        return Str(&out->location);
      case 4:
        out->trained_on.emplace();
        return Arr([&] { return DatasetObj(depth + 1, &out->trained_on->emplace_back()); });
      case 5:
        return Arr([&] { return ModelObj(depth + 1, &out->base_models.emplace_back()); });
      case 6:
        return Num(&out->training_flops);
      default:
        return EvidenceList(&out->evidence);
    }
  });
}

bool FastJson::ComputeObj(Compute* out) {
  static constexpr std::array<std::string_view, 6> kKeys = {"job",     "location", "inputs",
                                                            "outputs", "user",     "prompt"};
  static constexpr std::array<std::string_view, 5> kJobs = {"training", "fine_tune", "batch",
                                                            "evaluate", "inference"};
  static constexpr std::array<std::string_view, 2> kInput = {"dataset", "model"};
  static constexpr std::array<std::string_view, 2> kOutput = {"location", "artifact"};
  static constexpr std::array<std::string_view, 2> kUser = {"jurisdiction", "provenance"};
  static constexpr std::array<std::string_view, 3> kProvenance = {"verified", "claimed",
                                                                  "inferred"};
  static constexpr std::array<std::string_view, 2> kPrompt = {"classes", "cumulative_subjects"};
  return Obj(kKeys, [&](size_t i) {
    switch (i) {
      case 0:
        return Enum(kJobs, &out->job);
      case 1:
        return Str(&out->location);
      case 2:
        return Arr([&] {
          ComputeInput& in = out->inputs.emplace_back();
          return Obj(kInput,
                     [&](size_t k) {
                       if (k == 0) return DatasetObj(1, &in.dataset.emplace());
                       return ModelObj(1, &in.model.emplace());
                     }) &&
                 in.dataset.has_value() != in.model.has_value();
        });
      case 3:
        return Arr([&] {
          ComputeOutput& o = out->outputs.emplace_back();
          return Obj(kOutput, [&](size_t k) { return Str(k == 0 ? &o.location : &o.artifact); }) &&
                 !o.location.empty();
        });
      case 4:
        out->user.emplace();
        return Obj(kUser, [&](size_t k) {
          return k == 0 ? Str(&out->user->jurisdiction) : Enum(kProvenance, &out->user->provenance);
        });
      default:
        out->prompt_classes.emplace();
        return Obj(kPrompt, [&](size_t k) {
          return k == 0 ? StrList(&*out->prompt_classes) : Num(&out->prompt_cumulative_subjects);
        });
    }
  });
}

bool FastJson::Decode(Request* r) {
  static constexpr std::array<std::string_view, 13> kKeys = {
      "kind",    "action",   "now",      "destination", "operator", "recipient", "transfer",
      "purpose", "use_case", "evidence", "dataset",     "model",    "compute"};
  static constexpr std::array<std::string_view, 3> kKinds = {"dataset", "model", "compute"};
  static constexpr std::array<std::string_view, 9> kActions = {
      "store", "transfer", "deploy", "serve", "train", "fine_tune", "process", "evaluate", "infer"};
  static constexpr std::array<std::string_view, 4> kTransfer = {"type", "pattern",
                                                                "retention_hours", "transaction"};
  static constexpr std::array<std::string_view, 3> kTransferTypes = {"entrustment", "storage",
                                                                     "provision"};
  static constexpr std::array<std::string_view, 2> kPatterns = {"occasional", "systematic"};
  static constexpr std::array<std::string_view, 4> kTransactions = {"data_brokerage", "vendor",
                                                                    "employment", "investment"};
  bool kind = false;
  const bool ok = Obj(kKeys, [&](size_t i) {
    switch (i) {
      case 0:
        if (!Enum(kKinds, &scratch_)) return false;
        kind = true;
        r->kind = scratch_ == "dataset" ? Request::Kind::kDataset
                  : scratch_ == "model" ? Request::Kind::kModel
                                        : Request::Kind::kCompute;
        return true;
      case 1:
        return Enum(kActions, &r->action);
      case 2:
        return Time(&r->now);
      case 3:
        return Str(&r->destination);
      case 4:
        return PartyObj(true, &r->operator_party.emplace());
      case 5:
        return PartyObj(false, &r->recipient.emplace());
      case 6:
        return Obj(kTransfer, [&](size_t k) {
          switch (k) {
            case 0:
              return Enum(kTransferTypes, &r->transfer.type);
            case 1:
              return Enum(kPatterns, &r->transfer.pattern);
            case 2:
              return Num(&r->transfer.retention_hours);
            default:
              return Enum(kTransactions, &r->transfer.transaction);
          }
        });
      case 7:
        return Str(&r->purpose);
      case 8:
        return Str(&r->use_case);
      case 9:
        return EvidenceList(&r->evidence);
      case 10:
        return DatasetObj(1, &r->dataset.emplace());
      case 11:
        return ModelObj(1, &r->model.emplace());
      default:
        return ComputeObj(&r->compute.emplace());
    }
  });
  if (!ok || !kind) return false;
  Ws();
  return p_ == end_ && CheckRequestShape(r).ok();
}

}  // namespace

bool DecodeJsonFast(std::string_view text, const RequestLimits& limits, Request* r) {
  return FastJson(text, limits).Decode(r);
}

}  // namespace residency::eval_internal
