// The CRC-32 every edgepipe file format uses (trace frames, spool segment headers and frames):
// zlib's crc32() -- same polynomial, same values, chainable the same way
// (crc32(crc32(0, a), b) == crc32 of a followed by b) -- computed by ISA-L's
// crc32_gzip_refl(), which picks a VPCLMULQDQ (AVX-512) or PCLMULQDQ kernel at run time.
// Its speed beside libdeflate and zlib: benchmarks/io_bench BM_crc32 (benchmarks/README.md).
// The replay source checks every frame with it and the spool writes one per batch, so it runs on
// the hot path of both. Thread-safe, no allocation, no state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgepipe {

std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t n) noexcept;

}  // namespace edgepipe
