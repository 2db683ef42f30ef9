# Install and export: headers, libresidency.a, the CLI (installed by tools/residency), a CMake
# package (residencyConfig.cmake, its version file, residencyTargets.cmake) and residency.pc.
#
#   find_package(residency CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE residency::residency)
#
#   pkg-config --cflags --libs residency
#
# The static library carries its dependencies as link-only entries naming imported targets
# (OpenSSL::Crypto, absl::*, yaml-cpp, nlohmann_json::nlohmann_json, Threads::Threads,
# PkgConfig::RE2); residencyConfig.cmake finds each of them again with find_dependency (and
# pkg_check_modules for RE2, which Debian ships only with a pkg-config file). The build-only
# targets residency_flags and residency_re2 are wrapped in $<BUILD_INTERFACE:> in
# lib/CMakeLists.txt and never reach the export.
include(CMakePackageConfigHelpers)

set(RESIDENCY_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/residency" CACHE STRING
    "Where residencyConfig.cmake is installed (relative to the prefix)")
set(RESIDENCY_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where residency.pc is installed (relative to the prefix)")

# RE2 reaches the library through residency_re2, a build-only INTERFACE target; installed
# consumers get the same pkg-config imported target, re-created by residencyConfig.cmake.
target_link_libraries(residency PRIVATE $<INSTALL_INTERFACE:PkgConfig::RE2>)

install(TARGETS residency EXPORT residencyTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# include/residency/serve/ is the API of residency_serve (the decision service behind
# `residency serve`), which is built for the CLI and not installed; its headers stay out too.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/residency
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    FILES_MATCHING PATTERN "*.h"
    PATTERN "serve" EXCLUDE)
install(EXPORT residencyTargets
    NAMESPACE residency::
    FILE residencyTargets.cmake
    DESTINATION ${RESIDENCY_INSTALL_CMAKEDIR})

configure_package_config_file(
    ${PROJECT_SOURCE_DIR}/cmake/residencyConfig.cmake.in
    ${PROJECT_BINARY_DIR}/residencyConfig.cmake
    INSTALL_DESTINATION ${RESIDENCY_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
    ${PROJECT_BINARY_DIR}/residencyConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/residencyConfig.cmake
    ${PROJECT_BINARY_DIR}/residencyConfigVersion.cmake
    DESTINATION ${RESIDENCY_INSTALL_CMAKEDIR})

# residency.pc names the prefix the tree is installed into, which `cmake --install --prefix`
# may choose at install time: the file is written when installing, then installed.
foreach(_v LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_v}}")
    set(RESIDENCY_PC_${_v} "${CMAKE_INSTALL_${_v}}")
  else()
    set(RESIDENCY_PC_${_v} "\${prefix}/${CMAKE_INSTALL_${_v}}")
  endif()
endforeach()
set(RESIDENCY_PC_PREFIX "@RESIDENCY_PC_PREFIX@")  # filled in at install time
configure_file(${PROJECT_SOURCE_DIR}/cmake/residency.pc.in
    ${PROJECT_BINARY_DIR}/residency.pc.install.in @ONLY)
install(CODE "
  set(RESIDENCY_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/residency.pc.install.in\"
                 \"${PROJECT_BINARY_DIR}/residency.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/residency.pc DESTINATION ${RESIDENCY_INSTALL_PKGCONFIGDIR})
