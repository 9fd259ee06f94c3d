// Kafka sink fault tests against librdkafka's in-process mock cluster (no real broker): records
// are counted delivered only on a successful delivery report, retriable produce errors are
// retried and counted once, a dead broker turns records into failures (never deliveries), and a
// bad librdkafka property fails open() naming it. With the spool, a broker outage holds the
// sink's watermark and the records are sent again once the broker is back.
// Threading: the test thread plays the sink thread (write/flush/close, which serve the delivery
// reports); the mock brokers run on librdkafka's own threads.
#include "stages/sinks/kafka/kafka_sink.hpp"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config_loader.hpp"
#include "kafka_mock_cluster.hpp"
#include "platform/clock.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/metrics_text.hpp"
#include "stages/report/run_summary.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

constexpr std::int16_t kProduceApiKey = 0;  // Kafka protocol ProduceRequest

using testing::flush_until;
using testing::mock_cluster;

kafka_sink_config mock_config(const mock_cluster& mc) {
  kafka_sink_config c;
  c.brokers = mc.bootstraps();
  c.topic_prefix = "test.";
  c.partitions = 2;
  c.replication_factor = 1;
  // librdkafka 2.0.2's mock cluster has no controller, so CreateTopics cannot work against it:
  // the topics are created on the mock directly (real-broker creation: tests/integration).
  c.create_topics = false;
  for (const char* t : {"test.alpha", "test.beta", "test.single"})
    rd_kafka_mock_topic_create(mc.get(), t, 2, 1);
  c.linger_ms = 1;
  c.message_timeout_ms = 10000;
  return c;
}

/// `n` records alternating between sources 0 and 1, keyed "k<i>" (every third one unkeyed).
void fill_batch(record_batch& batch, int n) {
  batch.clear();
  for (int i = 0; i < n; ++i) {
    record r;
    if (i % 3 != 0) {
      const std::string key = "k" + std::to_string(i);
      r.key_offset = static_cast<std::uint32_t>(batch.arena().size());
      r.key_length = static_cast<std::uint32_t>(key.size());
      batch.arena().append(key);
    }
    const std::string value = "{\"i\":" + std::to_string(i) + ",\"pad\":\"xxxxxxxxxxxxxxxx\"}";
    r.value_offset = static_cast<std::uint32_t>(batch.arena().size());
    r.value_length = static_cast<std::uint32_t>(value.size());
    batch.arena().append(value);
    r.sequence = static_cast<std::uint64_t>(i);
    r.source = static_cast<source_id>(i % 2);
    batch.records().push_back(r);
  }
}

const std::vector<std::string> kSources = {"alpha", "beta"};

/// The setup most tests share: one mock broker, a sink made from `config` (adjusted by the test
/// first), its counters and a batch to fill.
struct sink_on_mock {
  mock_cluster mc{1};
  kafka_sink_config config = mock_config(mc);
  std::unique_ptr<sink> s;
  stage_counters counters{"sink:kafka"};
  record_batch batch;

  /// Makes the sink from `config`, for a test to set a listener, keeper or wake-up on it.
  sink& make() {
    s = make_kafka_sink("kafka", config, kSources);
    return *s;
  }
  /// Opens the sink (made first unless make() was called).
  ::testing::AssertionResult open() {
    if (s == nullptr) make();
    const status st = s->open();
    if (st.is_ok()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << st.message();
  }
  /// Fills `batch` with `n` records (fill_batch) and writes it.
  void write(int n) {
    fill_batch(batch, n);
    s->write(batch, counters);
  }
  template <class F>
  bool flush_until(F&& cond, std::chrono::milliseconds timeout) {
    return testing::flush_until(*s, counters, std::forward<F>(cond), timeout);
  }
  /// Flushes until exactly `n` records were delivered (20 s at most); whether they were.
  bool flush_until_delivered(std::uint64_t n) {
    return flush_until([&] { return counters.records_out.get() == n; }, std::chrono::seconds(20));
  }
};

TEST(KafkaSink, MaxInFlightBoundsHowFarTheSinkRunsAheadOfDeliveryReports) {
  sink_on_mock t;
  t.config.max_in_flight = 16;
  ASSERT_TRUE(t.open());
  constexpr int kN = 200;
  t.write(kN);
  // write() produced all 200 but never had more than 16 unanswered: it waited for (and counted)
  // the delivery reports of at least 184 of them before returning.
  EXPECT_LE(t.counters.in_flight.get(), 16u);
  EXPECT_GE(t.counters.records_out.get(), static_cast<std::uint64_t>(kN - 16));
  EXPECT_GT(t.counters.ring_stalls.get(), 0u);
  EXPECT_TRUE(t.flush_until_delivered(kN));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(t.counters.records_out.get(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(t.counters.failed.get(), 0u);
}

TEST(KafkaSink, HappyPathCountsEveryDeliveryOnce) {
  sink_on_mock t;
  ASSERT_TRUE(t.open());
  constexpr int kN = 500;
  t.write(kN / 2);
  t.batch.clear();  // the batch goes back to its pool right after write(): data must be copied
  t.write(kN / 2);
  t.batch.clear();
  EXPECT_TRUE(t.flush_until_delivered(kN));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(t.counters.records_out.get(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(t.counters.failed.get(), 0u);
  EXPECT_GT(t.counters.bytes_out.get(), 0u);
}

/// What a downstream reader sees of one message.
struct read_message {
  std::string topic, source, record_id;
  std::size_t headers = 0;
  rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  std::int64_t timestamp_ms = 0;
};

std::string header(rd_kafka_headers_t* h, const char* name) {
  const void* v = nullptr;
  std::size_t len = 0;
  if (h == nullptr || rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return "(none)";
  return std::string(static_cast<const char*>(v), len);
}

/// Every message of `topics` (2 partitions each, from the start) until `n` were read or
/// `timeout` passed: read back with a consumer of its own, as a downstream reader would.
std::vector<read_message> consume(const mock_cluster& mc, const std::vector<std::string>& topics,
                                  std::size_t n, std::chrono::milliseconds timeout) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] :
       {std::pair<const char*, std::string>{"bootstrap.servers", mc.bootstraps()},
        {"group.id", "kafka-sink-test"},
        {"enable.auto.commit", "false"},
        {"log_level", "0"}})
    EXPECT_EQ(rd_kafka_conf_set(conf, k, v.c_str(), errstr, sizeof errstr), RD_KAFKA_CONF_OK);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  EXPECT_NE(rk, nullptr) << errstr;
  std::vector<read_message> out;
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(4);
  for (const std::string& t : topics)
    for (int p = 0; p < 2; ++p)
      rd_kafka_topic_partition_list_add(parts, t.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  EXPECT_EQ(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  (void)testing::wait_until(
      [&] {
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) {
          if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            read_message r;
            r.topic = rd_kafka_topic_name(m->rkt);
            rd_kafka_headers_t* h = nullptr;
            if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR)
              r.headers = rd_kafka_header_cnt(h);
            r.source = header(h, "source");
            r.record_id = header(h, "record-id");
            r.timestamp_ms = rd_kafka_message_timestamp(m, &r.timestamp_type);
            out.push_back(std::move(r));
          }
          // Every message goes back before the consumer is destroyed (it waits for them).
          rd_kafka_message_destroy(m);
        }
        return out.size() >= n;
      },
      timeout);
  (void)rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

TEST(KafkaSink, MessagesCarrySourceAndRecordIdHeadersAndTheBatchsCreateTime) {
  sink_on_mock t;
  ASSERT_TRUE(t.open());
  constexpr int kN = 40;
  fill_batch(t.batch, kN);
  const std::int64_t before_ms = unix_now_ns() / 1'000'000;
  t.s->write(t.batch, t.counters);
  const std::int64_t after_ms = unix_now_ns() / 1'000'000;
  EXPECT_TRUE(t.flush_until_delivered(kN));
  EXPECT_TRUE(t.s->close().is_ok());

  const std::vector<read_message> got =
      consume(t.mc, {"test.alpha", "test.beta"}, kN, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kN));
  std::vector<bool> seen(kN, false);
  for (const read_message& m : got) {
    EXPECT_EQ(m.headers, 2u) << "source and record-id, nothing else";
    const auto id = static_cast<std::size_t>(std::stoul(m.record_id));
    ASSERT_LT(id, static_cast<std::size_t>(kN));
    seen[id] = true;
    EXPECT_EQ(m.source, kSources[id % 2]);
    EXPECT_EQ(m.topic, "test." + kSources[id % 2]);
    EXPECT_EQ(m.timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    EXPECT_GE(m.timestamp_ms, before_ms) << "the batch's CreateTime, read when write() took it";
    EXPECT_LE(m.timestamp_ms, after_ms);
  }
  for (int i = 0; i < kN; ++i) EXPECT_TRUE(seen[static_cast<std::size_t>(i)]) << "record " << i;
}

/// A batch_keeper as the sink stage is one: hands out the batch being written (a reader
/// reference), counts what is kept and given back.
struct counting_keeper final : batch_keeper {
  const record_batch* keepable = nullptr;
  int kept = 0, dropped = 0;
  const record_batch* keep(const record_batch& b) override {
    if (&b != keepable) return nullptr;
    ++kept;
    return &b;
  }
  void drop(const record_batch* b) override {
    EXPECT_EQ(b, keepable);
    ++dropped;
  }
};

/// Makes and opens the sink of `t` with `keeper` handing out `t.batch`.
::testing::AssertionResult open_with_keeper(sink_on_mock& t, counting_keeper& keeper) {
  keeper.keepable = &t.batch;
  t.make().set_batch_keeper(&keeper);
  return t.open();
}

TEST(KafkaSink, KeepsTheBatchUntilItsLastDeliveryReportInsteadOfCopyingEachMessage) {
  constexpr int kN = 200;
  {  // Broker down: no delivery report comes before message_timeout_ms, so the batch is still
     // held when write() returns, and given back with the last (failed) report.
    counting_keeper keeper;
    sink_on_mock t;
    t.config.message_timeout_ms = 1500;
    ASSERT_TRUE(open_with_keeper(t, keeper));
    ASSERT_EQ(rd_kafka_mock_broker_set_down(t.mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    t.write(kN);
    EXPECT_EQ(keeper.kept, 1);  // one reference for the batch, not one copy per message
    EXPECT_EQ(keeper.dropped, 0);
    EXPECT_TRUE(
        t.flush_until([&] { return t.counters.failed.get() == kN; }, std::chrono::seconds(20)));
    EXPECT_EQ(keeper.dropped, 1);
    (void)t.s->close();
    EXPECT_EQ(keeper.dropped, 1);
  }
  // Broker up, linger.ms 2 s: the messages wait in librdkafka's queue, pointing into the kept
  // batch, which goes back once every message is delivered.
  counting_keeper keeper;
  sink_on_mock t;
  t.config.linger_ms = 2000;
  ASSERT_TRUE(open_with_keeper(t, keeper));
  t.write(kN);
  EXPECT_EQ(keeper.kept, 1);
  EXPECT_EQ(keeper.dropped, 0);
  EXPECT_TRUE(t.flush_until_delivered(kN));
  EXPECT_EQ(keeper.dropped, 1);

  // A batch the keeper does not hand out (read back from disk into a reused buffer) is copied
  // once; the caller may reuse it at once.
  record_batch reused;
  fill_batch(reused, kN);
  t.s->write(reused, t.counters);
  fill_batch(reused, 3);
  reused.clear();
  EXPECT_TRUE(t.flush_until_delivered(2 * kN));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(keeper.kept, 1);
  EXPECT_EQ(keeper.dropped, 1);
  EXPECT_EQ(t.counters.failed.get(), 0u);
}

TEST(KafkaSink, SettlesADeliveredBatchAsOneRangeAndFailuresOneByOne) {
  struct calls final : delivery_listener {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    std::uint64_t single = 0;
    void settled(std::uint64_t, delivery_outcome) override { ++single; }
    void settled_range(std::uint64_t first, std::uint64_t n, delivery_outcome o) override {
      EXPECT_EQ(o, delivery_outcome::delivered);
      ranges.emplace_back(first, n);
    }
  } seen;
  sink_on_mock t;
  t.make().set_listener(&seen);
  ASSERT_TRUE(t.open());
  t.write(300);
  EXPECT_TRUE(t.flush_until_delivered(300));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  // One listener call for the batch (ids 0..299), none per record.
  ASSERT_EQ(seen.ranges.size(), 1u);
  EXPECT_EQ(seen.ranges[0], std::make_pair(std::uint64_t{0}, std::uint64_t{300}));
  EXPECT_EQ(seen.single, 0u);
}

/// Records first..first+n-1 of source 0, unkeyed, each value 40 bytes but the one at `big`
/// (an index), which is `big_bytes` long.
void fill_with_one_big(record_batch& batch, std::uint64_t first, int n, int big,
                       std::size_t big_bytes) {
  batch.clear();
  for (int i = 0; i < n; ++i) {
    const std::string value =
        "{\"pad\":\"" + std::string(i == big ? big_bytes - 10 : 30, 'x') + "\"}";
    record r;
    r.value_offset = static_cast<std::uint32_t>(batch.arena().size());
    r.value_length = static_cast<std::uint32_t>(value.size());
    batch.arena().append(value);
    r.sequence = first + static_cast<std::uint64_t>(i);
    r.source = 0;
    batch.records().push_back(r);
  }
}

// A record over message.max.bytes is refused by librdkafka before it is sent, and the spool
// would send it again, first, forever: the sink says so in fault() (/health 503, a replay
// stops), naming the record, its size, the limit and the setting, until a batch starts past it.
TEST(KafkaSink, ARecordOverMessageMaxBytesIsAFaultUntilABatchStartsPastIt) {
  struct failures final : delivery_listener {
    std::vector<std::uint64_t> failed;
    void settled(std::uint64_t id, delivery_outcome o) override {
      if (o == delivery_outcome::failed) failed.push_back(id);
    }
    void settled_range(std::uint64_t, std::uint64_t, delivery_outcome) override {}
  } seen;
  sink_on_mock t;
  t.config.properties = {{"message.max.bytes", "2000"}};
  t.make().set_listener(&seen);
  ASSERT_TRUE(t.open());
  fill_with_one_big(t.batch, 5, 3, 1, 5000);  // records 5, 6 (5,000 bytes), 7
  t.s->write(t.batch, t.counters);
  EXPECT_TRUE(t.flush_until_delivered(2));
  EXPECT_EQ(t.counters.failed.get(), 1u);
  EXPECT_EQ(seen.failed, std::vector<std::uint64_t>{6});
  const std::string fault = t.s->fault();
  EXPECT_NE(fault.find("record 6 (source alpha, 5000 bytes of key and value) is over "
                       "message.max.bytes 2000"),
            std::string::npos)
      << fault;
  EXPECT_NE(fault.find("raise message.max.bytes in [sinks.kafka.properties]"), std::string::npos)
      << fault;
  // The spool sends it again first: still stuck.
  fill_with_one_big(t.batch, 6, 2, 0, 5000);
  t.s->write(t.batch, t.counters);
  EXPECT_EQ(t.s->fault(), fault);
  // A batch past it (the spool dropped it): the fault is gone.
  fill_with_one_big(t.batch, 8, 2, -1, 0);
  t.s->write(t.batch, t.counters);
  EXPECT_EQ(t.s->fault(), "");
  EXPECT_TRUE(t.flush_until_delivered(5));
  EXPECT_TRUE(t.s->close().is_ok());
}

// Without a spool (no listener) nothing sends the record again: it is failed (given up, counted)
// and the sink goes on, without a fault.
TEST(KafkaSink, ARecordOverMessageMaxBytesWithoutASpoolIsFailedAndTheSinkGoesOn) {
  sink_on_mock t;
  t.config.properties = {{"message.max.bytes", "2000"}};
  ASSERT_TRUE(t.open());
  fill_with_one_big(t.batch, 0, 3, 1, 5000);
  t.s->write(t.batch, t.counters);
  EXPECT_TRUE(t.flush_until_delivered(2));
  EXPECT_EQ(t.counters.failed.get(), 1u);
  EXPECT_EQ(t.s->fault(), "");
  EXPECT_TRUE(t.s->close().is_ok());
}

TEST(KafkaSink, DeliveryReportsWakeTheSinkThreadWithoutPolling) {
  std::atomic<int> wakes{0};
  sink_on_mock t;
  t.make().set_wake([](void* w) { static_cast<std::atomic<int>*>(w)->fetch_add(1); }, &wakes);
  ASSERT_TRUE(t.open());
  t.write(50);
  // Nobody polls now: librdkafka's own thread calls the wake callback once reports are queued.
  EXPECT_TRUE(testing::wait_until([&] { return wakes.load() > 0; }, std::chrono::seconds(20)));
  EXPECT_TRUE(t.flush_until_delivered(50));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
}

TEST(KafkaSink, RetriableProduceErrorsAreRetriedAndCountedOnce) {
  sink_on_mock t;
  t.config.topic = "test.single";  // one topic for every source
  ASSERT_TRUE(t.open());
  rd_kafka_mock_push_request_errors(
      t.mc.get(), kProduceApiKey, 4, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  constexpr int kN = 300;
  t.write(kN);
  t.batch.clear();
  EXPECT_TRUE(
      t.flush_until([&] { return t.counters.records_out.get() >= kN; }, std::chrono::seconds(30)));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(t.counters.records_out.get(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(t.counters.failed.get(), 0u);
}

// A fatal idempotent-producer error (here raised with rd_kafka_test_fatal_error, as a fenced
// producer would see it) makes the producer unusable for good. The sink fails what the old
// producer held (settled failed: the spool sends it again), builds a new producer, and the
// records written after that are delivered: it does not fail every later record forever.
TEST(KafkaSink, AFatalProducerErrorRecreatesTheProducerAndDeliveryGoesOn) {
  struct settled_count final : delivery_listener {
    std::uint64_t delivered = 0, failed = 0;
    void settled(std::uint64_t, delivery_outcome o) override { settled_range(0, 1, o); }
    void settled_range(std::uint64_t, std::uint64_t n, delivery_outcome o) override {
      (o == delivery_outcome::delivered ? delivered : failed) += n;
    }
  } seen;
  sink_on_mock t;
  t.make().set_listener(&seen);
  std::uint64_t written = 0;
  ASSERT_TRUE(t.open());
  t.write(100);
  written += 100;
  ASSERT_TRUE(t.flush_until_delivered(100));

  kafka_sink_inject_fatal_error(*t.s, "test: producer fenced");
  // What is written now meets the dead producer: failed (and settled so), never lost silently.
  t.write(10);
  written += 10;
  EXPECT_EQ(t.counters.failed.get(), 10u);
  ASSERT_TRUE(t.flush_until([&] { return kafka_sink_producers_recreated(*t.s) == 1; },
                            std::chrono::seconds(20)))
      << "the producer was not recreated after a fatal error";
  // The new producer delivers: what the spool sends again arrives.
  const std::uint64_t delivered = t.counters.records_out.get();
  t.write(50);
  written += 50;
  ASSERT_TRUE(t.flush_until([&] { return t.counters.records_out.get() >= delivered + 50; },
                            std::chrono::seconds(20)));
  const status st = t.s->close();
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(kafka_sink_producers_recreated(*t.s), 1u);
  // Every record settled exactly once: delivered, or failed (and so sent again by the spool).
  EXPECT_EQ(seen.delivered + seen.failed, written);
  EXPECT_EQ(seen.delivered, t.counters.records_out.get());
  EXPECT_EQ(seen.failed, 10u);
}

TEST(KafkaSink, BrokerDownMeansFailedNeverDelivered) {
  sink_on_mock t;
  t.config.message_timeout_ms = 1500;
  ASSERT_TRUE(t.open());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(t.mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  constexpr int kN = 200;
  t.write(kN);
  t.batch.clear();
  EXPECT_TRUE(
      t.flush_until([&] { return t.counters.failed.get() == kN; }, std::chrono::seconds(20)));
  (void)t.s->close();
  EXPECT_EQ(t.counters.failed.get(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(t.counters.records_out.get(), 0u);
  EXPECT_EQ(t.counters.bytes_out.get(), 0u);
}

TEST(KafkaSink, CloseCountsUndeliveredAsFailed) {
  sink_on_mock t;
  t.config.message_timeout_ms = 1000;  // close() waits message_timeout_ms + 5 s at most
  ASSERT_TRUE(t.open());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(t.mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  constexpr int kN = 50;
  t.write(kN);
  t.batch.clear();
  (void)t.s->close();  // no flush in between: close() must settle every record
  EXPECT_EQ(t.counters.failed.get() + t.counters.records_out.get(), static_cast<std::uint64_t>(kN));
  EXPECT_EQ(t.counters.records_out.get(), 0u);
}

// A topic is in the brokers' metadata a moment before its partitions exist on their leader; two
// produce requests racing that moment can make Kafka 3.9 drop the first while librdkafka 2.0
// reports it delivered (KAFKA-15591; kafka_sink_setup.cpp: wait_until_writable). So the sink
// produces nothing to a topic before every partition's leader answers ListOffsets: here the
// leader answers NOT_LEADER_OR_FOLLOWER a few times (open waits, then delivers), then for longer
// than the sink waits (open fails, naming it, without a spool to keep the records).
constexpr std::int16_t kListOffsetsApiKey = 2;

TEST(KafkaSink, NothingIsProducedBeforeTheTopicsPartitionsAnswer) {
  {
    sink_on_mock t;
    t.config.topic = "test.single";
    rd_kafka_mock_push_request_errors(
        t.mc.get(), kListOffsetsApiKey, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    ASSERT_TRUE(t.open());
    t.write(50);
    EXPECT_TRUE(t.flush_until_delivered(50));
    EXPECT_TRUE(t.s->close().is_ok());
  }
  {
    sink_on_mock t;
    t.config.topic = "test.single";
    std::vector<rd_kafka_resp_err_t> errors(20000, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors_array(t.mc.get(), kListOffsetsApiKey, errors.size(),
                                            errors.data());
    t.make();
    const status st = t.s->open();
    ASSERT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("not writable"), std::string::npos) << st.message();
  }
}

TEST(KafkaSink, BadPropertyFailsOpenNamingIt) {
  kafka_sink_config c;
  c.brokers = "127.0.0.1:1";
  c.properties = {{"linger.ms", "2"}, {"no.such.property", "42"}};
  auto s = make_kafka_sink("kafka", c, kSources);
  const status st = s->open();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("no.such.property"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("42"), std::string::npos) << st.message();

  kafka_sink_config bad_value;
  bad_value.compression = "zip";
  auto s2 = make_kafka_sink("kafka", bad_value, kSources);
  const status st2 = s2->open();
  ASSERT_FALSE(st2.is_ok());
  EXPECT_NE(st2.message().find("compression.codec=zip"), std::string::npos) << st2.message();
}

/// A pipeline config replaying `payloads` ISS payloads (one record each) through a spool
/// (fsync off, short backoff) into one Kafka sink on the mock cluster, topic `topic`.
pipeline_config spooled_kafka_config(const testing::temp_dir& dir, mock_cluster& mc, int payloads,
                                     const std::string& topic) {
  std::string trace;
  for (int i = 0; i < payloads; ++i)
    trace += "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
             ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"2.5\"}}\n";
  testing::write_file(dir / "iss.jsonl", trace);
  pipeline_config c;
  EXPECT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.sinks.clear();
  sink_config k;
  k.name = "kafka";
  k.type = "kafka";
  k.kafka = mock_config(mc);
  k.kafka.topic = topic;
  k.kafka.message_timeout_ms = 1000;
  c.sinks.push_back(k);
  c.batch_records = 50;
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = dir / "spool";
  c.spool.fsync = fsync_policy::off;
  c.spool.retry_backoff_ms = 50;
  c.spool.retry_backoff_max_ms = 200;
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  return c;
}

/// The Kafka sink's counters in a started pipeline once a record failed (its broker is down) and
/// none was delivered; nullptr (and the test failed) when no record failed within 30 s.
const stage_counters* sink_once_failing(const pipeline& p) {
  const stage_counters* sink = p.counters().find("sink:kafka");
  EXPECT_NE(sink, nullptr);
  if (sink == nullptr) return nullptr;
  if (!testing::wait_until([&] { return sink->failed.get() > 0; }, std::chrono::seconds(30))) {
    ADD_FAILURE() << "no record failed while the broker was down";
    return nullptr;
  }
  EXPECT_EQ(sink->records_out.get(), 0u);
  return sink;
}

/// Brings the broker back up and waits (60 s at most) for the run to end, every record
/// confirmed; whether it ended (and was joined).
bool finishes_once_the_broker_is_up(pipeline& p, const mock_cluster& mc) {
  EXPECT_EQ(rd_kafka_mock_broker_set_up(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  if (!testing::wait_until([&] { return p.finished(); }, std::chrono::seconds(60))) return false;
  p.join();
  return true;
}

// The whole pipeline with a spool: while the only broker is down, records fail and the Kafka
// sink's watermark stays where it was; once the broker is back, the spool sends them again and
// the run ends with every record confirmed.
TEST(KafkaSink, SpoolResendsWhatFailedWhileTheBrokerWasDown) {
  testing::temp_dir dir;
  mock_cluster mc(1);
  constexpr int kPayloads = 300;
  pipeline_config c = spooled_kafka_config(dir, mc, kPayloads, "test.single");
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  p.start();
  const stage_counters* sink = sink_once_failing(p);
  ASSERT_NE(sink, nullptr);
  EXPECT_NE(prometheus_text(p).find("edgepipe_spool_watermark{sink=\"kafka\"} 0\n"),
            std::string::npos);
  EXPECT_FALSE(p.finished());  // the run cannot end with records unconfirmed
  ASSERT_TRUE(finishes_once_the_broker_is_up(p, mc));
  const std::string summary = summary_json(p, 1.0);
  EXPECT_EQ(testing::json_int(summary, "backlog"), 0) << summary;
  EXPECT_GE(testing::json_int(summary, "rewinds"), 1) << summary;
  EXPECT_GE(sink->records_out.get(), static_cast<std::uint64_t>(kPayloads));
  EXPECT_NE(testing::read_file(dir / "spool/kafka.ledger").find("confirmed_end=300"),
            std::string::npos);
}

TEST(KafkaSink, SpooledSinkStartsWithTheBrokerDownAndDeliversOnceItIsUp) {
  testing::temp_dir dir;
  mock_cluster mc(1);
  constexpr int kPayloads = 100;
  pipeline_config c = spooled_kafka_config(dir, mc, kPayloads, "test.late");
  c.sinks_may_start_down = true;  // as `edgepipe run` sets it
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  {
    // Without a spool, a broker that does not answer at start is an error: nothing would keep
    // the records.
    pipeline_config no_spool = c;
    no_spool.spool.dir.clear();
    pipeline q(no_spool);
    EXPECT_FALSE(q.build().is_ok());
  }
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());  // with one, the records wait in it
  p.start();
  const stage_counters* sink = sink_once_failing(p);
  ASSERT_NE(sink, nullptr);
  ASSERT_TRUE(finishes_once_the_broker_is_up(p, mc));
  const std::string summary = summary_json(p, 1.0);
  EXPECT_EQ(testing::json_int(summary, "backlog"), 0) << summary;
  EXPECT_GE(sink->records_out.get(), static_cast<std::uint64_t>(kPayloads));
}

}  // namespace
}  // namespace edgepipe
