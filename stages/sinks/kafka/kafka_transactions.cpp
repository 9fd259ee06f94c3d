// The Kafka sink's exactly-once part (the class, its threads and its other files:
// kafka_sink_impl.hpp).
//
// Exactly once (`exactly_once = true`, stages/sinks/kafka/kafka_state_topic): two transactional
// producers used in turn, transactional.id `edgepipe-<node_id>-<sink>` and
// `edgepipe-<node_id>-<sink>/1`, so a restarted process fences both old ones (init_transactions
// on each aborts what it left open). Each transaction carries a contiguous run of spool records
// and, last, one record to the compacted state topic (key `<node_id>/<sink>`, value the spool's
// origin and the id after the last record); it is handed over after transaction_records records
// or transaction_interval. Pipelined commit: transaction N is committed on the "kafka-commit"
// helper thread (kafka_txn_committer) while N+1 fills on the other producer; N+1 is handed over
// only once N is committed, so the watermarks commit in order; when N fails, N+1 is aborted with
// it. Records are settled (and counted) delivered only once their commit succeeded; a delivery
// error or an abortable commit aborts the transaction and settles its records failed, so the
// spool sends them again. On start the sink reads its state record back (read_committed) and
// settles records below it as duplicates, whatever the local ledger says. A fenced producer
// (another process with the same node id) is fatal: the sink stops delivering, fails what it is
// given (kept in the spool) and logs why.
//
// Exactly once, when transactions end: a transaction is due at transaction_interval, or sooner
// when the sink has had no batch for transaction_idle (the end of a burst, a trickle: a
// read_committed consumer does not wait for the interval). A due transaction is handed over
// only once the previous commit has ended; until then it keeps filling, and the sink thread
// waits for a commit only at transaction_records (the sink thread used to stop at every
// interval until the commit before ended, and each commit costs the broker and librdkafka CPU
// that a 2-vCPU edge box shares with the pipeline: fewer, larger transactions under load). The
// committer wakes the sink thread when a commit ends (on_commit_done -> sink::wake_stage), so
// that its records are settled, and the next transaction handed over, at once.
// Saturated, a transaction stays open up to transaction_interval_busy (1 s) instead: when the
// sink thread spent at least 3/4 of the transaction's time inside write() (records waiting for
// it, or it waiting for the brokers), a commit every 100 ms costs throughput (each one takes
// CPU of edgepipe and of the broker on the same cores: benchmarks/README.md), while records
// reach read_committed consumers late by queueing anyway. A sink that keeps up (paced input, a
// trickle) commits at transaction_interval or transaction_idle as before. Two clock reads per
// batch, none per record.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sinks/kafka/kafka_sink_impl.hpp"
#include "stages/sinks/kafka/kafka_state_topic.hpp"
#include "stages/sinks/kafka/kafka_txn_committer.hpp"

namespace edgepipe::kafka_detail {

bool kafka_sink::is_fencing(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
         code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

// runs on: sink thread. Another producer with our transactional.id took over: stop for good.
// Also on the kafka-commit thread (the committing producer's error_cb): under fault_mu_.
void kafka_sink::fence(const std::string& reason) {
  const std::lock_guard<std::mutex> lock(fault_mu_);
  if (fenced_) return;
  fenced_reason_ = "kafka producer fenced (another edgepipe with node id " + config_.node_id +
                   " runs sink " + name_ + "): " + reason +
                   "; this sink stops delivering, its records stay in the spool";
  fenced_ = true;
  log_line(log_level::error, component_, fenced_reason_);
  fault_ = fenced_reason_;
}

std::string kafka_sink::fault() const {
  const std::lock_guard<std::mutex> lock(fault_mu_);
  return fault_.empty() ? oversized_reason_ : fault_;
}

void kafka_sink::fail_records(const std::vector<record>& records, std::size_t from,
                              stage_counters& counters) {
  if (from >= records.size()) return;
  failed_from(records[from].sequence);
  counters.failed.add(records.size() - from);
  for (std::size_t k = from; k < records.size(); ++k)
    settle(records[k].sequence, delivery_outcome::failed);
}

// runs on: main thread (open(), when the brokers answer: start-up, not the first records,
// pays for it) or sink thread. Both producers' transactions are initialised (fencing any
// older producers with our transactional ids, aborting what they left open) and then the
// committed watermark is read back (read_committed: it waits for no open transaction of
// ours). Retried at most every kSetupRetryNs while the brokers do not answer.
bool kafka_sink::transactions_initialised() {
  if (eos_initialised_) return true;
  const std::uint64_t now = mono_now_ns();
  if (now < next_eos_setup_ns_) return false;
  next_eos_setup_ns_ = now + kSetupRetryNs;
  if (!init_transactions(rk_, active_initialised_) ||
      !init_transactions(parked_.rk, parked_.initialised))
    return false;
  if (status s = read_committed_state(config_.brokers, config_.properties, config_.state_topic,
                                      state_key_, kMetadataTimeoutMs, committed_watermark_);
      !s) {
    log_.log(log_level::warn, component_, "state_topic", s.message() + " (tried again later)");
    return false;
  }
  eos_initialised_ = true;
  return true;
}

// runs on: sink thread, once the spool's origin is known (resume()).
bool kafka_sink::transactions_ready() {
  if (eos_ready_) return true;
  if (!transactions_initialised()) return false;
  const std::optional<kafka_watermark>& w = committed_watermark_;
  if (w && !origin_.empty() && w->origin == origin_) {
    // Never below what this process committed itself (a producer made again re-reads it).
    skip_below_ = std::max(skip_below_, w->next);
    log_line(log_level::info, component_,
             "exactly once: Kafka holds every record below " + std::to_string(w->next) +
                 " (state topic " + config_.state_topic + ", key " + state_key_ +
                 "); those sent again are skipped");
  } else if (w) {
    log_line(log_level::warn, component_,
             "exactly once: the state record in " + config_.state_topic + " is for spool " +
                 w->origin + ", this spool is " + (origin_.empty() ? "-" : origin_) +
                 "; nothing is skipped");
  }
  eos_ready_ = true;
  return true;
}

/// A new spool origin is in the ledger before a state record carries it.
bool kafka_sink::origin_in_ledger() {
  if (!origin_due_) return true;
  if (status s = checkpoint(); !s) {
    log_.log(log_level::error, component_, "origin",
             s.message() + ": the spool origin is not in the ledger yet; records wait");
    return false;
  }
  origin_due_ = false;
  return true;
}

/// Slot 0 keeps the id of a single-producer edgepipe, so an upgrade fences it too. '/' is not
/// allowed in node or sink names: no other sink's ids can be these.
std::string kafka_sink::transactional_id(int slot) const {
  std::string id = "edgepipe-" + config_.node_id + "-" + name_;
  if (slot != 0) id += "/" + std::to_string(slot);
  return id;
}

/// Exchanges the producer produce() uses (rk_ and its handles) with `other`. Swapping the
/// maps keeps their nodes, so last_stream_ still points into the right one.
void kafka_sink::swap_producers(producer_set& other) {
  std::swap(rk_, other.rk);
  std::swap(shared_topic_, other.shared_topic);
  std::swap(unknown_topic_, other.unknown_topic);
  std::swap(state_topic_, other.state_topic);
  std::swap(source_topics_, other.source_topics);
  std::swap(stream_topics_, other.stream_topics);
  std::swap(last_stream_, other.last_stream);
  std::swap(last_stream_topic_, other.last_stream_topic);
  std::swap(active_slot_, other.slot);
  std::swap(active_initialised_, other.initialised);
}

// runs on: main thread (open) or sink thread (recreate). Exactly once: the second producer,
// parked until the first hands it a transaction to fill.
status kafka_sink::create_parked_producer() {
  if (!eos_) return status::ok();
  swap_producers(parked_);  // create_producer() names it after active_slot_
  status s = create_producer();
  if (s) s = create_topic_handles();
  if (!s) destroy_active();
  swap_producers(parked_);
  return s;
}

void kafka_sink::destroy_parked() {
  if (!committer_.idle()) (void)committer_.wait();  // never destroy a producer it uses
  committing_rk_ = nullptr;
  if (parked_.rk == nullptr) return;
  stage_counters* keep = counters_;
  swap_producers(parked_);
  destroy_active();
  swap_producers(parked_);
  counters_ = keep;
}

bool kafka_sink::init_transactions(rd_kafka_t* rk, bool& done) {
  if (done) return true;
  if (rk == nullptr) return false;
  rd_kafka_error_t* e = rd_kafka_init_transactions(rk, kMetadataTimeoutMs);
  done = e == nullptr;
  if (done) return true;
  const bool fatal = rd_kafka_error_is_fatal(e) != 0;
  const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
  const std::string what = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  if (fatal && is_fencing(code)) {
    fence(what);
  } else if (fatal) {
    fatal_ = true;
  }
  log_.log(log_level::warn, component_, "init_transactions",
           "init_transactions: " + what + " (tried again later)");
  return false;
}

void kafka_sink::write_transactional(const record_batch& batch, stage_counters& counters) {
  const std::uint64_t write_started_ns = mono_now_ns();
  const auto& records = batch.records();
  if (fatal_ && !fenced_) recreate_producer();
  finish_commit(false);
  if (fenced_ || rk_ == nullptr || !setup_ready() || !origin_in_ledger() || !transactions_ready()) {
    fail_records(records, 0, counters);
    return;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const record& r = records[i];
    if (abandoned() || fenced_) {
      fail_records(records, i, counters);
      break;
    }
    if (first_failed_ != kNoFailure) {
      if (r.sequence > first_failed_) {  // after a gap: failed too, sent again in order
        counters.failed.add();
        settle(r.sequence, delivery_outcome::failed);
        continue;
      }
      first_failed_ = kNoFailure;  // the stage sends again from the first failed record
    }
    if (r.sequence < skip_below_) {  // committed already (before a restart, or before a rewind)
      counters.duplicates.add();
      counters.records_out.add();
      settle(r.sequence, delivery_outcome::duplicate);
      continue;
    }
    if (!txn_.open && !begin_transaction()) {
      fail_records(records, i, counters);
      break;
    }
    add_to_transaction(r.sequence);
    produce(batch, nullptr, r, counters);
    if (txn_.failed) {  // a produce error: the whole transaction goes
      abort_transaction();
      fail_records(records, i + 1, counters);
      break;
    }
    if (txn_.records >= txn_max_records_) hand_off_transaction();
  }
  // The interval is checked per batch (and at each flush), not per record: no clock read on
  // the per-record path.
  last_write_ns_ = mono_now_ns();
  if (txn_.open) txn_.busy_ns += last_write_ns_ - std::max(write_started_ns, txn_.started_ns);
  hand_off_when_due(last_write_ns_);
  if (rk_ != nullptr) rd_kafka_poll(rk_, 0);
  counters.in_flight.set(in_flight_);
}

bool kafka_sink::begin_transaction() {
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk_)) {
    log_.log(log_level::error, component_, "begin",
             std::string("begin_transaction: ") + rd_kafka_error_string(e));
    if (rd_kafka_error_is_fatal(e) != 0) fatal_ = true;
    rd_kafka_error_destroy(e);
    return false;
  }
  txn_.open = true;
  txn_.failed = false;
  txn_.records = 0;
  txn_.bytes = 0;
  txn_.ranges.clear();
  txn_.started_ns = mono_now_ns();
  txn_.busy_ns = 0;
  count_open_transactions();
  return true;
}

void kafka_sink::add_to_transaction(std::uint64_t sequence) {
  ++txn_.records;
  if (!txn_.ranges.empty() && txn_.ranges.back().first + txn_.ranges.back().second == sequence) {
    ++txn_.ranges.back().second;
  } else {
    txn_.ranges.emplace_back(sequence, 1);
  }
  txn_.next = sequence + 1;
}

/// Open transactions: the filling one and the one being committed (metric, tests).
void kafka_sink::count_open_transactions() {
  const std::uint64_t n = (txn_.open ? 1u : 0u) + (committer_.idle() ? 0u : 1u);
  open_transactions_.store(n, std::memory_order_relaxed);
  if (counters_ != nullptr) counters_->transactions_open.set(n);
}

void kafka_sink::failed_from(std::uint64_t id) { first_failed_ = std::min(first_failed_, id); }

/// `t`'s records, settled `outcome`; `t` is closed.
void kafka_sink::settle_transaction(txn_state& t, delivery_outcome outcome) {
  if (outcome == delivery_outcome::failed && !t.ranges.empty()) failed_from(t.ranges[0].first);
  for (const auto& [first, count] : t.ranges) settle_range(first, count, outcome);
  t.ranges.clear();
  t.records = 0;
  t.bytes = 0;
  t.open = false;
  t.failed = false;
  count_open_transactions();
}

// runs on: sink thread. What the producer still holds of the open transaction is dropped
// (its records settled failed); the producer must be made again (a new epoch aborts it).
void kafka_sink::drop_transaction() {
  if (!txn_.open) return;
  if (counters_ != nullptr) counters_->failed.add(txn_.records);
  settle_transaction(txn_, delivery_outcome::failed);
}

// runs on: sink thread. The state record, last in the open transaction; false when it could
// not be produced (the transaction must abort).
bool kafka_sink::add_state_record() {
  if (origin_.empty()) return true;
  const std::string value = kafka_state_value(origin_, txn_.next);
  for (;;) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_RKT(state_topic_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(state_key_.data(), state_key_.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_OPAQUE(nullptr),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++in_flight_;
      return true;
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !abandoned()) {
      rd_kafka_poll(rk_, 10);
      continue;
    }
    report(err, config_.state_topic.c_str(), "state record not produced");
    return false;
  }
}

// runs on: sink thread. Adds the state record to the open transaction and hands it to the
// committer; the other producer fills the next one meanwhile. Transaction N+1 is handed over
// only once N is settled, so the state records commit in order (and a failed N aborts N+1).
void kafka_sink::hand_off_transaction() {
  if (!txn_.open) return;
  finish_commit(true);
  if (!txn_.open) return;  // aborted with the one before it
  if (txn_.failed || !add_state_record()) {
    abort_transaction();
    return;
  }
  committing_ = std::move(txn_);
  txn_ = txn_state{};
  committing_in_flight_ = std::exchange(in_flight_, 0);  // the other producer has none
  committing_rk_ = rk_;
  swap_producers(parked_);
  committer_.start(committing_rk_, commit_timeout_ms());
  count_open_transactions();
}

// runs on: sink thread. Hands the open transaction over once it is due (transaction_interval,
// or no batch for transaction_idle) and the previous one's commit has ended: while that commit
// runs, this transaction keeps filling instead of the sink thread waiting for it, and the
// commit's end wakes the sink thread (on_commit_done), which hands it over then. Only a full
// transaction (transaction_records) waits for the commit before it.
void kafka_sink::hand_off_when_due(std::uint64_t now) {
  if (!txn_.open) return;
  const std::uint64_t age = now - txn_.started_ns;
  const bool idle = txn_idle_ns_ != 0 && now - last_write_ns_ >= txn_idle_ns_;
  // Saturated (see the top of this file): the interval stretches to transaction_interval_busy.
  const bool saturated = txn_.busy_ns * 4 >= age * 3;
  if (!idle && age < (saturated ? txn_busy_interval_ns_ : txn_interval_ns_)) return;
  finish_commit(false);
  if (committer_.idle()) hand_off_transaction();
}

int kafka_sink::commit_timeout_ms() const {
  return abandoned() ? 1000 : config_.message_timeout_ms + 5000;
}

// runs on: sink thread. Takes the committer's result (waiting for it when `block`): the
// committed transaction's records are delivered; a failed one's are failed, and the open
// transaction after it is aborted too (its state record would claim the failed records).
void kafka_sink::finish_commit(bool block) {
  if (committer_.idle()) return;
  std::optional<kafka_txn_committer::result> r;
  if (block) {
    r = committer_.wait();
  } else {
    r = committer_.poll();
    if (!r) return;
  }
  committing_rk_ = nullptr;
  committing_in_flight_ = 0;
  if (r->committed && !committing_.failed) {
    // Transactions commit in order and none after a gap, so Kafka holds every record below.
    skip_below_ = std::max(skip_below_, committing_.next);
    if (counters_ != nullptr) {
      counters_->records_out.add(committing_.records);
      counters_->bytes_out.add(committing_.bytes);
      counters_->transactions_committed.add();
    }
    ++transactions_committed_;
    settle_transaction(committing_, delivery_outcome::delivered);
    return;
  }
  ++transactions_aborted_;
  if (counters_ != nullptr) {
    counters_->transactions_aborted.add();
    counters_->failed.add(committing_.records);
  }
  log_.log(log_level::error, component_, "commit",
           r->committed ? std::string("a message of a committed transaction failed; its "
                                      "records are sent again from the spool")
                        : r->message);
  settle_transaction(committing_, delivery_outcome::failed);
  if (r->fatal) {
    if (is_fencing(r->code)) fence(rd_kafka_err2str(r->code));
    fatal_ = true;
  }
  abort_transaction();
}

// runs on: sink thread. Aborts the open transaction: its records are failed, never
// delivered. When the abort itself does not complete (brokers down), the producer is made
// again on the next write: its init_transactions aborts the transaction on the broker.
void kafka_sink::abort_transaction() {
  if (!txn_.open) return;
  ++transactions_aborted_;
  if (counters_ != nullptr) counters_->transactions_aborted.add();
  if (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk_, commit_timeout_ms())) {
    const bool fatal = rd_kafka_error_is_fatal(e) != 0;
    const rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    log_.log(log_level::error, component_, "abort",
             std::string("abort_transaction: ") + rd_kafka_error_string(e) +
                 "; the producer is made again");
    rd_kafka_error_destroy(e);
    if (fatal && is_fencing(code)) fence(rd_kafka_err2str(code));
    fatal_ = true;  // recreate (unless fenced): a new epoch aborts it on the broker
  }
  drop_transaction();
}

}  // namespace edgepipe::kafka_detail
