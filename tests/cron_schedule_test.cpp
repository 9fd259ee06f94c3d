#include "stages/sources/cron_schedule.hpp"

#include <gtest/gtest.h>

namespace edgepipe {
namespace {

// 2026-01-01T00:00:00Z is a Thursday.
constexpr std::int64_t kNewYear = 1767225600;

cron_schedule must_parse(const char* text) {
  std::string error;
  auto c = cron_schedule::parse(text, error);
  EXPECT_TRUE(c.has_value()) << text << ": " << error;
  return *c;
}

TEST(CronSchedule, EveryFiveMinutes) {
  const auto c = must_parse("*/5 * * * *");
  EXPECT_EQ(c.next_after(kNewYear), kNewYear + 300);
  EXPECT_EQ(c.next_after(kNewYear + 301), kNewYear + 600);
}

TEST(CronSchedule, HoursListsRangesAndWeekdays) {
  EXPECT_EQ(must_parse("30 9 * * *").next_after(kNewYear), kNewYear + 9 * 3600 + 1800);
  EXPECT_EQ(must_parse("0 8-10,14 * * *").next_after(kNewYear + 11 * 3600), kNewYear + 14 * 3600);
  // Next Monday (weekday 1) after Thursday Jan 1st is Jan 5th.
  EXPECT_EQ(must_parse("0 0 * * 1").next_after(kNewYear), kNewYear + 4 * 86400);
  // First of the next month at midnight.
  EXPECT_EQ(must_parse("0 0 1 * *").next_after(kNewYear), kNewYear + 31 * 86400);
}

TEST(CronSchedule, ImpossibleDateHasNoNextTime) {
  EXPECT_FALSE(must_parse("0 0 30 2 *").next_after(kNewYear).has_value());
}

TEST(CronSchedule, BadSchedulesAreExplained) {
  std::string error;
  EXPECT_FALSE(cron_schedule::parse("* * * *", error));
  EXPECT_NE(error.find("5 fields"), std::string::npos);
  EXPECT_FALSE(cron_schedule::parse("61 * * * *", error));
  EXPECT_NE(error.find("0-59"), std::string::npos) << error;
  EXPECT_FALSE(cron_schedule::parse("*/0 * * * *", error));
  EXPECT_FALSE(cron_schedule::parse("a * * * *", error));
}

}  // namespace
}  // namespace edgepipe
