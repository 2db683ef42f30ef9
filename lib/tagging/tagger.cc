// TagRequest(): the metadata stage, the payload stage and the tag derivation.
#include <algorithm>
#include <cstring>
#include <memory>

#include "residency/tagging.h"
#include "tagging/ip_lpm.h"
#include "tagging/plan.h"
#include "tagging/scan.h"

namespace residency::tagging {

struct TagScratch::Buffers {
  std::unique_ptr<uint8_t[]> concat;  // chunks copied together (multi-chunk payloads)
  std::unique_ptr<uint8_t[]> norm;    // the normalised copy (slow path)
  internal::BlockMasks batch[internal::kBatchBlocks];
};

const char* ProvenanceName(Provenance p) {
  switch (p) {
    case Provenance::kVerified:
      return "verified";
    case Provenance::kClaimed:
      return "claimed";
    case Provenance::kInferred:
      return "inferred";
    case Provenance::kNone:
      return "none";
  }
  return "none";
}

const char* ScanStatusName(ScanStatus s) {
  switch (s) {
    case ScanStatus::kComplete:
      return "complete";
    case ScanStatus::kTruncated:
      return "truncated";
    case ScanStatus::kError:
      return "error";
  }
  return "error";
}

const char* DetectorName(Detector d) {
  switch (d) {
    case Detector::kKrRrn:
      return "kr_rrn";
    case Detector::kKrFrn:
      return "kr_frn";
    case Detector::kKrPhone:
      return "kr_phone";
    case Detector::kEmail:
      return "email";
    case Detector::kCard:
      return "card";
    case Detector::kKrRrnKeyword:
      return "kr_rrn_keyword";
  }
  return "unknown";
}

const char* DataClassName(DataClass c) {
  switch (c) {
    case DataClass::kKrRrn:
      return "kr.rrn";
    case DataClass::kPersonal:
      return "personal";
    case DataClass::kPersonalFinancial:
      return "personal.financial";
    case DataClass::kPersonalUniqueId:
      return "personal.unique_id";
    case DataClass::kUnscanned:
      return "unscanned";
  }
  return "unscanned";
}

std::string Tag::ToString() const {
  std::string s(origin.view());
  s += ':';
  s += DataClassName(data_class);
  return s;
}

InferenceFacts ToInferenceFacts(const TagResult& result) {
  InferenceFacts f;
  if (result.user.has_value()) {
    f.user_jurisdiction = std::string(result.user.view());
    f.user_provenance = result.user_provenance;
  }
  for (int c = 0; c < kNumDataClasses; ++c) {  // enum order is bytewise order of the names
    if (result.classes & (1u << c))
      f.classes.emplace_back(DataClassName(static_cast<DataClass>(c)));
  }
  for (const Tag& t : result.tag_span()) f.tags.push_back(t.ToString());
  return f;
}

TaggerPlan::TaggerPlan(std::unique_ptr<internal::PlanData> data) : data_(std::move(data)) {}
TaggerPlan::TaggerPlan(TaggerPlan&&) noexcept = default;
TaggerPlan& TaggerPlan::operator=(TaggerPlan&&) noexcept = default;
TaggerPlan::~TaggerPlan() = default;
std::string_view TaggerPlan::source_name() const { return data_->source_name; }
std::string_view TaggerPlan::source_text() const { return data_->source_text; }
const char* TaggerPlan::kernel_name() const { return internal::KernelName(data_->kernel); }
size_t TaggerPlan::max_scan_bytes() const { return data_->max_scan_bytes; }

TagScratch::TagScratch(const TaggerPlan& plan)
    : capacity_(plan.max_scan_bytes()), buffers_(std::make_unique<Buffers>()) {
  buffers_->concat.reset(new uint8_t[capacity_ + 1]);
  buffers_->norm.reset(new uint8_t[capacity_ + 1]);
}
TagScratch::TagScratch(TagScratch&&) noexcept = default;
TagScratch& TagScratch::operator=(TagScratch&&) noexcept = default;
TagScratch::~TagScratch() = default;

namespace {

using internal::PlanData;

bool NameEquals(std::string_view header, const std::string& lower) {
  if (header.size() != lower.size()) return false;
  for (size_t i = 0; i < header.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(header[i]);
    if (c >= 'A' && c <= 'Z') c |= 0x20;
    if (c != static_cast<uint8_t>(lower[i])) return false;
  }
  return true;
}

// An ISO code in a header value: two letters, any case, surrounding spaces/tabs allowed.
bool ParseCountryValue(std::string_view v, Country* out) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() != 2) return false;
  char code[2];
  for (int i = 0; i < 2; ++i) {
    char c = v[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    code[i] = c;
  }
  if (!IsIsoCountry(std::string_view(code, 2))) return false;
  out->code[0] = code[0];
  out->code[1] = code[1];
  return true;
}

// The claimed jurisdiction from the configured headers: the first configured header present
// decides; if its occurrences disagree or one is not an ISO code, there is no claim at all.
Country ClaimedCountry(const PlanData& d, absl::Span<const Header> headers) {
  for (const internal::HeaderRule& rule : d.headers) {
    Country value;
    bool seen = false;
    for (const Header& h : headers) {
      if (!NameEquals(h.name, rule.name)) continue;
      Country c;
      if (!ParseCountryValue(h.value, &c)) return Country{};
      if (seen && c != value) return Country{};
      value = c;
      seen = true;
    }
    if (seen) return value;
  }
  return Country{};
}

constexpr uint8_t Bit(Detector d) { return 1u << static_cast<int>(d); }

struct TagBuilder {
  TagResult* r;
  void Add(Country origin, DataClass c, Provenance p) {
    for (int i = 0; i < r->num_tags; ++i) {
      if (r->tags[i].origin == origin && r->tags[i].data_class == c) return;
    }
    if (r->num_tags >= kMaxTags) return;  // cannot happen: at most 2 origins x 5 classes
    Tag& t = r->tags[r->num_tags++];
    t.origin = origin;
    t.data_class = c;
    t.provenance = p;
    r->classes |= static_cast<uint8_t>(1u << static_cast<int>(c));
  }
};

}  // namespace

TagResult TagRequest(const TaggerPlan& plan, const RequestView& request,
                     TagScratch& scratch) noexcept {
  const PlanData& d = plan.data();
  TagResult r;

  // Metadata stage: verified sources first (tenant, then peer), then claimed headers.
  struct Candidate {
    Country country;
    Provenance provenance;
    TagResult::UserSource source;
  } cands[3];
  int nc = 0;
  if (!request.tenant.empty()) {
    const auto it = d.tenants.find(absl::string_view(request.tenant.data(), request.tenant.size()));
    if (it != d.tenants.end()) {
      cands[nc++] = {it->second, Provenance::kVerified, TagResult::UserSource::kTenant};
    }
  }
  if (request.peer.family != IpAddress::Family::kNone) {
    const internal::LpmTable& t = request.peer.family == IpAddress::Family::kV4 ? d.v4 : d.v6;
    const uint32_t v = t.Lookup(internal::AddressKey(request.peer));
    if (v != internal::LpmTable::kNoValue) {
      const internal::Network& net = d.networks[v];
      cands[nc++] = {net.country, net.provenance, TagResult::UserSource::kPeer};
    }
  }
  if (!d.headers.empty() && !request.headers.empty()) {
    const Country c = ClaimedCountry(d, request.headers);
    if (c.has_value()) cands[nc++] = {c, Provenance::kClaimed, TagResult::UserSource::kHeader};
  }
  for (int i = 0; i < nc; ++i) {
    if (static_cast<int>(cands[i].provenance) > static_cast<int>(r.user_provenance)) {
      r.user = cands[i].country;
      r.user_provenance = cands[i].provenance;
      r.user_source = cands[i].source;
    }
  }

  // Payload stage.
  size_t total = 0;
  size_t nonempty = 0;
  const std::string_view* only = nullptr;
  for (const std::string_view& chunk : request.payload) {
    total += chunk.size();
    if (!chunk.empty()) {
      ++nonempty;
      only = &chunk;
    }
  }
  const size_t limit = std::min(total, d.max_scan_bytes);
  internal::ScanOutcome out;
  if (scratch.capacity() < d.max_scan_bytes) {
    r.status = ScanStatus::kError;
  } else if (limit > 0) {
    TagScratch::Buffers& buf = scratch.buffers();
    const uint8_t* text;
    if (nonempty == 1) {
      text = reinterpret_cast<const uint8_t*>(only->data());
    } else {
      size_t o = 0;
      for (const std::string_view& chunk : request.payload) {
        const size_t take = std::min(chunk.size(), limit - o);
        if (take > 0) std::memcpy(buf.concat.get() + o, chunk.data(), take);
        o += take;
        if (o == limit) break;
      }
      text = buf.concat.get();
    }
    internal::ScanBuffer(d, text, limit, /*check_slow=*/true, buf.batch, &out);
    if (out.needs_slow && !out.settled) {
      const size_t m = internal::Normalize(text, limit, buf.norm.get());
      internal::ScanOutcome norm;
      internal::ScanBuffer(d, buf.norm.get(), m, /*check_slow=*/false, buf.batch, &norm);
      out.found |= norm.found;
      out.checksum |= norm.checksum;
    }
    r.bytes_scanned = static_cast<uint32_t>(std::min<size_t>(limit, 0xFFFFFFFFu));
    if (total > limit) r.status = ScanStatus::kTruncated;
  }

  // Tag derivation.
  r.detectors = out.found;
  const bool keyword = out.found & Bit(Detector::kKrRrnKeyword);
  r.high_confidence = out.checksum & out.found;
  if (keyword) {
    r.high_confidence |= out.found & (Bit(Detector::kKrRrn) | Bit(Detector::kKrFrn));
  }
  const bool known = r.user.has_value();
  const Provenance up = r.user_provenance;
  const Country kr_origin = known ? r.user : d.default_kr;
  const Country other_origin = known ? r.user : d.unknown_origin;
  const Provenance kr_prov = known ? up : Provenance::kInferred;
  TagBuilder b{&r};
  if (out.found & Bit(Detector::kKrRrn)) b.Add(kr_origin, DataClass::kKrRrn, kr_prov);
  if (out.found & Bit(Detector::kKrFrn)) b.Add(kr_origin, DataClass::kPersonalUniqueId, kr_prov);
  if (out.found & Bit(Detector::kKrPhone)) b.Add(kr_origin, DataClass::kPersonal, kr_prov);
  if (out.found & Bit(Detector::kEmail)) b.Add(other_origin, DataClass::kPersonal, kr_prov);
  if (out.found & Bit(Detector::kCard)) {
    b.Add(other_origin, DataClass::kPersonalFinancial, kr_prov);
  }
  if (r.status != ScanStatus::kComplete) b.Add(other_origin, DataClass::kUnscanned, kr_prov);
  std::sort(r.tags, r.tags + r.num_tags, [](const Tag& x, const Tag& y) {
    const int c = std::memcmp(x.origin.code, y.origin.code, 2);
    if (c != 0) return c < 0;
    return static_cast<int>(x.data_class) < static_cast<int>(y.data_class);
  });
  return r;
}

}  // namespace residency::tagging
