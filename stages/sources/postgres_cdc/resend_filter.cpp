#include "stages/sources/postgres_cdc/resend_filter.hpp"

#include <charconv>

namespace edgepipe::pgcdc {
namespace {

/// The unsigned decimal at the start of `s` (nullopt when there is none).
std::optional<std::uint64_t> leading_number(std::string_view s) noexcept {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  return v;
}

/// The text right after `key` inside `object`, or an empty view.
std::string_view after(std::string_view object, std::string_view key) noexcept {
  const auto at = object.find(key);
  return at == std::string_view::npos ? std::string_view() : object.substr(at + key.size());
}

}  // namespace

std::optional<resume_position> position_of_event(std::string_view value) {
  // The envelope's source object comes after before/after; inside string values quotes are
  // escaped, so this unescaped text only starts the source object.
  const auto at = value.rfind(R"("source":{"version":)");
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view source = value.substr(at);
  // "sequence":"[\"<previous commit end>\",\"<lsn>\"]" (null before the first commit)
  const std::string_view seq = after(source, R"("sequence":"[\")");
  const std::string_view xid = after(source, R"("txId":)");
  const std::string_view lsn = after(source, R"("lsn":)");
  const auto previous = leading_number(seq);
  const auto x = leading_number(xid);
  const auto l = leading_number(lsn);
  if (!previous || !x || !l || *previous == 0 || *x > UINT32_MAX) return std::nullopt;
  return resume_position{*previous, static_cast<std::uint32_t>(*x), *l};
}

void resend_filter::arm(const resume_position& p) noexcept {
  if (p.previous_commit_end == 0) {
    state_ = state::off;
    return;
  }
  position_ = p;
  state_ = state::before;
}

void resend_filter::begin(lsn_t final_lsn, std::uint32_t xid) noexcept {
  if (state_ == state::off) return;
  if (final_lsn < position_.previous_commit_end) {
    state_ = state::whole;  // committed before the position's transaction: all handed on
  } else if (xid == position_.xid) {
    state_ = state::up_to_position;
  } else {
    state_ = state::off;  // not the transaction we expected: filter nothing more
  }
}

bool resend_filter::skip(lsn_t lsn) const noexcept {
  return state_ == state::whole || (state_ == state::up_to_position && lsn <= position_.lsn);
}

void resend_filter::commit() noexcept {
  if (state_ == state::whole) {
    state_ = state::before;
  } else if (state_ == state::up_to_position) {
    state_ = state::off;  // past the position: everything after it is new
  }
}

}  // namespace edgepipe::pgcdc
