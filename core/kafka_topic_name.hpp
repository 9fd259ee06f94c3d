// Kafka's rule for topic names (org.apache.kafka.common.internals.Topic.validate): 1..249 of
// A-Z a-z 0-9 . _ -, and not "." or "..". Shared by the config checks (topics, prefixes) and the
// CDC source, which builds topic names from PostgreSQL identifiers.
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace edgepipe {

inline constexpr std::size_t kMaxKafkaTopicLength = 249;

/// Whether Kafka allows `c` in a topic name (ASCII only, whatever the locale).
constexpr bool kafka_topic_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

/// Whether every character of `s` is allowed in a topic name (the length is the caller's).
constexpr bool kafka_topic_chars(std::string_view s) noexcept {
  for (const char c : s)
    if (!kafka_topic_char(c)) return false;
  return true;
}

}  // namespace edgepipe
