// The false-sharing unit used to align fields written by different threads.
#pragma once
#include <cstddef>

namespace edgepipe {
// 128 rather than 64: adjacent-line prefetchers on x86 pull cache lines in pairs.
inline constexpr std::size_t kCacheLine = 128;
}  // namespace edgepipe
