// Request parsing: JSON (nlohmann) or YAML (yaml-cpp) -> a JSON tree with duplicate keys
// rejected -> strictly decoded Request. Errors name the field path and, for YAML and JSON syntax
// errors, line:col. JSON goes first through a fast path (request_fast_json.cc) that decodes the
// text straight into the Request and hands anything unusual or wrong back to the general path.
#include "eval/request_parse.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "internal/status_macros.h"
#include "internal/text_util.h"
#include "internal/time_util.h"
#include "internal/yaml_util.h"
#include "residency/request.h"

namespace residency {
namespace {

using Json = nlohmann::json;

struct Marks {
  std::map<std::string, std::pair<int, int>> by_path;  // YAML only: path -> 1-based line, col
};

// The field an error is about, kept apart from its message (LocateRequestError).
constexpr char kFieldPayload[] = "type.residency/request.field";

std::string Where(const Marks* marks, const std::string& path) {
  if (marks) {
    auto it = marks->by_path.find(path);
    if (it != marks->by_path.end()) {
      return absl::StrCat(it->second.first, ":", it->second.second, ": ");
    }
  }
  return "";
}

absl::Status FieldError(const Marks* marks, const std::string& path, const std::string& msg) {
  absl::Status s = absl::InvalidArgumentError(
      absl::StrCat(Where(marks, path), "`", path.empty() ? "request" : path, "`: ", msg));
  if (!path.empty()) s.SetPayload(kFieldPayload, absl::Cord(path));
  return s;
}

// ---- YAML -> Json ------------------------------------------------------------------------

absl::Status YamlToJson(const YAML::Node& n, const std::string& path, int depth, int max_depth,
                        Json* out, Marks* marks) {
  if (depth > max_depth) {
    return FieldError(marks, path, absl::StrCat("nested deeper than ", max_depth));
  }
  marks->by_path[path] = {n.Mark().line + 1, n.Mark().column + 1};
  if (n.IsNull()) {
    *out = nullptr;
  } else if (n.IsScalar()) {
    *out = n.Scalar();
  } else if (n.IsSequence()) {
    *out = Json::array();
    size_t i = 0;
    for (const auto& e : n) {
      Json child;
      RESIDENCY_RETURN_IF_ERROR(
          YamlToJson(e, absl::StrCat(path, "[", i++, "]"), depth + 1, max_depth, &child, marks));
      out->push_back(std::move(child));
    }
  } else if (n.IsMap()) {
    *out = Json::object();
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return FieldError(marks, path, "keys must be strings");
      const std::string& key = it->first.Scalar();
      std::string child_path = path.empty() ? key : absl::StrCat(path, ".", key);
      if (out->contains(key)) {
        marks->by_path[child_path] = {it->first.Mark().line + 1, it->first.Mark().column + 1};
        return FieldError(marks, child_path, "duplicate key");
      }
      Json child;
      RESIDENCY_RETURN_IF_ERROR(
          YamlToJson(it->second, child_path, depth + 1, max_depth, &child, marks));
      (*out)[key] = std::move(child);
    }
  }
  return absl::OkStatus();
}

// ---- JSON with duplicate-key rejection ------------------------------------------------------

absl::StatusOr<Json> ParseJsonStrict(std::string_view text, int max_depth) {
  std::vector<std::set<std::string>> keys;
  std::vector<std::string> path;
  std::string duplicate;
  bool too_deep = false;
  Json::parser_callback_t cb = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        keys.emplace_back();
        if (depth > max_depth) too_deep = true;
        break;
      case Json::parse_event_t::array_start:
        keys.emplace_back();
        if (depth > max_depth) too_deep = true;
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key: {
        std::string k = parsed.get<std::string>();
        if (!keys.empty() && !keys.back().insert(k).second && duplicate.empty()) duplicate = k;
        break;
      }
      default:
        break;
    }
    return !too_deep;
  };
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true);
  } catch (const Json::parse_error& e) {
    // Byte offset -> line:col.
    size_t off = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    int line = 1, col = 1;
    for (size_t i = 0; i < off; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string msg = e.what();
    auto pos = msg.find("parse error");
    if (pos != std::string::npos) msg = msg.substr(pos);
    return absl::InvalidArgumentError(absl::StrCat(line, ":", col, ": malformed JSON: ", msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed JSON: ", e.what()));
  }
  if (too_deep) {
    return absl::InvalidArgumentError(absl::StrCat("request nests deeper than ", max_depth));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("duplicate key `", duplicate, "`"));
  }
  return j;
}

// Shape checks that make a decoded request usable at all (both JSON paths and YAML).
absl::Status CheckShape(const Marks* marks, Request* r) {
  switch (r->kind) {
    case Request::Kind::kDataset:
      if (!r->dataset) return FieldError(marks, "dataset", "is required for kind dataset");
      if (r->model || r->compute) return FieldError(marks, "", "kind dataset takes only `dataset`");
      if (!r->action.empty() && r->action != "store" && r->action != "transfer") {
        return FieldError(marks, "action", "a dataset request's action is store or transfer");
      }
      break;
    case Request::Kind::kModel:
      if (!r->model) return FieldError(marks, "model", "is required for kind model");
      if (r->dataset || r->compute) return FieldError(marks, "", "kind model takes only `model`");
      if (!r->action.empty() && r->action != "store" && r->action != "transfer" &&
          r->action != "deploy" && r->action != "serve") {
        return FieldError(marks, "action",
                          "a model request's action is store, transfer, deploy or serve");
      }
      break;
    case Request::Kind::kCompute:
      if (!r->compute) return FieldError(marks, "compute", "is required for kind compute");
      if (r->dataset || r->model) {
        return FieldError(marks, "", "kind compute takes its artifacts as `compute.inputs`");
      }
      if (r->compute->job.empty()) return FieldError(marks, "compute.job", "is required");
      if (r->compute->location.empty()) return FieldError(marks, "compute.location", "is required");
      {
        static const std::map<std::string, std::string> kJobAction = {{"training", "train"},
                                                                      {"fine_tune", "fine_tune"},
                                                                      {"batch", "process"},
                                                                      {"evaluate", "evaluate"},
                                                                      {"inference", "infer"}};
        const std::string& want = kJobAction.at(r->compute->job);
        if (!r->action.empty() && r->action != want) {
          return FieldError(marks, "action",
                            absl::StrCat("`", r->action, "` disagrees with compute.job `",
                                         r->compute->job, "` (want `", want, "`)"));
        }
        r->action = want;
      }
      break;
  }
  return absl::OkStatus();
}

// ---- Decoding --------------------------------------------------------------------------------

class Decoder {
 public:
  Decoder(const Marks* marks, const RequestLimits& limits) : marks_(marks), limits_(limits) {}

  absl::Status Decode(const Json& j, Request* r);

 private:
  using Handler = std::function<absl::Status(const Json&, const std::string&)>;
  // Calls the handler of every key; unknown keys are errors.
  absl::Status Object(const Json& j, const std::string& path,
                      const std::vector<std::pair<const char*, Handler>>& handlers);
  absl::Status Str(const Json& j, const std::string& path, std::string* out);
  absl::Status OptStr(const Json& j, const std::string& path, std::optional<std::string>* out);
  absl::Status Num(const Json& j, const std::string& path, std::optional<double>* out);
  absl::Status Time(const Json& j, const std::string& path, std::optional<absl::Time>* out);
  absl::Status StrList(const Json& j, const std::string& path, std::vector<std::string>* out);
  absl::Status Attributes(const Json& j, const std::string& path, AttributeMap* out);
  absl::Status EvidenceList(const Json& j, const std::string& path, std::vector<Evidence>* out);
  absl::Status PartyObj(const Json& j, const std::string& path, bool is_operator, Party* out);
  absl::Status DatasetObj(const Json& j, const std::string& path, int depth, Dataset* out);
  absl::Status ModelObj(const Json& j, const std::string& path, int depth, Model* out);
  absl::Status ComputeObj(const Json& j, const std::string& path, Compute* out);
  absl::Status Count(const std::string& path);
  // Calls `each(element, element_path)` for every element of the list `j` of `what`.
  template <typename F>
  absl::Status List(const Json& j, const std::string& path, const char* what, F&& each) {
    if (!j.is_array()) return FieldError(marks_, path, absl::StrCat("must be a list of ", what));
    size_t i = 0;
    for (const auto& e : j) RESIDENCY_RETURN_IF_ERROR(each(e, absl::StrCat(path, "[", i++, "]")));
    return absl::OkStatus();
  }
  absl::Status Enum(const Json& j, const std::string& path, const std::vector<std::string>& allowed,
                    std::string* out);

  const Marks* marks_;
  RequestLimits limits_;
  size_t items_ = 0;
};

std::string Child(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

absl::Status Decoder::Count(const std::string& path) {
  if (++items_ > limits_.max_items) {
    return FieldError(marks_, path, absl::StrCat("more than ", limits_.max_items, " items"));
  }
  return absl::OkStatus();
}

absl::Status Decoder::Object(const Json& j, const std::string& path,
                             const std::vector<std::pair<const char*, Handler>>& handlers) {
  if (!j.is_object()) return FieldError(marks_, path, "must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Handler* h = nullptr;
    for (const auto& [name, fn] : handlers) {
      if (it.key() == name) {
        h = &fn;
        break;
      }
    }
    std::string child = Child(path, it.key().c_str());
    if (!h) {
      std::string known;
      std::vector<std::string> names;
      for (const auto& [name, fn] : handlers) {
        absl::StrAppend(&known, known.empty() ? "" : ", ", name);
        names.emplace_back(name);
      }
      std::string hint = internal::DidYouMean(it.key(), names);
      return FieldError(marks_, child,
                        absl::StrCat("unknown key", hint.empty() ? "" : " (did you mean `", hint,
                                     hint.empty() ? "" : "`?)", " (known here: ", known, ")"));
    }
    if (it.value().is_null()) continue;  // an explicit null is the same as absent
    RESIDENCY_RETURN_IF_ERROR((*h)(it.value(), child));
  }
  return absl::OkStatus();
}

absl::Status Decoder::Str(const Json& j, const std::string& path, std::string* out) {
  if (!j.is_string()) return FieldError(marks_, path, "must be a string");
  *out = j.get<std::string>();
  return absl::OkStatus();
}

absl::Status Decoder::OptStr(const Json& j, const std::string& path,
                             std::optional<std::string>* out) {
  std::string s;
  RESIDENCY_RETURN_IF_ERROR(Str(j, path, &s));
  *out = std::move(s);
  return absl::OkStatus();
}

absl::Status Decoder::Enum(const Json& j, const std::string& path,
                           const std::vector<std::string>& allowed, std::string* out) {
  RESIDENCY_RETURN_IF_ERROR(Str(j, path, out));
  for (const auto& a : allowed)
    if (*out == a) return absl::OkStatus();
  std::string list;
  for (const auto& a : allowed) absl::StrAppend(&list, list.empty() ? "" : ", ", a);
  return FieldError(marks_, path, absl::StrCat("`", *out, "` is not one of ", list));
}

absl::Status Decoder::Num(const Json& j, const std::string& path, std::optional<double>* out) {
  double v;
  if (j.is_number()) {
    v = j.get<double>();
  } else if (j.is_string() && marks_) {
    // YAML scalars arrive as text.
    const std::string& s = j.get_ref<const std::string&>();
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size())
      return FieldError(marks_, path, "must be a number");
  } else {
    return FieldError(marks_, path, "must be a number");
  }
  if (!std::isfinite(v) || v < 0) return FieldError(marks_, path, "must be a finite number >= 0");
  *out = v;
  return absl::OkStatus();
}

absl::Status Decoder::Time(const Json& j, const std::string& path, std::optional<absl::Time>* out) {
  std::string s;
  RESIDENCY_RETURN_IF_ERROR(Str(j, path, &s));
  auto t = internal::ParseTimestamp(s);
  if (!t.ok()) return FieldError(marks_, path, std::string(t.status().message()));
  *out = *t;
  return absl::OkStatus();
}

absl::Status Decoder::StrList(const Json& j, const std::string& path,
                              std::vector<std::string>* out) {
  if (!j.is_array()) return FieldError(marks_, path, "must be a list of strings");
  size_t i = 0;
  for (const auto& e : j) {
    std::string s;
    RESIDENCY_RETURN_IF_ERROR(Str(e, absl::StrCat(path, "[", i++, "]"), &s));
    out->push_back(std::move(s));
  }
  return absl::OkStatus();
}

absl::Status Decoder::Attributes(const Json& j, const std::string& path, AttributeMap* out) {
  if (!j.is_object()) return FieldError(marks_, path, "must be an object of scalars");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Json& v = it.value();
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
      if (text == "True" || text == "TRUE") text = "true";
      if (text == "False" || text == "FALSE") text = "false";
    } else if (v.is_boolean()) {
      text = v.get<bool>() ? "true" : "false";
    } else if (v.is_number()) {
      text = v.dump();
    } else {
      return FieldError(marks_, Child(path, it.key().c_str()), "attribute values must be scalars");
    }
    (*out)[it.key()] = std::move(text);
  }
  return absl::OkStatus();
}

absl::Status Decoder::EvidenceList(const Json& j, const std::string& path,
                                   std::vector<Evidence>* out) {
  return List(j, path, "evidence items", [&](const Json& e, const std::string& p) -> absl::Status {
    RESIDENCY_RETURN_IF_ERROR(Count(p));
    Evidence ev;
    RESIDENCY_RETURN_IF_ERROR(Object(
        e, p,
        {{"type", [&](const Json& v, const std::string& q) { return Str(v, q, &ev.type); }},
         {"country",
          [&](const Json& v, const std::string& q) { return OptStr(v, q, &ev.country); }},
         {"recipient",
          [&](const Json& v, const std::string& q) { return OptStr(v, q, &ev.recipient); }},
         {"origin", [&](const Json& v, const std::string& q) { return OptStr(v, q, &ev.origin); }},
         {"not_before",
          [&](const Json& v, const std::string& q) { return Time(v, q, &ev.not_before); }},
         {"not_after",
          [&](const Json& v, const std::string& q) { return Time(v, q, &ev.not_after); }},
         {"withdrawn_at",
          [&](const Json& v, const std::string& q) { return Time(v, q, &ev.withdrawn_at); }},
         {"covers",
          [&](const Json& v, const std::string& q) { return StrList(v, q, &ev.covers); }}}));
    if (ev.type.empty()) return FieldError(marks_, Child(p, "type"), "is required");
    out->push_back(std::move(ev));
    return absl::OkStatus();
  });
}

absl::Status Decoder::PartyObj(const Json& j, const std::string& path, bool is_operator,
                               Party* out) {
  std::vector<std::pair<const char*, Handler>> h = {
      {"id", [&](const Json& v, const std::string& q) { return Str(v, q, &out->id); }},
      {"country", [&](const Json& v, const std::string& q) { return Str(v, q, &out->country); }},
      {"attributes",
       [&](const Json& v, const std::string& q) { return Attributes(v, q, &out->attributes); }},
  };
  if (is_operator) {
    h.push_back({"sectors", [&](const Json& v, const std::string& q) {
                   return StrList(v, q, &out->sectors);
                 }});
  } else {
    h.push_back({"role", [&](const Json& v, const std::string& q) {
                   return Enum(v, q, {"processor", "third_party", "affiliate"}, &out->role);
                 }});
  }
  return Object(j, path, h);
}

absl::Status Decoder::DatasetObj(const Json& j, const std::string& path, int depth, Dataset* out) {
  if (depth > limits_.max_depth) {
    return FieldError(marks_, path, absl::StrCat("lineage nested deeper than ", limits_.max_depth));
  }
  RESIDENCY_RETURN_IF_ERROR(Count(path));
  return Object(
      j, path,
      {{"id", [&](const Json& v, const std::string& q) { return Str(v, q, &out->id); }},
       {"uri", [&](const Json& v, const std::string& q) { return Str(v, q, &out->uri); }},
       {"location", [&](const Json& v, const std::string& q) { return Str(v, q, &out->location); }},
       {"partitions",
        [&](const Json& v, const std::string& q) -> absl::Status {
          if (!v.is_array()) return FieldError(marks_, q, "must be a list of partitions");
          size_t i = 0;
          for (const auto& pj : v) {
            std::string p = absl::StrCat(q, "[", i++, "]");
            RESIDENCY_RETURN_IF_ERROR(Count(p));
            Partition part;
            RESIDENCY_RETURN_IF_ERROR(Object(
                pj, p,
                {{"classes", [&](const Json& x,
                                 const std::string& r) { return StrList(x, r, &part.classes); }},
                 {"origin",
                  [&](const Json& x, const std::string& r) { return Str(x, r, &part.origin); }},
                 {"subjects",
                  [&](const Json& x, const std::string& r) { return Num(x, r, &part.subjects); }},
                 {"sensitive_subjects",
                  [&](const Json& x, const std::string& r) {
                    return Num(x, r, &part.sensitive_subjects);
                  }},
                 {"cumulative_subjects", [&](const Json& x, const std::string& r) {
                    return Num(x, r, &part.cumulative_subjects);
                  }}}));
            if (part.classes.empty()) return FieldError(marks_, Child(p, "classes"), "is required");
            if (part.origin.empty()) return FieldError(marks_, Child(p, "origin"), "is required");
            out->partitions.push_back(std::move(part));
          }
          return absl::OkStatus();
        }},
       {"evidence",
        [&](const Json& v, const std::string& q) { return EvidenceList(v, q, &out->evidence); }},
       {"derived_from", [&](const Json& v, const std::string& q) {
          return List(v, q, "datasets", [&](const Json& dj, const std::string& p) {
            return DatasetObj(dj, p, depth + 1, &out->derived_from.emplace_back());
          });
        }}});
}

absl::Status Decoder::ModelObj(const Json& j, const std::string& path, int depth, Model* out) {
  if (depth > limits_.max_depth) {
    return FieldError(marks_, path, absl::StrCat("lineage nested deeper than ", limits_.max_depth));
  }
  RESIDENCY_RETURN_IF_ERROR(Count(path));
  return Object(
      j, path,
      {{"id", [&](const Json& v, const std::string& q) { return Str(v, q, &out->id); }},
       {"artifact",
        [&](const Json& v, const std::string& q) {
          return Enum(v, q, {"weights", "checkpoint", "adapter"}, &out->artifact);
        }},
       {"tier", [&](const Json& v, const std::string& q) { return Str(v, q, &out->tier); }},
       {"location", [&](const Json& v, const std::string& q) { return Str(v, q, &out->location); }},
       {"trained_on",
        [&](const Json& v, const std::string& q) {
          out->trained_on.emplace();
          return List(v, q, "datasets", [&](const Json& dj, const std::string& p) {
            return DatasetObj(dj, p, depth + 1, &out->trained_on->emplace_back());
          });
        }},
       {"base_models",
        [&](const Json& v, const std::string& q) {
          return List(v, q, "models", [&](const Json& mj, const std::string& p) {
            return ModelObj(mj, p, depth + 1, &out->base_models.emplace_back());
          });
        }},
       {"training_flops",
        [&](const Json& v, const std::string& q) { return Num(v, q, &out->training_flops); }},
       {"evidence",
        [&](const Json& v, const std::string& q) { return EvidenceList(v, q, &out->evidence); }}});
}

absl::Status Decoder::ComputeObj(const Json& j, const std::string& path, Compute* out) {
  return Object(
      j, path,
      {{"job",
        [&](const Json& v, const std::string& q) {
          return Enum(v, q, {"training", "fine_tune", "batch", "evaluate", "inference"}, &out->job);
        }},
       {"location", [&](const Json& v, const std::string& q) { return Str(v, q, &out->location); }},
       {"inputs",
        [&](const Json& v, const std::string& q) {
          return List(v, q, "inputs", [&](const Json& ij, const std::string& p) -> absl::Status {
            ComputeInput in;
            RESIDENCY_RETURN_IF_ERROR(Object(ij, p,
                                             {{"dataset",
                                               [&](const Json& x, const std::string& r) {
                                                 in.dataset.emplace();
                                                 return DatasetObj(x, r, 1, &*in.dataset);
                                               }},
                                              {"model", [&](const Json& x, const std::string& r) {
                                                 in.model.emplace();
                                                 return ModelObj(x, r, 1, &*in.model);
                                               }}}));
            if (in.dataset.has_value() == in.model.has_value()) {
              return FieldError(marks_, p, "needs exactly one of `dataset` or `model`");
            }
            out->inputs.push_back(std::move(in));
            return absl::OkStatus();
          });
        }},
       {"outputs",
        [&](const Json& v, const std::string& q) {
          return List(v, q, "outputs", [&](const Json& oj, const std::string& p) -> absl::Status {
            ComputeOutput o;
            RESIDENCY_RETURN_IF_ERROR(Object(
                oj, p,
                {{"location",
                  [&](const Json& x, const std::string& r) { return Str(x, r, &o.location); }},
                 {"artifact",
                  [&](const Json& x, const std::string& r) { return Str(x, r, &o.artifact); }}}));
            if (o.location.empty()) return FieldError(marks_, Child(p, "location"), "is required");
            out->outputs.push_back(std::move(o));
            return absl::OkStatus();
          });
        }},
       {"user",
        [&](const Json& v, const std::string& q) {
          out->user.emplace();
          return Object(
              v, q,
              {{"jurisdiction",
                [&](const Json& x, const std::string& r) {
                  return Str(x, r, &out->user->jurisdiction);
                }},
               {"provenance", [&](const Json& x, const std::string& r) {
                  return Enum(x, r, {"verified", "claimed", "inferred"}, &out->user->provenance);
                }}});
        }},
       {"prompt", [&](const Json& v, const std::string& q) {
          out->prompt_classes.emplace();
          return Object(v, q,
                        {{"classes",
                          [&](const Json& x, const std::string& r) {
                            return StrList(x, r, &*out->prompt_classes);
                          }},
                         {"cumulative_subjects", [&](const Json& x, const std::string& r) {
                            return Num(x, r, &out->prompt_cumulative_subjects);
                          }}});
        }}});
}

absl::Status Decoder::Decode(const Json& j, Request* r) {
  if (!j.is_object()) return FieldError(marks_, "", "a request must be an object");
  if (!j.contains("kind"))
    return FieldError(marks_, "kind", "is required (dataset, model or compute)");
  std::string kind;
  RESIDENCY_RETURN_IF_ERROR(Enum(j["kind"], "kind", {"dataset", "model", "compute"}, &kind));
  r->kind = kind == "dataset" ? Request::Kind::kDataset
            : kind == "model" ? Request::Kind::kModel
                              : Request::Kind::kCompute;
  RESIDENCY_RETURN_IF_ERROR(Object(
      j, "",
      {{"kind", [](const Json&, const std::string&) { return absl::OkStatus(); }},
       {"action",
        [&](const Json& v, const std::string& q) {
          return Enum(v, q,
                      {"store", "transfer", "deploy", "serve", "train", "fine_tune", "process",
                       "evaluate", "infer"},
                      &r->action);
        }},
       {"now", [&](const Json& v, const std::string& q) { return Time(v, q, &r->now); }},
       {"destination",
        [&](const Json& v, const std::string& q) { return Str(v, q, &r->destination); }},
       {"operator",
        [&](const Json& v, const std::string& q) {
          r->operator_party.emplace();
          return PartyObj(v, q, true, &*r->operator_party);
        }},
       {"recipient",
        [&](const Json& v, const std::string& q) {
          r->recipient.emplace();
          return PartyObj(v, q, false, &*r->recipient);
        }},
       {"transfer",
        [&](const Json& v, const std::string& q) {
          return Object(
              v, q,
              {{"type",
                [&](const Json& x, const std::string& p) {
                  return Enum(x, p, {"entrustment", "storage", "provision"}, &r->transfer.type);
                }},
               {"pattern",
                [&](const Json& x, const std::string& p) {
                  return Enum(x, p, {"occasional", "systematic"}, &r->transfer.pattern);
                }},
               {"retention_hours",
                [&](const Json& x, const std::string& p) {
                  return Num(x, p, &r->transfer.retention_hours);
                }},
               {"transaction", [&](const Json& x, const std::string& p) {
                  return Enum(x, p, {"data_brokerage", "vendor", "employment", "investment"},
                              &r->transfer.transaction);
                }}});
        }},
       {"purpose", [&](const Json& v, const std::string& q) { return Str(v, q, &r->purpose); }},
       {"use_case", [&](const Json& v, const std::string& q) { return Str(v, q, &r->use_case); }},
       {"evidence",
        [&](const Json& v, const std::string& q) { return EvidenceList(v, q, &r->evidence); }},
       {"dataset",
        [&](const Json& v, const std::string& q) {
          r->dataset.emplace();
          return DatasetObj(v, q, 1, &*r->dataset);
        }},
       {"model",
        [&](const Json& v, const std::string& q) {
          r->model.emplace();
          return ModelObj(v, q, 1, &*r->model);
        }},
       {"compute", [&](const Json& v, const std::string& q) {
          r->compute.emplace();
          return ComputeObj(v, q, &*r->compute);
        }}}));
  return CheckShape(marks_, r);
}

}  // namespace

std::string_view KindName(Request::Kind kind) {
  switch (kind) {
    case Request::Kind::kDataset:
      return "dataset";
    case Request::Kind::kModel:
      return "model";
    case Request::Kind::kCompute:
      return "compute";
  }
  return "dataset";
}

namespace {

absl::StatusOr<Request> Parse(std::string_view text, const RequestLimits& limits, bool fast) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request is ", text.size(), " bytes; the limit is ", limits.max_bytes));
  }
  if (size_t bad = internal::FirstNonUtf8Byte(text); bad != std::string_view::npos) {
    int line = 0, col = 0;
    internal::LineColumnAt(text, bad, &line, &col);
    return absl::InvalidArgumentError(
        absl::StrCat(line, ":", col, ": ", internal::NotUtf8Message(bad)));
  }
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return absl::InvalidArgumentError("empty request");
  Request r;
  if (text[first] == '{' || text[first] == '[') {
    if (fast) {
      if (eval_internal::DecodeJsonFast(text, limits, &r)) return r;
      r = Request();
    }
    RESIDENCY_ASSIGN_OR_RETURN(Json j, ParseJsonStrict(text, limits.max_depth));
    Decoder d(nullptr, limits);
    RESIDENCY_RETURN_IF_ERROR(d.Decode(j, &r));
    return r;
  }
  // YAML: bound flow nesting before yaml-cpp recurses.
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > limits.max_depth) {
        return absl::InvalidArgumentError(
            absl::StrCat("request nests deeper than ", limits.max_depth));
      }
    } else if (c == ']' || c == '}') {
      depth = std::max(0, depth - 1);
    }
  }
  YAML::Node root;
  internal::YamlLoadError error;
  if (!internal::LoadOneYamlDocument(std::string(text), &root, &error)) {
    switch (error.kind) {
      case internal::YamlLoadError::kSecondDocument:
        return absl::InvalidArgumentError(
            absl::StrCat(error.line, ":", error.column, ": ", error.message));
      case internal::YamlLoadError::kInternal:
        return absl::InternalError(error.message);
      case internal::YamlLoadError::kSyntax:
        break;
    }
    return absl::InvalidArgumentError(
        absl::StrCat(error.line, ":", error.column, ": malformed YAML: ", error.message));
  }
  Marks marks;
  Json j;
  try {
    RESIDENCY_RETURN_IF_ERROR(YamlToJson(root, "", 0, limits.max_depth * 2, &j, &marks));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed YAML: ", e.what()));
  } catch (const std::exception& e) {
    // Out of memory or a bug: never the request's fault.
    return absl::InternalError(absl::StrCat("internal error reading the request: ", e.what()));
  }
  Decoder d(&marks, limits);
  RESIDENCY_RETURN_IF_ERROR(d.Decode(j, &r));
  return r;
}

}  // namespace

absl::StatusOr<Request> ParseRequest(std::string_view text, const RequestLimits& limits) {
  return Parse(text, limits, /*fast=*/true);
}

namespace eval_internal {
absl::Status CheckRequestShape(Request* r) { return CheckShape(nullptr, r); }

absl::StatusOr<Request> ParseRequestGeneral(std::string_view text, const RequestLimits& limits) {
  return Parse(text, limits, /*fast=*/false);
}
}  // namespace eval_internal

RequestErrorLocation LocateRequestError(const absl::Status& status) {
  RequestErrorLocation out;
  if (auto field = status.GetPayload(kFieldPayload)) out.path = std::string(*field);
  // A positioned message starts with `line:column: `.
  std::string_view m(status.message().data(), status.message().size());
  int line = 0, column = 0;
  size_t i = 0;
  auto number = [&](int* v) {
    size_t start = i;
    while (i < m.size() && i - start < 9 && m[i] >= '0' && m[i] <= '9')
      *v = *v * 10 + (m[i++] - '0');
    return i > start;
  };
  if (number(&line) && i < m.size() && m[i] == ':' && (++i, number(&column)) && i < m.size() &&
      m[i] == ':') {
    out.line = line;
    out.column = column;
  }
  return out;
}

}  // namespace residency
