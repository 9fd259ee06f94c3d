#include "stages/transform/digest.hpp"

#include <openssl/evp.h>

namespace edgepipe {

hasher::~hasher() {
  EVP_MD_free(md5_);  // each accepts nullptr
  EVP_MD_free(sha256_);
  EVP_MD_CTX_free(ctx_);
}

bool hasher::prepare(digest_kind kind) {
  if (kind == digest_kind::none) return true;
  if (ctx_ == nullptr) ctx_ = EVP_MD_CTX_new();
  if (ctx_ == nullptr) return false;
  // Fetched once: implicit fetching inside EVP_DigestInit_ex costs a lookup per call.
  EVP_MD*& md = kind == digest_kind::md5 ? md5_ : sha256_;
  if (md == nullptr)
    md = EVP_MD_fetch(nullptr, kind == digest_kind::md5 ? "MD5" : "SHA256", nullptr);
  return md != nullptr;
}

bool hasher::append_hex(digest_kind kind, std::string_view data, byte_arena& out) {
  if (!prepare(kind)) return false;
  EVP_MD* md = kind == digest_kind::md5 ? md5_ : sha256_;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx_, md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, digest, &len) != 1)
    return false;
  static constexpr char kHex[] = "0123456789abcdef";
  char* p = out.prepare(std::size_t{len} * 2);
  for (unsigned i = 0; i < len; ++i) {
    p[2 * i] = kHex[digest[i] >> 4];
    p[2 * i + 1] = kHex[digest[i] & 15];
  }
  out.commit(std::size_t{len} * 2);
  return true;
}

}  // namespace edgepipe
