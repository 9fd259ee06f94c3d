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
/// Free memory at the top of a malloc arena beyond this goes back to the kernel at each free().
/// Not less: librdkafka's broker thread allocates its produce requests' buffers (~129 KiB
/// segments, the message sets and their lz4 output, ~1 MiB per request) and frees them at the
/// response. At 512 KiB they went back at once and the next request faulted and cleared fresh
/// pages: ~0.1 s of kernel time per 400k CoinGecko records, a quarter of that thread's CPU
/// (benchmarks/README.md). The heap's free pages still go back after an idle period
/// (give_back_free_heap).
inline constexpr std::size_t kHeapTrimThreshold = std::size_t{4} << 20;
void configure_heap() noexcept;

/// Returns the free pages of every malloc arena to the kernel (malloc_trim); the bytes of
/// resident memory that went (from /proc/self/statm, 0 when unknown).
std::size_t give_back_free_heap() noexcept;

/// Resident private (anonymous) bytes of this process now (RssAnon), 0 when unknown.
std::size_t resident_anonymous_bytes() noexcept;

}  // namespace edgepipe
