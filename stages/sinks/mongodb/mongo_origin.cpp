#include "stages/sinks/mongodb/mongo_origin.hpp"

#include <cstdint>
#include <random>
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {

namespace {
constexpr std::string_view kKey = "mongo.spool=";
constexpr std::size_t kDigits = 16;
}  // namespace

std::string new_mongo_origin() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kDigits, '0');
  for (std::size_t i = 0; i < kDigits; ++i) out[i] = kHex[(v >> (4 * (kDigits - 1 - i))) & 0xf];
  return out;
}

std::string_view parse_mongo_origin(std::string_view text) {
  std::size_t at = 0;
  for (;;) {  // the key at the start of a line
    at = text.find(kKey, at);
    if (at == std::string_view::npos) return {};
    if (at == 0 || text[at - 1] == '\n') break;
    at += kKey.size();
  }
  const std::string_view v = text.substr(at + kKey.size(), kDigits);
  if (v.size() != kDigits) return {};
  for (const char c : v)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  return v;
}

std::string mongo_origin_line(std::string_view origin) {
  std::string out(kKey);
  out.append(origin);
  out.push_back('\n');
  return out;
}

}  // namespace edgepipe
