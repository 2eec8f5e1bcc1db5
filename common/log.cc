#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace finops::log {
namespace {
std::atomic<int> gMinLevel{static_cast<int>(Level::kInfo)};
std::atomic<int> gFormat{static_cast<int>(Format::kText)};

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "info";
}

const char* levelText(Level l) {
  switch (l) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "INFO";
}

bool isControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Appends `s` with control characters escaped (and '"' and '\' when `quoted`).
void appendEscaped(std::string& out, std::string_view s, bool quoted) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (quoted && (ch == '"' || ch == '\\')) {
      out.push_back('\\');
      out.push_back(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (isControl(c)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
}

void appendTextValue(std::string& out, std::string_view s) {
  bool quote = s.empty();
  for (char ch : s) {
    if (ch == ' ' || ch == '"' || ch == '=' || ch == '\\' || isControl(static_cast<unsigned char>(ch))) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out += s;
    return;
  }
  out.push_back('"');
  appendEscaped(out, s, true);
  out.push_back('"');
}

// A key as one bare word: spaces, '=', '"' and control characters become '_'.
void appendTextKey(std::string& out, std::string_view key) {
  if (key.empty()) {
    out.push_back('_');
    return;
  }
  for (char ch : key) {
    bool bad = ch == ' ' || ch == '=' || ch == '"' || isControl(static_cast<unsigned char>(ch));
    out.push_back(bad ? '_' : ch);
  }
}

template <typename Json>
std::string render(Format format, Level level, std::string_view ts, std::string_view msg,
                   const Json& fields) {
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  if (format == Format::kJson) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["ts"] = ts;
    j["level"] = levelName(level);
    j["msg"] = msg;
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
    }
    return j.dump(-1, ' ', false, kReplace);
  }
  std::string out;
  out.reserve(64 + msg.size());
  out += ts;
  out.push_back(' ');
  out += levelText(level);
  out.push_back(' ');
  appendEscaped(out, msg, false);
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) {
      out.push_back(' ');
      appendTextKey(out, it.key());
      out.push_back('=');
      const auto& v = it.value();
      if (v.is_string())
        appendTextValue(out, v.template get_ref<const std::string&>());
      else if (v.is_object() || v.is_array())
        appendTextValue(out, v.dump(-1, ' ', false, kReplace));
      else
        out += v.dump(-1, ' ', false, kReplace);
    }
  }
  return out;
}
}  // namespace

void setMinLevel(Level level) { gMinLevel = static_cast<int>(level); }

void setFormat(Format format) { gFormat = static_cast<int>(format); }

Format format() { return static_cast<Format>(gFormat.load(std::memory_order_relaxed)); }

bool parseFormat(std::string_view text, Format* out) {
  if (text == "text") {
    *out = Format::kText;
    return true;
  }
  if (text == "json") {
    *out = Format::kJson;
    return true;
  }
  return false;
}

Format defaultFormat() {
  Format f = Format::kText;
  if (const char* env = std::getenv("FINOPS_LOG_FORMAT")) parseFormat(env, &f);
  return f;
}

std::string nowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

void writeRaw(std::string_view line) {
  std::string s(line);
  s.push_back('\n');
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(2, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string formatLine(Format format, Level level, std::string_view ts, std::string_view msg,
                       const nlohmann::ordered_json& fields) {
  return render(format, level, ts, msg, fields);
}

void write(Level level, std::string_view msg, const nlohmann::json& fields) {
  if (static_cast<int>(level) < gMinLevel.load(std::memory_order_relaxed)) return;
  writeRaw(render(format(), level, nowRfc3339(), msg, fields));
}

void writeFields(Level level, std::string_view msg, const nlohmann::ordered_json& fields) {
  if (static_cast<int>(level) < gMinLevel.load(std::memory_order_relaxed)) return;
  writeRaw(render(format(), level, nowRfc3339(), msg, fields));
}

}  // namespace finops::log
