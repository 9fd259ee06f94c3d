#include "stages/sinks/file/file_sink.hpp"

#include <cstdio>
#include <filesystem>

#include "stages/transform/json_text.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

file_sink::file_sink(std::string name, file_sink_config config,
                     std::vector<std::string> source_names)
    : name_(std::move(name)), config_(std::move(config)), source_names_(std::move(source_names)) {}

status file_sink::open() {
  const fs::path path(config_.path);
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return status::error("sink " + name_ + ": cannot create directory " +
                           path.parent_path().string() + ": " + ec.message());
  }
  // Continue numbering after rotated files a previous run left behind.
  while (fs::exists(config_.path + "." + std::to_string(next_rotation_), ec)) ++next_rotation_;
  uring_file_writer_options o;
  o.truncate = false;  // a restarted daemon appends; it never destroys earlier output
  if (status s = writer_.open(config_.path, o); !s)
    return status::error("sink " + name_ + ": " + s.message());
  return status::ok();
}

void file_sink::append_line(const record_batch& batch, const record& r) {
  if (config_.format == file_format::value) {
    const std::string_view v = batch.value(r);
    // value + '\n' in one call: most records fit the current buffer.
    writer_.write(v);
    writer_.write("\n");
    return;
  }
  line_.clear();
  line_.append("{\"key\":", 7);
  if (r.key_length) {
    append_json_string_lossy(line_, batch.key(r));
  } else {
    line_.append("null", 4);
  }
  line_.append(",\"source\":", 10);
  append_json_string(line_, r.source < source_names_.size()
                                ? std::string_view(source_names_[r.source])
                                : std::string_view("unknown"));
  line_.append(",\"event_time\":", 14);
  append_int(line_, r.event_time_ms);
  line_.append(",\"ingest_time\":", 15);
  append_int(line_, r.ingest_unix_ns / 1'000'000);
  line_.append(",\"sequence\":", 12);
  append_int(line_, static_cast<std::int64_t>(r.sequence));
  line_.append(",\"value\":", 9);
  line_.append(batch.value(r));
  line_.append("}\n", 2);
  writer_.write(line_.view(0, line_.size()));
}

void file_sink::write(const record_batch& batch, stage_counters& counters) {
  const auto& records = batch.records();
  if (failed_) {
    counters.failed.add(records.size());
    for (const record& r : records) settle(r.sequence, delivery_outcome::failed);
    return;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const record& r = records[i];
    const std::uint64_t before = writer_.bytes_written();
    append_line(batch, r);
    ++pending_;
    if (has_listener()) {
      if (!pending_ids_.empty() &&
          pending_ids_.back().first + pending_ids_.back().second == r.sequence)
        ++pending_ids_.back().second;
      else
        pending_ids_.emplace_back(r.sequence, 1);
    }
    pending_bytes_ += writer_.bytes_written() - before;
    // Checked per record so a file never exceeds rotate_bytes by more than one line.
    if (config_.rotate_bytes != 0 && writer_.bytes_written() >= config_.rotate_bytes) {
      rotate(counters);
      if (failed_) {  // the rest of the batch has nowhere to go: count it, never drop it silently
        counters.failed.add(records.size() - i - 1);
        for (std::size_t k = i + 1; k < records.size(); ++k)
          settle(records[k].sequence, delivery_outcome::failed);
        return;
      }
    }
  }
}

void file_sink::flush(stage_counters& counters) {
  if (pending_ == 0 || failed_) return;
  status s = config_.fsync ? writer_.sync() : writer_.flush();
  if (!s) {
    std::fprintf(stderr, "edgepipe: sink %s: %s\n", name_.c_str(), s.message().c_str());
    counters.failed.add(pending_);
    failed_ = true;
    settle_pending(delivery_outcome::failed);
  } else {
    counters.records_out.add(pending_);
    counters.bytes_out.add(pending_bytes_);
    settle_pending(delivery_outcome::delivered);
  }
  pending_ = 0;
  pending_bytes_ = 0;
}

void file_sink::settle_pending(delivery_outcome outcome) {
  for (const auto& [first, count] : pending_ids_) settle_range(first, count, outcome);
  pending_ids_.clear();
}

void file_sink::rotate(stage_counters& counters) {
  flush(counters);
  if (failed_) return;
  if (status s = config_.fsync ? writer_.sync() : status::ok(); !s) {
    std::fprintf(stderr, "edgepipe: sink %s: %s\n", name_.c_str(), s.message().c_str());
  }
  (void)writer_.close();
  const std::string rotated = config_.path + "." + std::to_string(next_rotation_++);
  std::error_code ec;
  fs::rename(config_.path, rotated, ec);  // atomic: readers see the old or the new name
  if (ec) {
    std::fprintf(stderr, "edgepipe: sink %s: cannot rotate %s: %s\n", name_.c_str(),
                 config_.path.c_str(), ec.message().c_str());
  }
  uring_file_writer_options o;
  o.truncate = false;
  if (status s = writer_.open(config_.path, o); !s) {
    std::fprintf(stderr, "edgepipe: sink %s: %s\n", name_.c_str(), s.message().c_str());
    failed_ = true;
  }
}

status file_sink::close() {
  status s = config_.fsync ? writer_.sync() : status::ok();
  status c = writer_.close();
  return s ? c : s;
}

}  // namespace edgepipe
