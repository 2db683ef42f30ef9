// Signed-note, checkpoint and tlog-proof parsers: accepted notes and checkpoints must serialise
// back to exactly the input; nothing may crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "audit/codec.h"
#include "audit/note.h"
#include "audit/verify.h"

namespace {
constexpr char kVkey[] = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace residency::audit;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto note = ParseNote(in);
  if (note.ok()) {
    std::string again = note->text + "\n";
    for (const auto& s : note->signatures) {
      std::string blob;
      PutU32(&blob, s.key_hash);
      blob += s.signature;
      absl::StrAppend(&again, "\xE2\x80\x94 ", s.name, " ", Base64Encode(blob), "\n");
    }
    if (again != in) std::abort();
    auto verifier = NoteVerifier::FromVkey(kVkey);
    if (!verifier.ok()) std::abort();
    (void)VerifyNote(*note, {verifier->get()});
    auto cp = ParseCheckpointText(note->text);
    if (cp.ok()) {
      std::string text = FormatCheckpointText(cp->origin, cp->size, cp->root);
      for (const auto& e : cp->extensions) absl::StrAppend(&text, e, "\n");
      if (text != note->text) std::abort();
    }
  }
  (void)CheckProof(in, {kVkey});
  return 0;
}
