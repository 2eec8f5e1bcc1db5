// The SSE parser (dataplane/sse/parser.h), fed an upstream stream.
//
// Input: byte 0 chooses how the stream is split into pieces (fuzz_util.h pieces()); the rest
// is the stream.
// Checks: the same events (and the same partial-event state) whether the stream arrives
// whole, one byte at a time or in fuzzer-chosen pieces; event names and data hold no line
// ends other than the '\n' joining data lines; writing the events back as SSE and parsing
// that gives the same events.
#include <string>
#include <vector>

#include "dataplane/sse/parser.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using finops::sse::Event;
using finops::sse::Parser;

struct Parsed {
  std::vector<Event> events;
  bool partial = false;
  bool overflowed = false;
};

template <typename Pieces>
Parsed parse(const Pieces& pieces) {
  Parsed r;
  Parser p;
  for (std::string_view piece : pieces)
    p.feed(piece, [&](const Event& e) { r.events.push_back(e); });
  r.partial = p.hasPartialEvent();
  r.overflowed = p.overflowed();
  return r;
}

bool same(const Parsed& a, const Parsed& b) {
  if (a.events.size() != b.events.size() || a.partial != b.partial || a.overflowed != b.overflowed)
    return false;
  for (size_t i = 0; i < a.events.size(); ++i)
    if (a.events[i].event != b.events[i].event || a.events[i].data != b.events[i].data)
      return false;
  return true;
}

std::string describe(const Parsed& p) {
  std::string s =
      std::to_string(p.events.size()) + " events, partial=" + (p.partial ? "1" : "0") + ":";
  for (const Event& e : p.events) s += " [" + e.event + "|" + e.data + "]";
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t seed = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  Parsed whole = parse(std::vector<std::string_view>{stream});
  Parsed split = parse(finops::fuzz::pieces(stream, seed));
  FUZZ_CHECK(same(whole, split), "whole: " + describe(whole) + "\nsplit: " + describe(split));
  if (stream.size() <= 4096) {
    Parsed bytes = parse(finops::fuzz::pieces(stream, 0));
    FUZZ_CHECK(same(whole, bytes), "whole: " + describe(whole) + "\nbytes: " + describe(bytes));
  }

  std::string rewritten;
  for (const Event& e : whole.events) {
    FUZZ_CHECK(e.event.find_first_of("\r\n") == std::string::npos, e.event);
    FUZZ_CHECK(e.data.find('\r') == std::string::npos, e.data);
    if (!e.event.empty()) rewritten += "event: " + e.event + "\n";
    // One "data:" line per line of data (an event with a name and no data gets an empty one,
    // which parses back to the same empty data).
    std::string_view d = e.data;
    for (;;) {
      size_t nl = d.find('\n');
      rewritten += "data: ";
      rewritten += d.substr(0, nl);
      rewritten += "\n";
      if (nl == std::string_view::npos) break;
      d.remove_prefix(nl + 1);
    }
    rewritten += "\n";
  }
  Parsed again = parse(std::vector<std::string_view>{rewritten});
  FUZZ_CHECK(again.events.size() == whole.events.size(),
             "written back: " + describe(again) + "\noriginal: " + describe(whole));
  for (size_t i = 0; i < whole.events.size(); ++i) {
    FUZZ_CHECK(again.events[i].event == whole.events[i].event, whole.events[i].event);
    FUZZ_CHECK(again.events[i].data == whole.events[i].data, whole.events[i].data);
  }
  return 0;
}
