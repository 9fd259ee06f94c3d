// The batches the Kafka sink's messages point into while librdkafka holds them. Messages are
// produced without RD_KAFKA_MSG_F_COPY: a message's key and value stay in its batch's arena
// until its delivery report. Each batch written is leased: a reader reference through the
// stage's batch_keeper (the pooled batch itself, no copy), or, when the batch cannot outlive
// write() (a frame read back from disk into a reused buffer; a sink used without a stage), one
// copy of the whole batch (one memcpy per batch, not one allocation and copy per message). Each
// message produced gets a slot (its msg_opaque) naming its lease and record id; a lease ends
// when the write is over and its last message is answered, and its batch goes back.
// Bounded: the sink opens a lease only while bytes() stays within its max_buffer_bytes (it
// serves delivery reports until there is room), so what is held replaces librdkafka's copies
// within the same budget. Slots and leases are reused: their storage grows to the high-water
// mark of messages in flight (max_in_flight) and is not allocated per message after that.
// Threading: the sink thread only (delivery reports are served by rd_kafka_poll on it).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/batch.hpp"
#include "stages/sinks/sink.hpp"

namespace edgepipe {

class kafka_batch_leases {
 public:
  struct lease {
    const record_batch* batch = nullptr;
    record_batch* copy = nullptr;   // ours (a copy) rather than the keeper's
    std::uint32_t outstanding = 0;  // messages unanswered, + 1 while write() runs
    std::uint64_t delivered = 0;    // messages delivered (settled as one range at the end)
    // The batch's record ids are [first, first + records): settled as one range at the end,
    // minus `excluded` (records failed or settled one by one).
    bool range = false;
    std::uint64_t first = 0;
    std::uint64_t records = 0;
    std::vector<std::uint64_t> excluded;  // failure path only
  };
  struct message {
    lease* owner = nullptr;
    std::uint64_t sequence = 0;
  };

  kafka_batch_leases() = default;
  kafka_batch_leases(const kafka_batch_leases&) = delete;
  kafka_batch_leases& operator=(const kafka_batch_leases&) = delete;
  ~kafka_batch_leases() {
    for (record_batch* b : spare_copies_) delete b;
  }

  /// A lease on `batch` (held by the caller until finish_write()).
  lease* open(const record_batch& batch, batch_keeper* keeper) {
    lease* l = take_lease();
    const record_batch* kept = keeper != nullptr ? keeper->keep(batch) : nullptr;
    if (kept == nullptr) {
      record_batch* c = take_copy();
      c->arena().append(batch.arena().data(), batch.arena().size());
      c->records() = batch.records();
      l->copy = c;
      kept = c;
    }
    l->batch = kept;
    l->outstanding = 1;
    bytes_ += kept->bytes();
    ++live_;
    return l;
  }
  message* add_message(lease* l, std::uint64_t sequence) {
    message* m;
    if (free_messages_.empty()) {
      messages_.emplace_back();
      m = &messages_.back();
    } else {
      m = free_messages_.back();
      free_messages_.pop_back();
    }
    m->owner = l;
    m->sequence = sequence;
    ++l->outstanding;
    return m;
  }
  /// A message whose produce call failed (librdkafka did not take it).
  void unproduced(message* m) {
    --m->owner->outstanding;
    free_messages_.push_back(m);
  }
  /// A delivery report: frees the slot and returns the lease (its outstanding not yet lowered).
  lease* answered(message* m) {
    lease* l = m->owner;
    free_messages_.push_back(m);
    return l;
  }
  /// Gives the batch back (keeper or spare copies) once nothing points into it.
  void release(lease* l, batch_keeper* keeper) {
    bytes_ -= l->batch->bytes();
    if (l->copy != nullptr) {
      l->copy->clear();
      l->copy->trim(kCopyKeepBytes);
      if (spare_copies_.size() < kSpareCopies)
        spare_copies_.push_back(l->copy);
      else
        delete l->copy;
    } else if (keeper != nullptr) {
      keeper->drop(l->batch);
    }
    l->batch = nullptr;
    l->copy = nullptr;
    l->delivered = 0;
    l->range = false;
    l->excluded.clear();
    free_leases_.push_back(l);
    --live_;
  }
  /// Bytes of the batches held now.
  std::size_t bytes() const noexcept { return bytes_; }
  /// Leases not yet released.
  std::size_t live() const noexcept { return live_; }
  /// Every lease still open (the producer is gone: nothing points into them any more).
  template <class Fn>
  void for_each_live(Fn&& fn) {
    for (lease& l : leases_)
      if (l.batch != nullptr) fn(&l);
  }

 private:
  static constexpr std::size_t kSpareCopies = 4;
  static constexpr std::size_t kCopyKeepBytes = std::size_t{2} << 20;
  lease* take_lease() {
    if (!free_leases_.empty()) {
      lease* l = free_leases_.back();
      free_leases_.pop_back();
      return l;
    }
    leases_.emplace_back();
    return &leases_.back();
  }
  record_batch* take_copy() {
    if (spare_copies_.empty()) return new record_batch();
    record_batch* b = spare_copies_.back();
    spare_copies_.pop_back();
    return b;
  }

  std::deque<lease> leases_;  // stable addresses
  std::vector<lease*> free_leases_;
  std::deque<message> messages_;
  std::vector<message*> free_messages_;
  std::vector<record_batch*> spare_copies_;
  std::size_t bytes_ = 0;
  std::size_t live_ = 0;
};

}  // namespace edgepipe
