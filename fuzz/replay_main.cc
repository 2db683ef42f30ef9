// Replay main for gcc builds: runs LLVMFuzzerTestOneInput over every file named on the command
// line (folders are walked). A named path that does not exist is skipped with a message, so seed
// corpora under ../shared/testdata are optional, except in CI (the environment variable CI set,
// as .ci/run does), where an absent seed path fails the replay (exit 1) after the others ran.
// Exit 0 when every input ran.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0' && std::strcmp(ci, "0") != 0 && std::strcmp(ci, "false") != 0;
}

void RunFile(const std::filesystem::path& p, size_t* count) {
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ++*count;
}
}  // namespace

int main(int argc, char** argv) {
  size_t count = 0;
  int absent = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) {
      std::printf("replay: %s absent seed path %s\n", InCi() ? "CI is set, FAILING on" : "skipping",
                  argv[i]);
      ++absent;
      continue;
    }
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) RunFile(f, &count);
    } else {
      RunFile(p, &count);
    }
  }
  std::printf("replay: %zu inputs ran clean\n", count);
  return absent > 0 && InCi() ? 1 : 0;
}
