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
#include "stages/sinks/kafka/kafka_sink.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sinks/kafka/kafka_batch_leases.hpp"
#include "stages/sinks/kafka/kafka_state_topic.hpp"
#include "stages/sinks/kafka/kafka_txn_committer.hpp"

namespace edgepipe {
namespace {

constexpr int kMetadataTimeoutMs = 10000;
constexpr int kSetupProbeTimeoutMs = 1000;
constexpr int kSpooledStartTimeoutMs = 2000;
constexpr int kAdminTimeoutMs = 15000;
constexpr int kInFlightPollMs = 10;  // longest wait for a delivery report at max_in_flight
constexpr int kLeaderWaitMs = 5000;  // open(): longest wait for new topics' partition leaders

/// Lets the stream-topic map be searched with a string_view (no allocation per record).
struct name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class kafka_sink final : public sink {
 public:
  kafka_sink(std::string name, kafka_sink_config config, std::vector<std::string> source_names,
             std::vector<bool> stream_only_sources)
      : name_(std::move(name)),
        config_(std::move(config)),
        source_names_(std::move(source_names)),
        stream_only_(std::move(stream_only_sources)) {
    stream_only_.resize(source_names_.size(), false);
  }

  ~kafka_sink() override { destroy(); }

  const std::string& name() const override { return name_; }

  status open() override {
    if (rk_ != nullptr) return status::error("sink " + name_ + ": already open");
    if (status s = create_producer(); !s) return s;
    const std::vector<std::string> topics = topic_names();
    // With a spool, a broker that is down is no reason to wait long: the records wait instead.
    if (status s = check_brokers(may_start_down_ ? kSpooledStartTimeoutMs : kMetadataTimeoutMs);
        !s) {
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
    if (config_.create_topics && !setup_pending()) wait_for_leaders();
    // Exactly once: initialised now, before the pipeline starts (else on the first write).
    if (eos_ && !setup_pending()) (void)transactions_initialised();
    return status::ok();
  }

  // runs on: sink thread. Spool mode: the spool's origin, from the ledger or new (written to
  // the ledger before any state record carries it).
  void resume(std::string_view ledger_state) override {
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
  std::string_view ledger_state() override { return origin_line_; }
  // Exactly once: a new spool origin goes into the ledger (an fdatasync) and the committed
  // watermark is compared with it now, while the pipeline starts, not on the first write.
  void prepare() override {
    if (!eos_ || rk_ == nullptr || setup_pending()) return;
    if (origin_in_ledger()) (void)transactions_ready();
  }

  /// For tests: raises a fatal error inside the producer, as a broker fencing it would.
  void inject_fatal_error(const char* reason) {
    if (rk_ != nullptr)
      (void)rd_kafka_test_fatal_error(rk_, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason);
  }
  std::uint64_t producers_recreated() const noexcept { return recreated_; }
  kafka_transaction_stats transaction_stats() const {
    const std::lock_guard<std::mutex> lock(fault_mu_);
    return {transactions_committed_, transactions_aborted_,
            open_transactions_.load(std::memory_order_relaxed), fenced_, fenced_reason_};
  }

  void write(const record_batch& batch, stage_counters& counters) override {
    counters_ = &counters;
    enable_events();
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

  void flush(stage_counters& counters) override {
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

  status close() override {
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

 private:
  status create_producer() {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (status s = configure(conf); !s) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
    rd_kafka_conf_set_error_cb(conf, &kafka_sink::on_error);
    rd_kafka_conf_set_log_cb(conf, &kafka_sink::on_log);
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk_ == nullptr) {
      rd_kafka_conf_destroy(conf);  // not taken over on failure
      return status::error("sink " + name_ + ": cannot create kafka producer: " + errstr);
    }
    return status::ok();
  }

  status create_topic_handles() {
    auto make = [&](const std::string& t, rd_kafka_topic_t*& out) {
      out = rd_kafka_topic_new(rk_, t.c_str(), nullptr);
      if (out != nullptr) return status::ok();
      return status::error("sink " + name_ + ": cannot create a handle for topic " + t + ": " +
                           rd_kafka_err2str(rd_kafka_last_error()));
    };
    if (eos_)
      if (status s = make(config_.state_topic, state_topic_); !s) return s;
    if (!config_.topic.empty()) return make(config_.topic, shared_topic_);
    for (std::size_t i = 0; i < source_names_.size(); ++i) {
      rd_kafka_topic_t* h = nullptr;  // none for a source whose records name their own topic
      if (!stream_only_[i])
        if (status s = make(config_.topic_prefix + source_names_[i], h); !s) return s;
      source_topics_.push_back(h);
    }
    return status::ok();
  }

  // runs on: sink thread. A fatal error (the idempotent producer was fenced, or its sequence
  // numbers can no longer be trusted) leaves the producer unusable for good: every message it
  // still holds fails (settled failed, so the spool sends it again) and a new producer, with a
  // new producer id, takes over. Retried on the next write/flush when it cannot be built.
  void recreate_producer() {
    if (eos_) finish_commit(true);  // the other producer's transaction is settled first
    if (rk_ != nullptr) {
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (in_flight_ != 0 && std::chrono::steady_clock::now() < deadline)
        rd_kafka_poll(rk_, 50);  // serves the failed delivery reports
    }
    if (eos_) {  // the transaction's records are failed as a whole, not per message
      drop_transaction();
      in_flight_ = 0;
      eos_ready_ = false;  // the new producers initialise their transactions (new epoch)
      eos_initialised_ = false;
      next_eos_setup_ns_ = 0;
    }
    if (in_flight_ != 0) {
      log_line(log_level::error, component_,
               std::to_string(in_flight_) +
                   " message(s) got no delivery report from the failed producer; counted failed");
      if (counters_ != nullptr) counters_->failed.add(in_flight_);
      in_flight_ = 0;
    }
    stage_counters* keep = counters_;
    destroy();
    counters_ = keep;
    if (status s = create_producer(); !s) {
      log_line(log_level::error, component_, s.message() + " (tried again on the next batch)");
      return;
    }
    if (status s = create_topic_handles(); !s) {
      log_line(log_level::error, component_, s.message() + " (tried again on the next batch)");
      destroy();
      counters_ = keep;
      return;
    }
    if (status s = create_parked_producer(); !s) {
      log_line(log_level::error, component_, s.message() + " (tried again on the next batch)");
      destroy();
      counters_ = keep;
      return;
    }
    fatal_ = false;
    ++recreated_;
    log_line(log_level::warn, component_,
             "kafka producer recreated after a fatal error; failed records are sent again");
  }

  status set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
      return status::error("sink " + name_ + ": kafka property " + key + "=" + value + ": " +
                           errstr);
    return status::ok();
  }

  status configure(rd_kafka_conf_t* conf) {
    const bool acks_all = config_.acks == "all" || config_.acks == "-1";
    // Exactly once: the two producers share the bound.
    const std::uint64_t kbytes = config_.max_buffer_bytes / 1024 / (eos_ ? 2 : 1);
    const std::pair<std::string, std::string> settings[] = {
        {"bootstrap.servers", config_.brokers},
        {"client.id", "edgepipe-" + name_},
        {"acks", config_.acks},
        // Idempotence needs acks=all; with weaker acks the user asked for speed over safety.
        {"enable.idempotence", acks_all ? "true" : "false"},
        {"compression.codec", config_.compression},
        {"linger.ms", std::to_string(config_.linger_ms)},
        {"batch.size", std::to_string(config_.batch_bytes)},
        {"queue.buffering.max.kbytes", std::to_string(kbytes == 0 ? 1 : kbytes)},
        {"message.timeout.ms", std::to_string(config_.message_timeout_ms)},
    };
    for (const auto& [k, v] : settings)
      if (status s = set(conf, k, v); !s) return s;
    if (eos_) {
      // A restarted process (same node id, same sink) fences the old one.
      if (status s = set(conf, "transactional.id", transactional_id(active_slot_)); !s) return s;
      // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
      const int txn_timeout = std::max(60000, config_.message_timeout_ms);
      if (status s = set(conf, "transaction.timeout.ms", std::to_string(txn_timeout)); !s) return s;
    }
    for (const auto& [k, v] : config_.properties)
      if (status s = set(conf, k, v); !s) return s;
    return status::ok();
  }

  status check_brokers(int timeout_ms) {
    const struct rd_kafka_metadata* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, nullptr, &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return status::error("sink " + name_ + ": kafka brokers " + config_.brokers +
                           " did not answer within " + std::to_string(timeout_ms) +
                           " ms: " + rd_kafka_err2str(err));
    rd_kafka_metadata_destroy(md);
    return status::ok();
  }

  // runs on: main thread (open). A topic just created has no partition leaders for a moment;
  // the first produce would then wait for librdkafka's metadata refresh, on the sink thread,
  // with records queued behind it. Wait here instead (bounded), before any pipeline thread
  // starts, so the producer knows every partition's leader. Not fatal: produce retries anyway.
  void wait_for_leaders() {
    std::vector<rd_kafka_topic_t*> handles = source_topics_;
    if (shared_topic_ != nullptr) handles.push_back(shared_topic_);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kLeaderWaitMs);
    for (rd_kafka_topic_t* topic : handles) {
      if (topic == nullptr) continue;
      for (;;) {
        const struct rd_kafka_metadata* md = nullptr;
        bool ready = false;
        if (rd_kafka_metadata(rk_, 0, topic, &md, kSetupProbeTimeoutMs) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            md != nullptr && md->topic_cnt == 1 &&
            md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
          ready = true;
          for (int i = 0; i < md->topics[0].partition_cnt; ++i)
            if (md->topics[0].partitions[i].leader < 0) ready = false;
        }
        if (md != nullptr) rd_kafka_metadata_destroy(md);
        if (ready) break;
        if (std::chrono::steady_clock::now() >= deadline) {
          log_line(log_level::warn, "sink:" + name_,
                   std::string("topic ") + rd_kafka_topic_name(topic) +
                       ": partition leaders not known after " + std::to_string(kLeaderWaitMs) +
                       " ms; producing anyway");
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // runs on: sink thread. The brokers were down at start: are they up now?
  bool try_setup() override {
    if (!check_brokers(kSetupProbeTimeoutMs)) return false;
    if (config_.create_topics) {
      if (status s = create_topics(topic_names()); !s) {
        log_line(log_level::warn, "sink:" + name_, s.message() + " (tried again later)");
        return false;
      }
      if (status s = create_state_topic(); !s) {
        log_line(log_level::warn, "sink:" + name_, s.message() + " (tried again later)");
        return false;
      }
    }
    log_line(log_level::info, "sink:" + name_,
             "kafka brokers " + config_.brokers + " answer: topics ready, delivering");
    return true;
  }

  std::vector<std::string> topic_names() const {
    if (!config_.topic.empty()) return {config_.topic};
    std::vector<std::string> out;
    out.reserve(source_names_.size());
    for (std::size_t i = 0; i < source_names_.size(); ++i)
      if (!stream_only_[i]) out.push_back(config_.topic_prefix + source_names_[i]);
    return out;
  }

  /// The state topic (exactly once): compacted, one partition; with the sink's replication.
  status create_state_topic() {
    if (!eos_ || !config_.create_topics) return status::ok();
    return create_topics({config_.state_topic}, 1, true);
  }

  status create_topics(const std::vector<std::string>& topics) {
    return create_topics(topics, config_.partitions, false);
  }

  status create_topics(const std::vector<std::string>& topics, int partitions, bool compacted) {
    if (topics.empty()) return status::ok();
    std::vector<rd_kafka_NewTopic_t*> requests;
    status result;
    char errstr[512];
    for (const std::string& t : topics) {
      rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(
          t.c_str(), partitions, config_.replication_factor, errstr, sizeof errstr);
      if (nt != nullptr && compacted &&
          rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact") !=
              RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_NewTopic_destroy(nt);
        nt = nullptr;
        std::snprintf(errstr, sizeof errstr, "cleanup.policy=compact refused");
      }
      if (nt == nullptr) {
        result = status::error("sink " + name_ + ": topic " + t + ": " + errstr);
        break;
      }
      requests.push_back(nt);
    }
    if (result) {
      rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
      rd_kafka_AdminOptions_t* options =
          rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
      (void)rd_kafka_AdminOptions_set_request_timeout(options, kAdminTimeoutMs, errstr,
                                                      sizeof errstr);
      (void)rd_kafka_AdminOptions_set_operation_timeout(options, kAdminTimeoutMs, errstr,
                                                        sizeof errstr);
      rd_kafka_CreateTopics(rk_, requests.data(), requests.size(), options, queue);
      rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, kAdminTimeoutMs + 5000);
      if (ev == nullptr) {
        result = status::error("sink " + name_ + ": creating topics on " + config_.brokers +
                               ": no answer");
      } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = status::error("sink " + name_ + ": creating topics on " + config_.brokers + ": " +
                               rd_kafka_event_error_string(ev));
      } else {
        std::size_t n = 0;
        const rd_kafka_topic_result_t** res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (std::size_t i = 0; i < n; ++i) {
          const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            continue;
          const char* msg = rd_kafka_topic_result_error_string(res[i]);
          result = status::error("sink " + name_ + ": cannot create topic " +
                                 rd_kafka_topic_result_name(res[i]) + " (" +
                                 std::to_string(partitions) + " partitions, replication " +
                                 std::to_string(config_.replication_factor) +
                                 "): " + (msg != nullptr ? msg : rd_kafka_err2str(e)));
          break;
        }
      }
      if (ev != nullptr) rd_kafka_event_destroy(ev);
      rd_kafka_AdminOptions_destroy(options);
      rd_kafka_queue_destroy(queue);
    }
    rd_kafka_NewTopic_destroy_array(requests.data(), requests.size());
    return result;
  }

  /// The topic of a record's own stream; created on first use (a table created after start).
  /// nullptr when no handle can be had (the record then fails and is retried).
  rd_kafka_topic_t* stream_topic(std::string_view stream) {
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
      it = stream_topics_.emplace(std::move(topic), h).first;
      log_line(log_level::info, "sink:" + name_, "producing to topic " + it->first);
    }
    last_stream_ = it->first;
    last_stream_topic_ = it->second;
    return it->second;
  }

  rd_kafka_topic_t* topic_for(const record_batch& batch, const record& r) {
    if (r.stream != 0) return stream_topic(batch.stream(r));
    return topic_for(r.source);
  }

  rd_kafka_topic_t* topic_for(source_id source) {
    if (shared_topic_ != nullptr) return shared_topic_;
    if (source < source_topics_.size()) return source_topics_[source];
    if (unknown_topic_ == nullptr)  // may stay null: produce() then fails the record
      unknown_topic_ = rd_kafka_topic_new(rk_, (config_.topic_prefix + "unknown").c_str(), nullptr);
    return unknown_topic_;
  }

  // runs on: sink thread. A lease on `batch` for its messages (see kafka_batch_leases), once
  // the batches held stay within max_buffer_bytes: until then, delivery reports are served.
  kafka_batch_leases::lease* lease_batch(const record_batch& batch, stage_counters& counters) {
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
  void settle_now(kafka_batch_leases::lease* l, std::uint64_t sequence, delivery_outcome outcome) {
    if (l->range) l->excluded.push_back(sequence);
    settle(sequence, outcome);
  }

  // runs on: sink thread (at least once). One wall-clock read for the messages that follow.
  void stamp_now() noexcept { timestamp_ms_ = unix_now_ns() / 1'000'000; }

  // runs on: sink thread. write() is done with the lease.
  void finish_write(kafka_batch_leases::lease* l) {
    if (--l->outstanding == 0) end_lease(l);
  }

  // runs on: sink thread. Every message of the lease is answered: settles what was delivered,
  // gives the batch back.
  void end_lease(kafka_batch_leases::lease* l) {
    if (l->delivered != 0 && l->range) settle_delivered_range(l);
    leases_.release(l, keeper());
  }

  void settle_delivered_range(kafka_batch_leases::lease* l) {
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
  void produce(const record_batch& batch, kafka_batch_leases::lease* l, const record& r,
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
    const std::string_view source = r.source < source_names_.size()
                                        ? std::string_view(source_names_[r.source])
                                        : std::string_view("unknown");
    char id[24];
    const auto id_end = std::to_chars(id, id + sizeof id, r.sequence).ptr;
    const auto id_len = static_cast<std::size_t>(id_end - id);
    kafka_batch_leases::message* slot = l != nullptr ? leases_.add_message(l, r.sequence) : nullptr;
    void* opaque = slot != nullptr
                       ? static_cast<void*>(slot)
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
      return;
    }
  }

  // ---- exactly once (transactions) ---------------------------------------------------------

  static bool is_fencing(rd_kafka_resp_err_t code) {
    return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
           code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  }

  // runs on: sink thread. Another producer with our transactional.id took over: stop for good.
  // Also on the kafka-commit thread (the committing producer's error_cb): under fault_mu_.
  void fence(const std::string& reason) {
    const std::lock_guard<std::mutex> lock(fault_mu_);
    if (fenced_) return;
    fenced_reason_ = "kafka producer fenced (another edgepipe with node id " + config_.node_id +
                     " runs sink " + name_ + "): " + reason +
                     "; this sink stops delivering, its records stay in the spool";
    fenced_ = true;
    log_line(log_level::error, component_, fenced_reason_);
    fault_ = fenced_reason_;
  }

  std::string fault() const override {
    const std::lock_guard<std::mutex> lock(fault_mu_);
    return fault_;
  }

  void fail_records(const std::vector<record>& records, std::size_t from,
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
  bool transactions_initialised() {
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
  bool transactions_ready() {
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
  bool origin_in_ledger() {
    if (!origin_due_) return true;
    if (status s = checkpoint(); !s) {
      log_.log(log_level::error, component_, "origin",
               s.message() + ": the spool origin is not in the ledger yet; records wait");
      return false;
    }
    origin_due_ = false;
    return true;
  }

  // The records of one transaction; (first id, count) runs, settled together at its end.
  struct txn_state {
    bool open = false;
    bool failed = false;  // a message of it failed: it must abort
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::uint64_t next = 0;  // the id after its last record
    std::uint64_t started_ns = 0;
    std::uint64_t busy_ns = 0;  // time in write() since it began (saturation, see the top)
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

  /// Slot 0 keeps the id of a single-producer edgepipe, so an upgrade fences it too. '/' is not
  /// allowed in node or sink names: no other sink's ids can be these.
  std::string transactional_id(int slot) const {
    std::string id = "edgepipe-" + config_.node_id + "-" + name_;
    if (slot != 0) id += "/" + std::to_string(slot);
    return id;
  }

  /// Exchanges the producer produce() uses (rk_ and its handles) with `other`. Swapping the
  /// maps keeps their nodes, so last_stream_ still points into the right one.
  void swap_producers(producer_set& other) {
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
  status create_parked_producer() {
    if (!eos_) return status::ok();
    swap_producers(parked_);  // create_producer() names it after active_slot_
    status s = create_producer();
    if (s) s = create_topic_handles();
    if (!s) destroy_active();
    swap_producers(parked_);
    return s;
  }

  void destroy_parked() {
    if (!committer_.idle()) (void)committer_.wait();  // never destroy a producer it uses
    committing_rk_ = nullptr;
    if (parked_.rk == nullptr) return;
    stage_counters* keep = counters_;
    swap_producers(parked_);
    destroy_active();
    swap_producers(parked_);
    counters_ = keep;
  }

  bool init_transactions(rd_kafka_t* rk, bool& done) {
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

  void write_transactional(const record_batch& batch, stage_counters& counters) {
    const std::uint64_t write_started_ns = mono_now_ns();
    const auto& records = batch.records();
    if (fatal_ && !fenced_) recreate_producer();
    finish_commit(false);
    if (fenced_ || rk_ == nullptr || !setup_ready() || !origin_in_ledger() ||
        !transactions_ready()) {
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

  bool begin_transaction() {
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

  void add_to_transaction(std::uint64_t sequence) {
    ++txn_.records;
    if (!txn_.ranges.empty() && txn_.ranges.back().first + txn_.ranges.back().second == sequence) {
      ++txn_.ranges.back().second;
    } else {
      txn_.ranges.emplace_back(sequence, 1);
    }
    txn_.next = sequence + 1;
  }

  /// Open transactions: the filling one and the one being committed (metric, tests).
  void count_open_transactions() {
    const std::uint64_t n = (txn_.open ? 1u : 0u) + (committer_.idle() ? 0u : 1u);
    open_transactions_.store(n, std::memory_order_relaxed);
    if (counters_ != nullptr) counters_->transactions_open.set(n);
  }

  void failed_from(std::uint64_t id) { first_failed_ = std::min(first_failed_, id); }

  /// `t`'s records, settled `outcome`; `t` is closed.
  void settle_transaction(txn_state& t, delivery_outcome outcome) {
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
  void drop_transaction() {
    if (!txn_.open) return;
    if (counters_ != nullptr) counters_->failed.add(txn_.records);
    settle_transaction(txn_, delivery_outcome::failed);
  }

  // runs on: sink thread. The state record, last in the open transaction; false when it could
  // not be produced (the transaction must abort).
  bool add_state_record() {
    if (origin_.empty()) return true;
    const std::string value = kafka_state_value(origin_, txn_.next);
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_RKT(state_topic_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(state_key_.data(), state_key_.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
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
  void hand_off_transaction() {
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
  void hand_off_when_due(std::uint64_t now) {
    if (!txn_.open) return;
    const std::uint64_t age = now - txn_.started_ns;
    const bool idle = txn_idle_ns_ != 0 && now - last_write_ns_ >= txn_idle_ns_;
    // Saturated (see the top of this file): the interval stretches to transaction_interval_busy.
    const bool saturated = txn_.busy_ns * 4 >= age * 3;
    if (!idle && age < (saturated ? txn_busy_interval_ns_ : txn_interval_ns_)) return;
    finish_commit(false);
    if (committer_.idle()) hand_off_transaction();
  }

  int commit_timeout_ms() const { return abandoned() ? 1000 : config_.message_timeout_ms + 5000; }

  // runs on: sink thread. Takes the committer's result (waiting for it when `block`): the
  // committed transaction's records are delivered; a failed one's are failed, and the open
  // transaction after it is aborted too (its state record would claim the failed records).
  void finish_commit(bool block) {
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
  void abort_transaction() {
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

  void report(rd_kafka_resp_err_t err, const char* topic, const char* what) {
    // First error per error code and topic per 10 s; the rest are counted by the limiter.
    const std::string t = topic != nullptr ? topic : "-";
    log_.log(log_level::error, component_, std::to_string(err) + "/" + t,
             "topic " + t + ": " + what + ": " + rd_kafka_err2str(err));
  }

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
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
  void answer(kafka_batch_leases::lease* l, std::uint64_t id, const rd_kafka_message_t* m) {
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

  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<kafka_sink*>(opaque);
    std::string message = std::string("kafka error: ") + reason;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal_reason[512] = "";
      const rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
      if (self->eos_ && is_fencing(code)) {
        self->fatal_ = true;
        self->fence(fatal_reason);
        return;
      }
      message =
          std::string("kafka fatal error (producer unusable, recreating it): ") + fatal_reason;
      self->fatal_ = true;  // error_cb runs inside rd_kafka_poll: on the sink thread
    }
    self->log_.log(log_level::error, self->component_, "cb/" + std::to_string(err), message);
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    // Internal threads: librdkafka's own warnings and errors (connection failures also reach
    // error_cb, so informational lines are dropped), rate-limited per facility. rate_limited_log
    // takes its own lock.
    if (level > 4) return;
    auto* self = static_cast<kafka_sink*>(rd_kafka_opaque(rk));
    if (self == nullptr) return;
    self->log_.log(level <= 3 ? log_level::error : log_level::warn, self->component_,
                   std::string("rdkafka/") + fac, std::string("librdkafka ") + fac + ": " + buf);
  }

  void destroy() {
    if (eos_) destroy_parked();
    destroy_active();
  }

  void destroy_active() {
    active_initialised_ = false;
    if (rk_ == nullptr) return;
    counters_ = nullptr;  // no more accounting once close() has settled the books
    if (events_enabled_) {
      rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(rk_);
      rd_kafka_queue_cb_event_enable(main_queue, nullptr, nullptr);
      rd_kafka_queue_destroy(main_queue);
      events_enabled_ = false;
    }
    for (rd_kafka_topic_t* t : source_topics_)
      if (t != nullptr) rd_kafka_topic_destroy(t);
    source_topics_.clear();
    if (shared_topic_ != nullptr) rd_kafka_topic_destroy(shared_topic_);
    if (unknown_topic_ != nullptr) rd_kafka_topic_destroy(unknown_topic_);
    if (state_topic_ != nullptr) rd_kafka_topic_destroy(state_topic_);
    shared_topic_ = unknown_topic_ = state_topic_ = nullptr;
    for (auto& [topic, h] : stream_topics_) rd_kafka_topic_destroy(h);
    stream_topics_.clear();
    last_stream_topic_ = nullptr;
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    // Nothing points into the leased batches any more. Messages still unanswered were counted
    // failed by close() (or recreate_producer()); those of an unfinished range stay unsettled:
    // the spool sends them again.
    leases_.for_each_live([&](kafka_batch_leases::lease* l) { leases_.release(l, keeper()); });
  }

  // runs on: sink thread. Delivery reports wake the sink thread (sink::wake_stage) as soon as
  // librdkafka queues them, instead of waiting for the stage's next poll. Enabled here rather
  // than in open(): the stage sets its wake callback after open(), before the thread starts.
  void enable_events() {
    // Exactly once keeps polling: its two producers take turns, and the committing one's
    // reports are served by the kafka-commit thread.
    if (eos_ || events_enabled_ || rk_ == nullptr) return;
    rd_kafka_queue_t* main_queue = rd_kafka_queue_get_main(rk_);
    rd_kafka_queue_cb_event_enable(main_queue, &kafka_sink::on_queue_event, this);
    rd_kafka_queue_destroy(main_queue);
    events_enabled_ = true;
  }

  // runs on: the kafka-commit thread, when a commit (or abort) ended. Only wakes the sink thread.
  static void on_commit_done(void* opaque) { static_cast<const kafka_sink*>(opaque)->wake_stage(); }

  // runs on: a librdkafka thread, when the main queue (delivery reports, errors) goes from
  // empty to non-empty. Must not call librdkafka: only wakes the sink thread.
  static void on_queue_event(rd_kafka_t*, void* opaque) {
    static_cast<const kafka_sink*>(opaque)->wake_stage();
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
  // top of this file). Stays 0 for exactly once: librdkafka then reads the clock per message.
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
  rate_limited_log log_;  // thread-safe: also used by log_cb on librdkafka's threads
};

}  // namespace

std::unique_ptr<sink> make_kafka_sink(const std::string& name, const kafka_sink_config& config,
                                      const std::vector<std::string>& source_names,
                                      const std::vector<bool>& stream_only_sources) {
  return std::make_unique<kafka_sink>(name, config, source_names, stream_only_sources);
}

void kafka_sink_inject_fatal_error(sink& s, const char* reason) {
  static_cast<kafka_sink&>(s).inject_fatal_error(reason);
}

std::uint64_t kafka_sink_producers_recreated(const sink& s) {
  return static_cast<const kafka_sink&>(s).producers_recreated();
}

kafka_transaction_stats kafka_sink_transaction_stats(const sink& s) {
  return static_cast<const kafka_sink&>(s).transaction_stats();
}

}  // namespace edgepipe
