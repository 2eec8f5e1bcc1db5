#include "dataplane/sse/parser.h"

namespace finops::sse {

void Parser::processLine() {
  if (line_[0] == ':') return;  // comment
  std::string_view line(line_);
  std::string_view field = line, value;
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (hasData_) current_.data.push_back('\n');
    current_.data.append(value);
    hasData_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  }
  // "id" and "retry" are not used by the gateway.
}

}  // namespace finops::sse
