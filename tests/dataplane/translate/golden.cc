#include "tests/dataplane/translate/golden.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef FINOPS_SOURCE_DIR
#error "FINOPS_SOURCE_DIR must be defined (the repository root)"
#endif

namespace finops::dp::golden {

using nlohmann::json;

std::string caseDir(std::string_view name) {
  return std::string(FINOPS_SOURCE_DIR) + "/tests/dataplane/translate/golden/" + std::string(name);
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string jsonDiff(const json& expected, const json& actual, const std::string& path) {
  if (expected.is_string() && expected.get<std::string>() == "<any>") return "";
  if (expected.is_object()) {
    if (!actual.is_object()) return path + ": expected an object, got " + actual.dump();
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      if (!actual.contains(it.key())) return path + "." + it.key() + ": missing";
      if (auto d = jsonDiff(it.value(), actual[it.key()], path + "." + it.key()); !d.empty()) return d;
    }
    for (auto it = actual.begin(); it != actual.end(); ++it)
      if (!expected.contains(it.key()))
        return path + "." + it.key() + ": unexpected member " + it.value().dump();
    return "";
  }
  if (expected.is_array()) {
    if (!actual.is_array()) return path + ": expected an array, got " + actual.dump();
    if (expected.size() != actual.size())
      return path + ": expected " + std::to_string(expected.size()) + " elements, got " +
             std::to_string(actual.size()) + ": " + actual.dump();
    for (size_t i = 0; i < expected.size(); ++i)
      if (auto d = jsonDiff(expected[i], actual[i], path + "[" + std::to_string(i) + "]"); !d.empty())
        return d;
    return "";
  }
  if (expected.is_number() && actual.is_number()) {
    if (expected.is_number_float() || actual.is_number_float()) {
      if (expected.get<double>() == actual.get<double>()) return "";
    } else if (expected == actual) {
      return "";
    }
    return path + ": expected " + expected.dump() + ", got " + actual.dump();
  }
  if (expected != actual) return path + ": expected " + expected.dump() + ", got " + actual.dump();
  return "";
}

std::vector<sse::Event> parseEvents(std::string_view text) {
  std::vector<sse::Event> events;
  sse::Parser p;
  p.feed(text, [&](const sse::Event& e) { events.push_back(e); });
  p.feed("\n\n", [&](const sse::Event& e) { events.push_back(e); });  // a last unterminated one
  return events;
}

std::string eventsDiff(std::string_view expectedText, std::string_view actualText) {
  auto expected = parseEvents(expectedText);
  auto actual = parseEvents(actualText);
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    std::string at = "event #" + std::to_string(i) + ": ";
    if (i >= expected.size()) return at + "unexpected extra event: " + actual[i].event + " " + actual[i].data;
    if (i >= actual.size()) return at + "missing; expected: " + expected[i].event + " " + expected[i].data;
    if (expected[i].event != actual[i].event)
      return at + "event name: expected '" + expected[i].event + "', got '" + actual[i].event + "'";
    json e = json::parse(expected[i].data, nullptr, false);
    json a = json::parse(actual[i].data, nullptr, false);
    if (!e.is_discarded() && !a.is_discarded()) {
      if (auto d = jsonDiff(e, a); !d.empty()) return at + d + "\n  actual data: " + actual[i].data;
    } else if (expected[i].data != actual[i].data) {
      return at + "expected data '" + expected[i].data + "', got '" + actual[i].data + "'";
    }
  }
  // The raw framing must be complete: every event ends with a blank line.
  if (!actualText.empty() && !actualText.ends_with("\n\n") && !actualText.ends_with("\r\n\r\n"))
    return "the stream does not end with a blank line (an unterminated event)";
  return "";
}

std::string runStream(Translator& t, std::string_view upstream, bool byteAtATime, bool* complete) {
  std::string out;
  sse::Parser p;
  auto onEvent = [&](const sse::Event& e) { t.onStreamEvent(e, out); };
  if (byteAtATime) {
    for (char c : upstream) p.feed(std::string_view(&c, 1), onEvent);
  } else {
    p.feed(upstream, onEvent);
  }
  bool ok = t.onStreamEnd(out);
  if (complete) *complete = ok;
  return out;
}

namespace {

std::optional<json> readJson(const std::string& dir, const char* file) {
  auto text = readFile(dir + "/" + file);
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << dir << "/" << file << " is not valid JSON";
    return std::nullopt;
  }
  return j;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

json usageJson(const Usage& u) {
  return json{{"prompt", u.promptTokens},
              {"completion", u.completionTokens},
              {"cached", u.cachedTokens},
              {"cache_write", u.cacheWriteTokens}};
}

json errorJson(const ApiError& e) {
  json j{{"status", e.status}, {"type", e.type}, {"code", e.code}, {"message", e.message},
         {"param", e.param}};
  if (e.retryAfterSeconds >= 0) j["retry_after"] = e.retryAfterSeconds;
  return j;
}

// Only the members the expectation names are compared (errors carry long messages).
std::string partialDiff(const json& expected, const json& actual) {
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    if (!actual.contains(it.key())) return it.key() + ": missing";
    if (auto d = jsonDiff(it.value(), actual[it.key()], it.key()); !d.empty()) return d;
  }
  return "";
}

}  // namespace

void runCase(std::string_view name, const std::function<std::unique_ptr<Translator>()>& make) {
  const std::string dir = caseDir(name);
  SCOPED_TRACE("golden case " + std::string(name));
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " does not exist";
  int checks = 0;
  json meta = readJson(dir, "meta.json").value_or(json::object());
  std::string upstreamModel = meta.value("upstream_model", std::string("m"));
  std::string beta = meta.value("anthropic_beta", std::string());

  auto request = readFile(dir + "/request.json");
  ASSERT_TRUE(request.has_value()) << dir << "/request.json is required";
  auto scan = json_scan::scan(*request);
  ASSERT_TRUE(scan.ok) << "request.json: " << scan.error;
  bool stream = false;
  if (const auto* m = scan.find("stream")) stream = m->kind == 't';
  if (meta.contains("stream")) stream = meta["stream"].get<bool>();
  ClientRequest req{*request, scan, stream, beta};

  // Builds the request with a fresh translator; returns it for the response checks.
  auto build = [&](UpstreamCall& call) {
    auto t = make();
    EXPECT_TRUE(t != nullptr);
    if (!t) return t;
    auto err = t->buildRequest(req, upstreamModel, call);
    if (auto expected = readJson(dir, "request_error.json")) {
      ++checks;
      if (!err) ADD_FAILURE() << "request_error.json: buildRequest succeeded";
      else if (auto d = partialDiff(*expected, errorJson(*err)); !d.empty())
        ADD_FAILURE() << "request_error.json: " << d << "\n  got: " << errorJson(*err).dump();
      return std::unique_ptr<Translator>();
    }
    if (err) ADD_FAILURE() << "buildRequest failed: " << errorJson(*err).dump();
    return err ? std::unique_ptr<Translator>() : std::move(t);
  };

  UpstreamCall call;
  auto t = build(call);
  if (!t) {
    EXPECT_GT(checks, 0) << "buildRequest failed";
    return;
  }
  if (auto expected = readJson(dir, "upstream_request.json")) {
    ++checks;
    json actual = json::parse(call.body, nullptr, false);
    if (actual.is_discarded()) ADD_FAILURE() << "upstream body is not JSON: " << call.body;
    else if (auto d = jsonDiff(*expected, actual); !d.empty())
      ADD_FAILURE() << "upstream_request.json: " << d << "\n  actual: " << actual.dump();
  }
  if (auto path = readFile(dir + "/upstream_path.txt")) {
    ++checks;
    EXPECT_EQ(trim(*path), call.path) << "upstream_path.txt";
  }
  if (auto upstreamResponse = readFile(dir + "/upstream_response.json")) {
    auto expected = readJson(dir, "response.json");
    ++checks;
    std::string out = t->translateResponse(*upstreamResponse);
    json actual = json::parse(out, nullptr, false);
    if (!expected) ADD_FAILURE() << "upstream_response.json without response.json";
    else if (actual.is_discarded()) ADD_FAILURE() << "response is not JSON: " << out;
    else if (auto d = jsonDiff(*expected, actual); !d.empty())
      ADD_FAILURE() << "response.json: " << d << "\n  actual: " << actual.dump();
    if (auto u = readJson(dir, "usage.json"); u && !readFile(dir + "/upstream_stream.txt")) {
      if (auto d = jsonDiff(*u, usageJson(t->usage())); !d.empty()) ADD_FAILURE() << "usage.json: " << d;
      EXPECT_TRUE(t->usage().known) << "usage.json: usage not known";
    }
  }
  if (auto upstreamStream = readFile(dir + "/upstream_stream.txt")) {
    auto expected = readFile(dir + "/stream.txt");
    ++checks;
    if (!expected) ADD_FAILURE() << "upstream_stream.txt without stream.txt";
    auto completeText = readFile(dir + "/stream_complete.txt");
    bool expectComplete = !completeText || trim(*completeText) != "false";
    for (bool byte : {false, true}) {
      UpstreamCall c2;
      auto ts = build(c2);
      if (!ts) return;
      bool complete = false;
      std::string out = runStream(*ts, *upstreamStream, byte, &complete);
      const char* how = byte ? " (fed one byte at a time)" : " (fed whole)";
      if (expected)
        if (auto d = eventsDiff(*expected, out); !d.empty())
          ADD_FAILURE() << "stream.txt" << how << ": " << d << "\n--- actual stream:\n" << out;
      EXPECT_EQ(complete, expectComplete) << "onStreamEnd" << how;
      if (auto u = readJson(dir, "usage.json")) {
        if (auto d = jsonDiff(*u, usageJson(ts->usage())); !d.empty())
          ADD_FAILURE() << "usage.json" << how << ": " << d;
      }
    }
  }
  if (auto upstreamError = readJson(dir, "upstream_error.json")) {
    auto expected = readJson(dir, "error.json");
    ++checks;
    const json& body = (*upstreamError)["body"];
    std::string text = body.is_string() ? body.get<std::string>() : body.dump();
    ApiError e = t->upstreamError((*upstreamError).value("status", 500), text);
    if (!expected) ADD_FAILURE() << "upstream_error.json without error.json";
    else if (auto d = partialDiff(*expected, errorJson(e)); !d.empty())
      ADD_FAILURE() << "error.json: " << d << "\n  got: " << errorJson(e).dump();
  }
  EXPECT_GT(checks, 0) << "the case checks nothing";
}

}  // namespace finops::dp::golden
