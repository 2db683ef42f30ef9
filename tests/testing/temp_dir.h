// A fresh temporary directory for a test, removed with everything in it by the destructor.
#ifndef RESIDENCY_TESTS_TESTING_TEMP_DIR_H_
#define RESIDENCY_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace residency::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "residency_test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace residency::testing

#endif  // RESIDENCY_TESTS_TESTING_TEMP_DIR_H_
