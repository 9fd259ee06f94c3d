// libmicrohttpd, loaded at run time (platform/shared_library) by the operator endpoint when it
// starts (`run`, `replay --http`), not linked into the binary: it brings in gnutls and p11-kit,
// whose load-time constructors ran in every process (with libcurl and libpq: 4.3 MiB of start-up
// RSS, benchmarks/README.md). A replay without --http does not pay it.
//
// Use: load_libmicrohttpd() once before the first call (http_endpoint::start does); a .cpp that
// calls libmicrohttpd includes this header last, and its calls then go through the table. Only
// the functions of EDGEPIPE_LIBMICROHTTPD_FUNCTIONS are available: a call of another fails to
// link, and is added to the list.
// Threading: load_libmicrohttpd() from any thread (once, under std::call_once);
// libmicrohttpd() after a successful load, from any thread (the table is never written again).
#pragma once

#include <sys/socket.h>  // microhttpd.h needs sockaddr, socklen_t

#include <microhttpd.h>

#include "core/status.hpp"
#include "platform/shared_library.hpp"

#define EDGEPIPE_LIBMICROHTTPD_FUNCTIONS(X) \
  X(MHD_add_response_header)                \
  X(MHD_create_response_from_buffer)        \
  X(MHD_destroy_response)                   \
  X(MHD_get_daemon_info)                    \
  X(MHD_lookup_connection_value)            \
  X(MHD_queue_response)                     \
  X(MHD_start_daemon)                       \
  X(MHD_stop_daemon)

namespace edgepipe {

/// One pointer per function of EDGEPIPE_LIBMICROHTTPD_FUNCTIONS, with the library's own signature.
struct libmicrohttpd_api {
  EDGEPIPE_LIBMICROHTTPD_FUNCTIONS(EDGEPIPE_LIBRARY_ENTRY)
};

/// The library (its SONAME at build time), its functions, its initialisation
/// (io/libmicrohttpd.cpp).
extern const shared_library_spec<libmicrohttpd_api> kLibmicrohttpd;

/// Loads the library, resolves the table and runs its initialisation, once per process; later
/// calls return the first call's result. The error names the library, its Debian package and
/// dlerror()'s reason, or the first function not found.
inline status load_libmicrohttpd() {
  const std::string& error = load_shared_library(kLibmicrohttpd);
  return error.empty() ? status::ok() : status::error(error);
}
/// The table. Only after load_libmicrohttpd() succeeded.
inline const libmicrohttpd_api& libmicrohttpd() noexcept {
  return loaded_shared_library<libmicrohttpd_api>::table;
}

}  // namespace edgepipe

// Every call of a listed function in a file that includes this header (last) goes through the
// table from here on (not where EDGEPIPE_LIBMICROHTTPD_NO_CALL_MACROS is defined first: the loader
// and a test that name the table's entries).
#ifndef EDGEPIPE_LIBMICROHTTPD_NO_CALL_MACROS
#define EDGEPIPE_LIBMICROHTTPD_CALL(f) (::edgepipe::libmicrohttpd().f)
#define MHD_add_response_header EDGEPIPE_LIBMICROHTTPD_CALL(MHD_add_response_header)
#define MHD_create_response_from_buffer EDGEPIPE_LIBMICROHTTPD_CALL(MHD_create_response_from_buffer)
#define MHD_destroy_response EDGEPIPE_LIBMICROHTTPD_CALL(MHD_destroy_response)
#define MHD_get_daemon_info EDGEPIPE_LIBMICROHTTPD_CALL(MHD_get_daemon_info)
#define MHD_lookup_connection_value EDGEPIPE_LIBMICROHTTPD_CALL(MHD_lookup_connection_value)
#define MHD_queue_response EDGEPIPE_LIBMICROHTTPD_CALL(MHD_queue_response)
#define MHD_start_daemon EDGEPIPE_LIBMICROHTTPD_CALL(MHD_start_daemon)
#define MHD_stop_daemon EDGEPIPE_LIBMICROHTTPD_CALL(MHD_stop_daemon)
#endif  // EDGEPIPE_LIBMICROHTTPD_NO_CALL_MACROS
