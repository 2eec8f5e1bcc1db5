#include "dataplane/sse/parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace finops::sse {
namespace {

std::vector<Event> parseAll(std::string_view input, size_t pieceSize) {
  Parser p;
  std::vector<Event> out;
  for (size_t i = 0; i < input.size(); i += pieceSize)
    p.feed(input.substr(i, pieceSize), [&](const Event& e) { out.push_back(e); });
  return out;
}

TEST(SseParser, SplitsEventsAcrossAnyPieceSize) {
  const std::string input =
      ": OPENROUTER PROCESSING\n\n"
      "data: {\"a\":1}\n\n"
      "event: message_start\r\ndata: {\"b\":2}\r\n\r\n"
      "data: line1\rdata: line2\r\r"
      "data: [DONE]\n\n";
  for (size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{1000}}) {
    auto events = parseAll(input, piece);
    ASSERT_EQ(events.size(), 4u) << "piece " << piece;
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[0].event, "");
    EXPECT_EQ(events[1].event, "message_start");
    EXPECT_EQ(events[1].data, "{\"b\":2}");
    EXPECT_EQ(events[2].data, "line1\nline2");
    EXPECT_EQ(events[3].data, "[DONE]");
  }
}

TEST(SseParser, KeepsAPartialEventUntilItEnds) {
  Parser p;
  int n = 0;
  p.feed("data: {\"x\"", [&](const Event&) { ++n; });
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(p.hasPartialEvent());
  p.feed(":1}\n", [&](const Event&) { ++n; });
  EXPECT_EQ(n, 0);
  p.feed("\n", [&](const Event& e) {
    ++n;
    EXPECT_EQ(e.data, "{\"x\":1}");
  });
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(p.hasPartialEvent());
}

TEST(SseParser, DataWithoutSpaceAndEmptyData) {
  auto events = parseAll("data:x\n\ndata:\n\n", 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[1].data, "");
}

}  // namespace
}  // namespace finops::sse
