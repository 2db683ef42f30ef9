// RequestToJson: a request as the JSON that ParseRequest accepts (docs/requests.md).
#include <nlohmann/json.hpp>

#include "internal/time_util.h"
#include "residency/request.h"

namespace residency {
namespace {

using Json = nlohmann::ordered_json;

Json Attributes(const AttributeMap& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) {
    if (v == "true") {
      out[k] = true;
    } else if (v == "false") {
      out[k] = false;
    } else {
      out[k] = v;
    }
  }
  return out;
}

Json PartyJson(const Party& p, bool is_operator) {
  Json out = Json::object();
  if (!p.id.empty()) out["id"] = p.id;
  if (!p.country.empty()) out["country"] = p.country;
  if (is_operator && !p.sectors.empty()) out["sectors"] = p.sectors;
  if (!is_operator && !p.role.empty()) out["role"] = p.role;
  if (!p.attributes.empty()) out["attributes"] = Attributes(p.attributes);
  return out;
}

Json EvidenceJson(const std::vector<Evidence>& list) {
  Json out = Json::array();
  for (const auto& e : list) {
    Json j = Json::object();
    j["type"] = e.type;
    if (e.country) j["country"] = *e.country;
    if (e.recipient) j["recipient"] = *e.recipient;
    if (e.origin) j["origin"] = *e.origin;
    if (e.not_before) j["not_before"] = internal::FormatTimestamp(*e.not_before);
    if (e.not_after) j["not_after"] = internal::FormatTimestamp(*e.not_after);
    if (e.withdrawn_at) j["withdrawn_at"] = internal::FormatTimestamp(*e.withdrawn_at);
    if (!e.covers.empty()) j["covers"] = e.covers;
    out.push_back(std::move(j));
  }
  return out;
}

Json DatasetJson(const Dataset& d) {
  Json out = Json::object();
  if (!d.id.empty()) out["id"] = d.id;
  if (!d.uri.empty()) out["uri"] = d.uri;
  if (!d.location.empty()) out["location"] = d.location;
  Json parts = Json::array();
  for (const auto& p : d.partitions) {
    Json j = Json::object();
    j["classes"] = p.classes;
    j["origin"] = p.origin;
    if (p.subjects) j["subjects"] = *p.subjects;
    if (p.sensitive_subjects) j["sensitive_subjects"] = *p.sensitive_subjects;
    if (p.cumulative_subjects) j["cumulative_subjects"] = *p.cumulative_subjects;
    parts.push_back(std::move(j));
  }
  out["partitions"] = std::move(parts);
  if (!d.evidence.empty()) out["evidence"] = EvidenceJson(d.evidence);
  if (!d.derived_from.empty()) {
    Json list = Json::array();
    for (const auto& x : d.derived_from) list.push_back(DatasetJson(x));
    out["derived_from"] = std::move(list);
  }
  return out;
}

Json ModelJson(const Model& m) {
  Json out = Json::object();
  if (!m.id.empty()) out["id"] = m.id;
  if (!m.artifact.empty()) out["artifact"] = m.artifact;
  if (!m.tier.empty()) out["tier"] = m.tier;
  if (!m.location.empty()) out["location"] = m.location;
  if (m.trained_on) {
    Json list = Json::array();
    for (const auto& d : *m.trained_on) list.push_back(DatasetJson(d));
    out["trained_on"] = std::move(list);
  }
  if (!m.base_models.empty()) {
    Json list = Json::array();
    for (const auto& b : m.base_models) list.push_back(ModelJson(b));
    out["base_models"] = std::move(list);
  }
  if (m.training_flops) out["training_flops"] = *m.training_flops;
  if (!m.evidence.empty()) out["evidence"] = EvidenceJson(m.evidence);
  return out;
}

}  // namespace

std::string RequestToJson(const Request& r) {
  Json j = Json::object();
  j["kind"] = std::string(KindName(r.kind));
  if (!r.action.empty()) j["action"] = r.action;
  if (r.now) j["now"] = internal::FormatTimestamp(*r.now);
  if (!r.destination.empty()) j["destination"] = r.destination;
  if (r.operator_party) j["operator"] = PartyJson(*r.operator_party, true);
  if (r.recipient) j["recipient"] = PartyJson(*r.recipient, false);
  {
    Json t = Json::object();
    if (!r.transfer.type.empty()) t["type"] = r.transfer.type;
    if (!r.transfer.pattern.empty()) t["pattern"] = r.transfer.pattern;
    if (r.transfer.retention_hours) t["retention_hours"] = *r.transfer.retention_hours;
    if (!r.transfer.transaction.empty()) t["transaction"] = r.transfer.transaction;
    if (!t.empty()) j["transfer"] = std::move(t);
  }
  if (!r.purpose.empty()) j["purpose"] = r.purpose;
  if (!r.use_case.empty()) j["use_case"] = r.use_case;
  if (!r.evidence.empty()) j["evidence"] = EvidenceJson(r.evidence);
  if (r.dataset) j["dataset"] = DatasetJson(*r.dataset);
  if (r.model) j["model"] = ModelJson(*r.model);
  if (r.compute) {
    const Compute& c = *r.compute;
    Json cj = Json::object();
    cj["job"] = c.job;
    cj["location"] = c.location;
    if (!c.inputs.empty()) {
      Json ins = Json::array();
      for (const auto& in : c.inputs) {
        Json x = Json::object();
        if (in.dataset) x["dataset"] = DatasetJson(*in.dataset);
        if (in.model) x["model"] = ModelJson(*in.model);
        ins.push_back(std::move(x));
      }
      cj["inputs"] = std::move(ins);
    }
    if (!c.outputs.empty()) {
      Json outs = Json::array();
      for (const auto& o : c.outputs) {
        Json x = Json::object();
        x["location"] = o.location;
        if (!o.artifact.empty()) x["artifact"] = o.artifact;
        outs.push_back(std::move(x));
      }
      cj["outputs"] = std::move(outs);
    }
    if (c.user) {
      Json u = Json::object();
      if (!c.user->jurisdiction.empty()) u["jurisdiction"] = c.user->jurisdiction;
      if (!c.user->provenance.empty()) u["provenance"] = c.user->provenance;
      cj["user"] = std::move(u);
    }
    if (c.prompt_classes) {
      cj["prompt"] = Json{{"classes", *c.prompt_classes}};
      if (c.prompt_cumulative_subjects) {
        cj["prompt"]["cumulative_subjects"] = *c.prompt_cumulative_subjects;
      }
    }
    j["compute"] = std::move(cj);
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace residency
