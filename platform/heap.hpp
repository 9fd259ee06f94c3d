// The process heap (glibc malloc): how large blocks are allocated, and giving free memory back
// to the kernel after an idle period (docs/architecture.md, "Batches and memory").
// Threading: configure_heap() once on the main thread before any other thread starts;
// give_back_free_heap() from any thread.
#pragma once

#include <cstddef>

namespace edgepipe {

/// Blocks of at least kHeapMmapThreshold bytes (batch arenas past it, io_uring buffers, read
/// windows) are mapped on their own, so freeing one returns it to the kernel at once. glibc's
/// default threshold rises to 32 MiB after the first such free, after which those blocks come
/// from the heap and stay in the process's RSS, fragmented, long after they were freed.
inline constexpr std::size_t kHeapMmapThreshold = std::size_t{256} << 10;
void configure_heap() noexcept;

/// Returns the free pages of every malloc arena to the kernel (malloc_trim); the bytes of
/// resident memory that went (from /proc/self/statm, 0 when unknown).
std::size_t give_back_free_heap() noexcept;

/// Resident private (anonymous) bytes of this process now (RssAnon), 0 when unknown.
std::size_t resident_anonymous_bytes() noexcept;

}  // namespace edgepipe
