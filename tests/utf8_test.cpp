#include "platform/utf8.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace edgepipe {
namespace {

using namespace std::string_view_literals;

TEST(Utf8, WellFormedSequencesHaveTheirLength) {
  EXPECT_EQ(utf8_sequence_length("a"sv, 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\x7F"sv, 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC2\x80"sv, 0), 2u);          // U+0080
  EXPECT_EQ(utf8_sequence_length("\xE0\xA0\x80"sv, 0), 3u);      // U+0800
  EXPECT_EQ(utf8_sequence_length("\xED\x9F\xBF"sv, 0), 3u);      // U+D7FF
  EXPECT_EQ(utf8_sequence_length("\xEE\x80\x80"sv, 0), 3u);      // U+E000
  EXPECT_EQ(utf8_sequence_length("\xF0\x90\x80\x80"sv, 0), 4u);  // U+10000
  EXPECT_EQ(utf8_sequence_length("\xF4\x8F\xBF\xBF"sv, 0), 4u);  // U+10FFFF
  EXPECT_EQ(utf8_sequence_length("x\xE2\x82\xAC"sv, 1), 3u);     // a euro sign after 'x'
}

TEST(Utf8, IllFormedSequencesAreZero) {
  EXPECT_EQ(utf8_sequence_length("\x80"sv, 0), 0u);              // stray continuation byte
  EXPECT_EQ(utf8_sequence_length("\xC0\x80"sv, 0), 0u);          // overlong NUL
  EXPECT_EQ(utf8_sequence_length("\xC1\xBF"sv, 0), 0u);          // overlong
  EXPECT_EQ(utf8_sequence_length("\xE0\x9F\xBF"sv, 0), 0u);      // overlong 3-byte form
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80"sv, 0), 0u);      // surrogate U+D800
  EXPECT_EQ(utf8_sequence_length("\xED\xBF\xBF"sv, 0), 0u);      // surrogate U+DFFF
  EXPECT_EQ(utf8_sequence_length("\xF0\x8F\xBF\xBF"sv, 0), 0u);  // overlong 4-byte form
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80"sv, 0), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xF5\x80\x80\x80"sv, 0), 0u);  // no such lead byte
  EXPECT_EQ(utf8_sequence_length("\xFF"sv, 0), 0u);
  EXPECT_EQ(utf8_sequence_length("\xC3\x28"sv, 0), 0u);  // a lead byte, then ASCII
}

TEST(Utf8, SequencesCutShortByTheEndAreZero) {
  EXPECT_EQ(utf8_sequence_length("\xC3"sv, 0), 0u);
  EXPECT_EQ(utf8_sequence_length("\xE2\x82"sv, 0), 0u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98"sv, 0), 0u);
  EXPECT_EQ(utf8_sequence_length("ab\xE2\x82"sv, 2), 0u);
}

static_assert(utf8_sequence_length("\xE2\x82\xAC", 0) == 3);
TEST(Utf8, InvalidOffsetIsTheFirstBadByteOrTheSize) {
  EXPECT_EQ(utf8_invalid_offset(""), 0u);
  EXPECT_EQ(utf8_invalid_offset("caf\xC3\xA9"), 5u);
  EXPECT_EQ(utf8_invalid_offset("ab\xFE"), 2u);
  EXPECT_EQ(utf8_invalid_offset("\xE2\x82\xAC\xE2\x82"), 3u);  // cut short at the end
  EXPECT_EQ(utf8_invalid_offset("\xC0\x80"), 0u);              // overlong NUL
}

static_assert(kUtf8Replacement.size() == 3);

}  // namespace
}  // namespace edgepipe
