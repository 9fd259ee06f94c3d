// byte_arena edge cases found by fuzzing (tests/fuzz). The null-pointer cases are undefined
// behaviour that only the ASan+UBSan build of these tests (scripts/test.sh) turns into a failure.
#include <gtest/gtest.h>

#include <string_view>

#include "core/byte_arena.hpp"

namespace edgepipe {
namespace {

// An empty body appended to a fresh arena (an empty HTTP response, an empty trace line): the
// arena has no buffer yet, and memcpy(nullptr, p, 0) is undefined.
TEST(ByteArena, AppendingNothingToAnEmptyArenaIsANoOp) {
  byte_arena a;
  const char byte = 'x';
  a.append(&byte, 0);
  a.append(std::string_view{});  // data() == nullptr as well
  EXPECT_EQ(a.size(), 0u);
  a.append("ab", 2);
  a.append(std::string_view{});
  EXPECT_EQ(std::string_view(a.data(), a.size()), "ab");
}

}  // namespace
}  // namespace edgepipe
