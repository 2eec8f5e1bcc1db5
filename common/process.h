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

// Permission bits as ls and chmod write them ("0600").
std::string octalMode(unsigned mode);

// A small file read whole (a key, a token, a certificate): never more than its bound is read.
struct SmallFile {
  enum class Error {
    kNone,
    kMissing,     // no such file
    kUnreadable,  // cannot be opened or read (`detail`: the system's reason)
    kNotRegular,  // a directory, a FIFO, a device...
    kTooLarge,    // over the bound
  };
  Error error = Error::kNone;
  std::string detail;
  std::string text;
  unsigned mode = 0;  // the permission bits (0777 mask)
  bool ok() const { return error == Error::kNone; }
  // "does not exist", "cannot be read: <reason>", "is not a regular file", or "is larger than
  // <N> bytes" (when not ok).
  std::string why() const;
};
// Opens `path` without blocking (a FIFO never hangs the caller), checks it is a regular file
// and reads at most `maxBytes` of it; a file with more is kTooLarge.
SmallFile readSmallFile(const std::string& path, size_t maxBytes);

}  // namespace finops
