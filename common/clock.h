// Wall-clock time in milliseconds since the Unix epoch. (The system protobuf's
// TimeUtil::GetCurrentTime has one-second resolution: do not use it for "now".)
#pragma once

#include <chrono>
#include <cstdint>

namespace finops {

inline int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace finops
