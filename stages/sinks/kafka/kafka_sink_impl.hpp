// The Kafka sink's class (make_kafka_sink in kafka_sink.hpp makes it), shared by the files that
// define its parts; nothing outside stages/sinks/kafka/ includes this header. What the sink does
// and why: the top of kafka_sink.cpp (at least once) and of kafka_transactions.cpp (exactly once).
//   kafka_sink.cpp          the stage's calls (open, resume, prepare, write, flush, close), the
//                           tests' hooks, producing a message (its topic, the lease on its batch,
//                           the bounded lead), delivery reports, wake-ups.
//   kafka_sink_setup.cpp    the producer: configured and created, its error and log callbacks,
//                           the brokers checked (at open, or once they answer), topics created
//                           and their handles made, made again after a fatal error, destroyed.
//   kafka_transactions.cpp  exactly once: both producers' transactions initialised, filled,
//                           handed to the kafka-commit thread, committed or aborted, the state
//                           record; fencing.
//
// Threading:
//   open()                   main thread, before any pipeline thread starts (creates the
//                            producer, checks the brokers, creates topics).
//   write(), flush(), close() the sink thread only.
//   dr_msg_cb, error_cb      run inside rd_kafka_poll()/rd_kafka_flush(), i.e. on the sink
//                            thread, so they use the counters' single-writer add(). No background
//                            event queue is enabled, so librdkafka never calls them elsewhere;
//                            except (exactly once) for the producer being committed, whose
//                            callbacks run on the kafka-commit thread inside its commit: they
//                            touch only that transaction's state (committing_), fatal_ (atomic)
//                            and fence() (under fault_mu_).
//   on_queue_event           a librdkafka thread (at least once only): only calls
//                            sink::wake_stage() (no librdkafka call, no lock).
//   on_commit_done           the kafka-commit thread (exactly once), when a commit or abort
//                            ended: only calls sink::wake_stage().
//   log_cb                   may run on librdkafka's internal threads: it only takes a mutex and
//                            writes to stderr.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "platform/log.hpp"
#include "stages/sinks/kafka/kafka_batch_leases.hpp"
#include "stages/sinks/kafka/kafka_sink.hpp"
#include "stages/sinks/kafka/kafka_state_topic.hpp"
#include "stages/sinks/kafka/kafka_txn_committer.hpp"

namespace edgepipe::kafka_detail {

constexpr int kMetadataTimeoutMs = 10000;
/// Longest wait for a topic's partitions to answer before the first produce to it.
constexpr int kLeaderWaitMs = 5000;

/// Lets the stream-topic map be searched with a string_view (no allocation per record).
struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class kafka_sink final : public sink {
 public:
  // kafka_sink.cpp
  kafka_sink(std::string name, kafka_sink_config config, std::vector<std::string> source_names,
             std::vector<bool> stream_only_sources);
  ~kafka_sink() override;
  const std::string& name() const override;
  status open() override;
  void resume(std::string_view ledger_state) override;
  std::string_view ledger_state() override;
  void prepare() override;
  void inject_fatal_error(const char* reason);
  std::uint64_t producers_recreated() const noexcept;
  kafka_transaction_stats transaction_stats() const;
  void write(const record_batch& batch, stage_counters& counters) override;
  void flush(stage_counters& counters) override;
  status close() override;

 private:
  // The records of one transaction; (first id, count) runs, settled together at its end.
  struct txn_state {
    bool open = false;
    bool failed = false;  // a message of it failed: it must abort
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::uint64_t next = 0;  // the id after its last record
    std::uint64_t started_ns = 0;
    std::uint64_t busy_ns = 0;  // time in write() since it began (see kafka_transactions.cpp)
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  };

  // One producer and its topic handles (handles belong to the producer that made them).
  struct producer_set {
    rd_kafka_t* rk = nullptr;
    rd_kafka_topic_t* shared_topic = nullptr;
    rd_kafka_topic_t* unknown_topic = nullptr;
    rd_kafka_topic_t* state_topic = nullptr;
    std::vector<rd_kafka_topic_t*> source_topics;
    std::unordered_map<std::string, rd_kafka_topic_t*, name_hash, std::equal_to<>> stream_topics;
    std::string_view last_stream;
    rd_kafka_topic_t* last_stream_topic = nullptr;
    int slot = 1;
    bool initialised = false;  // init_transactions done
  };

  // kafka_sink_setup.cpp: the producer and its topics.
  status create_producer();
  status create_topic_handles();
  void recreate_producer();
  status set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);
  status configure(rd_kafka_conf_t* conf);
  status check_brokers(int timeout_ms);
  bool wait_until_writable(rd_kafka_topic_t* topic, int timeout_ms);
  bool topics_writable();
  bool try_setup() override;
  std::vector<std::string> topic_names() const;
  status create_state_topic();
  status create_topics(const std::vector<std::string>& topics);
  status create_topics(const std::vector<std::string>& topics, int partitions, bool compacted);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  void destroy();
  void destroy_active();

  // kafka_sink.cpp: producing, delivery reports, wake-ups. Those declared inline run per
  // message or per batch and are called in kafka_sink.cpp only: inline, as they were in the
  // class body, so that the compiler still inlines them into write(), produce() and on_delivery().
  // always_inline: those GCC inlined at every call while the class was file-local (one or few
  // callers, internal linkage) but no longer does with external linkage.
  [[gnu::always_inline]] inline rd_kafka_topic_t* stream_topic(std::string_view stream);
  [[gnu::always_inline]] inline rd_kafka_topic_t* topic_for(const record_batch& batch,
                                                            const record& r);
  [[gnu::always_inline]] inline rd_kafka_topic_t* topic_for(source_id source);
  [[gnu::always_inline]] inline kafka_batch_leases::lease* lease_batch(const record_batch& batch,
                                                                       stage_counters& counters);
  [[gnu::always_inline]] inline void settle_now(kafka_batch_leases::lease* l,
                                                std::uint64_t sequence, delivery_outcome outcome);
  inline void stamp_now() noexcept;
  inline void finish_write(kafka_batch_leases::lease* l);
  inline void end_lease(kafka_batch_leases::lease* l);
  inline void settle_delivered_range(kafka_batch_leases::lease* l);
  void produce(const record_batch& batch, kafka_batch_leases::lease* l, const record& r,
               stage_counters& counters);
  void report(rd_kafka_resp_err_t err, const char* topic, const char* what);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  inline void answer(kafka_batch_leases::lease* l, std::uint64_t id, const rd_kafka_message_t* m);
  inline void enable_events();
  static void on_commit_done(void* opaque);
  static void on_queue_event(rd_kafka_t*, void* opaque);

  // ---- exactly once (transactions) ---------------------------------------------------------
  // kafka_transactions.cpp, but on_transactional_delivery (below: per message, called by
  // on_delivery in kafka_sink.cpp). Those declared inline run per record or per transaction and
  // are called in kafka_transactions.cpp only (inline as above: write_transactional()).
  static bool is_fencing(rd_kafka_resp_err_t code);
  void fence(const std::string& reason);
  std::string fault() const override;
  // kafka_sink.cpp: a record too large for message.max.bytes, stuck at the head of the spool.
  void oversized(const record& r, std::size_t bytes);
  void clear_oversized(const record_batch& batch);
  /// The record's source name (its `source` header), "unknown" for an id past the list.
  std::string_view source_name(source_id src) const noexcept {
    return src < source_names_.size() ? std::string_view(source_names_[src])
                                      : std::string_view("unknown");
  }
  void fail_records(const std::vector<record>& records, std::size_t from, stage_counters& counters);
  bool transactions_initialised();
  bool transactions_ready();
  bool origin_in_ledger();
  std::string transactional_id(int slot) const;
  void swap_producers(producer_set& other);
  status create_parked_producer();
  void destroy_parked();
  bool init_transactions(rd_kafka_t* rk, bool& done);
  void write_transactional(const record_batch& batch, stage_counters& counters);
  inline bool begin_transaction();
  inline void add_to_transaction(std::uint64_t sequence);
  inline void count_open_transactions();
  inline void failed_from(std::uint64_t id);
  inline void settle_transaction(txn_state& t, delivery_outcome outcome);
  void drop_transaction();
  inline bool add_state_record();
  void hand_off_transaction();
  void hand_off_when_due(std::uint64_t now);
  inline int commit_timeout_ms() const;
  void finish_commit(bool block);
  void abort_transaction();

  // Delivery reports of a transactional producer: on the sink thread for rk_, on the
  // kafka-commit thread for the producer being committed (committing_rk_). Only counted into
  // the transaction's state: settled at commit or abort, never here (a delivered message of an
  // aborted transaction is invisible to read_committed consumers).
  void on_transactional_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m) {
    const bool committing = rk != nullptr && rk == committing_rk_;
    std::uint64_t& in_flight = committing ? committing_in_flight_ : in_flight_;
    txn_state& t = committing ? committing_ : txn_;
    if (in_flight != 0) --in_flight;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      t.bytes += m->len + m->key_len;
    } else if (!t.failed) {
      t.failed = true;
      report(m->err, m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : nullptr,
             "delivery failed (transaction aborted, retried from the spool)");
    }
  }

  std::string name_;
  kafka_sink_config config_;
  std::vector<std::string> source_names_;
  // Per source: its records carry their own topic (postgres_cdc), so no `<prefix><source>` topic.
  std::vector<bool> stream_only_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* shared_topic_ = nullptr;
  rd_kafka_topic_t* unknown_topic_ = nullptr;
  std::vector<rd_kafka_topic_t*> source_topics_;
  // Records' own streams (postgres_cdc topics), by name; the last one used, for runs of records
  // of one table without a hash.
  std::unordered_map<std::string, rd_kafka_topic_t*, name_hash, std::equal_to<>> stream_topics_;
  std::string_view last_stream_;  // a key of stream_topics_
  rd_kafka_topic_t* last_stream_topic_ = nullptr;
  std::uint64_t next_stream_create_ns_ = 0;
  stage_counters* counters_ = nullptr;  // set by write()/flush(); used by the callbacks
  std::uint64_t in_flight_ = 0;         // produced, no delivery report yet
  kafka_batch_leases leases_;           // the batches in-flight messages point into
  // At least once: the CreateTime of the messages produced now (ms since the epoch, see the
  // top of kafka_sink.cpp). Stays 0 for exactly once: librdkafka then reads the clock per message.
  std::int64_t timestamp_ms_ = 0;
  bool events_enabled_ = false;  // on_queue_event registered on the main queue
  // The producer had a fatal error: recreate it. Atomic: the kafka-commit thread may set it.
  std::atomic<bool> fatal_{false};
  std::uint64_t recreated_ = 0;
  const std::uint64_t max_in_flight_ = static_cast<std::uint64_t>(config_.max_in_flight);
  std::string component_ = "sink:" + name_;
  // Exactly once (all on the sink thread, but open_transactions_, read by the metrics).
  const bool eos_ = config_.exactly_once;
  const std::uint64_t txn_max_records_ = static_cast<std::uint64_t>(config_.transaction_records);
  const std::uint64_t txn_interval_ns_ = config_.transaction_interval_ms * 1'000'000;
  const std::uint64_t txn_idle_ns_ = config_.transaction_idle_ms * 1'000'000;  // 0: off
  const std::uint64_t txn_busy_interval_ns_ =
      std::max(config_.transaction_interval_busy_ms, config_.transaction_interval_ms) * 1'000'000;
  const std::string state_key_ = config_.node_id + "/" + name_;
  rd_kafka_topic_t* state_topic_ = nullptr;
  bool eos_initialised_ = false;     // init_transactions done on both producers, watermark read
  bool active_initialised_ = false;  // init_transactions done on rk_
  std::optional<kafka_watermark> committed_watermark_;  // read by transactions_initialised()
  bool eos_ready_ = false;                              // and compared with this spool's origin
  std::uint64_t next_eos_setup_ns_ = 0;
  std::string origin_;       // the spool's origin (spool mode)
  std::string origin_line_;  // ledger state: "kafka.spool=<origin>\n"
  bool origin_due_ = false;  // a new origin, not yet in the ledger
  // Records below it are in Kafka already: the state topic's watermark at start, then the end
  // of each committed transaction. Sent again (after a restart, or by a rewind that starts at
  // the first frame not confirmed, which may hold committed records), they are duplicates.
  std::uint64_t skip_below_ = 0;
  // Go-back-N in one sink: once a record failed, every later record is failed too until the
  // stage sends again from the first failed one (a record at or below first_failed_: without a
  // rewind the ids only grow). Otherwise the rest of a batch, or a frame taken before the stage
  // saw the failure, would commit after the gap; the rewind then sends it again and Kafka holds
  // it twice (and a watermark past the gap would skip the failed records after a restart).
  static constexpr std::uint64_t kNoFailure = ~std::uint64_t{0};
  std::uint64_t first_failed_ = kNoFailure;
  txn_state txn_;  // the open transaction, filling on rk_
  // The pipelined commit: the other producer (idle, or committing `committing_` on the
  // committer's thread) and the transaction it commits. committing_rk_ is the producer while
  // the committer has it (null otherwise): written by the sink thread only while the committer
  // is idle, read by the delivery callbacks of both threads.
  producer_set parked_;
  int active_slot_ = 0;  // the slot of rk_ (0 or 1): its transactional.id
  txn_state committing_;
  std::uint64_t committing_in_flight_ = 0;  // kafka-commit thread while it commits
  rd_kafka_t* committing_rk_ = nullptr;
  std::uint64_t last_write_ns_ = 0;  // when write_transactional() last ended
  // Wakes the sink thread when a commit ends, so that its records are settled at once.
  kafka_txn_committer committer_{"kafka-commit", &kafka_sink::on_commit_done, this};
  std::uint64_t transactions_committed_ = 0;
  std::uint64_t transactions_aborted_ = 0;
  std::atomic<std::uint64_t> open_transactions_{0};
  std::atomic<bool> fenced_{false};  // written under fault_mu_, read without it
  std::string fenced_reason_;        // under fault_mu_
  // fault_, fenced_reason_: written once by fence() (sink or kafka-commit thread), read by /health
  mutable std::mutex fault_mu_;
  std::string fault_;
  // A record over message.max.bytes (producev: MSG_SIZE_TOO_LARGE) that the spool will send
  // again: the sink cannot get past it until the limit is raised. Its sequence (sink thread) and
  // why (under fault_mu_, fault() reports it); cleared once a batch starts after it (the spool
  // dropped it, or without a spool it was given up).
  static constexpr std::uint64_t kNoOversized = ~std::uint64_t{0};
  std::uint64_t oversized_sequence_ = kNoOversized;
  std::string oversized_reason_;
  rate_limited_log log_;  // thread-safe: also used by log_cb on librdkafka's threads
};

}  // namespace edgepipe::kafka_detail
