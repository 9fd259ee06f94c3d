#include "stages/sinks/file/file_sink_state.hpp"

#include <charconv>
#include <cstring>

namespace edgepipe {

namespace {
constexpr std::string_view kInode = "file.inode=";
constexpr std::string_view kBytes = "file.bytes=";
constexpr std::string_view kRecordsEnd = "file.records_end=";

std::optional<std::uint64_t> value_of(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  for (;;) {  // the key at the start of a line
    at = text.find(key, at);
    if (at == std::string_view::npos) return std::nullopt;
    if (at == 0 || text[at - 1] == '\n') break;
    at += key.size();
  }
  const char* begin = text.data() + at + key.size();
  const char* end = text.data() + text.size();
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || p == begin || (p != end && *p != '\n')) return std::nullopt;
  return v;
}
}  // namespace

std::size_t format_file_sink_state(const file_sink_state& s, char* out, std::size_t cap) {
  char* p = out;
  char* const end = out + cap;
  auto put = [&](std::string_view key, std::uint64_t v) {
    if (p == nullptr || static_cast<std::size_t>(end - p) < key.size() + 22) {
      p = nullptr;
      return;
    }
    std::memcpy(p, key.data(), key.size());
    p = std::to_chars(p + key.size(), end, v).ptr;
    *p++ = '\n';
  };
  put(kInode, s.inode);
  put(kBytes, s.bytes);
  put(kRecordsEnd, s.records_end);
  return p == nullptr ? 0 : static_cast<std::size_t>(p - out);
}

std::optional<file_sink_state> parse_file_sink_state(std::string_view text) {
  const auto inode = value_of(text, kInode);
  const auto bytes = value_of(text, kBytes);
  const auto end = value_of(text, kRecordsEnd);
  if (!inode || !bytes || !end) return std::nullopt;
  return file_sink_state{*inode, *bytes, *end};
}

}  // namespace edgepipe
