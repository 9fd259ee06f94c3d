// librdkafka's in-process mock cluster for the Kafka sink tests (kafka_sink_test,
// kafka_exactly_once_test), and the wait they share: flush the sink until a condition holds.
// Threading: the test thread plays the sink thread (it calls flush, which serves the delivery
// reports); the mock brokers run on librdkafka's own threads.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <string>

#include "core/stage_counters.hpp"
#include "stages/sinks/sink.hpp"
#include "test_util.hpp"

namespace edgepipe::testing {

/// A mock cluster of `brokers` brokers, owned by a throwaway producer handle (librdkafka's
/// requirement). Destroy the sinks that use it first.
class mock_cluster {
 public:
  explicit mock_cluster(int brokers) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    (void)rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    mc_ = rd_kafka_mock_cluster_new(owner_, brokers);
  }
  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(owner_);
  }
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;
  rd_kafka_mock_cluster_t* get() const { return mc_; }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }

 private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

/// Flushes (serving delivery reports, as the sink thread does) until `cond` holds or `timeout`
/// passes; whether it held.
template <class F>
bool flush_until(sink& s, stage_counters& counters, F&& cond, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        s.flush(counters);
        return cond();
      },
      timeout);
}

}  // namespace edgepipe::testing
