// Does a message produced to a just-created topic get lost while librdkafka reports it delivered?
// (KAFKA-15591: a produce request that reaches the leader before the new partition exists fails
// and is retried; one sent just after is accepted, since a broker with no state for a producer
// takes any first sequence; the retried one can then never be appended, and librdkafka 2.0
// reports it delivered.) The Kafka sink waits for a new topic's partitions to answer before its
// first produce (stages/sinks/kafka/kafka_sink_setup.cpp: wait_until_writable); this program
// shows the loss without that wait and its absence with it, against a real broker.
//
// Each round: create a topic (3 partitions), produce message A to partition 0, wait 0-10 ms,
// produce message B to the same partition (linger.ms=0: two requests), flush, then read the
// partition's high watermark. "lost" = both delivery reports said delivered and the partition holds
// fewer than two messages.
//
// usage: new_topic_race BROKERS [ROUNDS=200] [--wait-writable]
// Creates ROUNDS topics named new-topic-race-<pid>-<n> (delete them afterwards, or use a
// throw-away broker).
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

int g_delivery_error[2];

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  g_delivery_error[reinterpret_cast<std::intptr_t>(m->_private)] = m->err;
}

bool create_topic(rd_kafka_t* rk, const std::string& topic) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 3, 1, errstr, sizeof errstr);
  if (nt == nullptr) return false;
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  const bool ok = ev != nullptr && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return ok;
}

/// What the sink does before its first produce to a topic: every partition's leader answers.
void wait_writable(rd_kafka_t* rk, const std::string& topic) {
  for (int tries = 0; tries < 250; ++tries) {
    bool ready = true;
    for (int p = 0; p < 3 && ready; ++p) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      ready = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 1000) ==
              RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (ready) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BROKERS [ROUNDS=200] [--wait-writable]\n", argv[0]);
    return 2;
  }
  const int rounds = argc > 2 && argv[2][0] != '-' ? std::atoi(argv[2]) : 200;
  const bool wait = std::strcmp(argv[argc - 1], "--wait-writable") == 0;
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : {std::pair<const char*, const char*>{"bootstrap.servers", argv[1]},
                             {"enable.idempotence", "true"},
                             {"linger.ms", "0"},
                             {"message.timeout.ms", "15000"}}) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s: %s\n", k, errstr);
      return 2;
    }
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", errstr);
    return 2;
  }
  int ok = 0;
  int lost = 0;
  int failed = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::string topic =
        "new-topic-race-" + std::to_string(::getpid()) + "-" + std::to_string(i);
    if (!create_topic(rk, topic)) {
      std::fprintf(stderr, "cannot create %s\n", topic.c_str());
      return 1;
    }
    if (wait) wait_writable(rk, topic);
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    g_delivery_error[0] = g_delivery_error[1] = -1;
    rd_kafka_produce(rkt, 0, 0, const_cast<char*>("A"), 1, "k", 1, reinterpret_cast<void*>(0));
    rd_kafka_poll(rk, 0);
    std::this_thread::sleep_for(std::chrono::microseconds((i % 40) * 250));
    rd_kafka_produce(rkt, 0, 0, const_cast<char*>("B"), 1, "k", 1, reinterpret_cast<void*>(1));
    rd_kafka_flush(rk, 30000);
    std::int64_t low = -1;
    std::int64_t high = -1;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, &low, &high, 5000);
    if (g_delivery_error[0] != 0 || g_delivery_error[1] != 0) {
      ++failed;
    } else if (high < 2) {
      ++lost;
      std::printf("lost: %s partition 0 holds %lld of 2 messages reported delivered\n",
                  topic.c_str(), static_cast<long long>(high));
    } else {
      ++ok;
    }
    rd_kafka_topic_destroy(rkt);
  }
  std::printf(
      "{\"kind\":\"new_topic_race\",\"wait_writable\":%s,\"rounds\":%d,\"ok\":%d,"
      "\"lost_reported_delivered\":%d,\"failed_reported\":%d,\"librdkafka\":\"%s\"}\n",
      wait ? "true" : "false", rounds, ok, lost, failed, rd_kafka_version_str());
  rd_kafka_destroy(rk);
  return lost == 0 ? 0 : 1;
}
