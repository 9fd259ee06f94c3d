#include "stages/spool/spool_id_lease.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgepipe {

namespace {
constexpr std::string_view kKey = "ids_below=";
constexpr std::string_view kUnusedKey = "unused=";

/// "unused=A-B" lines.
void parse_unused(const std::string& s, std::vector<std::pair<std::uint64_t, std::uint64_t>>& out) {
  for (std::size_t at = s.find(kUnusedKey); at != std::string::npos;
       at = s.find(kUnusedKey, at + 1)) {
    const char* p = s.data() + at + kUnusedKey.size();
    const char* end = s.data() + s.size();
    std::uint64_t a = 0, b = 0;
    auto r1 = std::from_chars(p, end, a);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '-') continue;
    auto r2 = std::from_chars(r1.ptr + 1, end, b);
    if (r2.ec == std::errc() && b > a) out.emplace_back(a, b);
  }
}
}  // namespace

void spool_id_lease::add_unused(std::uint64_t from, std::uint64_t to) {
  if (to <= from) return;
  unused_.emplace_back(from, to);
  if (unused_.size() > kMaxUnused) unused_.erase(unused_.begin());
}

bool spool_id_lease::unused(std::uint64_t from, std::uint64_t to) const noexcept {
  for (const auto& [a, b] : unused_)
    if (from >= a && to <= b) return true;
  return false;
}

std::uint64_t spool_id_lease::unused_start_in(std::uint64_t after,
                                              std::uint64_t before) const noexcept {
  std::uint64_t at = before;
  for (const auto& [a, b] : unused_)
    if (a > after && a < at) at = a;
  return at;
}

status spool_id_lease::open(const std::string& dir, std::uint64_t& floor) {
  namespace fs = std::filesystem;
  dir_ = dir;
  path_ = (fs::path(dir) / kFileName).string();
  tmp_ = path_ + ".tmp";
  floor = 0;
  std::error_code ec;
  if (!fs::exists(path_, ec)) return status::ok();
  std::ifstream in(path_, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const auto at = s.find(kKey);
  std::uint64_t v = 0;
  if (at != std::string::npos) {
    const char* begin = s.data() + at + kKey.size();
    const auto [end, err] = std::from_chars(begin, s.data() + s.size(), v);
    if (err == std::errc() && end != begin) {
      floor = leased_ = v;
      parse_unused(s, unused_);
      return status::ok();
    }
  }
  return status::error("spool: id lease " + path_ +
                       " is unreadable: remove it only if no sink derives identity from record "
                       "ids (docs/durability.md)");
}

status spool_id_lease::grant(std::uint64_t end) {
  // Rare (start, stop, every kSpan ids): a string is fine here.
  std::string text = "edgepipe spool id lease v1\nids_below=" + std::to_string(end) + "\n";
  for (const auto& [a, b] : unused_)
    text += std::string(kUnusedKey) + std::to_string(a) + "-" + std::to_string(b) + "\n";
  if (status s = replace_file_durably(*ops_, dir_, tmp_, path_, text); !s)
    return s.prefixed("spool: id lease: ");
  leased_ = end;
  ++grants_;
  return status::ok();
}

}  // namespace edgepipe
