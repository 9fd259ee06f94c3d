#include "core/batch.hpp"

#include <cstring>

namespace edgepipe {

std::size_t payload_batch::register_body(std::size_t offset, std::size_t length, source_id source,
                                         std::uint16_t http_status, std::int64_t received_unix_ns,
                                         std::uint64_t received_mono_ns, payload_error error) {
  payload p;
  p.body_offset = static_cast<std::uint32_t>(offset);
  p.body_length = static_cast<std::uint32_t>(length);
  p.received_unix_ns = received_unix_ns;
  p.received_mono_ns = received_mono_ns;
  p.source = source;
  p.http_status = http_status;
  p.error = error;
  payloads_.push_back(p);
  body_bytes_ += length;
  return payloads_.size() - 1;
}

std::size_t payload_batch::add(std::string_view body, source_id source, std::uint16_t http_status,
                               std::int64_t received_unix_ns, std::uint64_t received_mono_ns) {
  const std::size_t offset = arena_.size();
  char* dst = arena_.prepare(body.size() + kPayloadPadding);
  std::memcpy(dst, body.data(), body.size());
  std::memset(dst + body.size(), 0, kPayloadPadding);
  arena_.commit(body.size() + kPayloadPadding);
  return register_body(offset, body.size(), source, http_status, received_unix_ns, received_mono_ns,
                       payload_error::none);
}

std::size_t payload_batch::add_in_place(std::size_t offset, std::size_t length, source_id source,
                                        std::uint16_t http_status, std::int64_t received_unix_ns,
                                        std::uint64_t received_mono_ns) {
  return register_body(offset, length, source, http_status, received_unix_ns, received_mono_ns,
                       payload_error::none);
}

std::size_t payload_batch::finish_body(source_id source, std::uint16_t http_status,
                                       std::int64_t received_unix_ns,
                                       std::uint64_t received_mono_ns, payload_error error) {
  const std::size_t offset = open_body_;
  const std::size_t length = arena_.size() - open_body_;
  std::memset(arena_.prepare(kPayloadPadding), 0, kPayloadPadding);
  arena_.commit(kPayloadPadding);
  open_body_ = arena_.size();
  return register_body(offset, length, source, http_status, received_unix_ns, received_mono_ns,
                       error);
}

std::uint32_t record_batch::add_stream(std::string_view name) {
  const auto len = static_cast<std::uint16_t>(name.size() < 0xffff ? name.size() : 0xffff);
  const std::uint32_t at = arena_offset(arena_.size());
  arena_.append(&len, sizeof len);
  arena_.append(name.data(), len);
  return at + 1;
}

std::string_view record_batch::stream(const record& r) const noexcept {
  if (r.stream == 0) return {};
  // Checked against the arena: a record decoded from a damaged frame never reads past it.
  const std::size_t at = r.stream - 1;
  if (at + sizeof(std::uint16_t) > arena_.size()) return {};
  std::uint16_t len = 0;
  std::memcpy(&len, arena_.data() + at, sizeof len);
  if (at + sizeof len + len > arena_.size()) return {};
  return arena_.view(at + sizeof len, len);
}

}  // namespace edgepipe
