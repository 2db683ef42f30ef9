# All dependencies come from the distribution's packages; nothing is downloaded.
find_package(OpenSSL 3.0 REQUIRED COMPONENTS Crypto)
find_package(absl CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(nlohmann_json 3.10 CONFIG REQUIRED)
find_package(Threads REQUIRED)
# libcurl: `residency audit verify|witness|monitor` read published tiles over HTTP(S).
find_package(CURL REQUIRED)
# Debian's RE2 ships only a pkg-config file.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
if(NOT TARGET residency_re2)
  add_library(residency_re2 INTERFACE)
  target_link_libraries(residency_re2 INTERFACE PkgConfig::RE2)
endif()
# yaml-cpp 0.7's target is `yaml-cpp`; newer ones also export yaml-cpp::yaml-cpp.
if(TARGET yaml-cpp::yaml-cpp)
  set(RESIDENCY_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(RESIDENCY_YAML_TARGET yaml-cpp)
endif()
