// Hex digests (md5, sha256) for privacy transforms, e.g. the randomuser `zip` field. One
// reusable OpenSSL context per transform thread: no allocation per record. OpenSSL is touched
// only for the digests a config uses (prepare(), before the threads start): fetching a digest
// initialises OpenSSL's default library context and provider, ~2 MiB of resident libcrypto pages
// plus its tables, which a pipeline without a hashed field does not pay.
// Threading: one thread per hasher; prepare() before that thread starts.
#pragma once

#include <string_view>

#include "config/source_spec.hpp"
#include "core/byte_arena.hpp"

struct evp_md_ctx_st;
struct evp_md_st;

namespace edgepipe {

class hasher {
 public:
  hasher() = default;
  ~hasher();
  hasher(const hasher&) = delete;
  hasher& operator=(const hasher&) = delete;
  /// Fetches `kind` (and the context) now, so the first record does not wait for OpenSSL's
  /// initialisation. False on an OpenSSL failure.
  bool prepare(digest_kind kind);
  /// Appends the lowercase hex digest of `data` to `out` (prepares `kind` first if needed).
  /// False on an OpenSSL failure.
  bool append_hex(digest_kind kind, std::string_view data, byte_arena& out);
  /// True once `kind` has been fetched (prepare() or a first append_hex()).
  bool prepared(digest_kind kind) const noexcept {
    return kind == digest_kind::md5 ? md5_ != nullptr
                                    : kind == digest_kind::sha256 && sha256_ != nullptr;
  }

 private:
  evp_md_ctx_st* ctx_ = nullptr;
  evp_md_st* md5_ = nullptr;
  evp_md_st* sha256_ = nullptr;
};

}  // namespace edgepipe
