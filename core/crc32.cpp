#include "core/crc32.hpp"

#include <isa-l/crc.h>

namespace edgepipe {

std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t n) noexcept {
  return crc32_gzip_refl(crc, static_cast<const unsigned char*>(data), n);
}

}  // namespace edgepipe
