#include "stages/spool/spool_memory_tail.hpp"

#include <algorithm>

namespace edgepipe {

void spool_memory_tail::drop_front() {
  record_batch* b = entries_.front().batch;
  bytes_ -= b->bytes();
  entries_.pop_front();
  if (b->release_reader()) pool_.release(b);
}

void spool_memory_tail::put(record_batch* batch, const spool_frame_position& where) {
  if (max_bytes_ == 0 || batch->bytes() > max_bytes_) {
    if (batch->release_reader()) pool_.release(batch);
    return;
  }
  std::lock_guard lock(mutex_);
  while (!entries_.empty() &&
         (bytes_ + batch->bytes() > max_bytes_ || entries_.size() >= kMaxEntries))
    drop_front();
  entries_.push_back({batch, where});
  bytes_ += batch->bytes();
}

record_batch* spool_memory_tail::acquire(std::size_t sink, std::uint64_t first_id,
                                         std::uint64_t committed_end, spool_frame_position& where) {
  std::unique_lock lock(mutex_);
  if (sink < next_.size()) next_[sink] = first_id;
  if (entries_.empty() || first_id < entries_.front().where.first_id ||
      first_id > entries_.back().where.first_id)
    return nullptr;
  // Entries are in id order and contiguous but for batches that never made it here: search.
  const auto it =
      std::lower_bound(entries_.begin(), entries_.end(), first_id,
                       [](const entry& e, std::uint64_t id) { return e.where.first_id < id; });
  if (it == entries_.end() || it->where.first_id != first_id ||
      it->where.first_id + it->where.records > committed_end)
    return nullptr;
  it->batch->add_reader();
  where = it->where;
  hits_.fetch_add(1, std::memory_order_release);
  if (sink < next_.size()) next_[sink] = first_id + it->where.records;
  record_batch* b = it->batch;
  lock.unlock();
  taken_.notify();
  return b;
}

void spool_memory_tail::expect(std::size_t sink, std::uint64_t first_id) {
  std::lock_guard lock(mutex_);
  if (sink < next_.size()) next_[sink] = first_id;
}

bool spool_memory_tail::would_evict_wanted(std::size_t bytes, std::uint64_t& wanted_end) const {
  std::lock_guard lock(mutex_);
  if (max_bytes_ == 0 || bytes > max_bytes_ || entries_.empty()) return false;
  // The entries put() would drop: [front, front + n).
  std::size_t n = 0;
  std::size_t left = bytes_;
  while (n < entries_.size() && (left + bytes > max_bytes_ || entries_.size() - n >= kMaxEntries))
    left -= entries_[n++].batch->bytes();
  if (n == 0) return false;
  const std::uint64_t from = entries_.front().where.first_id;
  const std::uint64_t to = entries_[n - 1].where.first_id + entries_[n - 1].where.records;
  bool wanted = false;
  for (const std::uint64_t next : next_) {
    if (next >= from && next < to) {
      wanted = true;
      wanted_end = to;
    }
  }
  return wanted;
}

void spool_memory_tail::wait_for_take(std::uint64_t seen_hits, std::chrono::nanoseconds timeout) {
  taken_.wait([&] { return hits_.load(std::memory_order_acquire) != seen_hits; }, timeout);
}

void spool_memory_tail::release(record_batch* batch) {
  if (batch->release_reader()) pool_.release(batch);
}

void spool_memory_tail::evict_done(std::uint64_t confirmed_end) {
  std::lock_guard lock(mutex_);
  // Every sink has taken the frames below this (none when a sink has not asked yet).
  std::uint64_t taken_end = next_.empty() ? 0 : kNotFollowing;
  for (const std::uint64_t next : next_) taken_end = std::min(taken_end, next);
  if (taken_end == kNotFollowing) taken_end = 0;
  const std::uint64_t done_end = std::max(confirmed_end, taken_end);
  while (!entries_.empty() &&
         entries_.front().where.first_id + entries_.front().where.records <= done_end)
    drop_front();
}

void spool_memory_tail::clear() {
  std::lock_guard lock(mutex_);
  while (!entries_.empty()) drop_front();
}

std::uint64_t spool_memory_tail::hits() const { return hits_.load(std::memory_order_relaxed); }

std::size_t spool_memory_tail::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace edgepipe
