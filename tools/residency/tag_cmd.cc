// `residency tag --config FILE [INPUT.jsonl]`: tags one request per input line (SPEC §9).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "residency/tagging.h"

namespace residency::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
namespace tg = residency::tagging;

constexpr int kMaxDepth = 32;

// Parses one line; rejects duplicate keys and deep nesting. Empty string on success.
std::string ParseLine(const std::string& line, json* out) {
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    if (depth > kMaxDepth && problem.empty()) problem = "nesting is too deep";
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() &&
            !keys.back().insert(parsed.get<std::string>()).second && problem.empty()) {
          problem = "duplicate key `" + parsed.get<std::string>() + "`";
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
    *out = json::parse(line, cb);
  } catch (const json::parse_error& e) {
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

struct Owned {
  std::vector<std::string> header_storage;
  std::vector<tg::Header> headers;
  std::vector<std::string> chunk_storage;
  std::vector<std::string_view> chunks;
  std::string tenant;
  tg::IpAddress peer;
};

std::string Extract(const json& j, Owned* o) {
  if (!j.is_object()) return "a request must be a json object";
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (k == "headers") {
      if (!v.is_object()) return "`headers` must be an object of strings";
      for (auto h = v.begin(); h != v.end(); ++h) {
        if (!h.value().is_string()) return "header `" + h.key() + "` must be a string";
        o->header_storage.push_back(h.key());
        o->header_storage.push_back(h.value().get<std::string>());
      }
    } else if (k == "peer") {
      if (!v.is_string()) return "`peer` must be a string";
      const std::string s = v.get<std::string>();
      if (!tg::IpAddress::Parse(s, &o->peer)) return "`peer` `" + s + "` is not an ip address";
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
      return "unknown key `" + k + "` (headers, peer, tenant, payload)";
    }
  }
  for (size_t i = 0; i + 1 < o->header_storage.size(); i += 2) {
    o->headers.push_back({o->header_storage[i], o->header_storage[i + 1]});
  }
  for (const std::string& c : o->chunk_storage) o->chunks.emplace_back(c);
  return "";
}

ordered_json Render(const tg::TagResult& r) {
  ordered_json out = ordered_json::object();
  ordered_json tags = ordered_json::array();
  ordered_json prov = ordered_json::object();
  for (const tg::Tag& t : r.tag_span()) {
    tags.push_back(t.ToString());
    prov[t.ToString()] = tg::ProvenanceName(t.provenance);
  }
  ordered_json detectors = ordered_json::array();
  for (int i = 0; i < tg::kNumDetectors; ++i) {
    if (r.detectors & (1u << i))
      detectors.push_back(tg::DetectorName(static_cast<tg::Detector>(i)));
  }
  out["tags"] = std::move(tags);
  out["detectors"] = std::move(detectors);
  out["provenance"] = std::move(prov);
  out["status"] = tg::ScanStatusName(r.status);
  out["bytes_scanned"] = r.bytes_scanned;
  ordered_json user = ordered_json::object();
  if (r.user.has_value()) {
    user["jurisdiction"] = std::string(r.user.view());
    user["provenance"] = tg::ProvenanceName(r.user_provenance);
  } else {
    user["jurisdiction"] = nullptr;
    user["provenance"] = nullptr;
  }
  out["user"] = std::move(user);
  return out;
}

}  // namespace

int RunTag(int argc, char** argv) {
  CLI::App app{
      "Tag inference requests, one JSON object per input line (SPEC §9).\n"
      "Input lines: {\"headers\": {...}, \"peer\": \"IP\", \"tenant\": \"ID\", "
      "\"payload\": \"...\" | [\"chunk\", ...]}, every field optional.\n"
      "Exit status: 0 every line tagged, 2 bad config or any bad line.",
      "residency tag"};
  std::string config;
  std::string input = "-";
  app.add_option("--config", config, "tagging configuration (kind: tagging)")->required();
  app.add_option("input", input, "JSON-lines requests (default: stdin)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "residency tag: %s\n", e.what());
    return kExitCannotRun;
  }
  auto plan = tg::TaggerPlan::Load(config);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", std::string(plan.status().message()).c_str());
    return kExitCannotRun;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "residency tag: cannot open `%s`\n", input.c_str());
      return kExitCannotRun;
    }
    in = &file;
  }
  tg::TagScratch scratch(*plan);
  std::string line;
  long lineno = 0;
  bool bad = false;
  while (std::getline(*in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json j;
    Owned owned;
    std::string err = ParseLine(line, &j);
    if (err.empty()) err = Extract(j, &owned);
    if (!err.empty()) {
      bad = true;
      ordered_json e = ordered_json::object();
      e["line"] = lineno;
      e["error"] = err;
      std::cout << e.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << '\n';
      continue;
    }
    tg::RequestView view;
    view.headers = owned.headers;
    view.peer = owned.peer;
    view.tenant = owned.tenant;
    view.payload = owned.chunks;
    const tg::TagResult r = tg::TagRequest(*plan, view, scratch);
    std::cout << Render(r).dump(-1, ' ', false, ordered_json::error_handler_t::replace) << '\n';
  }
  if (in->bad()) {
    std::fprintf(stderr, "residency tag: cannot read `%s`\n", input.c_str());
    return kExitCannotRun;
  }
  std::cout.flush();
  return bad ? kExitCannotRun : kExitOk;
}

}  // namespace residency::cli
