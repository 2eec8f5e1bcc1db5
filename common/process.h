// Process-level helpers shared by the programs.
#pragma once

#include <signal.h>

#include <string>

namespace finops {

// Blocks SIGTERM and SIGINT in the calling thread (call before starting threads, which
// inherit the mask) and ignores SIGPIPE. Returns the set to pass to waitForSignal.
sigset_t blockTerminationSignals();

// Waits for one of `set`; returns the signal number.
int waitForSignal(const sigset_t& set);

// Writes `content` to `path` with mode 0600 (creating parent directories), replacing the
// file. Returns false on failure.
bool writePrivateFile(const std::string& path, const std::string& content);

}  // namespace finops
