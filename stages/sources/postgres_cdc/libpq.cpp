#define EDGEPIPE_LIBPQ_NO_CALL_MACROS  // names the entries, calls none through the macros
#include "stages/sources/postgres_cdc/libpq.hpp"

#include <iterator>

#ifndef EDGEPIPE_LIBPQ_SONAME
#define EDGEPIPE_LIBPQ_SONAME "libpq.so.5"
#endif

namespace edgepipe::pgcdc {
namespace {

constexpr const char* kNames[] = {EDGEPIPE_LIBPQ_FUNCTIONS(EDGEPIPE_LIBRARY_NAME)};
static_assert(std::size(kNames) <= kMaxSharedLibraryFunctions);

void set(libpq_api& table, void* const* addresses) {
  std::size_t i = 0;
  EDGEPIPE_LIBPQ_FUNCTIONS(EDGEPIPE_LIBRARY_SET)
}

}  // namespace

const shared_library_spec<libpq_api> kLibpq{
    EDGEPIPE_LIBPQ_SONAME,
    "libpq, the postgres_cdc source's client library; Debian package libpq5",
    "libpq 10 or newer is needed",
    kNames,
    std::size(kNames),
    set,
    nullptr};

}  // namespace edgepipe::pgcdc
