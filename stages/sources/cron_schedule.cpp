#include "stages/sources/cron_schedule.hpp"

#include <charconv>
#include <ctime>
#include <vector>

namespace edgepipe {

namespace {

template <std::size_t N>
bool parse_field(std::string_view field, int lo, int hi, std::bitset<N>& out, bool& star,
                 std::string& error) {
  star = field == "*";
  std::size_t pos = 0;
  while (pos <= field.size()) {
    const std::size_t comma = field.find(',', pos);
    std::string_view part =
        field.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? field.size() + 1 : comma + 1;
    int step = 1;
    if (const auto slash = part.find('/'); slash != std::string_view::npos) {
      const auto s = part.substr(slash + 1);
      if (std::from_chars(s.data(), s.data() + s.size(), step).ptr != s.data() + s.size() ||
          step < 1) {
        error = "bad step in '" + std::string(field) + "'";
        return false;
      }
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      const auto dash = part.find('-');
      const auto first = part.substr(0, dash);
      if (std::from_chars(first.data(), first.data() + first.size(), a).ptr !=
          first.data() + first.size()) {
        error = "'" + std::string(field) + "' is not a number, range, list or */n";
        return false;
      }
      b = a;
      if (dash != std::string_view::npos) {
        const auto second = part.substr(dash + 1);
        if (std::from_chars(second.data(), second.data() + second.size(), b).ptr !=
            second.data() + second.size()) {
          error = "bad range in '" + std::string(field) + "'";
          return false;
        }
      } else if (step > 1) {
        b = hi;  // "a/n" means a, a+n, ... up to the maximum
      }
    }
    if (a < lo || b > hi || a > b) {
      error = "'" + std::string(field) + "' is outside " + std::to_string(lo) + "-" +
              std::to_string(hi);
      return false;
    }
    for (int v = a; v <= b; v += step) out.set(static_cast<std::size_t>(v));
  }
  return true;
}

}  // namespace

std::optional<cron_schedule> cron_schedule::parse(std::string_view text, std::string& error) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() != 5) {
    error = "expected 5 fields (minute hour day-of-month month day-of-week), got " +
            std::to_string(fields.size());
    return std::nullopt;
  }
  cron_schedule c;
  bool star = false;
  if (!parse_field(fields[0], 0, 59, c.minutes_, star, error) ||
      !parse_field(fields[1], 0, 23, c.hours_, star, error) ||
      !parse_field(fields[2], 1, 31, c.days_, c.any_day_, error) ||
      !parse_field(fields[3], 1, 12, c.months_, star, error) ||
      !parse_field(fields[4], 0, 6, c.weekdays_, c.any_weekday_, error))
    return std::nullopt;
  return c;
}

std::optional<std::int64_t> cron_schedule::next_after(std::int64_t unix_seconds) const {
  std::int64_t t = (unix_seconds / 60 + 1) * 60;  // next whole minute
  const std::int64_t limit = t + std::int64_t{5} * 366 * 24 * 3600;
  while (t < limit) {
    const time_t tt = static_cast<time_t>(t);
    tm u{};
    gmtime_r(&tt, &u);
    if (!months_[static_cast<std::size_t>(u.tm_mon + 1)]) {  // skip to the next month
      u.tm_mon += 1;
      u.tm_mday = 1;
      u.tm_hour = u.tm_min = u.tm_sec = 0;
      t = static_cast<std::int64_t>(timegm(&u));
      continue;
    }
    // Like cron: when both day fields are restricted, either may match.
    const bool dom = days_[static_cast<std::size_t>(u.tm_mday)];
    const bool dow = weekdays_[static_cast<std::size_t>(u.tm_wday)];
    const bool day_ok = any_day_ && any_weekday_ ? true
                        : any_day_               ? dow
                        : any_weekday_           ? dom
                                                 : (dom || dow);
    if (!day_ok) {
      t = (t / 86400 + 1) * 86400;
      continue;
    }
    if (!hours_[static_cast<std::size_t>(u.tm_hour)]) {
      t = (t / 3600 + 1) * 3600;
      continue;
    }
    if (minutes_[static_cast<std::size_t>(u.tm_min)]) return t;
    t += 60;
  }
  return std::nullopt;
}

}  // namespace edgepipe
