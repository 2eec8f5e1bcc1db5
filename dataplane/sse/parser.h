// Incremental Server-Sent Events parser (WHATWG framing): accepts the byte stream in
// arbitrary pieces (one byte at a time included), handles \n, \r\n and \r line ends,
// ignores comment lines, joins multi-line data with '\n'. Not thread-safe.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>

namespace finops::sse {

struct Event {
  std::string event;  // empty when no "event:" line
  std::string data;
};

class Parser {
 public:
  // Calls `onEvent` for every complete event in `chunk`.
  template <typename F>
  void feed(std::string_view chunk, F&& onEvent) {
    size_t i = 0;
    const size_t n = chunk.size();
    while (i < n) {
      if (skipLf_) {
        skipLf_ = false;
        if (chunk[i] == '\n') {
          ++i;
          continue;
        }
      }
      // Copy up to the next line end in one go.
      size_t end = i;
      while (end < n && chunk[end] != '\n' && chunk[end] != '\r') ++end;
      if (end > i) {
        size_t take = std::min(end - i, kMaxLine > line_.size() ? kMaxLine - line_.size() : 0);
        if (take < end - i) overflow_ = true;
        line_.append(chunk.data() + i, take);
      }
      if (end == n) break;
      skipLf_ = chunk[end] == '\r';
      i = end + 1;
      if (line_.empty()) {
        if (hasData_ || !current_.event.empty()) onEvent(current_);
        current_.event.clear();
        current_.data.clear();
        hasData_ = false;
      } else {
        processLine();
        line_.clear();
      }
    }
  }

  // Bytes received but not yet forming a complete event (for detecting truncation).
  bool hasPartialEvent() const { return !line_.empty() || hasData_; }
  // True if a line longer than kMaxLine was truncated.
  bool overflowed() const { return overflow_; }

  static constexpr size_t kMaxLine = 16 * 1024 * 1024;

 private:
  void processLine();

  std::string line_;
  Event current_;
  bool hasData_ = false;
  bool skipLf_ = false;
  bool overflow_ = false;
};

}  // namespace finops::sse
