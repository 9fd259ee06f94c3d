// edgepipe::crc32 (ISA-L) must give zlib's values: every trace and spool file written before the
// switch from libdeflate, and every other tool that reads them, computes the same CRC-32.
#include "core/crc32.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <vector>

namespace edgepipe {
namespace {

std::uint32_t zlib_crc(std::uint32_t crc, const unsigned char* p, std::size_t n) {
  return static_cast<std::uint32_t>(::crc32(crc, p, static_cast<uInt>(n)));
}

TEST(Crc32, EqualsZlibForEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::vector<unsigned char> bytes(70000);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng());
  EXPECT_EQ(crc32(0, bytes.data(), 0), 0u);
  EXPECT_EQ(crc32(0, "123456789", 9), 0xCBF43926u);  // the CRC-32 check value
  // Lengths around every kernel's block sizes (16, 64, 256 bytes...) and odd start addresses.
  for (std::size_t offset = 0; offset < 8; ++offset)
    for (std::size_t n = 0; n <= 1100; ++n)
      ASSERT_EQ(crc32(0, bytes.data() + offset, n), zlib_crc(0, bytes.data() + offset, n))
          << "offset " << offset << " length " << n;
  for (std::size_t n : {4095u, 4096u, 65536u, 69993u})
    EXPECT_EQ(crc32(0, bytes.data() + 7, n), zlib_crc(0, bytes.data() + 7, n)) << n;
}

TEST(Crc32, ChainsLikeZlib) {
  std::vector<unsigned char> bytes(5000);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 31 + 7);
  const std::uint32_t whole = zlib_crc(0, bytes.data(), bytes.size());
  for (std::size_t cut : {0u, 1u, 24u, 63u, 4096u, 5000u}) {
    const std::uint32_t head = crc32(0, bytes.data(), cut);
    EXPECT_EQ(crc32(head, bytes.data() + cut, bytes.size() - cut), whole) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace edgepipe
