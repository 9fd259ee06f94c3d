// pgoutput v1 and replication framing: a bounds-checked big-endian reader, one function per
// message type. Formats: PostgreSQL docs, "Logical Replication Message Formats" and
// "Streaming Replication Protocol".
#include "stages/sources/postgres_cdc/pgoutput_decoder.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

namespace edgepipe::pgcdc {
namespace {

class reader {
 public:
  explicit reader(std::string_view bytes) : p_(bytes) {}

  bool u8(std::uint8_t& v) {
    if (p_.size() < 1) return false;
    v = static_cast<std::uint8_t>(p_[0]);
    p_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    std::uint64_t w = 0;
    if (!be(2, w)) return false;
    v = static_cast<std::uint16_t>(w);
    return true;
  }
  bool u32(std::uint32_t& v) {
    std::uint64_t w = 0;
    if (!be(4, w)) return false;
    v = static_cast<std::uint32_t>(w);
    return true;
  }
  bool i32(std::int32_t& v) {
    std::uint32_t w = 0;
    if (!u32(w)) return false;
    v = static_cast<std::int32_t>(w);
    return true;
  }
  bool u64(std::uint64_t& v) { return be(8, v); }
  bool i64(std::int64_t& v) {
    std::uint64_t w = 0;
    if (!be(8, w)) return false;
    v = static_cast<std::int64_t>(w);
    return true;
  }
  /// A NUL-terminated string.
  bool cstr(std::string_view& v) {
    const auto nul = p_.find('\0');
    if (nul == std::string_view::npos) return false;
    v = p_.substr(0, nul);
    p_.remove_prefix(nul + 1);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& v) {
    if (p_.size() < n) return false;
    v = p_.substr(0, n);
    p_.remove_prefix(n);
    return true;
  }
  std::string_view rest() const { return p_; }
  bool empty() const { return p_.empty(); }

 private:
  bool be(std::size_t n, std::uint64_t& v) {
    if (p_.size() < n) return false;
    std::uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i) w = (w << 8) | static_cast<std::uint8_t>(p_[i]);
    p_.remove_prefix(n);
    v = w;
    return true;
  }
  std::string_view p_;
};

std::string hex_byte(std::uint8_t b) {
  static constexpr char digits[] = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

status truncated(const char* what) {
  return status::error(std::string("pgoutput: truncated ") + what + " message");
}

status trailing(const char* what, std::size_t n) {
  return status::error(std::string("pgoutput: ") + std::to_string(n) +
                       " unexpected trailing bytes after " + what + " message");
}

// TupleData into `buf` (reused): Int16 count, then per column a kind byte and maybe a value.
status read_tuple(reader& r, std::vector<column_value>& buf, const relation& rel,
                  std::span<const column_value>& out) {
  std::uint16_t n = 0;
  if (!r.u16(n)) return truncated("tuple");
  if (n != rel.columns.size()) {
    return status::error("pgoutput: tuple of " + std::to_string(n) + " columns for relation " +
                         rel.schema + "." + rel.name + " with " +
                         std::to_string(rel.columns.size()) +
                         " columns (missed Relation message?)");
  }
  buf.resize(n);
  for (std::uint16_t i = 0; i < n; ++i) {
    std::uint8_t kind = 0;
    if (!r.u8(kind)) return truncated("tuple");
    column_value& v = buf[i];
    v.data = {};
    switch (kind) {
      case 'n':
        v.kind = value_kind::null;
        break;
      case 'u':
        v.kind = value_kind::unchanged_toast;
        break;
      case 't':
      case 'b': {
        v.kind = kind == 't' ? value_kind::text : value_kind::binary;
        std::int32_t len = 0;
        if (!r.i32(len)) return truncated("tuple");
        if (len < 0) return status::error("pgoutput: negative column length in tuple");
        if (!r.bytes(static_cast<std::size_t>(len), v.data)) return truncated("tuple");
        break;
      }
      default:
        return status::error("pgoutput: unknown tuple column kind " + hex_byte(kind));
    }
  }
  out = std::span<const column_value>(buf.data(), n);
  return status::ok();
}

}  // namespace

std::string format_lsn(lsn_t lsn) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32),
                              static_cast<unsigned>(lsn & 0xffffffffu));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<lsn_t> parse_lsn(std::string_view text) noexcept {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size())
    return std::nullopt;
  std::uint32_t hi = 0;
  std::uint32_t lo = 0;
  const char* b = text.data();
  const char* mid = b + slash;
  const char* e = b + text.size();
  auto r1 = std::from_chars(b, mid, hi, 16);
  if (r1.ec != std::errc{} || r1.ptr != mid) return std::nullopt;
  auto r2 = std::from_chars(mid + 1, e, lo, 16);
  if (r2.ec != std::errc{} || r2.ptr != e) return std::nullopt;
  return (static_cast<lsn_t>(hi) << 32) | lo;
}

status decode_frame(std::string_view copy_data, replication_frame& out) {
  reader r(copy_data);
  std::uint8_t tag = 0;
  if (!r.u8(tag)) return status::error("replication: empty CopyData message");
  out = replication_frame{};
  if (tag == 'w') {
    out.kind = frame_kind::xlog_data;
    if (!r.u64(out.wal_start) || !r.u64(out.wal_end) || !r.i64(out.send_time)) {
      return status::error("replication: truncated XLogData header");
    }
    out.payload = r.rest();
    return status::ok();
  }
  if (tag == 'k') {
    out.kind = frame_kind::keepalive;
    std::uint8_t reply = 0;
    if (!r.u64(out.wal_end) || !r.i64(out.send_time) || !r.u8(reply)) {
      return status::error("replication: truncated primary keepalive");
    }
    out.reply_requested = reply != 0;
    if (!r.empty()) return status::error("replication: trailing bytes after primary keepalive");
    return status::ok();
  }
  return status::error("replication: unknown CopyData message type " + hex_byte(tag));
}

std::array<char, standby_status_size> encode_standby_status(lsn_t written, lsn_t flushed,
                                                            lsn_t applied,
                                                            std::int64_t client_time_pg_us,
                                                            bool reply_requested) noexcept {
  std::array<char, standby_status_size> b{};
  b[0] = 'r';
  auto put = [&b](std::size_t at, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) b[at + i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  };
  put(1, written);
  put(9, flushed);
  put(17, applied);
  put(25, static_cast<std::uint64_t>(client_time_pg_us));
  b[33] = reply_requested ? 1 : 0;
  return b;
}

const relation* pgoutput_decoder::find_relation(std::uint32_t oid) const noexcept {
  const auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : &it->second;
}

std::string_view pgoutput_decoder::type_name(std::uint32_t oid) const noexcept {
  const auto it = types_.find(oid);
  return it == types_.end() ? std::string_view{} : std::string_view(it->second);
}

void pgoutput_decoder::reset() {
  relations_.clear();
  types_.clear();
}

status pgoutput_decoder::decode(std::string_view message, decoded_message& out) {
  reader r(message);
  std::uint8_t tag = 0;
  if (!r.u8(tag)) return status::error("pgoutput: empty message");
  out = decoded_message{};
  auto lookup = [this, &out](std::uint32_t relid) -> status {
    out.rel = find_relation(relid);
    if (out.rel == nullptr) {
      return status::error("pgoutput: change for relation oid " + std::to_string(relid) +
                           " before its Relation message");
    }
    return status::ok();
  };
  switch (tag) {
    case 'B': {
      out.kind = message_kind::begin;
      if (!r.u64(out.final_lsn) || !r.i64(out.commit_time) || !r.u32(out.xid))
        return truncated("Begin");
      if (!r.empty()) return trailing("Begin", r.rest().size());
      return status::ok();
    }
    case 'C': {
      out.kind = message_kind::commit;
      if (!r.u8(out.flags) || !r.u64(out.commit_lsn) || !r.u64(out.end_lsn) ||
          !r.i64(out.commit_time)) {
        return truncated("Commit");
      }
      if (!r.empty()) return trailing("Commit", r.rest().size());
      return status::ok();
    }
    case 'O': {
      out.kind = message_kind::origin;
      if (!r.u64(out.origin_lsn) || !r.cstr(out.name)) return truncated("Origin");
      if (!r.empty()) return trailing("Origin", r.rest().size());
      return status::ok();
    }
    case 'Y': {
      out.kind = message_kind::type;
      if (!r.u32(out.type_oid) || !r.cstr(out.schema) || !r.cstr(out.name))
        return truncated("Type");
      if (!r.empty()) return trailing("Type", r.rest().size());
      std::string full;
      full.reserve(out.schema.size() + 1 + out.name.size());
      full.append(out.schema).append(".").append(out.name);
      types_[out.type_oid] = std::move(full);
      return status::ok();
    }
    case 'R': {
      out.kind = message_kind::relation;
      relation rel;
      std::string_view schema;
      std::string_view name;
      std::uint8_t ident = 0;
      std::uint16_t ncols = 0;
      if (!r.u32(rel.oid) || !r.cstr(schema) || !r.cstr(name) || !r.u8(ident) || !r.u16(ncols)) {
        return truncated("Relation");
      }
      // The server sends "" for pg_catalog; Debezium and psql both name it explicitly.
      rel.schema = schema.empty() ? std::string("pg_catalog") : std::string(schema);
      rel.name = std::string(name);
      rel.replica_identity = static_cast<char>(ident);
      rel.columns.resize(ncols);
      for (auto& c : rel.columns) {
        std::uint8_t flags = 0;
        std::string_view cname;
        if (!r.u8(flags) || !r.cstr(cname) || !r.u32(c.type_oid) || !r.i32(c.type_modifier)) {
          return truncated("Relation");
        }
        c.is_key = (flags & 1) != 0;
        c.name = std::string(cname);
      }
      if (!r.empty()) return trailing("Relation", r.rest().size());
      const std::uint32_t oid = rel.oid;
      auto& slot = relations_[oid];
      slot = std::move(rel);
      out.rel = &slot;
      out.schema = slot.schema;
      out.name = slot.name;
      return status::ok();
    }
    case 'I': {
      out.kind = message_kind::insert;
      std::uint32_t relid = 0;
      std::uint8_t n = 0;
      if (!r.u32(relid) || !r.u8(n)) return truncated("Insert");
      if (n != 'N') return status::error("pgoutput: Insert without new tuple ('N')");
      if (auto s = lookup(relid); !s) return s;
      if (auto s = read_tuple(r, new_buf_, *out.rel, out.new_tuple); !s) return s;
      if (!r.empty()) return trailing("Insert", r.rest().size());
      return status::ok();
    }
    case 'U': {
      out.kind = message_kind::update;
      std::uint32_t relid = 0;
      std::uint8_t k = 0;
      if (!r.u32(relid) || !r.u8(k)) return truncated("Update");
      if (auto s = lookup(relid); !s) return s;
      if (k == 'K' || k == 'O') {
        out.old_kind = static_cast<char>(k);
        if (auto s = read_tuple(r, old_buf_, *out.rel, out.old_tuple); !s) return s;
        if (!r.u8(k)) return truncated("Update");
      }
      if (k != 'N') return status::error("pgoutput: Update without new tuple ('N')");
      if (auto s = read_tuple(r, new_buf_, *out.rel, out.new_tuple); !s) return s;
      if (!r.empty()) return trailing("Update", r.rest().size());
      return status::ok();
    }
    case 'D': {
      out.kind = message_kind::remove;
      std::uint32_t relid = 0;
      std::uint8_t k = 0;
      if (!r.u32(relid) || !r.u8(k)) return truncated("Delete");
      if (k != 'K' && k != 'O')
        return status::error("pgoutput: Delete without old tuple ('K'/'O')");
      if (auto s = lookup(relid); !s) return s;
      out.old_kind = static_cast<char>(k);
      if (auto s = read_tuple(r, old_buf_, *out.rel, out.old_tuple); !s) return s;
      if (!r.empty()) return trailing("Delete", r.rest().size());
      return status::ok();
    }
    case 'T': {
      out.kind = message_kind::truncate;
      std::uint32_t n = 0;
      if (!r.u32(n) || !r.u8(out.flags)) return truncated("Truncate");
      if (r.rest().size() != static_cast<std::size_t>(n) * 4) {
        return status::error("pgoutput: Truncate of " + std::to_string(n) + " relations carries " +
                             std::to_string(r.rest().size()) + " bytes of relation oids");
      }
      relid_buf_.resize(n);
      for (auto& id : relid_buf_) {
        if (!r.u32(id)) return truncated("Truncate");
        if (find_relation(id) == nullptr) {
          return status::error("pgoutput: Truncate of relation oid " + std::to_string(id) +
                               " before its Relation message");
        }
      }
      out.relids = std::span<const std::uint32_t>(relid_buf_.data(), n);
      return status::ok();
    }
    case 'M': {
      out.kind = message_kind::message;
      std::int32_t len = 0;
      if (!r.u8(out.flags) || !r.u64(out.origin_lsn) || !r.cstr(out.name) || !r.i32(len)) {
        return truncated("Message");
      }
      if (len < 0 || !r.bytes(static_cast<std::size_t>(len), out.content))
        return truncated("Message");
      if (!r.empty()) return trailing("Message", r.rest().size());
      return status::ok();
    }
    default:
      return status::error("pgoutput: unknown message type " + hex_byte(tag) +
                           " (protocol version 1 expected)");
  }
}

}  // namespace edgepipe::pgcdc
