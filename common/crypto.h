// Small crypto helpers shared by all programs. All functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
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

// Decodes base64 in the standard ("+/") or URL-safe ("-_") alphabet, with or without "="
// padding. nullopt when the text is not base64 (bad character, impossible length, bits left
// over). The two alphabets may not be mixed.
std::optional<std::string> base64Decode(std::string_view text);

// Decodes hex (either case, even length). nullopt when the text is not hex.
std::optional<std::string> fromHex(std::string_view hex);

// --- AES-256-GCM (OpenSSL EVP)

inline constexpr size_t kAesGcmKeyBytes = 32;
inline constexpr size_t kAesGcmNonceBytes = 12;
inline constexpr size_t kAesGcmTagBytes = 16;

// Thrown by aesGcmOpen when the input does not authenticate, and by both functions on bad
// arguments (a key that is not 32 bytes) or an OpenSSL failure. The message never contains key
// or plaintext material.
class CryptoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Encrypts `plaintext` under `key` (32 bytes) with a fresh random 12-byte nonce, binding
// `associatedData` (authenticated, not encrypted, not included in the output).
// Returns nonce | ciphertext | tag (12 + plaintext size + 16 bytes).
std::string aesGcmSeal(std::string_view key, std::string_view plaintext,
                       std::string_view associatedData);

// The inverse of aesGcmSeal. Throws CryptoError if `sealed` is too short, or if it was
// modified, sealed under another key, or with other associated data (GCM cannot tell these
// apart). Never returns unauthenticated bytes.
std::string aesGcmOpen(std::string_view key, std::string_view sealed,
                       std::string_view associatedData);

}  // namespace finops
