#include "stages/spool/spool_id_lease.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgepipe {

namespace {
constexpr std::string_view kKey = "ids_below=";
}  // namespace

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
      return status::ok();
    }
  }
  return status::error("spool: id lease " + path_ +
                       " is unreadable: remove it only if no sink derives identity from record "
                       "ids (docs/durability.md)");
}

status spool_id_lease::grant(std::uint64_t end) {
  char text[96];
  char* p = text;
  const std::string_view head = "edgepipe spool id lease v1\nids_below=";
  p = std::copy(head.begin(), head.end(), p);
  p = std::to_chars(p, text + sizeof text - 1, end).ptr;
  *p++ = '\n';
  if (status s = replace_file_durably(*ops_, dir_, tmp_, path_,
                                      std::string_view(text, static_cast<std::size_t>(p - text)));
      !s)
    return s.prefixed("spool: id lease: ");
  leased_ = end;
  ++grants_;
  return status::ok();
}

}  // namespace edgepipe
