// libcurl, loaded at run time (platform/shared_library) by the HTTP sources when they open, not
// linked into the binary: with libpq, it brings in libldap, gnutls and p11-kit, whose load-time
// constructors cost every process ~4 MiB of resident memory (benchmarks/README.md). A replay, a
// CDC node or a pipeline without HTTP sources does not pay it, and a node without libcurl runs
// everything but the HTTP sources.
//
// Use: load_libcurl() once before the first call (http_poll_source::open does; it also runs
// curl_global_init()); a .cpp that calls libcurl includes this header last, and its calls then go
// through the table. Only the functions of EDGEPIPE_LIBCURL_FUNCTIONS are available: a call of
// another fails to link, and is added to the list. libcurl's GCC type-checking macros for
// curl_easy_setopt/getinfo are replaced by the table's entries.
// Threading: load_libcurl() from any thread (once, under std::call_once); libcurl() after a
// successful load, from any thread (the table is never written again).
#pragma once

#include <curl/curl.h>

#include "core/status.hpp"
#include "platform/shared_library.hpp"

#define EDGEPIPE_LIBCURL_FUNCTIONS(X) \
  X(curl_easy_cleanup)                \
  X(curl_easy_getinfo)                \
  X(curl_easy_init)                   \
  X(curl_easy_setopt)                 \
  X(curl_easy_strerror)               \
  X(curl_getdate)                     \
  X(curl_global_init)                 \
  X(curl_multi_add_handle)            \
  X(curl_multi_cleanup)               \
  X(curl_multi_info_read)             \
  X(curl_multi_init)                  \
  X(curl_multi_perform)               \
  X(curl_multi_poll)                  \
  X(curl_multi_remove_handle)         \
  X(curl_multi_setopt)                \
  X(curl_multi_strerror)              \
  X(curl_multi_timeout)               \
  X(curl_multi_wakeup)                \
  X(curl_slist_append)                \
  X(curl_slist_free_all)

namespace edgepipe {

/// One pointer per function of EDGEPIPE_LIBCURL_FUNCTIONS, with the library's own signature.
struct libcurl_api {
  EDGEPIPE_LIBCURL_FUNCTIONS(EDGEPIPE_LIBRARY_ENTRY)
};

/// The library (its SONAME at build time), its functions, its initialisation
/// (stages/sources/libcurl.cpp).
extern const shared_library_spec<libcurl_api> kLibcurl;

/// Loads the library, resolves the table and runs its initialisation, once per process; later
/// calls return the first call's result. The error names the library, its Debian package and
/// dlerror()'s reason, or the first function not found.
inline status load_libcurl() {
  const std::string& error = load_shared_library(kLibcurl);
  return error.empty() ? status::ok() : status::error(error);
}
/// The table. Only after load_libcurl() succeeded.
inline const libcurl_api& libcurl() noexcept { return loaded_shared_library<libcurl_api>::table; }

}  // namespace edgepipe

// Every call of a listed function in a file that includes this header (last) goes through the
// table from here on (not where EDGEPIPE_LIBCURL_NO_CALL_MACROS is defined first: the loader and a
// test that name the table's entries).
#ifndef EDGEPIPE_LIBCURL_NO_CALL_MACROS
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#undef curl_share_setopt
#define EDGEPIPE_LIBCURL_CALL(f) (::edgepipe::libcurl().f)
#define curl_easy_cleanup EDGEPIPE_LIBCURL_CALL(curl_easy_cleanup)
#define curl_easy_getinfo EDGEPIPE_LIBCURL_CALL(curl_easy_getinfo)
#define curl_easy_init EDGEPIPE_LIBCURL_CALL(curl_easy_init)
#define curl_easy_setopt EDGEPIPE_LIBCURL_CALL(curl_easy_setopt)
#define curl_easy_strerror EDGEPIPE_LIBCURL_CALL(curl_easy_strerror)
#define curl_getdate EDGEPIPE_LIBCURL_CALL(curl_getdate)
#define curl_global_init EDGEPIPE_LIBCURL_CALL(curl_global_init)
#define curl_multi_add_handle EDGEPIPE_LIBCURL_CALL(curl_multi_add_handle)
#define curl_multi_cleanup EDGEPIPE_LIBCURL_CALL(curl_multi_cleanup)
#define curl_multi_info_read EDGEPIPE_LIBCURL_CALL(curl_multi_info_read)
#define curl_multi_init EDGEPIPE_LIBCURL_CALL(curl_multi_init)
#define curl_multi_perform EDGEPIPE_LIBCURL_CALL(curl_multi_perform)
#define curl_multi_poll EDGEPIPE_LIBCURL_CALL(curl_multi_poll)
#define curl_multi_remove_handle EDGEPIPE_LIBCURL_CALL(curl_multi_remove_handle)
#define curl_multi_setopt EDGEPIPE_LIBCURL_CALL(curl_multi_setopt)
#define curl_multi_strerror EDGEPIPE_LIBCURL_CALL(curl_multi_strerror)
#define curl_multi_timeout EDGEPIPE_LIBCURL_CALL(curl_multi_timeout)
#define curl_multi_wakeup EDGEPIPE_LIBCURL_CALL(curl_multi_wakeup)
#define curl_slist_append EDGEPIPE_LIBCURL_CALL(curl_slist_append)
#define curl_slist_free_all EDGEPIPE_LIBCURL_CALL(curl_slist_free_all)
#endif  // EDGEPIPE_LIBCURL_NO_CALL_MACROS
