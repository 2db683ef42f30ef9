# residency_component(NAME SOURCES... [DEPS ...]) defines OBJECT library residency_<NAME>.
function(residency_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(residency_${name} OBJECT ${ARG_SOURCES})
  target_include_directories(residency_${name} PUBLIC
      ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/lib)
  target_link_libraries(residency_${name} PUBLIC residency_flags
      absl::status absl::statusor absl::strings absl::time absl::span ${ARG_DEPS})
endfunction()
