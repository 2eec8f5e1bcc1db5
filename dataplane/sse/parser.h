// Incremental Server-Sent Events parser (WHATWG framing): accepts the byte stream in
// arbitrary pieces (one byte at a time included), handles \n, \r\n and \r line ends,
// ignores comment lines, joins multi-line data with '\n'. Not thread-safe.
#pragma once

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
    for (char c : chunk) {
      if (skipLf_) {
        skipLf_ = false;
        if (c == '\n') continue;
      }
      if (c == '\r' || c == '\n') {
        skipLf_ = (c == '\r');
        if (line_.empty()) {
          if (hasData_ || !current_.event.empty()) {
            onEvent(current_);
          }
          current_ = Event{};
          hasData_ = false;
        } else {
          processLine();
          line_.clear();
        }
      } else {
        if (line_.size() < kMaxLine) line_.push_back(c);
        else overflow_ = true;
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
