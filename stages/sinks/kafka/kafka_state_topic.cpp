#include "stages/sinks/kafka/kafka_state_topic.hpp"

#include <librdkafka/rdkafka.h>

#include <charconv>
#include <chrono>
#include <random>

namespace edgepipe {
namespace {
constexpr std::string_view kOriginKey = "kafka.spool=";
constexpr std::size_t kOriginDigits = 16;

bool is_origin(std::string_view v) {
  if (v.size() != kOriginDigits) return false;
  for (const char c : v)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
}  // namespace

std::string kafka_state_value(std::string_view origin, std::uint64_t next) {
  std::string out = "origin=";
  out.append(origin);
  out.append(" next=");
  out.append(std::to_string(next));
  return out;
}

std::optional<kafka_watermark> parse_kafka_state_value(std::string_view value) {
  constexpr std::string_view kOrigin = "origin=";
  constexpr std::string_view kNext = " next=";
  if (value.substr(0, kOrigin.size()) != kOrigin) return std::nullopt;
  value.remove_prefix(kOrigin.size());
  const std::size_t sep = value.find(kNext);
  if (sep == std::string_view::npos || !is_origin(value.substr(0, sep))) return std::nullopt;
  kafka_watermark w;
  w.origin = std::string(value.substr(0, sep));
  const std::string_view digits = value.substr(sep + kNext.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), w.next);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  return w;
}

std::string new_kafka_origin() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kOriginDigits, '0');
  for (std::size_t i = 0; i < kOriginDigits; ++i)
    out[i] = kHex[(v >> (4 * (kOriginDigits - 1 - i))) & 0xf];
  return out;
}

std::string_view parse_kafka_origin(std::string_view text) {
  std::size_t at = 0;
  for (;;) {  // the key at the start of a line
    at = text.find(kOriginKey, at);
    if (at == std::string_view::npos) return {};
    if (at == 0 || text[at - 1] == '\n') break;
    at += kOriginKey.size();
  }
  const std::string_view v = text.substr(at + kOriginKey.size(), kOriginDigits);
  return is_origin(v) ? v : std::string_view{};
}

std::string kafka_origin_line(std::string_view origin) {
  std::string out(kOriginKey);
  out.append(origin);
  out.push_back('\n');
  return out;
}

namespace {

/// The consumer handle, destroyed on every path.
struct consumer_handle {
  rd_kafka_t* rk = nullptr;
  ~consumer_handle() {
    if (rk != nullptr) {
      (void)rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
};

}  // namespace

status read_committed_state(const std::string& brokers,
                            const std::vector<std::pair<std::string, std::string>>& properties,
                            const std::string& topic, std::string_view key, int timeout_ms,
                            std::optional<kafka_watermark>& out) {
  out.reset();
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", brokers.c_str()},
      {"group.id", "edgepipe-state-reader"},  // required by the API; no offsets are committed
      {"isolation.level", "read_committed"},
      {"enable.partition.eof", "true"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"log_level", "3"},
  };
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return status::error(std::string("state topic reader: ") + k + ": " + errstr);
    }
  }
  // The sink's extra settings (security, timeouts) apply where a consumer knows them; producer-
  // only ones are not for this handle.
  for (const auto& [k, v] : properties)
    (void)rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr);
  consumer_handle c;
  c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (c.rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return status::error(std::string("state topic reader: ") + errstr);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(left.count() > 0 ? left.count() : 0);
  };

  rd_kafka_topic_t* handle = rd_kafka_topic_new(c.rk, topic.c_str(), nullptr);
  if (handle == nullptr) return status::error("state topic reader: no handle for " + topic);
  const struct rd_kafka_metadata* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(c.rk, 0, handle, &md, left_ms());
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return status::error("state topic " + topic + ": metadata: " + rd_kafka_err2str(err));
  int partitions = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    topic_err = md->topics[0].err;
    partitions = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return status::ok();  // none yet
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return status::error("state topic " + topic + ": " + rd_kafka_err2str(topic_err));
  if (partitions == 0) return status::ok();

  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  err = rd_kafka_assign(c.rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return status::error("state topic " + topic + ": assign: " + rd_kafka_err2str(err));

  std::vector<bool> at_end(static_cast<std::size_t>(partitions), false);
  int ends = 0;
  while (ends < partitions) {
    const int wait = left_ms();
    if (wait == 0)
      return status::error("state topic " + topic + ": end not reached within " +
                           std::to_string(timeout_ms) + " ms");
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.rk, wait < 100 ? wait : 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const auto p = static_cast<std::size_t>(m->partition);
      if (p < at_end.size() && !at_end[p]) {
        at_end[p] = true;
        ++ends;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::string message = "state topic " + topic + ": ";
      message += rd_kafka_message_errstr(m);
      rd_kafka_message_destroy(m);
      return status::error(std::move(message));
    } else if (m->key != nullptr &&
               std::string_view(static_cast<const char*>(m->key), m->key_len) == key) {
      if (m->payload == nullptr) {
        out.reset();  // a tombstone: the state was deleted
      } else {
        out =
            parse_kafka_state_value(std::string_view(static_cast<const char*>(m->payload), m->len));
      }
    }
    rd_kafka_message_destroy(m);
  }
  return status::ok();
}

}  // namespace edgepipe
