// Audit records: the canonical binary encoding (the only byte form a decoder accepts) and the
// JSON display form. Thread safety: functions are pure; RecordView is thread-compatible.
//
// Layout (all integers big-endian):
//   u8 version (=2) | u8 type | u64 index | i64 unix time ns | body
// The time is the writer's clock when the record was appended, never a caller's; within one log
// it never decreases (the writer clamps it to the previous record's time if its clock steps
// back). Version 1 took a decision's time from the request's `now`; its records
// are not decoded (the version byte is checked, nothing else of the format changed meaning).
// Bodies:
//   log_open:      str16 origin | str16 key name | str16 vkey | str16 software
//   policy_loaded: digest32 policy
//   decision:      u8 decision (1 allow, 2 allow_with_obligations, 3 escalate, 4 deny)
//                  | i64 evaluated_at (unix ns: the `now` the decision was evaluated at)
//                  | u8 n, n × str8 rule id | u16 n, n × str8 tag (strictly increasing)
//                  | digest32 request | digest32 policy | u8 has_principal (0|1) [| digest32]
//   heartbeat:     u64 decisions so far | u64 previous checkpoint size
//   key:           str16 vkey
//   recovery:      u64 records kept | u64 bytes cut | digest32 of the bytes cut
//                  | u64 last checkpoint size
//   close:         u64 decisions in the log
// str8/str16: u8/u16 length then bytes, 1..max bytes of UTF-8 without control characters.
// Nothing may follow the body.
#ifndef RESIDENCY_LIB_AUDIT_RECORD_H_
#define RESIDENCY_LIB_AUDIT_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "audit/codec.h"
#include "residency/audit.h"

namespace residency::audit {

inline constexpr uint8_t kRecordVersion = 2;
// Offsets of the index and the time in an encoded record (the writer stamps both).
inline constexpr size_t kRecordIndexOffset = 2;
inline constexpr size_t kRecordTimeOffset = 10;
inline constexpr size_t kRecordHeaderBytes = 18;
inline constexpr size_t kMaxRecordBytes = 64 * 1024;

enum class RecordType : uint8_t {
  kLogOpen = 1,
  kPolicyLoaded = 2,
  kDecision = 3,
  kHeartbeat = 4,
  kKey = 5,
  kRecovery = 6,
  kClose = 7,
};
const char* RecordTypeName(RecordType t);

// A decoded record; string views point into the encoded bytes (or into strings the caller keeps).
struct RecordView {
  RecordType type = RecordType::kDecision;
  uint64_t index = 0;
  int64_t time_ns = 0;  // the writer's clock
  // decision
  uint8_t decision = 0;
  int64_t evaluated_at_ns = 0;  // the decision's `now`
  std::vector<std::string_view> rule_ids;
  std::vector<std::string_view> tags;
  Hash request_digest{};
  Hash policy_digest{};  // also policy_loaded
  bool has_principal = false;
  Hash principal_commitment{};
  // log_open / key
  std::string_view origin, key_name, vkey, software;
  // heartbeat / close / recovery
  uint64_t count = 0;      // decisions (heartbeat, close), records kept (recovery)
  uint64_t prev_size = 0;  // previous checkpoint size (heartbeat), last checkpoint (recovery)
  uint64_t cut_bytes = 0;  // recovery
  Hash cut_digest{};       // recovery
};

// Decodes `bytes`; rejects every non-canonical form. `out` is reused (vectors keep capacity).
absl::Status DecodeRecord(std::string_view bytes, RecordView* out);
// Encodes `r` (appends to `out`); fails on values the decoder would reject.
absl::Status EncodeRecord(const RecordView& r, std::string* out);

// The time field of an encoded record (at least kRecordHeaderBytes long), and setting it.
int64_t RecordTime(std::string_view record);
void SetRecordTime(int64_t time_ns, char* record);

// Hot path: encodes a decision record straight from the public struct (appends to `out`). The
// record's time is left 0: the writer stamps it with its clock (d.now goes to evaluated_at).
absl::Status EncodeDecision(const DecisionRecord& d, uint64_t index, const Hash* principal,
                            std::string* out);
// The same with the policy digest already parsed: `policy` must be what ParsePolicyDigest makes
// of `d.policy_digest` (the writer caches it per thread; it rarely changes).
absl::Status EncodeDecision(const DecisionRecord& d, const Hash& policy, uint64_t index,
                            const Hash* principal, std::string* out);

// Decision names <-> codes; 0 when unknown.
uint8_t DecisionCode(std::string_view name);
const char* DecisionName(uint8_t code);

// Parses `sha256:<64 lowercase hex>`.
bool ParsePolicyDigest(std::string_view text, Hash* out);
std::string FormatDigest(const Hash& h);  // sha256:<hex>

// One JSON object, no trailing newline.
std::string RecordToJson(const RecordView& r);
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_RECORD_H_
