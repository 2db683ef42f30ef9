#include "audit/segment.h"

#include <algorithm>
#include <cstdio>

#include "audit/codec.h"

namespace residency::audit {
namespace {

constexpr uint64_t kMaxSegmentFile = 4ull << 30;

// True when a complete frame with a good checksum starts at `off`.
bool GoodFrameAt(std::string_view data, uint64_t off) {
  if (data.size() - off < kFrameHeader) return false;
  uint32_t len = LoadU32(data.data() + off);
  uint8_t type = static_cast<uint8_t>(data[off + 4]);
  if ((type != kFrameRecord && type != kFrameCheckpoint) || len > kMaxFramePayload ||
      data.size() - off - kFrameHeader < len) {
    return false;
  }
  uint32_t crc = LoadU32(data.data() + off + 5);
  uint32_t c = Crc32c(data.substr(off, 5));
  return Crc32c(data.substr(off + kFrameHeader, len), c) == crc;
}

void ScanSegment(std::string_view data, size_t seg_no, SegmentScan* s,
                 std::vector<FrameRef>* frames) {
  // Header.
  Reader r(data);
  std::string_view magic, origin;
  uint64_t first;
  uint16_t olen;
  uint32_t crc;
  if (!r.Bytes(8, &magic) || magic != kSegmentMagic || !r.U64(&first) || !r.U16(&olen) ||
      !r.Bytes(olen, &origin) || !r.U32(&crc) || Crc32c(data.substr(0, 8 + 8 + 2 + olen)) != crc) {
    s->header_ok = false;
    return;
  }
  s->header_ok = true;
  s->first_index = first;
  s->origin = std::string(origin);
  s->header_end = data.size() - r.remaining();
  uint64_t off = s->header_end;
  while (off < data.size()) {
    uint64_t left = data.size() - off;
    bool fits = false;
    uint32_t len = 0;
    uint8_t type = 0;
    if (left >= kFrameHeader) {
      len = LoadU32(data.data() + off);
      type = static_cast<uint8_t>(data[off + 4]);
      fits = len <= kMaxFramePayload && left - kFrameHeader >= len &&
             (type == kFrameRecord || type == kFrameCheckpoint);
    }
    if (!fits) {
      s->torn = true;
      s->torn_offset = off;
      for (uint64_t o = off + 1; o + kFrameHeader <= data.size(); ++o) {
        if (GoodFrameAt(data, o)) {
          s->resynced_after_tear = true;
          break;
        }
      }
      return;
    }
    FrameRef f;
    f.type = GoodFrameAt(data, off) ? type : 0;
    f.payload = data.substr(off + kFrameHeader, len);
    f.segment = seg_no;
    f.offset = off;
    frames->push_back(f);
    off += kFrameHeader + len;
    s->good_end = off;
  }
}

}  // namespace

std::string SegmentName(uint64_t first_index) {
  char buf[48];
  snprintf(buf, sizeof(buf), "seg-%020llu.log", static_cast<unsigned long long>(first_index));
  return buf;
}

bool ParseSegmentName(std::string_view name, uint64_t* first_index) {
  if (name.size() != 28 || name.substr(0, 4) != "seg-" || name.substr(24) != ".log") return false;
  uint64_t v = 0;
  for (char c : name.substr(4, 20)) {
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *first_index = v;
  return true;
}

std::string SegmentHeader(uint64_t first_index, std::string_view origin) {
  std::string h(kSegmentMagic);
  PutU64(&h, first_index);
  PutU16(&h, static_cast<uint16_t>(origin.size()));
  h.append(origin.data(), origin.size());
  PutU32(&h, Crc32c(h));
  return h;
}

std::string TornLastSegmentHeader(const LogFiles& files) {
  const size_t n = files.segments.size();
  if (n < 2 || files.segments[n - 1].header_ok || !files.segments[n - 2].header_ok) return "";
  std::string want =
      SegmentHeader(files.segments[n - 1].name_first_index, files.segments[n - 2].origin);
  std::string_view have = files.contents[n - 1];
  if (have.size() >= want.size() || want.compare(0, have.size(), have) != 0) return "";
  return want;
}

void FrameHeader(uint8_t type, std::string_view payload, char* out) {
  const auto n = static_cast<uint32_t>(payload.size());
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  out[4] = static_cast<char>(type);
  const uint32_t c = Crc32c(payload, Crc32c(std::string_view(out, 5)));
  out[5] = static_cast<char>(c >> 24);
  out[6] = static_cast<char>(c >> 16);
  out[7] = static_cast<char>(c >> 8);
  out[8] = static_cast<char>(c);
}

void AppendFrame(uint8_t type, std::string_view payload, std::string* out) {
  char header[kFrameHeader];
  FrameHeader(type, payload, header);
  out->append(header, kFrameHeader);
  out->append(payload.data(), payload.size());
}

absl::StatusOr<LogFiles> ReadLogFiles(FileSystem* fs, const std::string& dir) {
  auto names = fs->ListDir(dir);
  if (!names.ok()) return names.status();
  LogFiles out;
  out.dir = dir;
  std::vector<std::pair<std::string, uint64_t>> segs;
  for (const auto& n : *names) {
    uint64_t first;
    if (ParseSegmentName(n, &first)) segs.emplace_back(n, first);
  }
  std::sort(segs.begin(), segs.end());
  out.contents.reserve(segs.size());
  size_t total = 0;
  for (const auto& [n, first] : segs) {
    auto data = fs->MapFile(dir + "/" + n, kMaxSegmentFile);
    if (!data.ok()) return data.status();
    out.contents.push_back((*data)->data());
    out.data.push_back(std::move(*data));
    total += out.contents.back().size();
  }
  out.frames.reserve(total / 96 + 16);
  out.segments.resize(segs.size());
  for (size_t i = 0; i < segs.size(); ++i) {
    out.segments[i].name = segs[i].first;
    out.segments[i].name_first_index = segs[i].second;
    ScanSegment(out.contents[i], i, &out.segments[i], &out.frames);
  }
  std::string latest = dir + "/" + kLatestCheckpointFile;
  if (fs->Exists(latest)) {
    auto data = fs->ReadFile(latest, 1 << 20);
    if (!data.ok()) return data.status();
    out.has_latest = true;
    out.latest_checkpoint = std::move(*data);
  }
  return out;
}

}  // namespace residency::audit
