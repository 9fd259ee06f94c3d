// Hex digests (md5, sha256) for privacy transforms, e.g. the randomuser `zip` field. One
// reusable OpenSSL context per transform thread: no allocation per record.
// Threading: one thread per hasher.
#pragma once

#include <string_view>

#include "config/source_spec.hpp"
#include "core/byte_arena.hpp"

struct evp_md_ctx_st;
struct evp_md_st;

namespace edgepipe {

class hasher {
 public:
  hasher();
  ~hasher();
  hasher(const hasher&) = delete;
  hasher& operator=(const hasher&) = delete;
  /// Appends the lowercase hex digest of `data` to `out`. False on an OpenSSL failure.
  bool append_hex(digest_kind kind, std::string_view data, byte_arena& out);

 private:
  evp_md_ctx_st* ctx_;
  evp_md_st* md5_;
  evp_md_st* sha256_;
};

}  // namespace edgepipe
