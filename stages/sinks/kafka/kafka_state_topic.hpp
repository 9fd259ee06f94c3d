// The exactly-once Kafka sink's watermark in Kafka: one record per sink in a compacted state
// topic, key `<node_id>/<sink>`, value `origin=<16 hex> next=<record id>` (every spool record
// below `next` of the spool with that origin is committed to Kafka), written in the same
// transaction as the records it covers. read_committed_state() reads it back with a
// read_committed consumer, so only committed transactions count.
// Threading: any thread; read_committed_state() blocks (network) for at most its timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace edgepipe {

struct kafka_watermark {
  std::string origin;      // the spool's origin (kafka.spool= in the sink's ledger)
  std::uint64_t next = 0;  // every record id below it is committed
};

/// "origin=<origin> next=<next>".
std::string kafka_state_value(std::string_view origin, std::uint64_t next);
/// The watermark a state value carries; nullopt when malformed.
std::optional<kafka_watermark> parse_kafka_state_value(std::string_view value);

/// A new spool origin for the sink's ledger: 16 lowercase hex digits (std::random_device).
std::string new_kafka_origin();
/// The origin in a ledger's sink state (`kafka.spool=<origin>` line); empty when none.
std::string_view parse_kafka_origin(std::string_view ledger_state);
/// The ledger line: "kafka.spool=<origin>\n".
std::string kafka_origin_line(std::string_view origin);

/// The latest committed value for `key` in `topic` (every partition read from its start up to
/// its end, isolation.level=read_committed). nullopt value: the topic or the key is not there.
/// An error when the brokers do not answer, or the end is not reached, within `timeout_ms`.
status read_committed_state(const std::string& brokers,
                            const std::vector<std::pair<std::string, std::string>>& properties,
                            const std::string& topic, std::string_view key, int timeout_ms,
                            std::optional<kafka_watermark>& out);

}  // namespace edgepipe
