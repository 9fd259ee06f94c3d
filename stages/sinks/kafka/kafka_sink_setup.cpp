// The Kafka sink's producer and its topics (the class, its threads and its other files:
// kafka_sink_impl.hpp): the producer configured and created, with its error and log callbacks
// (a fatal error marks it for re-creation); the brokers checked, topics created (create_topics)
// and their handles made, partition leaders awaited; a setup deferred at open (brokers down,
// spool mode) finished once they answer (try_setup); a producer made again after a fatal error;
// teardown. Threading: open()'s part on the main thread before the pipeline starts, the rest on
// the sink thread (destroy() also from the destructor, after it ended); on_log on librdkafka's
// threads too.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/log.hpp"
#include "stages/sinks/kafka/kafka_sink_impl.hpp"

namespace edgepipe::kafka_detail {
namespace {

constexpr int kSetupProbeTimeoutMs = 1000;
constexpr int kAdminTimeoutMs = 15000;

}  // namespace

status kafka_sink::create_producer() {
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

void kafka_sink::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
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
    message = std::string("kafka fatal error (producer unusable, recreating it): ") + fatal_reason;
    self->fatal_ = true;  // error_cb runs inside rd_kafka_poll: on the sink thread
  }
  self->log_.log(log_level::error, self->component_, "cb/" + std::to_string(err), message);
}

void kafka_sink::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // Internal threads: librdkafka's own warnings and errors (connection failures also reach
  // error_cb, so informational lines are dropped), rate-limited per facility. rate_limited_log
  // takes its own lock.
  if (level > 4) return;
  auto* self = static_cast<kafka_sink*>(rd_kafka_opaque(rk));
  if (self == nullptr) return;
  self->log_.log(level <= 3 ? log_level::error : log_level::warn, self->component_,
                 std::string("rdkafka/") + fac, std::string("librdkafka ") + fac + ": " + buf);
}

status kafka_sink::create_topic_handles() {
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
void kafka_sink::recreate_producer() {
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

status kafka_sink::set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK)
    return status::error("sink " + name_ + ": kafka property " + key + "=" + value + ": " + errstr);
  return status::ok();
}

status kafka_sink::configure(rd_kafka_conf_t* conf) {
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

status kafka_sink::check_brokers(int timeout_ms) {
  const struct rd_kafka_metadata* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return status::error("sink " + name_ + ": kafka brokers " + config_.brokers +
                         " did not answer within " + std::to_string(timeout_ms) +
                         " ms: " + rd_kafka_err2str(err));
  rd_kafka_metadata_destroy(md);
  return status::ok();
}

// runs on: main thread (open) or sink thread. True once every partition of `topic` has a leader
// that answers for it (ListOffsets: the broker hosts the partition, not only its metadata), false
// after `timeout_ms`.
//
// Why before the first produce to a topic: a topic just created (by us, or by the broker's
// auto-creation) is in the brokers' metadata a moment before its partitions exist on their
// leader. A produce request sent in that moment fails (NOT_LEADER_OR_FOLLOWER) and is retried;
// one sent just after is accepted, because a broker with no state for a producer takes any first
// sequence number. The retried request then can never be appended (its sequences are below
// the accepted ones), and librdkafka 2.0 reports its messages DELIVERED (KAFKA-15591: a broker
// defect, fixed after Kafka 3.9). Measured here with Kafka 3.9.1 and Debian's librdkafka 2.0.2:
// 1 message of 200 (and 1 CDC insert in test_cdc_pipeline) reported delivered and absent from
// the partition when two requests raced a new topic's creation; none once the partitions
// answer first (benchmarks/README.md). Nothing is produced to a topic before this holds.
bool kafka_sink::wait_until_writable(rd_kafka_topic_t* topic, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const char* name = rd_kafka_topic_name(topic);
  for (;;) {
    const struct rd_kafka_metadata* md = nullptr;
    bool ready = false;
    if (rd_kafka_metadata(rk_, 0, topic, &md, kSetupProbeTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md != nullptr && md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topics[0].partition_cnt > 0) {
      ready = true;
      for (int i = 0; i < md->topics[0].partition_cnt && ready; ++i) {
        std::int64_t low = 0;
        std::int64_t high = 0;
        ready =
            md->topics[0].partitions[i].leader >= 0 &&
            rd_kafka_query_watermark_offsets(rk_, name, md->topics[0].partitions[i].id, &low, &high,
                                             kSetupProbeTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR;
      }
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    if (ready) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// runs on: main thread (open), before any pipeline thread starts, and sink thread (try_setup).
// Every topic the sink produces to by name, the state topic too (not the streams': stream_topic()
// checks each when it first meets it) made writable, within kLeaderWaitMs for all of them. False
// when one is not: nothing may be produced yet.
bool kafka_sink::topics_writable() {
  std::vector<rd_kafka_topic_t*> handles = source_topics_;
  if (shared_topic_ != nullptr) handles.push_back(shared_topic_);
  if (state_topic_ != nullptr) handles.push_back(state_topic_);  // exactly once: the watermark
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLeaderWaitMs);
  for (rd_kafka_topic_t* topic : handles) {
    if (topic == nullptr) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!wait_until_writable(topic, static_cast<int>(std::max<std::int64_t>(left.count(), 1)))) {
      log_line(log_level::warn, "sink:" + name_,
               std::string("topic ") + rd_kafka_topic_name(topic) +
                   ": partitions not writable after " + std::to_string(kLeaderWaitMs) +
                   " ms (records wait)");
      return false;
    }
  }
  return true;
}

// runs on: sink thread. The brokers were down at start: are they up now?
bool kafka_sink::try_setup() {
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
  if (!topics_writable()) return false;  // tried again later
  log_line(log_level::info, "sink:" + name_,
           "kafka brokers " + config_.brokers + " answer: topics ready, delivering");
  return true;
}

std::vector<std::string> kafka_sink::topic_names() const {
  if (!config_.topic.empty()) return {config_.topic};
  std::vector<std::string> out;
  out.reserve(source_names_.size());
  for (std::size_t i = 0; i < source_names_.size(); ++i)
    if (!stream_only_[i]) out.push_back(config_.topic_prefix + source_names_[i]);
  return out;
}

/// The state topic (exactly once): compacted, one partition; with the sink's replication.
status kafka_sink::create_state_topic() {
  if (!eos_ || !config_.create_topics) return status::ok();
  return create_topics({config_.state_topic}, 1, true);
}

status kafka_sink::create_topics(const std::vector<std::string>& topics) {
  return create_topics(topics, config_.partitions, false);
}

status kafka_sink::create_topics(const std::vector<std::string>& topics, int partitions,
                                 bool compacted) {
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
        result =
            status::error("sink " + name_ + ": cannot create topic " +
                          rd_kafka_topic_result_name(res[i]) + " (" + std::to_string(partitions) +
                          " partitions, replication " + std::to_string(config_.replication_factor) +
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

void kafka_sink::destroy() {
  if (eos_) destroy_parked();
  destroy_active();
}

void kafka_sink::destroy_active() {
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

}  // namespace edgepipe::kafka_detail
