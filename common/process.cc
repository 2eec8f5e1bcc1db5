#include "common/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace finops {

sigset_t blockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

int waitForSignal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

bool writePrivateFile(const std::string& path, const std::string& content) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t off = 0;
  while (ok && off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) ok = false;
    else off += static_cast<size_t>(n);
  }
  return ::close(fd) == 0 && ok;
}

std::string octalMode(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0%03o", mode & 0777u);
  return buf;
}

std::string SmallFile::why() const {
  switch (error) {
    case Error::kNone: return {};
    case Error::kMissing: return "does not exist";
    case Error::kUnreadable: return "cannot be read: " + detail;
    case Error::kNotRegular: return "is not a regular file";
    case Error::kTooLarge: return "is larger than " + detail + " bytes";
  }
  return {};
}

SmallFile readSmallFile(const std::string& path, size_t maxBytes) {
  SmallFile f;
  auto fail = [&](SmallFile::Error e, int err) {
    f.error = e;
    if (err) f.detail = std::strerror(err);
    f.text.clear();
    return f;
  };
  f.text.resize(maxBytes + 1);  // before open: nothing to close if this throws
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return fail(errno == ENOENT ? SmallFile::Error::kMissing : SmallFile::Error::kUnreadable,
                errno == ENOENT ? 0 : errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return fail(SmallFile::Error::kUnreadable, err);
  }
  f.mode = static_cast<unsigned>(st.st_mode & 0777);
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(SmallFile::Error::kNotRegular, 0);
  }
  size_t used = 0;
  while (used < f.text.size()) {
    ssize_t n = ::read(fd, f.text.data() + used, f.text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(SmallFile::Error::kUnreadable, err);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  if (used > maxBytes) {
    f.error = SmallFile::Error::kTooLarge;
    f.detail = std::to_string(maxBytes);
    f.text.clear();
    return f;
  }
  f.text.resize(used);
  return f;
}

}  // namespace finops
