// Per-request tagging: the fast path of an inference gateway (docs/tagging.md).
//
// A request view (headers, peer address, authenticated tenant, payload chunks) is turned into a
// small tag set (`ORIGIN:class`), each tag with a provenance, plus the user's jurisdiction, the
// detectors that fired and a scan status. The work is split in two stages:
//   * metadata: table lookups only (configured header names, ISO country table, tenant table,
//     IPv4/IPv6 longest-prefix match compiled from CIDR lists);
//   * payload: SIMD byte classification (scalar, SSE4.2, AVX2 kernels picked once by CPU
//     detection, `RESIDENCY_FORCE_KERNEL=scalar|sse42|avx2` overrides) yields candidate
//     positions, which shared scalar verifiers confirm. Full-width forms and JSON `\u` escapes go
//     through a normalising slow path. Past the byte budget the `unscanned` class is added and
//     the status is `truncated`.
//
// A `TaggerPlan` is immutable once compiled (share it between threads); each thread owns a
// `TagScratch`. `TagRequest()` never allocates and never throws.
#ifndef RESIDENCY_TAGGING_H_
#define RESIDENCY_TAGGING_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace residency::tagging {

// Where a piece of the result comes from, strongest first when choosing the user's
// jurisdiction: verified (authenticated tenant, socket peer), claimed (client headers), inferred
// (payload, or a default origin). kNone: no source.
enum class Provenance : uint8_t { kNone = 0, kInferred = 1, kClaimed = 2, kVerified = 3 };
const char* ProvenanceName(Provenance p);  // "verified" | "claimed" | "inferred" | "none"

enum class ScanStatus : uint8_t { kComplete = 0, kTruncated = 1, kError = 2 };
const char* ScanStatusName(ScanStatus s);  // "complete" | "truncated" | "error"

// The fixed detector names (docs/tagging.md), in output order.
enum class Detector : uint8_t {
  kKrRrn = 0,
  kKrFrn = 1,
  kKrPhone = 2,
  kEmail = 3,
  kCard = 4,
  kKrRrnKeyword = 5,
};
inline constexpr int kNumDetectors = 6;
const char* DetectorName(Detector d);  // "kr_rrn", "kr_frn", ...

// The data classes the tagger can emit (built-in classes of policies/README.md), in bytewise
// order of their names.
enum class DataClass : uint8_t {
  kKrRrn = 0,              // "kr.rrn"
  kPersonal = 1,           // "personal"
  kPersonalFinancial = 2,  // "personal.financial"
  kPersonalUniqueId = 3,   // "personal.unique_id"
  kUnscanned = 4,          // "unscanned"
};
inline constexpr int kNumDataClasses = 5;
const char* DataClassName(DataClass c);

// An ISO 3166-1 alpha-2 country (or the configured unknown origin), as two ASCII capitals.
// Default-constructed: none.
struct Country {
  char code[2] = {0, 0};
  bool has_value() const { return code[0] != 0; }
  std::string_view view() const { return has_value() ? std::string_view(code, 2) : ""; }
  friend bool operator==(Country a, Country b) {
    return a.code[0] == b.code[0] && a.code[1] == b.code[1];
  }
  friend bool operator!=(Country a, Country b) { return !(a == b); }
};

// True when `code` is an assigned ISO 3166-1 alpha-2 code (exactly two ASCII capitals).
bool IsIsoCountry(std::string_view code);

// A binary IPv4 or IPv6 address (IPv4-mapped IPv6 addresses are stored as IPv4).
struct IpAddress {
  enum class Family : uint8_t { kNone, kV4, kV6 };
  Family family = Family::kNone;
  uint8_t bytes[16] = {};  // v4: first 4 bytes, network order
  // Parses a textual address ("203.0.113.7", "2001:db8::1"); no allocation. False on bad input.
  static bool Parse(std::string_view text, IpAddress* out);
};

struct Header {
  std::string_view name;  // compared ASCII case-insensitively
  std::string_view value;
};

// One request as the gateway sees it. Every part is optional (empty / kNone).
struct RequestView {
  absl::Span<const Header> headers;
  IpAddress peer;                              // the socket peer (or trusted-proxy result)
  std::string_view tenant;                     // the authenticated tenant id, empty if none
  absl::Span<const std::string_view> payload;  // body chunks, in order; tagged as one buffer
};

struct Tag {
  Country origin;
  DataClass data_class = DataClass::kPersonal;
  // The provenance of the tag's origin: the user's jurisdiction's provenance when the origin is
  // the user's; kInferred when the origin was defaulted (KR for kr_* detectors, or the unknown
  // origin). The class itself always comes from the payload scan.
  Provenance provenance = Provenance::kInferred;
  std::string ToString() const;  // "KR:kr.rrn" (allocates; not for the hot path)
};

// At most one tag per (class, origin); with one user origin and the KR default this stays small.
inline constexpr int kMaxTags = 2 * kNumDataClasses;

struct TagResult {
  Tag tags[kMaxTags];
  uint8_t num_tags = 0;         // tags[0..num_tags) unique, sorted bytewise by ToString()
  uint8_t detectors = 0;        // bit (1 << Detector): a match passed that detector's verifier
  uint8_t high_confidence = 0;  // bit (1 << Detector): checksum passed or keyword context seen
  uint8_t classes = 0;          // bit (1 << DataClass): the classes of all tags
  ScanStatus status = ScanStatus::kComplete;
  uint32_t bytes_scanned = 0;  // payload bytes the result covers (min(total, budget))
  Country user;                // the user's jurisdiction, none when unknown
  Provenance user_provenance = Provenance::kNone;
  enum class UserSource : uint8_t {
    kNone,
    kTenant,
    kPeer,
    kHeader
  } user_source = UserSource::kNone;

  absl::Span<const Tag> tag_span() const { return absl::MakeConstSpan(tags, num_tags); }
  bool has_detector(Detector d) const { return detectors & (1u << static_cast<int>(d)); }
  bool has_class(DataClass c) const { return classes & (1u << static_cast<int>(c)); }
};

// What the decision engine needs to build an inference request (`compute.user` and
// `compute.prompt.classes` of docs/requests.md). Allocates; call it off the per-byte hot path.
struct InferenceFacts {
  std::optional<std::string> user_jurisdiction;    // "KR", or nullopt when unknown
  Provenance user_provenance = Provenance::kNone;  // kNone exactly when unknown
  std::vector<std::string> classes;                // sorted, unique: {"kr.rrn", "personal"}
  std::vector<std::string> tags;                   // sorted, unique: {"KR:kr.rrn", ...}
};
InferenceFacts ToInferenceFacts(const TagResult& result);

struct TaggerOptions {
  // "", "scalar", "sse42", "avx2". Empty: the RESIDENCY_FORCE_KERNEL environment variable if set,
  // else the best kernel the CPU supports. A kernel the CPU lacks is an error.
  std::string force_kernel;
};

namespace internal {
struct PlanData;
}

// The compiled, immutable form of a `kind: tagging` file (policies/tagging.yaml; the format is
// described in docs/tagging.md). Thread-safe to share.
class TaggerPlan {
 public:
  // `source_name` prefixes error messages: "<source_name>:LINE:COL: error: ...".
  static absl::StatusOr<TaggerPlan> Compile(std::string_view yaml_text,
                                            std::string_view source_name,
                                            const TaggerOptions& options = {});
  static absl::StatusOr<TaggerPlan> Load(const std::string& path,
                                         const TaggerOptions& options = {});

  TaggerPlan(TaggerPlan&&) noexcept;
  TaggerPlan& operator=(TaggerPlan&&) noexcept;
  ~TaggerPlan();

  const char* kernel_name() const;  // "scalar" | "sse42" | "avx2"
  // The configuration's name and text as compiled: Compile(source_text(), source_name()) makes
  // the same plan again (e.g. in another process).
  std::string_view source_name() const;
  std::string_view source_text() const;
  size_t max_scan_bytes() const;
  const internal::PlanData& data() const { return *data_; }

 private:
  explicit TaggerPlan(std::unique_ptr<internal::PlanData> data);
  std::unique_ptr<internal::PlanData> data_;
};

// Per-thread working memory, sized for a plan's byte budget. Allocated once, reused by
// TagRequest().
class TagScratch {
 public:
  explicit TagScratch(const TaggerPlan& plan);
  TagScratch(TagScratch&&) noexcept;
  TagScratch& operator=(TagScratch&&) noexcept;
  ~TagScratch();
  size_t capacity() const { return capacity_; }

  struct Buffers;
  Buffers& buffers() { return *buffers_; }

 private:
  size_t capacity_ = 0;
  std::unique_ptr<Buffers> buffers_;
};

// Tags one request. No heap allocation, no exceptions. A scratch smaller than the plan's budget
// gives status kError and the fail-closed `unscanned` class.
TagResult TagRequest(const TaggerPlan& plan, const RequestView& request,
                     TagScratch& scratch) noexcept;

// ---------------------------------------------------------------------------------------------
// The JSON-lines request format of `residency tag` (docs/tagging.md), as the CLI, the decision
// service and the fuzzer read it:
// {"headers": {...}, "peer": "IP", "tenant": "ID", "payload": "..." | ["chunk", ...]}, every
// field optional; unknown keys, duplicate keys, wrong types and deep nesting are errors.

// A parsed request that owns its bytes; view() points into it (keep it alive while tagging).
struct OwnedRequest {
  std::vector<std::string> header_storage;  // name, value, name, value, ...
  std::vector<Header> headers;
  std::vector<std::string> chunk_storage;
  std::vector<std::string_view> chunks;
  std::string tenant;
  IpAddress peer;
  RequestView view() const;
};

// Parses one line. Returns "" on success, else a one-line lowercase error message.
std::string ParseRequestLine(std::string_view line, OwnedRequest* out);

// The output line for a result: {"tags", "detectors", "provenance", "status", "bytes_scanned",
// "user"} (no trailing newline).
std::string RenderResultLine(const TagResult& r);

// The error line for input line `lineno`: {"line": N, "error": "..."}.
std::string RenderErrorLine(long lineno, const std::string& error);

}  // namespace residency::tagging

#endif  // RESIDENCY_TAGGING_H_
