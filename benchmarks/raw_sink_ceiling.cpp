// The ceilings for the sink benchmarks (benchmarks/sinks_e2e.sh): librdkafka's raw producer
// rate and libmongoc's raw bulk-insert rate for the same messages/documents edgepipe delivers,
// measured against the same local servers in the same run.
//   raw_sink_ceiling kafka BROKERS TOPIC FILE.jsonl [copy|nocopy] (one message per line; key =
//     "id" text; nocopy: produced without RD_KAFKA_MSG_F_COPY, as edgepipe's sink does since
//     2026-12-06; the lines outlive the producer)
//   raw_sink_ceiling kafka-latency BROKERS TOPIC FILE.jsonl RATE SOURCE
//     (the same messages paced at RATE per second: produce -> delivery report p50/p99/max, the
//     delivery reports served by rd_kafka_poll blocking until the next message is due)
//   raw_sink_ceiling mongo URI DB COLLECTION FILE.jsonl (one document per line; _id = "id" text)
// The Kafka topic should be one edgepipe created (same partitions); keys are taken from "id".
// Prints one JSON line: {"kind":..,"messages":N,"seconds":S,"per_second":R,"mb_per_second":M}.
#include <bson/bson.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::vector<std::string> read_lines(const char* path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(std::move(l));
  return lines;
}

/// CPU seconds of the whole process (every thread, librdkafka's and libmongoc's included).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// cpu_seconds: the process's CPU time over the timed part only (reading the file is outside).
void report(const char* kind, std::size_t n, std::size_t bytes, double seconds,
            double cpu_seconds) {
  std::printf(
      "{\"kind\":\"%s\",\"messages\":%zu,\"seconds\":%.3f,\"per_second\":%.0f,\"mb_per_second\":%."
      "2f,\"cpu_seconds\":%.3f}\n",
      kind, n, seconds, static_cast<double>(n) / seconds,
      static_cast<double>(bytes) / 1e6 / seconds, cpu_seconds);
}

/// librdkafka's queue: 64 MiB unless RAW_QUEUE_KBYTES says otherwise (the sink's default is
/// max_buffer_bytes = 8 MiB: RAW_QUEUE_KBYTES=8192 is the raw producer with the sink's bound).
const char* queue_kbytes() {
  const char* v = std::getenv("RAW_QUEUE_KBYTES");
  return v != nullptr && *v != '\0' ? v : "65536";
}

rd_kafka_conf_t* producer_conf(const char* brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The same producer settings as edgepipe's Kafka sink defaults.
  const char* settings[][2] = {{"bootstrap.servers", brokers},
                               {"enable.idempotence", "true"},
                               {"acks", "all"},
                               {"compression.codec", "lz4"},
                               {"linger.ms", "5"},
                               {"batch.size", "1048576"},
                               {"queue.buffering.max.kbytes", queue_kbytes()}};
  for (auto& kv : settings)
    if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", err);
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  return conf;
}

std::string_view key_of(const std::string& l) {
  // The record key edgepipe uses (the "id" member), so partitioning is the same.
  if (const auto at = l.find("\"id\":\""); at != std::string::npos) {
    const auto start_key = at + 6;
    return std::string_view(l).substr(start_key, l.find('"', start_key) - start_key);
  }
  return {};
}

int kafka(const char* brokers, const char* topic, const char* file, bool copy) {
  const auto lines = read_lines(file);
  char err[512];
  rd_kafka_conf_t* conf = producer_conf(brokers);
  if (conf == nullptr) return 1;
  static std::size_t delivered = 0, failed = 0;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    (m->err ? failed : delivered)++;
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic, nullptr);
  // Warm up the connection and metadata outside the timed part.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (md) rd_kafka_metadata_destroy(md);
  std::size_t bytes = 0, sent = 0;
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (const auto& l : lines) {
    bytes += l.size();
    const std::string_view key = key_of(l);
    // The same two headers edgepipe sends (source, record-id): the same messages.
    char id[24];
    const int id_len = std::snprintf(id, sizeof id, "%zu", sent++);
    while (rd_kafka_producev(rk, RD_KAFKA_V_RKT(t),
                             RD_KAFKA_V_MSGFLAGS(copy ? RD_KAFKA_MSG_F_COPY : 0),
                             RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(l.data()), l.size()),
                             RD_KAFKA_V_HEADER("source", "coingecko", 9),
                             RD_KAFKA_V_HEADER("record-id", id, id_len),
                             RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report(copy ? "librdkafka_raw_producer" : "librdkafka_raw_producer_nocopy", delivered, bytes, s,
         process_cpu_seconds() - cpu_start);
  if (failed) std::fprintf(stderr, "failed: %zu\n", failed);
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return failed ? 1 : 0;
}

// Paced: message i is due at start + i / rate. Between messages the producer blocks in
// rd_kafka_poll until the next one is due (a delivery report ends the wait early), so reports are
// served as they arrive: the best a single-threaded librdkafka application does.
int kafka_latency(const char* brokers, const char* topic, const char* file, double rate,
                  const char* source) {
  const auto lines = read_lines(file);
  rd_kafka_conf_t* conf = producer_conf(brokers);
  if (conf == nullptr) return 1;
  using clock = std::chrono::steady_clock;
  static std::vector<clock::time_point> sent;
  static std::vector<std::int64_t> latency_ns;
  static std::size_t failed = 0;
  sent.resize(lines.size());
  latency_ns.reserve(lines.size());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    const auto i = reinterpret_cast<std::uintptr_t>(m->_private);
    if (m->err) {
      ++failed;
      return;
    }
    latency_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - sent[i]).count());
  });
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic, nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (md) rd_kafka_metadata_destroy(md);
  const std::size_t source_len = std::strlen(source);
  const auto start = clock::now();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto due = start + std::chrono::nanoseconds(
                                 static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate));
    for (auto now = clock::now(); now < due; now = clock::now()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count();
      rd_kafka_poll(rk, left > 0 ? static_cast<int>(left) : 0);
    }
    const std::string& l = lines[i];
    const std::string_view key = key_of(l);
    char id[24];
    const int id_len = std::snprintf(id, sizeof id, "%zu", i);
    sent[i] = clock::now();
    while (rd_kafka_producev(rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_MSGFLAGS(0),
                             RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(l.data()), l.size()),
                             RD_KAFKA_V_HEADER("source", source, static_cast<ssize_t>(source_len)),
                             RD_KAFKA_V_HEADER("record-id", id, id_len),
                             RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)),
                             RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  const double s = std::chrono::duration<double>(clock::now() - start).count();
  std::sort(latency_ns.begin(), latency_ns.end());
  auto q = [&](double p) {
    if (latency_ns.empty()) return 0.0;
    const auto at = static_cast<std::size_t>(p * static_cast<double>(latency_ns.size() - 1));
    return static_cast<double>(latency_ns[at]) / 1000.0;
  };
  std::printf(
      "{\"kind\":\"librdkafka_raw_latency\",\"messages\":%zu,\"seconds\":%.3f,\"rate\":%.0f,"
      "\"dr_latency_us\":{\"p50\":%.0f,\"p99\":%.0f,\"max\":%.0f}}\n",
      latency_ns.size(), s, rate, q(0.5), q(0.99), q(1.0));
  if (failed) std::fprintf(stderr, "failed: %zu\n", failed);
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return failed ? 1 : 0;
}

int mongo(const char* uri, const char* db, const char* coll, const char* file) {
  const auto lines = read_lines(file);
  mongoc_init();
  mongoc_client_t* client = mongoc_client_new(uri);
  mongoc_collection_t* c = mongoc_client_get_collection(client, db, coll);
  bson_error_t err;
  // Connect (server selection, handshake) outside the timed part, as edgepipe's sink does in
  // open() with its ping before the pipeline's clock starts.
  bson_t ping = BSON_INITIALIZER;
  BSON_APPEND_INT32(&ping, "ping", 1);
  if (!mongoc_client_command_simple(client, "admin", &ping, nullptr, nullptr, &err))
    std::fprintf(stderr, "ping: %s\n", err.message);
  bson_destroy(&ping);
  std::size_t bytes = 0, n = 0;
  const double cpu_start = process_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < lines.size(); i += 1000) {
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", false);
    mongoc_bulk_operation_t* bulk = mongoc_collection_create_bulk_operation_with_opts(c, &opts);
    for (std::size_t j = i; j < lines.size() && j < i + 1000; ++j) {
      bson_t parsed;
      if (!bson_init_from_json(&parsed, lines[j].data(), static_cast<ssize_t>(lines[j].size()),
                               &err))
        continue;
      // The same documents edgepipe inserts: `_id` = the record key (the "id" member), so a
      // replay does not duplicate; without one, an ObjectId as libmongoc would add.
      bson_t doc = BSON_INITIALIZER;
      bson_iter_t it;
      if (bson_iter_init_find(&it, &parsed, "id") && BSON_ITER_HOLDS_UTF8(&it)) {
        std::uint32_t len = 0;
        const char* id = bson_iter_utf8(&it, &len);
        bson_append_utf8(&doc, "_id", 3, id, static_cast<int>(len));
      } else {
        bson_oid_t oid;
        bson_oid_init(&oid, nullptr);
        bson_append_oid(&doc, "_id", 3, &oid);
      }
      bson_concat(&doc, &parsed);
      bson_destroy(&parsed);
      mongoc_bulk_operation_insert(bulk, &doc);
      bson_destroy(&doc);
      bytes += lines[j].size();
      ++n;
    }
    bson_t reply;
    if (!mongoc_bulk_operation_execute(bulk, &reply, &err))
      std::fprintf(stderr, "bulk: %s\n", err.message);
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(&opts);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report("libmongoc_raw_bulk_insert", n, bytes, s, process_cpu_seconds() - cpu_start);
  mongoc_collection_destroy(c);
  mongoc_client_destroy(client);
  mongoc_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 5 || argc == 6) && std::string(argv[1]) == "kafka")
    return kafka(argv[2], argv[3], argv[4], argc == 5 || std::string(argv[5]) != "nocopy");
  if (argc == 7 && std::string(argv[1]) == "kafka-latency")
    return kafka_latency(argv[2], argv[3], argv[4], std::atof(argv[5]), argv[6]);
  if (argc == 6 && std::string(argv[1]) == "mongo")
    return mongo(argv[2], argv[3], argv[4], argv[5]);
  std::fprintf(stderr,
               "usage: raw_sink_ceiling kafka BROKERS TOPIC FILE [copy|nocopy]\n"
               "       raw_sink_ceiling kafka-latency BROKERS TOPIC FILE RATE SOURCE\n"
               "       raw_sink_ceiling mongo URI DB COLLECTION FILE\n");
  return 2;
}
