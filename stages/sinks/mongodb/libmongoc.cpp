#define EDGEPIPE_LIBMONGOC_NO_CALL_MACROS  // names the entries, calls none through the macros
#include "stages/sinks/mongodb/libmongoc.hpp"

#include <iterator>

#ifndef EDGEPIPE_LIBMONGOC_SONAME
#define EDGEPIPE_LIBMONGOC_SONAME "libmongoc-1.0.so.0"
#endif

namespace edgepipe {
namespace {

constexpr const char* kNames[] = {EDGEPIPE_LIBMONGOC_FUNCTIONS(EDGEPIPE_LIBRARY_NAME)};
static_assert(std::size(kNames) <= kMaxSharedLibraryFunctions);

void set(libmongoc_api& table, void* const* addresses) {
  std::size_t i = 0;
  EDGEPIPE_LIBMONGOC_FUNCTIONS(EDGEPIPE_LIBRARY_SET)
}

void init(const libmongoc_api& table) {
  table.mongoc_init();  // mongoc_cleanup() is never called: clients may outlive static destructors
}
}  // namespace

const shared_library_spec<libmongoc_api> kLibmongoc{
    EDGEPIPE_LIBMONGOC_SONAME,
    "libmongoc, the MongoDB sink's client library; Debian package libmongoc-1.0-0",
    "libmongoc 1.17 or newer is needed",
    kNames,
    std::size(kNames),
    set,
    init};

}  // namespace edgepipe
