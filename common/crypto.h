// Small crypto helpers shared by all programs. All functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace finops {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);

// The digest as a 32-byte std::string (used as a hash-map key).
std::string sha256Bytes(std::string_view data);

std::string toHex(std::string_view bytes);

// `n` bytes from OpenSSL's CSPRNG. Aborts if the CSPRNG fails (never returns weak bytes).
std::string randomBytes(size_t n);

// URL-safe base64 without padding.
std::string base64Url(std::string_view bytes);

// Compares in time that depends only on the lengths.
bool constantTimeEqual(std::string_view a, std::string_view b);

// A random identifier "<prefix><hex of n bytes>".
std::string randomId(std::string_view prefix, size_t n = 8);

}  // namespace finops
