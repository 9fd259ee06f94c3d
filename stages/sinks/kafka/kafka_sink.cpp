// Kafka sink: produces every record to Kafka through librdkafka (idempotent producer, acks=all,
// lz4 by default), one topic for everything (`topic`) or one per source (`topic_prefix` + source
// name). A record with a stream of its own (a postgres_cdc event: `<prefix>.<schema>.<table>`)
// goes to the topic of that name, created (create_topics) when the sink first meets it.
// Message key = record key (none when empty), value = the record JSON (a null value for an
// empty one: a tombstone), headers `source` and `record-id` (sequence number, decimal). Both
// are read downstream: `record-id` identifies a resent record (test_cdc_pipeline's duplicate
// check, examples/spark's dedupe of keyless records), `source` names the producer
// (test_cdc_pipeline). There is no `content-type` header (it was a constant: every value is
// JSON): librdkafka allocates the header list and each header, and with the message itself
// those allocations were most of the sink thread's time (benchmarks/README.md).
// CreateTime: one wall-clock read per batch (and after each wait), passed as the messages'
// timestamp, instead of one read per message inside librdkafka.
//
// No copy: messages are produced without RD_KAFKA_MSG_F_COPY; key and value point into the
// record batch, which the sink keeps (stages/sinks/kafka/kafka_batch_leases: a reader reference
// through the stage's batch_keeper, or one copy of the batch when it cannot outlive write())
// until the last delivery report of its messages. A spool frame delivered whole is settled with
// one settle_range() call when its last report arrives (failures are settled one by one).
// Delivery reports wake the sink thread: librdkafka's main queue calls sink::wake_stage() when
// it goes from empty to non-empty (rd_kafka_queue_cb_event_enable), so the stage collects them
// at once instead of at its next 5 ms poll.
//
// Accounting: delivery reports are the only truth. A record counts as delivered
// (counters.records_out, bytes_out) only when its delivery report says so; produce errors,
// delivery errors (including `Local: Message timed out`) and messages still queued when close()
// gives up count as failed. Every produced message ends in exactly one of the two.
//
// Memory is bounded: queue.buffering.max.kbytes = max_buffer_bytes / 1024 (8 MiB by default,
// half that for each of the two producers of exactly once; the messages are bounded by
// max_in_flight). When that queue is full, write() polls and retries, so backpressure blocks the
// sink thread (and, through the ring, the pipeline) instead of growing the heap. At least once,
// the batches held for in-flight messages are bounded by max_buffer_bytes too (their arena
// bytes): at the limit write() serves delivery reports before it takes another batch. They
// replace librdkafka's copies, which that bound capped. Exactly once copies each message
// (RD_KAFKA_MSG_F_COPY): the committing producer's delivery reports run on the kafka-commit
// thread, which must not touch the sink thread's leases.
//
// Lead over the brokers: at most max_in_flight messages are produced and not yet answered; at
// the limit write() serves delivery reports (rd_kafka_poll) until there is room. Without it the
// sink thread, fed by a spool or a fast transform, runs up to the whole queue ahead of
// librdkafka's broker thread: every message then comes from freshly faulted heap pages and is
// cold in cache for the broker thread, which compresses it, and both threads spend more CPU per
// message (benchmarks/README.md). The limit must stay above rate x round trip to the brokers.
//
// Exactly once: the top of kafka_transactions.cpp. The class, which thread calls what, and which
// file holds which part: kafka_sink_impl.hpp. This file: the stage's calls, producing a message,
// delivery reports and wake-ups.
#include "stages/sinks/kafka/kafka_sink.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sinks/kafka/kafka_batch_leases.hpp"
#include "stages/sinks/kafka/kafka_sink_impl.hpp"
#include "stages/sinks/kafka/kafka_state_topic.hpp"

namespace edgepipe {
namespace kafka_detail {
namespace {

constexpr int kSpooledStartTimeoutMs = 2000;
constexpr int kInFlightPollMs = 10;  // longest wait for a delivery report at max_in_flight

}  // namespace

kafka_sink::kafka_sink(std::string name, kafka_sink_config config,
                       std::vector<std::string> source_names, std::vector<bool> stream_only_sources)
    : name_(std::move(name)),
      config_(std::move(config)),
      source_names_(std::move(source_names)),
      stream_only_(std::move(stream_only_sources)) {
  stream_only_.resize(source_names_.size(), false);
}

kafka_sink::~kafka_sink() { destroy(); }

const std::string& kafka_sink::name() const { return name_; }

status kafka_sink::open() {
  if (rk_ != nullptr) return status::error("sink " + name_ + ": already open");
  if (status s = create_producer(); !s) return s;
  const std::vector<std::string> topics = topic_names();
  // With a spool, a broker that is down is no reason to wait long: the records wait instead.
  if (status s = check_brokers(may_start_down_ ? kSpooledStartTimeoutMs : kMetadataTimeoutMs); !s) {
    if (!may_start_down_) {
      destroy();
      return s;
    }
    log_line(log_level::warn, "sink:" + name_,
             s.message() +
                 ": starting anyway, records wait in the spool; topics are checked "
                 "and created once the brokers answer");
    defer_setup();
  } else if (config_.create_topics) {
    if (status created = create_topics(topics); !created) {
      destroy();
      return created;
    }
    if (status created = create_state_topic(); !created) {
      destroy();
      return created;
    }
  }
  if (status s = create_topic_handles(); !s) {
    destroy();
    return s;
  }
  if (status s = create_parked_producer(); !s) {
    destroy();
    return s;
  }
  // Nothing is produced to a topic before its partitions answer (wait_until_writable): when
  // they do not yet, the sink thread checks again (try_setup) while records wait; without a
  // spool to wait in, open() fails.
  if (!setup_pending() && !topics_writable()) {
    if (!may_start_down_) {
      destroy();
      return status::error("sink " + name_ + ": topics on " + config_.brokers +
                           " not writable after " + std::to_string(kLeaderWaitMs) + " ms");
    }
    defer_setup();
  }
  // Exactly once: initialised now, before the pipeline starts (else on the first write).
  if (eos_ && !setup_pending()) (void)transactions_initialised();
  return status::ok();
}

// runs on: sink thread. Spool mode: the spool's origin, from the ledger or new (written to
// the ledger before any state record carries it).
void kafka_sink::resume(std::string_view ledger_state) {
  if (!eos_) return;
  std::string_view origin = parse_kafka_origin(ledger_state);
  if (origin.empty()) {
    origin_ = new_kafka_origin();
    origin_due_ = true;
  } else {
    origin_ = std::string(origin);
  }
  origin_line_ = kafka_origin_line(origin_);
}

std::string_view kafka_sink::ledger_state() { return origin_line_; }

// Exactly once: a new spool origin goes into the ledger (an fdatasync) and the committed
// watermark is compared with it now, while the pipeline starts, not on the first write.
void kafka_sink::prepare() {
  if (!eos_ || rk_ == nullptr || setup_pending()) return;
  if (origin_in_ledger()) (void)transactions_ready();
}

/// For tests: raises a fatal error inside the producer, as a broker fencing it would.
void kafka_sink::inject_fatal_error(const char* reason) {
  if (rk_ != nullptr)
    (void)rd_kafka_test_fatal_error(rk_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
}

std::uint64_t kafka_sink::producers_recreated() const noexcept { return recreated_; }

kafka_transaction_stats kafka_sink::transaction_stats() const {
  const std::lock_guard<std::mutex> lock(fault_mu_);
  return {transactions_committed_, transactions_aborted_,
          open_transactions_.load(std::memory_order_relaxed), fenced_, fenced_reason_};
}

void kafka_sink::write(const record_batch& batch, stage_counters& counters) {
  counters_ = &counters;
  enable_events();
  if (oversized_sequence_ != kNoOversized) clear_oversized(batch);
  if (eos_) {
    write_transactional(batch, counters);
    return;
  }
  if (fatal_) recreate_producer();
  const auto& records = batch.records();
  if (rk_ == nullptr || !setup_ready()) {
    // Not produced (a topic must not be auto-created with the broker's defaults): failed
    // now, retried from the spool.
    counters.failed.add(records.size());
    for (const record& r : records) settle(r.sequence, delivery_outcome::failed);
    return;
  }
  kafka_batch_leases::lease* l = lease_batch(batch, counters);
  const record_batch& held = *l->batch;  // the batch, or our copy of it
  // A spool frame's ids are contiguous: settled as one range once every message is answered
  // (one listener call per batch rather than one per record).
  l->range = has_listener() && !records.empty();
  for (std::size_t i = 0; l->range && i < records.size(); ++i)
    l->range = records[i].sequence == records.front().sequence + i;
  if (l->range) {
    l->first = records.front().sequence;
    l->records = records.size();
  }
  const auto& held_records = held.records();
  stamp_now();
  for (std::size_t i = 0; i < held_records.size(); ++i) {
    if (abandoned()) {  // shutdown deadline: the rest stays in the spool
      counters.failed.add(held_records.size() - i);
      for (std::size_t k = i; k < held_records.size(); ++k)
        settle_now(l, held_records[k].sequence, delivery_outcome::failed);
      break;
    }
    produce(held, l, held_records[i], counters);
  }
  finish_write(l);
  rd_kafka_poll(rk_, 0);  // serve delivery reports as we go
  counters.in_flight.set(in_flight_);
}

void kafka_sink::flush(stage_counters& counters) {
  counters_ = &counters;
  enable_events();
  if (eos_) {
    if (rk_ != nullptr) rd_kafka_poll(rk_, 0);
    finish_commit(false);
    hand_off_when_due(mono_now_ns());
    if (fatal_ && !fenced_) recreate_producer();
    counters.in_flight.set(in_flight_);
    return;
  }
  if (rk_ != nullptr) rd_kafka_poll(rk_, 0);
  if (fatal_) recreate_producer();
  counters.in_flight.set(in_flight_);
}

status kafka_sink::close() {
  if (rk_ == nullptr) return status::ok();
  if (eos_) {
    if (txn_.open && abandoned()) abort_transaction();
    hand_off_transaction();
    finish_commit(true);
    // Every record of a transaction was settled with it (committed, or failed when it was
    // aborted or dropped): what librdkafka still reports of them is not counted again.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(rk_, 1000);
    in_flight_ = 0;
  }
  status result;
  const int deadline_ms = abandoned() ? 0 : config_.message_timeout_ms + 5000;
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_, deadline_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Give up on what is left: purged messages get a delivery report (failed) if librdkafka
    // can still produce one; anything else is counted failed below.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)rd_kafka_flush(rk_, 1000);
  }
  const std::uint64_t undelivered = in_flight_;
  if (undelivered != 0) {
    if (counters_ != nullptr) counters_->failed.add(undelivered);
    in_flight_ = 0;
    result = status::error("sink " + name_ + ": " + std::to_string(undelivered) +
                           " message(s) not delivered within " + std::to_string(deadline_ms) +
                           " ms of close");
  }
  destroy();
  return result;
}

/// The topic of a record's own stream; created on first use (a table created after start).
/// nullptr when no handle can be had (the record then fails and is retried).
rd_kafka_topic_t* kafka_sink::stream_topic(std::string_view stream) {
  if (stream.empty()) return nullptr;  // a stream offset that does not read back
  if (last_stream_topic_ != nullptr && stream == last_stream_) return last_stream_topic_;
  auto it = stream_topics_.find(stream);
  if (it == stream_topics_.end()) {
    std::string topic(stream);
    if (config_.create_topics) {
      // After a failure (brokers down), the next attempt waits: not one admin call per record.
      if (mono_now_ns() < next_stream_create_ns_) return nullptr;
      if (status s = create_topics({topic}); !s) {
        log_line(log_level::warn, "sink:" + name_, s.message());
        next_stream_create_ns_ = mono_now_ns() + kSetupRetryNs;
        return nullptr;  // retried from the spool with backoff
      }
    }
    rd_kafka_topic_t* h = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
    if (h == nullptr) return nullptr;
    // Not one produce before its partitions answer (see wait_until_writable).
    if (!wait_until_writable(h, kLeaderWaitMs)) {
      log_line(log_level::warn, "sink:" + name_,
               "topic " + topic + ": partitions not writable after " +
                   std::to_string(kLeaderWaitMs) + " ms (records retried from the spool)");
      rd_kafka_topic_destroy(h);
      next_stream_create_ns_ = mono_now_ns() + kSetupRetryNs;
      return nullptr;
    }
    it = stream_topics_.emplace(std::move(topic), h).first;
    log_line(log_level::info, "sink:" + name_, "producing to topic " + it->first);
  }
  last_stream_ = it->first;
  last_stream_topic_ = it->second;
  return it->second;
}

rd_kafka_topic_t* kafka_sink::topic_for(const record_batch& batch, const record& r) {
  if (r.stream != 0) return stream_topic(batch.stream(r));
  return topic_for(r.source);
}

rd_kafka_topic_t* kafka_sink::topic_for(source_id source) {
  if (shared_topic_ != nullptr) return shared_topic_;
  if (source < source_topics_.size()) return source_topics_[source];
  if (unknown_topic_ == nullptr)  // may stay null: produce() then fails the record
    unknown_topic_ = rd_kafka_topic_new(rk_, (config_.topic_prefix + "unknown").c_str(), nullptr);
  return unknown_topic_;
}

// runs on: sink thread. A lease on `batch` for its messages (see kafka_batch_leases), once
// the batches held stay within max_buffer_bytes: until then, delivery reports are served.
kafka_batch_leases::lease* kafka_sink::lease_batch(const record_batch& batch,
                                                   stage_counters& counters) {
  if (leases_.live() != 0 && leases_.bytes() + batch.bytes() > config_.max_buffer_bytes &&
      !abandoned()) {
    counters.ring_stalls.add();
    do {
      rd_kafka_poll(rk_, kInFlightPollMs);
    } while (leases_.live() != 0 && leases_.bytes() + batch.bytes() > config_.max_buffer_bytes &&
             !abandoned());
  }
  return leases_.open(batch, keeper());
}

// runs on: sink thread. A record settled on its own (failed, or not produced): left out of
// its lease's range.
void kafka_sink::settle_now(kafka_batch_leases::lease* l, std::uint64_t sequence,
                            delivery_outcome outcome) {
  if (l->range) l->excluded.push_back(sequence);
  settle(sequence, outcome);
}

// runs on: sink thread (at least once). One wall-clock read for the messages that follow.
void kafka_sink::stamp_now() noexcept { timestamp_ms_ = unix_now_ns() / 1'000'000; }

// runs on: sink thread. write() is done with the lease.
void kafka_sink::finish_write(kafka_batch_leases::lease* l) {
  if (--l->outstanding == 0) end_lease(l);
}

// runs on: sink thread. Every message of the lease is answered: settles what was delivered,
// gives the batch back.
void kafka_sink::end_lease(kafka_batch_leases::lease* l) {
  if (l->delivered != 0 && l->range) settle_delivered_range(l);
  leases_.release(l, keeper());
}

void kafka_sink::settle_delivered_range(kafka_batch_leases::lease* l) {
  const std::uint64_t end = l->first + l->records;
  if (l->excluded.empty()) {
    settle_range(l->first, l->records, delivery_outcome::delivered);
    return;
  }
  std::sort(l->excluded.begin(), l->excluded.end());
  std::uint64_t from = l->first;
  for (const std::uint64_t x : l->excluded) {
    if (x > from) settle_range(from, x - from, delivery_outcome::delivered);
    from = x + 1;
  }
  if (end > from) settle_range(from, end - from, delivery_outcome::delivered);
}

// runs on: sink thread. One message. With a lease (at least once) key and value point into the
// leased batch (no RD_KAFKA_MSG_F_COPY) until the delivery report; without one (exactly once,
// `l` = nullptr) they are copied, so that no batch must outlive write(): the committing
// producer's delivery reports run on the kafka-commit thread, which must not touch the sink
// thread's leases.
void kafka_sink::produce(const record_batch& batch, kafka_batch_leases::lease* l, const record& r,
                         stage_counters& counters) {
  // Bounded lead (see the top of this file): wait for delivery reports to make room. A
  // broker that is down still answers, with failures, within message.timeout.ms.
  // Counted in ring_stalls, once per wait, like a full ring.
  if (in_flight_ >= max_in_flight_ && !abandoned()) {
    counters.ring_stalls.add();
    do {
      rd_kafka_poll(rk_, kInFlightPollMs);
    } while (in_flight_ >= max_in_flight_ && !abandoned());
    if (timestamp_ms_ != 0) stamp_now();
  }
  const auto failed = [&](rd_kafka_resp_err_t err, const char* topic, const char* what) {
    counters.failed.add();
    if (l != nullptr) {
      settle_now(l, r.sequence, delivery_outcome::failed);
    } else {
      settle(r.sequence, delivery_outcome::failed);
    }
    report(err, topic, what);
  };
  rd_kafka_topic_t* topic = rk_ != nullptr ? topic_for(batch, r) : nullptr;
  if (topic == nullptr) {  // no producer (being recreated) or no topic handle
    failed(rk_ != nullptr ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR__FATAL, nullptr,
           "no producer or topic handle");
    return;
  }
  const std::string_view key = batch.key(r);
  const std::string_view value = batch.value(r);
  const std::string_view source = source_name(r.source);
  char id[24];
  const auto id_end = std::to_chars(id, id + sizeof id, r.sequence).ptr;
  const auto id_len = static_cast<std::size_t>(id_end - id);
  kafka_batch_leases::message* slot = l != nullptr ? leases_.add_message(l, r.sequence) : nullptr;
  void* opaque = slot != nullptr ? static_cast<void*>(slot)
                                 : reinterpret_cast<void*>(static_cast<std::uintptr_t>(r.sequence));
  const int flags = l != nullptr ? 0 : RD_KAFKA_MSG_F_COPY;
  for (;;) {
    // RD_KAFKA_V_HEADER: librdkafka builds (and on failure frees) the header list itself; the
    // two headers are what consumers read (see the top of this file). Timestamp 0 (exactly
    // once): librdkafka reads the clock.
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(flags),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
        RD_KAFKA_V_VALUE(value.empty() ? nullptr : const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_HEADER("source", source.data(), static_cast<ssize_t>(source.size())),
        RD_KAFKA_V_HEADER("record-id", id, static_cast<ssize_t>(id_len)),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms_), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++in_flight_;
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !abandoned()) {
      // Bounded memory: wait for deliveries (or timeouts) to free room, then retry.
      rd_kafka_poll(rk_, 10);
      if (timestamp_ms_ != 0) stamp_now();
      continue;
    }
    if (slot != nullptr) leases_.unproduced(slot);
    failed(err, rd_kafka_topic_name(topic), "produce failed");
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && has_listener())
      oversized(r, key.size() + value.size());
    return;
  }
}

// runs on: sink thread. librdkafka refuses a message over message.max.bytes before sending it,
// and the spool sends the record again, first, at every retry: the sink is stuck on it until the
// limit is raised. Said once per record in the log and by fault() (/health 503, a replay stops);
// the record and those after it stay in the spool.
void kafka_sink::oversized(const record& r, std::size_t bytes) {
  if (oversized_sequence_ == r.sequence) return;
  oversized_sequence_ = r.sequence;
  char limit[32] = "?";
  std::size_t limit_size = sizeof limit;
  if (rk_ != nullptr)
    (void)rd_kafka_conf_get(rd_kafka_conf(rk_), "message.max.bytes", limit, &limit_size);
  const std::string_view source = source_name(r.source);
  std::string why = "record " + std::to_string(r.sequence) + " (source " + std::string(source) +
                    ", " + std::to_string(bytes) +
                    " bytes of key and value) is over message.max.bytes " + limit +
                    ": Kafka cannot take it, and it and the records after it wait in the spool; "
                    "raise message.max.bytes in [sinks." +
                    name_ + ".properties] (and the topic's max.message.bytes)";
  log_line(log_level::error, component_, why);
  const std::lock_guard<std::mutex> lock(fault_mu_);
  oversized_reason_ = std::move(why);
}

void kafka_sink::clear_oversized(const record_batch& batch) {
  if (batch.records().empty() || batch.records().front().sequence <= oversized_sequence_) return;
  oversized_sequence_ = kNoOversized;
  const std::lock_guard<std::mutex> lock(fault_mu_);
  oversized_reason_.clear();
}

void kafka_sink::report(rd_kafka_resp_err_t err, const char* topic, const char* what) {
  // First error per error code and topic per 10 s; the rest are counted by the limiter.
  const std::string t = topic != nullptr ? topic : "-";
  log_.log(log_level::error, component_, std::to_string(err) + "/" + t,
           "topic " + t + ": " + what + ": " + rd_kafka_err2str(err));
}

void kafka_sink::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<kafka_sink*>(opaque);
  if (self->eos_) {  // settled at commit or abort (kafka-commit thread for the committing one)
    self->on_transactional_delivery(rk, m);
    return;
  }
  if (self->in_flight_ != 0) --self->in_flight_;
  auto* slot = static_cast<kafka_batch_leases::message*>(m->_private);
  const std::uint64_t id = slot->sequence;
  kafka_batch_leases::lease* l = self->leases_.answered(slot);
  self->answer(l, id, m);
  if (--l->outstanding == 0) self->end_lease(l);
}

// runs on: sink thread (inside rd_kafka_poll). One message's delivery report (at least once;
// exactly once settles at commit or abort, on_transactional_delivery).
void kafka_sink::answer(kafka_batch_leases::lease* l, std::uint64_t id,
                        const rd_kafka_message_t* m) {
  stage_counters* c = counters_;
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (c != nullptr) {
      c->records_out.add();
      c->bytes_out.add(m->len + m->key_len);
    }
    // Settled with the batch's range when the lease ends (end_lease).
    ++l->delivered;
    if (!l->range) settle(id, delivery_outcome::delivered);
    return;
  }
  if (c != nullptr) c->failed.add();
  settle_now(l, id, delivery_outcome::failed);
  report(m->err, m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : nullptr, "delivery failed");
}

// runs on: sink thread. Delivery reports wake the sink thread (sink::wake_stage) as soon as
// librdkafka queues them, instead of waiting for the stage's next poll. Enabled here rather
// than in open(): the stage sets its wake callback after open(), before the thread starts.
void kafka_sink::enable_events() {
  // Exactly once keeps polling: its two producers take turns, and the committing one's
  // reports are served by the kafka-commit thread.
  if (eos_ || events_enabled_ || rk_ == nullptr) return;
  rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(rk_);
  rd_kafka_queue_cb_event_enable(main_queue, &kafka_sink::on_queue_event, this);
  rd_kafka_queue_destroy(main_queue);
  events_enabled_ = true;
}

// runs on: the kafka-commit thread, when a commit (or abort) ended. Only wakes the sink thread.
void kafka_sink::on_commit_done(void* opaque) {
  static_cast<const kafka_sink*>(opaque)->wake_stage();
}

// runs on: a librdkafka thread, when the main queue (delivery reports, errors) goes from
// empty to non-empty. Must not call librdkafka: only wakes the sink thread.
void kafka_sink::on_queue_event(rd_kafka_t*, void* opaque) {
  static_cast<const kafka_sink*>(opaque)->wake_stage();
}

}  // namespace kafka_detail

std::unique_ptr<sink> make_kafka_sink(const std::string& name, const kafka_sink_config& config,
                                      const std::vector<std::string>& source_names,
                                      const std::vector<bool>& stream_only_sources) {
  return std::make_unique<kafka_detail::kafka_sink>(name, config, source_names,
                                                    stream_only_sources);
}

void kafka_sink_inject_fatal_error(sink& s, const char* reason) {
  static_cast<kafka_detail::kafka_sink&>(s).inject_fatal_error(reason);
}

std::uint64_t kafka_sink_producers_recreated(const sink& s) {
  return static_cast<const kafka_detail::kafka_sink&>(s).producers_recreated();
}

kafka_transaction_stats kafka_sink_transaction_stats(const sink& s) {
  return static_cast<const kafka_detail::kafka_sink&>(s).transaction_stats();
}

}  // namespace edgepipe
