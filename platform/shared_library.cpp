#include "platform/shared_library.hpp"

#include <dlfcn.h>

namespace edgepipe {

std::string open_shared_library(const char* soname, const char* what, const char* needed,
                                const char* const* names, void** addresses, std::size_t count) {
  void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return std::string("cannot load ") + soname + " (" + what +
           "): " + (why != nullptr ? why : "unknown error");
  }
  std::string missing;
  for (std::size_t i = 0; i < count; ++i) {
    addresses[i] = dlsym(lib, names[i]);
    if (addresses[i] == nullptr && missing.empty()) missing = names[i];
  }
  if (!missing.empty())
    return std::string(soname) + " has no function " + missing + " (" + needed + ")";
  return {};
}

}  // namespace edgepipe
