#include "app/spool_commands.hpp"

#include "app/command.hpp"
#include "app/exit_codes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "app/sink_uri.hpp"
#include "platform/text_escape.hpp"
#include "stages/sinks/sink_factory.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_cursor.hpp"

namespace edgepipe {

namespace {

namespace fs = std::filesystem;

/// Sink names that have a ledger in the directory.
std::vector<std::string> ledger_names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".ledger") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Every source name the segments know, in order of first appearance.
std::vector<std::string> source_names(const spool& sp) {
  std::vector<std::string> names;
  for (const auto& seg : sp.segments())
    for (const auto& s : seg.sources)
      if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
  return names;
}

}  // namespace

int spool_inspect(const std::string& dir) {
  spool_config cfg;
  cfg.dir = dir;
  spool sp(cfg);
  const auto sinks = ledger_names(dir);
  if (status s = sp.open(sinks, /*read_only=*/true); !s) {
    std::fprintf(stderr, "edgepipe: spool inspect: %s\n", s.message().c_str());
    return kExitConfig;
  }
  const auto segments = sp.segments();
  std::ostringstream o;
  std::uint64_t bytes = 0, records = 0;
  o << "{\"dir\":" << json_string(dir) << ",\"segments\":[";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    bytes += s.bytes;
    records += s.end_id - s.first_id;
    o << (i ? "," : "") << "{\"file\":" << json_string(fs::path(s.path).filename().string())
      << ",\"first_id\":" << s.first_id << ",\"end_id\":" << s.end_id
      << ",\"records\":" << s.end_id - s.first_id << ",\"bytes\":" << s.bytes << ",\"sources\":[";
    for (std::size_t k = 0; k < s.sources.size(); ++k)
      o << (k ? "," : "") << json_string(s.sources[k]);
    o << "]}";
  }
  o << "],\"records\":" << records << ",\"bytes\":" << bytes
    << ",\"committed_end\":" << sp.committed_end()
    << ",\"torn_tail_bytes\":" << sp.recovery().torn_tail_bytes << ",\"sinks\":{";
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    const std::uint64_t w = sp.watermark(i);
    // Backlog bytes: from the first unconfirmed frame to the end of the spool.
    std::uint64_t backlog_bytes = 0;
    spool_cursor cursor(sp, source_names(sp));
    cursor.seek(w);
    record_batch batch;
    spool_frame_position pos;
    skip_reason why;
    auto r = cursor.next(sp.committed_end(), batch, pos, why);
    while (r == spool_cursor::result::skipped) r = cursor.next(sp.committed_end(), batch, pos, why);
    if (r == spool_cursor::result::frame) {
      for (const auto& s : segments) {
        if (s.first_id == pos.segment_first_id) backlog_bytes += s.bytes - pos.offset;
        if (s.first_id > pos.segment_first_id) backlog_bytes += s.bytes;
      }
    }
    o << (i ? "," : "") << json_string(sinks[i]) << ":{\"watermark\":" << w
      << ",\"backlog_records\":" << sp.backlog(i) << ",\"backlog_bytes\":" << backlog_bytes << "}";
  }
  o << "}}";
  std::printf("%s\n", o.str().c_str());
  return 0;
}

int spool_replay(const std::string& dir, const std::string& uri, std::optional<std::uint64_t> from,
                 std::optional<std::uint64_t> to) {
  spool_config cfg;
  cfg.dir = dir;
  spool sp(cfg);
  if (status s = sp.open({}, /*read_only=*/true); !s) {
    std::fprintf(stderr, "edgepipe: spool replay: %s\n", s.message().c_str());
    return kExitConfig;
  }
  sink_config sc;
  if (status s = parse_sink_uri(uri, 0, sc); !s) {
    std::fprintf(stderr, "edgepipe: spool replay: %s\n", s.message().c_str());
    return kExitConfig;
  }
  const auto segments = sp.segments();
  const std::uint64_t begin = from.value_or(segments.empty() ? 0 : segments.front().first_id);
  const std::uint64_t end = std::min(to.value_or(sp.committed_end()), sp.committed_end());
  const auto sources = source_names(sp);
  pipeline_config pc;
  pc.origin = "spool replay";
  auto target = make_sink(pc, sc, sources);
  if (status s = target->open(); !s) {
    std::fprintf(stderr, "edgepipe: spool replay: %s\n", s.message().c_str());
    return kExitRuntime;
  }
  stage_counters counters("sink:" + sc.name);
  spool_cursor cursor(sp, sources);
  cursor.seek(begin);
  record_batch batch;
  std::uint64_t records = 0, skipped = 0;
  const auto started = std::chrono::steady_clock::now();
  while (cursor.position() < end) {
    spool_frame_position pos;
    skip_reason why;
    const auto r = cursor.next(end, batch, pos, why);
    if (r == spool_cursor::result::none) break;
    if (r == spool_cursor::result::skipped) {
      skipped += pos.records;
      continue;
    }
    auto& recs = batch.records();
    while (!recs.empty() && recs.back().sequence >= end) recs.pop_back();
    records += recs.size();
    target->write(batch, counters);
    target->flush(counters);
  }
  target->flush(counters);
  status closed = target->close();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "{\"from\":%llu,\"to\":%llu,\"records\":%llu,\"delivered\":%llu,\"failed\":%llu,"
      "\"skipped\":%llu,\"seconds\":%.3f}\n",
      static_cast<unsigned long long>(begin), static_cast<unsigned long long>(end),
      static_cast<unsigned long long>(records),
      static_cast<unsigned long long>(counters.records_out.get()),
      static_cast<unsigned long long>(counters.failed.get()),
      static_cast<unsigned long long>(skipped), seconds);
  if (!closed) std::fprintf(stderr, "edgepipe: spool replay: %s\n", closed.message().c_str());
  return counters.failed.get() == 0 && closed ? 0 : kExitRuntime;
}

namespace {

class spool_command final : public command {
 public:
  explicit spool_command(CLI::App& app) {
    cmd_ = app.add_subcommand("spool", "look into a spool directory or re-send from it");
    cmd_->require_subcommand(1);
    inspect_ = cmd_->add_subcommand(
        "inspect", "segments, per-sink watermarks, backlog records and bytes (JSON)");
    inspect_->add_option("dir", dir_, "spool directory")->required();
    replay_ = cmd_->add_subcommand("replay", "send records of the spool to a sink (read-only)");
    replay_->add_option("dir", dir_, "spool directory")->required();
    replay_->add_option("--sink", sink_, "file:PATH, kafka://... or mongodb://...")->required();
    replay_->add_option("--from", from_, "first record id (default: the oldest)");
    replay_->add_option("--to", to_, "end record id, exclusive (default: the newest)");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    if (inspect_->parsed()) return spool_inspect(dir_);
    return spool_replay(dir_, sink_, from_, to_);
  }

 private:
  CLI::App* cmd_ = nullptr;
  CLI::App* inspect_ = nullptr;
  CLI::App* replay_ = nullptr;
  std::string dir_, sink_;
  std::optional<std::uint64_t> from_, to_;
};

}  // namespace

std::unique_ptr<command> add_spool_command(CLI::App& app) {
  return std::make_unique<spool_command>(app);
}

}  // namespace edgepipe
