#include <nlohmann/json.hpp>
#include <set>

#include "internal/text_util.h"
#include "residency/tagging.h"

namespace residency::tagging {
namespace {

// User text quoted in an error: control characters escaped, so an error stays one line.
std::string Quoted(std::string_view s) {
  std::string out = "`";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "`";
}

using nlohmann::json;
using nlohmann::ordered_json;

constexpr int kMaxDepth = 32;

// Parses with duplicate-key and depth checks. "" on success.
std::string ParseJson(std::string_view line, json* out) {
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    if (depth > kMaxDepth && problem.empty()) problem = "nesting is deeper than 32 levels";
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() &&
            !keys.back().insert(parsed.get<std::string>()).second && problem.empty()) {
          problem = "duplicate key " + Quoted(parsed.get<std::string>());
        }
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      default:
        break;
    }
    return problem.empty();
  };
  try {
    *out = json::parse(line.begin(), line.end(), cb);
  } catch (const json::exception& e) {
    if (!problem.empty()) return problem;
    std::string what = e.what();
    const size_t close = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return "malformed json: " + what;
  }
  return problem;
}

}  // namespace

RequestView OwnedRequest::view() const {
  RequestView v;
  v.headers = headers;
  v.peer = peer;
  v.tenant = tenant;
  v.payload = chunks;
  return v;
}

std::string ParseRequestLine(std::string_view line, OwnedRequest* o) {
  *o = OwnedRequest{};
  json j;
  std::string err = ParseJson(line, &j);
  if (!err.empty()) return err;
  if (!j.is_object()) return "a request must be a json object";
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "headers") {
      if (!v.is_object()) return "`headers` must be an object of strings";
      for (auto h = v.begin(); h != v.end(); ++h) {
        if (!h.value().is_string()) return "header " + Quoted(h.key()) + " must be a string";
        o->header_storage.push_back(h.key());
        o->header_storage.push_back(h.value().get<std::string>());
      }
    } else if (k == "peer") {
      if (!v.is_string()) return "`peer` must be a string";
      const std::string s = v.get<std::string>();
      if (!IpAddress::Parse(s, &o->peer)) return "`peer` " + Quoted(s) + " is not an ip address";
    } else if (k == "tenant") {
      if (!v.is_string()) return "`tenant` must be a string";
      o->tenant = v.get<std::string>();
    } else if (k == "payload") {
      if (v.is_string()) {
        o->chunk_storage.push_back(v.get<std::string>());
      } else if (v.is_array()) {
        for (const json& c : v) {
          if (!c.is_string()) return "`payload` must be a string or a list of strings";
          o->chunk_storage.push_back(c.get<std::string>());
        }
      } else {
        return "`payload` must be a string or a list of strings";
      }
    } else {
      const std::string hint =
          ::residency::internal::DidYouMean(k, {"headers", "peer", "tenant", "payload"});
      return "unknown key " + Quoted(k) + " (headers, peer, tenant, payload" +
             (hint.empty() ? "" : "; did you mean `" + hint + "`?") + ")";
    }
  }
  for (size_t i = 0; i + 1 < o->header_storage.size(); i += 2) {
    o->headers.push_back({o->header_storage[i], o->header_storage[i + 1]});
  }
  for (const std::string& c : o->chunk_storage) o->chunks.emplace_back(c);
  return "";
}

std::string RenderResultLine(const TagResult& r) {
  ordered_json out = ordered_json::object();
  ordered_json tags = ordered_json::array();
  ordered_json prov = ordered_json::object();
  for (const Tag& t : r.tag_span()) {
    tags.push_back(t.ToString());
    prov[t.ToString()] = ProvenanceName(t.provenance);
  }
  ordered_json detectors = ordered_json::array();
  for (int i = 0; i < kNumDetectors; ++i) {
    if (r.detectors & (1u << i)) detectors.push_back(DetectorName(static_cast<Detector>(i)));
  }
  out["tags"] = std::move(tags);
  out["detectors"] = std::move(detectors);
  out["provenance"] = std::move(prov);
  out["status"] = ScanStatusName(r.status);
  out["bytes_scanned"] = r.bytes_scanned;
  ordered_json user = ordered_json::object();
  if (r.user.has_value()) {
    user["jurisdiction"] = std::string(r.user.view());
    user["provenance"] = ProvenanceName(r.user_provenance);
  } else {
    user["jurisdiction"] = nullptr;
    user["provenance"] = nullptr;
  }
  out["user"] = std::move(user);
  return out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string RenderErrorLine(long lineno, const std::string& error) {
  ordered_json e = ordered_json::object();
  e["line"] = lineno;
  e["error"] = error;
  return e.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace residency::tagging
