// The /logs page's files (dataplane/logs/ui/), built into the binary at build time by
// cmake/embed_files.cmake: editing a file rebuilds the generated source. Read-only, static
// storage: safe from any thread.
#pragma once

#include <optional>
#include <string_view>

namespace finops::dp::logs {

struct Asset {
  std::string_view name;         // the file name, e.g. "app.js"
  std::string_view contentType;  // e.g. "text/javascript; charset=utf-8"
  std::string_view bytes;        // the file's content
};

// The file called `name` ("index.html", "app.js", "app.css"); nullopt when there is none.
std::optional<Asset> findAsset(std::string_view name);

}  // namespace finops::dp::logs
