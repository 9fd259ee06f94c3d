#include "stages/spool/spool.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "io/file_ops.hpp"
#include "platform/log.hpp"

namespace edgepipe {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLedgerKey = "confirmed_end=";

}  // namespace

std::optional<std::uint64_t> parse_ledger(std::string_view text) {
  const auto at = text.find(kLedgerKey);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = text.data() + at + kLedgerKey.size();
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
  if (ec != std::errc() || end == begin) return std::nullopt;
  return v;
}

std::string_view parse_ledger_state(std::string_view text) {
  const auto at = text.find(kLedgerKey);
  if (at == std::string_view::npos) return {};
  const auto eol = text.find('\n', at);
  return eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
}

std::string spool::ledger_path(const std::string& sink) const {
  return (fs::path(config_.dir) / (sink + ".ledger")).string();
}

void spool::add_segment(spool_segment s) {
  std::lock_guard lock(mutex_);
  segments_.push_back(std::move(s));
}

void spool::update_active(std::uint64_t end_id, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  if (segments_.empty()) return;
  segments_.back().end_id = end_id;
  segments_.back().bytes = bytes;
}

void spool::publish_committed(std::uint64_t end_id) noexcept {
  if (end_id > durable_.load(std::memory_order_relaxed))
    durable_.store(end_id, std::memory_order_release);
  publish_visible(end_id);
}

void spool::publish_visible(std::uint64_t end_id) noexcept {
  if (end_id <= committed_.load(std::memory_order_relaxed)) return;
  committed_.store(end_id, std::memory_order_release);
  commit_waiter_.notify();
}

void spool::finish_writing() noexcept {
  writer_done_.store(true, std::memory_order_release);
  commit_waiter_.wake();
}

void spool::confirm(std::size_t sink, std::uint64_t end_id) noexcept {
  auto& w = sinks_[sink]->watermark;
  if (end_id <= w.load(std::memory_order_relaxed)) return;
  w.store(end_id, std::memory_order_release);
  confirms_.fetch_add(1, std::memory_order_acq_rel);
  space_waiter_.notify();
}

std::uint64_t spool::confirmed_by_all() const noexcept {
  const std::uint64_t dropped = dropped_end();
  std::uint64_t m = committed_end();
  for (const auto& s : sinks_)
    m = std::min(m, std::max(s->watermark.load(std::memory_order_acquire), dropped));
  return m;
}

std::uint64_t spool::min_watermark() const noexcept {
  return std::min(durable_end(), confirmed_by_all());
}

std::uint64_t spool::delete_confirmed_segments(bool including_last) {
  std::vector<std::string> paths;
  const std::uint64_t freed = take_confirmed_segments(paths, including_last);
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec)
      log_line(log_level::error, "spool",
               "cannot delete confirmed segment " + path + ": " + ec.message());
  }
  return freed;
}

std::uint64_t spool::take_confirmed_segments(std::vector<std::string>& paths, bool including_last) {
  const std::uint64_t confirmed = min_watermark();
  std::uint64_t freed = 0;
  std::lock_guard lock(mutex_);
  const std::size_t keep = including_last ? 0 : 1;
  while (segments_.size() > keep && segments_.front().end_id <= confirmed) {
    freed += segments_.front().bytes;
    paths.push_back(std::move(segments_.front().path));
    segments_.pop_front();
    deleted_segments_.fetch_add(1, std::memory_order_relaxed);
  }
  return freed;
}

bool spool::drop_oldest_segment(bool even_last) {
  spool_segment seg;
  std::vector<std::pair<std::string, std::uint64_t>> retry;
  {
    std::lock_guard lock(mutex_);
    retry.swap(undeleted_);
  }
  std::vector<std::pair<std::string, std::uint64_t>> still;
  for (auto& [path, bytes] : retry) {
    std::error_code ec;
    if (!fs::remove(path, ec) && ec) still.emplace_back(std::move(path), bytes);
  }
  {
    std::lock_guard lock(mutex_);
    for (auto& u : still) undeleted_.push_back(std::move(u));
    if (segments_.size() <= (even_last ? 0u : 1u)) return false;
    seg = std::move(segments_.front());
    segments_.pop_front();
  }
  std::string lost;
  for (const auto& s : sinks_) {
    const std::uint64_t w = std::max(s->watermark.load(std::memory_order_acquire), dropped_end());
    const std::uint64_t n = w < seg.end_id ? seg.end_id - std::max(w, seg.first_id) : 0;
    s->dropped.fetch_add(n, std::memory_order_relaxed);
    lost += (lost.empty() ? "" : ", ") + s->name + " " + std::to_string(n);
  }
  dropped_end_.store(std::max(dropped_end(), seg.end_id), std::memory_order_release);
  std::error_code ec;
  if (!fs::remove(seg.path, ec) && ec) {
    // The records are gone for the sinks, but the bytes are still on disk: they stay counted
    // against max_bytes until a later drop manages to delete the file.
    log_line(log_level::error, "spool",
             "cannot delete dropped segment " + seg.path + ": " + ec.message() + " (errno " +
                 std::to_string(ec.value()) + "); its " + std::to_string(seg.bytes) +
                 " bytes still count against max_bytes");
    std::lock_guard lock(mutex_);
    undeleted_.emplace_back(seg.path, seg.bytes);
  }
  dropped_segments_.fetch_add(1, std::memory_order_relaxed);
  log_line(log_level::error, "spool",
           "spool full (max_bytes " + std::to_string(config_.max_bytes) +
               ", on_full = drop_oldest): dropped segment " + seg.path + " (records " +
               std::to_string(seg.first_id) + ".." + std::to_string(seg.end_id) +
               "); records not yet confirmed, per sink: " + lost);
  commit_waiter_.wake();  // readers positioned in the dropped segment move on
  return true;
}

void spool::hold_visible(std::uint64_t end_id) noexcept {
  if (end_id < visible_cap_.load(std::memory_order_relaxed))
    visible_cap_.store(end_id, std::memory_order_seq_cst);
}

void spool::release_visible() noexcept {
  visible_cap_.store(~std::uint64_t{0}, std::memory_order_seq_cst);
  commit_waiter_.notify();
}

status spool::cut_unpublished(std::uint64_t end_id, std::uint64_t cut_offset) {
  std::vector<std::string> doomed;
  // Before any file changes: readers stop at end_id, and one that sees a file change (a cut,
  // a deleted segment) also sees the new generation and finds its place again by id.
  hold_visible(end_id);
  layout_generation_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::lock_guard lock(mutex_);
    // The segment holding end_id first: when its cut fails nothing has changed.
    for (auto& seg : segments_) {
      if (seg.first_id >= end_id || seg.end_id <= end_id) continue;
      const std::uint64_t at = cut_offset != 0 ? cut_offset : seg.bytes;
      if (::truncate(seg.path.c_str(), static_cast<off_t>(at)) != 0)
        return errno_status("cannot cut the unpublished frames of " + seg.path, errno);
      seg.end_id = end_id;
      seg.bytes = at;
    }
    while (!segments_.empty() && segments_.back().first_id >= end_id) {
      if (segments_.back().first_id != end_id) doomed.push_back(segments_.back().path);
      segments_.pop_back();
    }
  }
  for (const std::string& path : doomed) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  return status::ok();
}

std::uint64_t spool::backlog(std::size_t sink) const {
  const std::uint64_t w = std::max(watermark(sink), dropped_end());
  const std::uint64_t end = committed_end();
  std::lock_guard lock(mutex_);
  std::uint64_t n = 0;
  for (const auto& s : segments_) {
    const std::uint64_t lo = std::max(s.first_id, w), hi = std::min(s.end_id, end);
    if (hi > lo) n += hi - lo;
  }
  return n;
}

std::uint64_t spool::total_bytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& s : segments_) total += s.bytes;
  for (const auto& u : undeleted_) total += u.second;
  return total;
}

std::uint64_t spool::undeleted_bytes() const {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& u : undeleted_) total += u.second;
  return total;
}

status spool::persist_ledger(std::size_t sink, std::string_view state) {
  sink_slot& s = *sinks_[sink];
  std::lock_guard write_lock(s.write_mutex);
  {
    std::lock_guard lock(s.pending_mutex);
    s.pending = false;  // this write is newer than any request not yet written
  }
  return write_ledger(s, s.watermark.load(std::memory_order_acquire), state);
}

status spool::persist_ledger_async(std::size_t sink, std::string_view state) {
  sink_slot& s = *sinks_[sink];
  if (state.size() > kMaxLedgerStateBytes)
    return status::error("ledger of sink " + s.name + ": sink state of " +
                         std::to_string(state.size()) + " bytes, the limit is " +
                         std::to_string(kMaxLedgerStateBytes));
  {
    // The watermark is read here, with the state: the two must match (the file sink's length).
    std::lock_guard lock(s.pending_mutex);
    s.pending = true;
    s.pending_watermark = s.watermark.load(std::memory_order_acquire);
    s.pending_state.assign(state);  // within the reserved capacity
  }
  ledger_thread_->request();
  return status::ok();
}

void spool::write_pending_ledgers() {
  std::string state;
  state.reserve(kMaxLedgerStateBytes);
  for (auto& slot : sinks_) {
    sink_slot& s = *slot;
    std::lock_guard write_lock(s.write_mutex);
    std::uint64_t w = 0;
    {
      std::lock_guard lock(s.pending_mutex);
      if (!s.pending) continue;
      s.pending = false;
      w = s.pending_watermark;
      state.assign(s.pending_state);
    }
    if (status st = write_ledger(s, w, state); !st)
      log_line(log_level::error, "sink:" + s.name, st.message());
  }
}

status spool::write_ledger(sink_slot& s, std::uint64_t w, std::string_view state) {
  if (w == s.persisted && state == s.persisted_state) return status::ok();
  if (state.size() > kMaxLedgerStateBytes)
    return status::error("ledger of sink " + s.name + ": sink state of " +
                         std::to_string(state.size()) + " bytes, the limit is " +
                         std::to_string(kMaxLedgerStateBytes));
  // Runs every ledger_interval (ledger thread) and at a sink's checkpoints (sink thread): no
  // heap allocation here (an ofstream's buffer made glibc consolidate the fastbins full of
  // librdkafka's freed message headers).
  char text[512 + kMaxLedgerStateBytes];
  char* p = text;
  char* const end = text + sizeof text;
  auto put = [&](std::string_view part) {
    const std::size_t n = std::min(part.size(), static_cast<std::size_t>(end - p));
    if (n != 0) std::memcpy(p, part.data(), n);  // an empty view's data() may be null
    p += n;
  };
  put("edgepipe spool ledger v1\nsink=");
  put(s.name);
  put("\n");
  put(kLedgerKey);
  p = std::to_chars(p, end, w).ptr;
  put("\n");
  put(state);
  if (p == end) return status::error("ledger text too long for sink " + s.name);
  // Atomic and durable (io/file_ops): a power cut leaves the old or the new ledger, never an
  // empty one, and a watermark once persisted does not go back.
  if (status st = replace_file_durably(*ops_, config_.dir, s.ledger_tmp, s.ledger_path,
                                       std::string_view(text, static_cast<std::size_t>(p - text)));
      !st)
    return st.prefixed("ledger of sink " + s.name + ": ");
  s.persisted = w;
  s.persisted_state.assign(state);  // within the reserved capacity: no allocation
  return status::ok();
}

bool spool::find_segment(std::uint64_t id, spool_segment& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : segments_) {
    if (id < s.end_id || (id >= s.first_id && &s == &segments_.back())) {
      out = s;
      return true;
    }
  }
  return false;
}

bool spool::next_segment_after(std::uint64_t first_id, spool_segment& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : segments_) {
    if (s.first_id > first_id) {
      out = s;
      return true;
    }
  }
  return false;
}

std::vector<spool_segment> spool::segments() const {
  std::lock_guard lock(mutex_);
  return {segments_.begin(), segments_.end()};
}

}  // namespace edgepipe
