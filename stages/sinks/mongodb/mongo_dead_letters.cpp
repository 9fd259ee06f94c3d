// The MongoDB sink's dead letters (the class, its threads and its other files:
// mongo_sink_impl.hpp): a record MongoDB refuses for good becomes one JSON line in the sink's own
// dead-letter JSONL file (reason, sink, source, collection, code, key, sequence, size and the
// value, key and value cut at kDeadLetterMaxBytes); the batch's dead letters are settled once the
// file is synced, or failed (kept in the spool) when it could not be written or synced.
// Threading: the sink thread only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "platform/log.hpp"
#include "stages/sinks/mongodb/mongo_sink_impl.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"

namespace edgepipe::mongo_detail {
namespace {

constexpr std::size_t kDeadLetterMaxBytes = 4096;

}  // namespace

/// Settles the batch's dead letters once their file is synced: dead-lettered, or, when it
/// could not be written or synced, failed (they stay in the spool and come again).
void mongo_sink::settle_dead_letters() {
  if (dead_letter_pending_.empty() && !dead_letter_write_failed_) return;
  status s = dead_letters_.sync();
  if (s && dead_letter_write_failed_) s = dead_letter_error_;
  dead_letter_write_failed_ = false;
  const auto outcome = s ? delivery_outcome::dead_lettered : delivery_outcome::failed;
  for (const std::uint64_t seq : dead_letter_pending_) settle(seq, outcome);
  if (s) {
    dead_lettered_ += dead_letter_pending_.size();
    if (dead_letter_errors_logged_) {
      dead_letter_errors_logged_ = false;
      log_line(log_level::info, "sink:" + name_,
               "dead-letter file " + dead_letters_.path() + " is written again");
    }
  } else {
    failed_ += dead_letter_pending_.size();
    report_dead_letter_error(s);
  }
  dead_letter_pending_.clear();
}

void mongo_sink::report_dead_letter_error(const status& s) {
  ++dead_letter_errors_;
  if (dead_letter_errors_logged_) return;  // once per episode
  dead_letter_errors_logged_ = true;
  log_line(log_level::error, "sink:" + name_,
           s.message() + " (errno " + std::to_string(s.code()) +
               "): dead letters stay in the spool and are retried");
}

std::string_view mongo_sink::source_name(source_id src) const {
  return src < source_names_.size() ? std::string_view(source_names_[src])
                                    : std::string_view("unknown");
}

/// Appends the record's dead letter; it is settled by settle_dead_letters() (failed there
/// when this append failed).
void mongo_sink::dead_letter(const record_batch& batch, const record& r,
                             const std::string& collection, std::string_view reason,
                             std::int64_t code) {
  const std::string_view value = batch.value(r);
  line_.clear();
  line_.append("{\"reason\":");
  append_json_string_lossy(line_, reason);
  line_.append(",\"sink\":");
  append_json_string_lossy(line_, name_);
  line_.append(",\"source\":");
  append_json_string_lossy(line_, source_name(r.source));
  line_.append(",\"collection\":");
  append_json_string_lossy(line_, config_.database + "." + collection);
  line_.append(",\"code\":");
  append_int(line_, code);
  line_.append(",\"key\":");
  if (r.key_length != 0) {
    append_json_string_lossy(line_, batch.key(r).substr(0, kDeadLetterMaxBytes));
  } else {
    line_.append("null");
  }
  line_.append(",\"sequence\":");
  append_int(line_, static_cast<std::int64_t>(r.sequence));
  line_.append(",\"size\":");
  append_int(line_, static_cast<std::int64_t>(value.size()));
  line_.append(value.size() > kDeadLetterMaxBytes ? ",\"truncated\":true,\"bytes\":"
                                                  : ",\"truncated\":false,\"bytes\":");
  append_json_string_lossy(line_, value.substr(0, kDeadLetterMaxBytes));
  line_.append("}\n");
  dead_letter_pending_.push_back(r.sequence);
  if (dead_letter_write_failed_) return;  // failed with the rest of the batch's
  if (status st = dead_letters_.append(line_.view(0, line_.size())); !st) {
    dead_letter_write_failed_ = true;
    dead_letter_error_ = st;
  }
}

}  // namespace edgepipe::mongo_detail
