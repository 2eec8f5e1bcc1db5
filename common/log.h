// Structured logging on stderr, one line per event. Thread-safe (each line is written with a
// single write(2)). Never pass key material in fields.
//
// Two formats (--log-format), chosen once at startup before the first line:
//   json: {"ts":"2026-11-22T10:00:00.123Z","level":"info","msg":"message","key":"value"}
//   text: 2026-11-22T10:00:00.123Z INFO message key=value key2="value with spaces"
// In text, a value is written bare unless it is empty or holds a space, '"', '=', '\' or a
// control character; then it is quoted, with '"' and '\' escaped and control characters
// written as \n, \r, \t or \u00XX. Objects and arrays are written as compact JSON (and quoted
// by the same rule). Numbers, booleans and null are written as in JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace finops::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

void setMinLevel(Level level);
// Default kText. Call before other threads log.
void setFormat(Format format);
Format format();
// "text" or "json" (exactly); false for anything else.
bool parseFormat(std::string_view text, Format* out);
// The format before --log-format: FINOPS_LOG_FORMAT ("text" or "json") when set, else kText.
Format defaultFormat();

void write(Level level, std::string_view msg, const nlohmann::json& fields = nullptr);
inline void info(std::string_view msg, const nlohmann::json& fields = nullptr) {
  write(Level::kInfo, msg, fields);
}
inline void warn(std::string_view msg, const nlohmann::json& fields = nullptr) {
  write(Level::kWarn, msg, fields);
}
inline void error(std::string_view msg, const nlohmann::json& fields = nullptr) {
  write(Level::kError, msg, fields);
}
inline void debug(std::string_view msg, const nlohmann::json& fields = nullptr) {
  write(Level::kDebug, msg, fields);
}

// Like write(), keeping the fields in the order given (the access log's line). Fields named
// "ts", "level" or "msg" replace the line's own in the JSON format.
void writeFields(Level level, std::string_view msg, const nlohmann::ordered_json& fields);

// Writes an already formatted line as it is, whatever the format (a trailing newline is added).
void writeRaw(std::string_view line);

// The line write()/writeFields() would write (without the newline), with timestamp `ts`.
std::string formatLine(Format format, Level level, std::string_view ts, std::string_view msg,
                       const nlohmann::ordered_json& fields);

// RFC 3339 UTC timestamp with milliseconds for "now".
std::string nowRfc3339();

}  // namespace finops::log
