// What the file sink keeps in its spool ledger so that a restart neither appends again what the
// file already holds nor leaves a torn line (docs/durability.md, "The file sink after a crash"):
// which file it was writing (inode), how many bytes of it were confirmed, and the end of the
// record ids those bytes hold. Written with the watermark in the same atomic ledger write
// (spool::persist_ledger), so the two always describe the same moment. Pure text functions.
// Threading: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgepipe {

struct file_sink_state {
  std::uint64_t inode = 0;        // of the file being written (rotation renames keep it)
  std::uint64_t bytes = 0;        // confirmed length of that file: whole lines only
  std::uint64_t records_end = 0;  // every record below this id that reached the sink is in the
                                  // files (this one up to `bytes`, or rotated ones)
};

/// `file.inode=..\nfile.bytes=..\nfile.records_end=..\n` into `out`; returns the length used,
/// 0 when `cap` is too small.
std::size_t format_file_sink_state(const file_sink_state& s, char* out, std::size_t cap);
/// nullopt when a key is missing or a value is not a number.
std::optional<file_sink_state> parse_file_sink_state(std::string_view text);

}  // namespace edgepipe
