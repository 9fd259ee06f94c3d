#define EDGEPIPE_LIBMICROHTTPD_NO_CALL_MACROS  // names the entries, calls none through the macros
#include "io/libmicrohttpd.hpp"

#include <iterator>

#ifndef EDGEPIPE_LIBMICROHTTPD_SONAME
#define EDGEPIPE_LIBMICROHTTPD_SONAME "libmicrohttpd.so.12"
#endif

namespace edgepipe {
namespace {

constexpr const char* kNames[] = {EDGEPIPE_LIBMICROHTTPD_FUNCTIONS(EDGEPIPE_LIBRARY_NAME)};
static_assert(std::size(kNames) <= kMaxSharedLibraryFunctions);

void set(libmicrohttpd_api& table, void* const* addresses) {
  std::size_t i = 0;
  EDGEPIPE_LIBMICROHTTPD_FUNCTIONS(EDGEPIPE_LIBRARY_SET)
}

}  // namespace

const shared_library_spec<libmicrohttpd_api> kLibmicrohttpd{
    EDGEPIPE_LIBMICROHTTPD_SONAME,
    "libmicrohttpd, the operator endpoint's HTTP server; Debian package libmicrohttpd12",
    "libmicrohttpd 0.9.x is needed",
    kNames,
    std::size(kNames),
    set,
    nullptr};

}  // namespace edgepipe
