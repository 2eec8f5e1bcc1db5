// JSON request parsing: the checks every request body goes through before a translator sees
// it (dataplane/schema/json_limits.h: nesting depth and message count; json_scan.h:
// validation and the top-level members), with the data plane's default limits.
//
// Input: the request body.
// Checks, against nlohmann::json as the reference parser:
//  - json_scan accepts exactly the texts nlohmann accepts (nlohmann has no depth limit: only
//    for texts within json_scan's depth limit; nlohmann also skips a UTF-8 byte order mark,
//    and refuses numbers that overflow a double, which RFC 8259 allows);
//  - json_limits::maxDepth is the true depth of a valid text, and within [0, limit + 1];
//  - every member json_scan reports of a top-level object is where it says: its value is
//    valid JSON of the kind reported, a string member decodes (stringValue) to nlohmann's
//    value, and the member's key decodes to a key nlohmann has;
//  - json_limits::memberArrayLength("messages"/"contents") is nlohmann's array size;
//  - splicing "null" into a member keeps the text valid; appendString gives JSON that
//    decodes back to the same string.
#include <nlohmann/json.hpp>
#include <string>

#include "dataplane/schema/json_limits.h"
#include "dataplane/schema/json_scan.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace js = finops::dp::json_scan;
namespace jl = finops::dp::json_limits;
using nlohmann::json;

// The data plane's defaults (ServerOptions in dataplane/server/server.h).
constexpr int kMaxDepth = 64;

// The nesting depth of a valid text, as nlohmann's SAX parser sees it (the DOM would lose
// the values of duplicate keys).
struct DepthCounter : nlohmann::json_sax<json> {
  int depth = 0, deepest = 0;
  bool open() {
    deepest = std::max(deepest, ++depth);
    return true;
  }
  bool close() {
    --depth;
    return true;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return open(); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

int depthOf(std::string_view text) {
  DepthCounter c;
  json::sax_parse(text, &c);
  return c.deepest;
}

char kindOf(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return 's';
    case json::value_t::object:
      return 'o';
    case json::value_t::array:
      return 'a';
    case json::value_t::boolean:
      return j.get<bool>() ? 't' : 'f';
    case json::value_t::null:
      return 'z';
    default:
      return 'n';
  }
}

// The decoded key of member `m` (its raw key sits between quotes in `text`).
std::string keyOf(std::string_view text, const js::Member& m) {
  js::Member k;
  k.valueBegin = static_cast<size_t>(m.rawKey.data() - text.data()) - 1;
  k.valueEnd = k.valueBegin + m.rawKey.size() + 2;
  k.kind = 's';
  return js::stringValue(text, k);
}

void checkArrayLength(std::string_view text, const js::Result& scan, const char* key) {
  long long want = -1;
  for (const js::Member& m : scan.members) {
    if (m.kind != 'a' || keyOf(text, m) != key) continue;
    json arr = json::parse(text.substr(m.valueBegin, m.valueEnd - m.valueBegin));
    want = std::max(want, static_cast<long long>(arr.size()));
  }
  long long got = jl::memberArrayLength(text, scan, key);
  FUZZ_CHECK(got == want, std::string(key) + ": " + std::to_string(got) + " entries, want " +
                              std::to_string(want));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  const int depth = jl::maxDepth(text, kMaxDepth);
  FUZZ_CHECK(depth >= 0 && depth <= kMaxDepth + 1, std::to_string(depth));
  FUZZ_CHECK(jl::tooDeep(text, kMaxDepth) == (depth > kMaxDepth), "");

  js::Result scan = js::scan(text, kMaxDepth);
  const bool reference = finops::fuzz::isJson(text);
  const bool bom = text.starts_with("\xEF\xBB\xBF");
  if (scan.ok && !reference) {
    // RFC 8259 allows numbers of any size; nlohmann refuses those that overflow a double
    // (1e400). Any other disagreement is a json_scan bug.
    try {
      (void)json::parse(text);
    } catch (const json::out_of_range& e) {
      FUZZ_CHECK(e.id == 406, e.what());
      return 0;
    } catch (const std::exception& e) {
      FUZZ_CHECK(false, std::string("json_scan accepted what nlohmann refuses: ") + e.what());
    }
  }
  if (scan.ok) {
    FUZZ_CHECK(reference, "json_scan accepted what nlohmann refuses");
    FUZZ_CHECK(scan.error.empty(), scan.error);
  } else {
    FUZZ_CHECK(!scan.error.empty(), "a refusal without a message");
    FUZZ_CHECK(!reference || bom || depth > kMaxDepth,
               "json_scan refused valid JSON within the depth limit: " + scan.error);
    return 0;
  }

  json doc = json::parse(text);
  FUZZ_CHECK(depth == depthOf(text),
             "maxDepth " + std::to_string(depth) + ", true depth " + std::to_string(depthOf(text)));
  FUZZ_CHECK(scan.isObject == doc.is_object(), "");
  if (!doc.is_object()) {
    FUZZ_CHECK(scan.members.empty(), "members reported for a non-object");
    return 0;
  }
  bool duplicates = false;
  for (const js::Member& m : scan.members) {
    FUZZ_CHECK(m.valueBegin < m.valueEnd && m.valueEnd <= text.size(), "member out of range");
    FUZZ_CHECK(m.rawKey.data() > text.data() &&
                   m.rawKey.data() + m.rawKey.size() < text.data() + text.size(),
               "key out of range");
    std::string_view raw = text.substr(m.valueBegin, m.valueEnd - m.valueBegin);
    FUZZ_CHECK(finops::fuzz::isJson(raw), std::string(raw));
    json value = json::parse(raw);
    FUZZ_CHECK(kindOf(value) == m.kind, std::string(raw) + " reported as " + m.kind);
    std::string key = keyOf(text, m);
    FUZZ_CHECK(doc.contains(key), "key '" + key + "' is not in the object");
    size_t sameKey = 0;
    for (const js::Member& o : scan.members) sameKey += keyOf(text, o) == key;
    duplicates |= sameKey > 1;
    if (sameKey == 1) FUZZ_CHECK(doc[key] == value, key);
    if (m.kind == 's') FUZZ_CHECK(js::stringValue(text, m) == value.get<std::string>(), raw);
    if (m.kind == 'a') FUZZ_CHECK(jl::arrayLength(raw) == value.size(), raw);
    if (scan.find(m.rawKey) == nullptr) FUZZ_CHECK(false, "find() misses a member");

    // Replacing a value keeps the document valid.
    std::string spliced = js::splice(text, m, "null");
    js::Result again = js::scan(spliced, kMaxDepth);
    FUZZ_CHECK(again.ok && again.isObject && again.members.size() == scan.members.size(), spliced);
    // A string written with appendString reads back the same.
    if (m.kind == 's') {
      std::string quoted;
      js::appendString(quoted, value.get<std::string>());
      FUZZ_CHECK(finops::fuzz::isJson(quoted) && json::parse(quoted) == value, quoted);
    }
  }
  if (!duplicates) FUZZ_CHECK(scan.members.size() == doc.size(), "member count");
  checkArrayLength(text, scan, "messages");
  checkArrayLength(text, scan, "contents");
  return 0;
}
