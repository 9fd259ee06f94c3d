#define EDGEPIPE_LIBCURL_NO_CALL_MACROS  // names the entries, calls none through the macros
#include "stages/sources/libcurl.hpp"

#include <iterator>

#ifndef EDGEPIPE_LIBCURL_SONAME
#define EDGEPIPE_LIBCURL_SONAME "libcurl.so.4"
#endif

namespace edgepipe {
namespace {

constexpr const char* kNames[] = {EDGEPIPE_LIBCURL_FUNCTIONS(EDGEPIPE_LIBRARY_NAME)};
static_assert(std::size(kNames) <= kMaxSharedLibraryFunctions);

void set(libcurl_api& table, void* const* addresses) {
  std::size_t i = 0;
  EDGEPIPE_LIBCURL_FUNCTIONS(EDGEPIPE_LIBRARY_SET)
}

void init(const libcurl_api& table) { table.curl_global_init(CURL_GLOBAL_DEFAULT); }
}  // namespace

const shared_library_spec<libcurl_api> kLibcurl{
    EDGEPIPE_LIBCURL_SONAME,
    "libcurl, the HTTP sources' client library; Debian package libcurl4",
    "libcurl 7.68 or newer is needed",
    kNames,
    std::size(kNames),
    set,
    init};

}  // namespace edgepipe
