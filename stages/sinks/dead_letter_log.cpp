#include "stages/sinks/dead_letter_log.hpp"

#include <simdjson.h>

namespace edgepipe {

namespace {

/// The first `max` bytes of valid UTF-8 `s`, not cutting a character in two.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

void dead_letter_log::add(std::string_view value) {
  dead_letter_entry e;
  // Parsed with simdjson's DOM API (cold path: allocation is fine here). The transform wrote
  // the value with every string escaped and invalid UTF-8 replaced, so it parses; if it ever
  // does not, the raw text is shown instead.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(value.data(), value.size()).get(doc) == simdjson::SUCCESS && doc.is_object()) {
    std::string_view sv;
    std::int64_t iv = 0;
    bool bv = false;
    if (doc["source"].get(sv) == simdjson::SUCCESS) e.source = sv;
    if (doc["reason"].get(sv) == simdjson::SUCCESS) e.reason = sv;
    if (doc["received_at"].get(sv) == simdjson::SUCCESS) e.received_at = sv;
    if (doc["http_status"].get(iv) == simdjson::SUCCESS && iv > 0)
      e.http_status = static_cast<std::uint64_t>(iv);
    if (doc["size"].get(iv) == simdjson::SUCCESS && iv > 0) e.size = static_cast<std::uint64_t>(iv);
    if (doc["truncated"].get(bv) == simdjson::SUCCESS) e.truncated = bv;
    if (doc["bytes"].get(sv) == simdjson::SUCCESS) e.preview = utf8_prefix(sv, kPreviewBytes);
  } else {
    e.reason = "(unreadable dead-letter record)";
    e.preview = value.substr(0, kPreviewBytes);  // escaped (and made valid UTF-8) on output
    e.size = value.size();
  }
  std::lock_guard lock(mutex_);
  e.number = ++total_;
  ring_[(total_ - 1) % kKeep] = std::move(e);
}

std::vector<dead_letter_entry> dead_letter_log::last() const {
  std::lock_guard lock(mutex_);
  std::vector<dead_letter_entry> out;
  const std::uint64_t n = total_ < kKeep ? total_ : kKeep;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) out.push_back(ring_[(total_ - 1 - i) % kKeep]);
  return out;
}

void dead_letter_log::skip(std::uint64_t n) {
  std::lock_guard lock(mutex_);
  total_ += n;
}

std::uint64_t dead_letter_log::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

void dead_letter_recorder::write(const record_batch& batch, stage_counters& counters) {
  // Only the last kKeep of a batch can be kept: a storm of dead letters costs no more.
  const auto& records = batch.records();
  const std::size_t from =
      records.size() > dead_letter_log::kKeep ? records.size() - dead_letter_log::kKeep : 0;
  if (from != 0) log_.skip(from);
  for (std::size_t i = from; i < records.size(); ++i) log_.add(batch.value(records[i]));
  inner_->write(batch, counters);
}

}  // namespace edgepipe
