#include "common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

namespace finops {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

std::string sha256Bytes(std::string_view data) {
  auto d = sha256(data);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string toHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fprintf(stderr, "fatal: OpenSSL RAND_bytes failed\n");
    std::abort();
  }
  return out;
}

std::string base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = b(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool constantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string randomId(std::string_view prefix, size_t n) {
  return std::string(prefix) + toHex(randomBytes(n));
}

std::optional<std::string> base64Decode(std::string_view text) {
  size_t pad = 0;
  while (!text.empty() && text.back() == '=' && pad < 2) {
    text.remove_suffix(1);
    ++pad;
  }
  if (pad && (text.size() + pad) % 4 != 0) return std::nullopt;
  if (text.size() % 4 == 1) return std::nullopt;
  bool standard = false, urlSafe = false;
  auto value = [&](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '/') {
      standard = true;
      return c == '+' ? 62 : 63;
    }
    if (c == '-' || c == '_') {
      urlSafe = true;
      return c == '-' ? 62 : 63;
    }
    return -1;
  };
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (standard && urlSafe) return std::nullopt;
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

std::optional<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

namespace {
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx newCipherCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  if (!ctx) throw CryptoError("AES-256-GCM: cannot allocate a cipher context");
  return ctx;
}

const unsigned char* bytesOf(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void checkKey(std::string_view key) {
  if (key.size() != kAesGcmKeyBytes)
    throw CryptoError("AES-256-GCM: the key must be 32 bytes, not " + std::to_string(key.size()));
}
}  // namespace

std::string aesGcmSeal(std::string_view key, std::string_view plaintext,
                       std::string_view associatedData) {
  checkKey(key);
  if (plaintext.size() > (1u << 30)) throw CryptoError("AES-256-GCM: plaintext too large");
  std::string nonce = randomBytes(kAesGcmNonceBytes);
  auto ctx = newCipherCtx();
  std::string out(kAesGcmNonceBytes + plaintext.size() + kAesGcmTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::copy(nonce.begin(), nonce.end(), out.begin());
  int len = 0;
  bool ok =
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAesGcmNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytesOf(key), bytesOf(nonce)) == 1;
  if (ok && !associatedData.empty())
    ok = EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytesOf(associatedData),
                           static_cast<int>(associatedData.size())) == 1;
  int written = 0;
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), o + kAesGcmNonceBytes, &len, bytesOf(plaintext),
                           static_cast<int>(plaintext.size())) == 1;
    written = len;
  }
  if (ok) {
    ok = EVP_EncryptFinal_ex(ctx.get(), o + kAesGcmNonceBytes + written, &len) == 1;
    written += len;
  }
  if (ok) ok = static_cast<size_t>(written) == plaintext.size();
  if (ok)
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAesGcmTagBytes,
                             o + kAesGcmNonceBytes + plaintext.size()) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    throw CryptoError("AES-256-GCM: encryption failed in OpenSSL");
  }
  return out;
}

std::string aesGcmOpen(std::string_view key, std::string_view sealed,
                       std::string_view associatedData) {
  checkKey(key);
  if (sealed.size() < kAesGcmNonceBytes + kAesGcmTagBytes)
    throw CryptoError("AES-256-GCM: the sealed data is too short (" +
                      std::to_string(sealed.size()) + " bytes; at least 28 expected)");
  std::string_view nonce = sealed.substr(0, kAesGcmNonceBytes);
  std::string_view body =
      sealed.substr(kAesGcmNonceBytes, sealed.size() - kAesGcmNonceBytes - kAesGcmTagBytes);
  std::string tag(sealed.substr(sealed.size() - kAesGcmTagBytes));
  auto ctx = newCipherCtx();
  std::string out(body.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  bool setup =
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAesGcmNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytesOf(key), bytesOf(nonce)) == 1;
  if (!setup) throw CryptoError("AES-256-GCM: decryption setup failed in OpenSSL");
  bool ok = true;
  if (!associatedData.empty())
    ok = EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytesOf(associatedData),
                           static_cast<int>(associatedData.size())) == 1;
  int written = 0;
  if (ok && !body.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), o, &len, bytesOf(body), static_cast<int>(body.size())) == 1;
    written = len;
  }
  if (ok)
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAesGcmTagBytes, tag.data()) == 1;
  // The tag is checked here: on mismatch nothing decrypted may be used.
  if (ok) ok = EVP_DecryptFinal_ex(ctx.get(), o + written, &len) > 0;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    throw CryptoError(
        "AES-256-GCM: authentication failed (the data was modified, or sealed under another key "
        "or for another record)");
  }
  return out;
}

}  // namespace finops
