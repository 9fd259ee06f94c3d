// Client libraries loaded at run time (dlopen) by the stage that uses them, instead of linked
// into every process: libmongoc (MongoDB sink), libcurl (HTTP sources), libpq (postgres_cdc),
// libmicrohttpd (operator endpoint). Linked, their load-time work (libmongoc's mongoc_init(), the
// constructors of gnutls, p11-kit and Kerberos that the others bring in) costs each edgepipe
// process several MiB of resident memory whatever its config uses (benchmarks/README.md);
// loaded, only a pipeline that uses one pays for it, and a node without one installed runs
// everything else. Each library has a table of the functions edgepipe calls
// (stages/sinks/mongodb/libmongoc.hpp, stages/sources/libcurl.hpp,
// stages/sources/postgres_cdc/libpq.hpp, io/libmicrohttpd.hpp) filled by this function.
// Threading: any thread; the callers run it once (std::call_once) before the first call.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>

namespace edgepipe {

/// Opens `soname` (RTLD_NOW | RTLD_LOCAL; never closed: the library's clients may outlive static
/// destructors) and stores the address of `names[i]` in `addresses[i]` for i < count (dlsym
/// searches the library and its dependencies). Returns "" when every name was found, else the
/// error: "cannot load SONAME (WHAT): <dlerror>", or "SONAME has no function NAME (NEEDED)" for
/// the first one missing.
std::string open_shared_library(const char* soname, const char* what, const char* needed,
                                const char* const* names, void** addresses, std::size_t count);

/// Functions a table may have (each spec's .cpp checks its list against it at compile time).
inline constexpr std::size_t kMaxSharedLibraryFunctions = 64;

/// One library: where it is, what to say when it is not, which functions to take, and what to run
/// once they are all found (curl_global_init, mongoc_init; may be null).
template <typename Table>
struct shared_library_spec {
  const char* soname;  // at build time (CMakeLists.txt: edgepipe_loaded_library)
  const char* what;    // "libcurl, the HTTP sources' client library; Debian package libcurl4"
  const char* needed;  // for a library without one of the functions: "libcurl 7.68 or newer..."
  const char* const* names;
  std::size_t count;
  void (*set)(Table& table, void* const* addresses);  // addresses[i] is names[i]'s
  void (*init)(const Table& table);
};

/// Opens `soname` and fills `table` (no `init`, no global state). "" or the error.
template <typename Table>
std::string resolve_shared_library(const shared_library_spec<Table>& spec, const char* soname,
                                   Table& table) {
  void* addresses[kMaxSharedLibraryFunctions] = {};
  std::string error =
      open_shared_library(soname, spec.what, spec.needed, spec.names, addresses, spec.count);
  if (error.empty()) spec.set(table, addresses);
  return error;
}

/// The process's one table of a library (per Table type), written once by load_shared_library.
template <typename Table>
struct loaded_shared_library {
  static inline std::once_flag once;
  static inline std::string error;
  static inline Table table{};
};

/// Resolves spec's library and runs its `init`, once per process; later calls return the first
/// call's result ("" or the error). The table is then loaded_shared_library<Table>::table.
template <typename Table>
const std::string& load_shared_library(const shared_library_spec<Table>& spec) {
  using loaded = loaded_shared_library<Table>;
  std::call_once(loaded::once, [&] {
    Table table{};
    loaded::error = resolve_shared_library(spec, spec.soname, table);
    if (!loaded::error.empty()) return;
    if (spec.init != nullptr) spec.init(table);
    loaded::table = table;
  });
  return loaded::error;
}

}  // namespace edgepipe

// For a library's X-macro list of functions: a table entry with the function's own signature,
// the function's name for open_shared_library, and the entry's assignment from `addresses[i++]`
// (in a shared_library_spec's `set`).
#define EDGEPIPE_LIBRARY_ENTRY(f) decltype(&::f) f = nullptr;
#define EDGEPIPE_LIBRARY_NAME(f) #f,
#define EDGEPIPE_LIBRARY_SET(f) table.f = reinterpret_cast<decltype(table.f)>(addresses[i++]);
