// Fuzz target: spool recovery (stages/spool: spool open/recover, spool_format, spool_cursor). The
// input is cut into segment files at each "EPSPOOL1" (the segment magic) after its start; a file
// is named by the first record id its header declares when that is readable, else by a made-up
// increasing id. With a ledger, when the input names one ("confirmed_end=" in it: the same
// bytes are the ledger's text). The spool directory is then:
//  1. recovered read-only (`edgepipe spool inspect`), which changes nothing;
//  2. recovered for writing (the daemon's start: torn tails cut, bad segments set aside);
//  3. read back from the sink's watermark with a cursor to the committed end.
// Checked besides ASan/UBSan: the cursor ends; frames come in increasing id order below the
// committed end; decoded keys and values lie inside the batch; next ids never go backwards.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/spool_config.hpp"
#include "core/batch.hpp"
#include "fuzz_util.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_cursor.hpp"
#include "stages/spool/spool_format.hpp"

namespace {

using namespace edgepipe;
namespace fs = std::filesystem;

const std::vector<std::string> kSources = {"iss", "randomuser", "coingecko"};

void clear_dir(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
}

void write_segments(const std::string& dir, std::string_view bytes) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t next = bytes.find(spool_format::kSegmentMagic, start + 1);
    if (next == std::string_view::npos || parts.size() == 7) break;
    parts.push_back(bytes.substr(start, next - start));
    start = next;
  }
  parts.push_back(bytes.substr(start));
  std::uint64_t made_up = 0;
  for (const std::string_view part : parts) {
    std::uint64_t id = made_up;
    if (auto h = spool_format::parse_segment_header(part)) id = h->first_record_id;
    made_up = std::max(made_up, id) + 1000;
    fuzz::write_file(dir + "/" + spool_format::segment_file_name(id), part);
  }
  if (bytes.find("confirmed_end=") != std::string_view::npos)
    fuzz::write_file(dir + "/s.ledger", bytes);
}

void read_back(const spool& sp) {
  spool_cursor cursor(sp, kSources);
  cursor.seek(sp.watermark(0));
  const std::uint64_t limit = sp.committed_end();
  record_batch batch;
  std::uint64_t last_end = 0;
  for (int i = 0;; ++i) {
    if (i > 100000) fuzz::fail("the spool cursor does not end");
    spool_frame_position pos;
    skip_reason why = skip_reason::none;
    const auto r = cursor.next(limit, batch, pos, why);
    if (r == spool_cursor::result::none) break;
    if (cursor.position() < pos.first_id) fuzz::fail("the cursor went backwards");
    if (r == spool_cursor::result::skipped) continue;
    if (pos.first_id < last_end) fuzz::fail("frames out of id order");
    if (pos.first_id + pos.records > limit) fuzz::fail("a frame past the committed end");
    last_end = pos.first_id + pos.records;
    for (const record& rec : batch.records()) {
      if (std::uint64_t{rec.key_offset} + rec.key_length > batch.arena().size() ||
          std::uint64_t{rec.value_offset} + rec.value_length > batch.arena().size())
        fuzz::fail("a decoded record outside its batch");
      if (rec.source != kUnknownSource && rec.source >= kSources.size())
        fuzz::fail("a decoded record with a source index out of range");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string dir = fuzz::scratch_dir() + "/spool";
  std::error_code ec;
  fs::create_directories(dir, ec);
  clear_dir(dir);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  write_segments(dir, bytes);
  (void)parse_ledger(bytes);

  spool_config config;
  config.dir = dir;
  std::uint64_t read_only_next = 0;
  {
    spool sp(config);
    if (sp.open({"s"}, true)) {
      read_only_next = sp.next_record_id();
      read_back(sp);
    }
  }
  std::uint64_t next = 0;
  {
    spool sp(config);
    if (!sp.open({"s"})) return 0;
    next = sp.next_record_id();
    if (next < read_only_next)
      fuzz::fail("recovery for writing gave a lower next id than the read-only recovery");
    read_back(sp);
  }
  {
    spool sp(config);  // a second start over what the first one left: ids never go back
    if (status s = sp.open({"s"}); !s) {
      const std::string what = "a spool that recovered once does not open again: " + s.message();
      fuzz::fail(what.c_str());
    }
    if (sp.next_record_id() < next) fuzz::fail("record ids went back across two restarts");
  }
  return 0;
}
