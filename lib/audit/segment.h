// Segment files: `seg-<first index, 20 digits>.log`, a header then CRC-framed records and
// checkpoint notes. Thread safety: functions are pure or read files; no shared state.
//
//   header: "RSDAUDS1" | u64 first index | u16 origin length | origin | u32 crc32c(all before)
//   frame:  u32 payload length | u8 type (1 record, 2 checkpoint note)
//           | u32 crc32c(length, type, payload) | payload
#ifndef RESIDENCY_LIB_AUDIT_SEGMENT_H_
#define RESIDENCY_LIB_AUDIT_SEGMENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "audit/fs.h"

namespace residency::audit {

inline constexpr std::string_view kSegmentMagic = "RSDAUDS1";
inline constexpr size_t kFrameHeader = 9;
inline constexpr uint32_t kMaxFramePayload = 1 << 20;
inline constexpr uint8_t kFrameRecord = 1;
inline constexpr uint8_t kFrameCheckpoint = 2;
inline constexpr char kLatestCheckpointFile[] = "checkpoint";

std::string SegmentName(uint64_t first_index);
// Parses a segment file name; false when it is not one.
bool ParseSegmentName(std::string_view name, uint64_t* first_index);
std::string SegmentHeader(uint64_t first_index, std::string_view origin);
void AppendFrame(uint8_t type, std::string_view payload, std::string* out);
// Writes the kFrameHeader bytes that AppendFrame puts before `payload` to `out`.
void FrameHeader(uint8_t type, std::string_view payload, char* out);

struct FrameRef {
  uint8_t type = 0;  // 0: a frame whose checksum failed (payload is what the length said)
  std::string_view payload;
  size_t segment = 0;
  uint64_t offset = 0;
};

struct SegmentScan {
  std::string name;
  uint64_t name_first_index = 0;
  bool header_ok = false;
  uint64_t first_index = 0;  // from the header
  std::string origin;
  uint64_t header_end = 0;
  // Offset just past the last frame that parsed (good or bad checksum).
  uint64_t good_end = 0;
  // The file ends inside a frame (a torn write, or the tail was cut).
  bool torn = false;
  uint64_t torn_offset = 0;
  // Bytes after the tear that parse as a valid frame: this is corruption, not a torn tail.
  bool resynced_after_tear = false;
};

struct LogFiles {
  std::string dir;
  std::vector<std::unique_ptr<FileData>> data;  // one per segment, sorted by name
  std::vector<std::string_view> contents;       // views of `data`
  std::vector<SegmentScan> segments;
  std::vector<FrameRef> frames;  // every frame in file order
  bool has_latest = false;
  std::string latest_checkpoint;  // the `checkpoint` file
};

// A rotation cut short (kill -9 after the next segment was created, before its header was
// written) leaves a last segment whose bytes are a proper prefix of its header (usually none):
// the header it should have, or "" when the last segment is not such a torn creation.
std::string TornLastSegmentHeader(const LogFiles& files);

// Reads and frames every segment of the log in `dir`. Fails only when the directory cannot be
// read; structural problems are described in the result.
absl::StatusOr<LogFiles> ReadLogFiles(FileSystem* fs, const std::string& dir);

}  // namespace residency::audit

#endif  // RESIDENCY_LIB_AUDIT_SEGMENT_H_
