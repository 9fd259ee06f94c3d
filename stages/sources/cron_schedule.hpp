// A cron-like schedule for HTTP sources: five fields "minute hour day-of-month month
// day-of-week" (UTC), each "*", "N", "a-b", "a,b,c" or "*/n" / "a-b/n"; day-of-week 0-6 (0 =
// Sunday). When a source has `schedule`, it replaces `interval`.
// Threading: immutable after parse; next_after() may be called from any thread.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgepipe {

class cron_schedule {
 public:
  /// nullopt with `error` set when the text is not a valid schedule.
  static std::optional<cron_schedule> parse(std::string_view text, std::string& error);
  /// The first matching minute strictly after `unix_seconds`, in Unix seconds (UTC); nullopt if
  /// none within 5 years (e.g. February 30th).
  std::optional<std::int64_t> next_after(std::int64_t unix_seconds) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_;
  bool any_day_ = true;      // day-of-month was "*"
  bool any_weekday_ = true;  // day-of-week was "*"
};

}  // namespace edgepipe
