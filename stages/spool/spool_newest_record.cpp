#include "stages/spool/spool_newest_record.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "stages/spool/spool_format.hpp"

namespace edgepipe {
namespace {

status read_whole(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::error("cannot open spool segment " + path);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return status::error("cannot read spool segment " + path);
  out = std::move(s).str();
  return status::ok();
}

}  // namespace

status newest_record_value(const spool& sp, std::string_view source_name,
                           const std::function<bool(std::string_view)>& accept, std::string& value,
                           bool& found) {
  found = false;
  std::vector<spool_segment> segments = sp.segments();
  std::string bytes;
  record_batch batch;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    const auto local = std::find(it->sources.begin(), it->sources.end(), source_name);
    if (local == it->sources.end() || it->end_id == it->first_id) continue;
    if (status s = read_whole(it->path, bytes); !s) return s;
    const auto header = spool_format::parse_segment_header(bytes);
    if (!header) continue;  // recovery set such a segment aside; nothing to take from it
    // Only our source is mapped; the others' records decode as kUnknownSource.
    std::vector<source_id> source_map(header->sources.size(), kUnknownSource);
    const auto ours = std::find(header->sources.begin(), header->sources.end(), source_name);
    if (ours == header->sources.end()) continue;
    source_map[static_cast<std::size_t>(ours - header->sources.begin())] = 0;
    std::string_view rest = std::string_view(bytes).substr(header->header_bytes);
    while (!rest.empty()) {
      spool_format::frame_header h;
      if (spool_format::check_frame(rest, h) != spool_format::frame_check::ok) break;
      if (h.first_record_id >= it->end_id) break;
      const std::size_t size = spool_format::kFrameHeaderBytes + h.body_bytes;
      spool_format::decode_frame(rest.substr(0, size), h, source_map, batch);
      for (std::size_t i = 0; i < batch.records().size(); ++i) {
        const record& r = batch.records()[i];
        if (r.source != 0 || h.first_record_id + i >= it->end_id) continue;
        if (!accept(batch.value(r))) continue;
        value.assign(batch.value(r));
        found = true;
      }
      rest.remove_prefix(size);
    }
    if (found) return status::ok();
  }
  return status::ok();
}

}  // namespace edgepipe
