// The library's version. Thread safety: constants only.
#ifndef RESIDENCY_VERSION_H_
#define RESIDENCY_VERSION_H_

namespace residency {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr const char kVersionString[] = "0.1.0";

}  // namespace residency

#endif  // RESIDENCY_VERSION_H_
