#include "platform/heap.hpp"

#include <malloc.h>

#include <cstdio>
#include <cstring>

namespace edgepipe {

void configure_heap() noexcept {
  // A fixed threshold also switches off glibc's dynamic one (see the header).
  (void)mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapMmapThreshold));
  (void)mallopt(M_TRIM_THRESHOLD, static_cast<int>(kHeapTrimThreshold));
}

std::size_t resident_anonymous_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return 0;
  char line[256];
  std::size_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "RssAnon:", 8) == 0) {
      (void)std::sscanf(line + 8, "%zu", &kb);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

std::size_t give_back_free_heap() noexcept {
  const std::size_t before = resident_anonymous_bytes();
  (void)malloc_trim(0);
  const std::size_t after = resident_anonymous_bytes();
  return before > after ? before - after : 0;
}

}  // namespace edgepipe
