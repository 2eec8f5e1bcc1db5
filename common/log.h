// Structured logging: one JSON object per line on stderr. Thread-safe (each line is
// written with a single write(2)). Never pass key material in fields.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace finops::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void setMinLevel(Level level);
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

// Writes an already formatted line (a trailing newline is added).
void writeRaw(std::string_view line);

// RFC 3339 UTC timestamp with milliseconds for "now".
std::string nowRfc3339();

}  // namespace finops::log
