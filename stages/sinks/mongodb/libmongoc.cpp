#define EDGEPIPE_LIBMONGOC_NO_CALL_MACROS  // the loader names the entries, it calls none
#include "stages/sinks/mongodb/libmongoc.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

#ifndef EDGEPIPE_LIBMONGOC_SONAME
#define EDGEPIPE_LIBMONGOC_SONAME "libmongoc-1.0.so.0"
#endif

namespace edgepipe {

namespace {

libmongoc_api g_api;   // written once, inside g_load_once
status g_load_status;  // likewise
std::once_flag g_load_once;

}  // namespace

status resolve_libmongoc(const char* soname, libmongoc_api& api) {
  // RTLD_LOCAL: the symbols stay out of the global scope (nothing else resolves against them);
  // never dlclose()d: clients may outlive static destructors, as mongoc_cleanup() is never called.
  void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return status::error(std::string("cannot load ") + soname +
                         " (libmongoc, the MongoDB sink's client library; Debian package "
                         "libmongoc-1.0-0): " +
                         (why != nullptr ? why : "unknown error"));
  }
  std::string missing;
  for_each_libmongoc_entry(api, [&](const char* name, auto set) {
    void* address = dlsym(lib, name);  // searches libmongoc and its dependencies (libbson)
    if (address == nullptr && missing.empty()) missing = name;
    set(address);
  });
  if (!missing.empty())
    return status::error(std::string(soname) + " has no function " + missing +
                         " (libmongoc 1.17 or newer is needed)");
  return status::ok();
}

namespace {

status load(const char* soname) {
  libmongoc_api api;
  if (status s = resolve_libmongoc(soname, api); !s) return s;
  api.mongoc_init();
  g_api = api;
  return status::ok();
}

}  // namespace

const char* libmongoc_soname() noexcept { return EDGEPIPE_LIBMONGOC_SONAME; }

status load_libmongoc(const char* soname) {
  std::call_once(g_load_once,
                 [&] { g_load_status = load(soname != nullptr ? soname : libmongoc_soname()); });
  return g_load_status;
}

const libmongoc_api& libmongoc() noexcept { return g_api; }

}  // namespace edgepipe
