// Builds pgoutput / replication-protocol messages byte by byte for the CDC decoder and envelope
// tests, the way PostgreSQL writes them (big-endian integers, NUL-terminated strings).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgepipe::pgcdc::testing {

class bytes {
 public:
  bytes& u8(std::uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  bytes& ch(char c) {
    s_.push_back(c);
    return *this;
  }
  bytes& u16(std::uint16_t v) { return be(v, 2); }
  bytes& u32(std::uint32_t v) { return be(v, 4); }
  bytes& i32(std::int32_t v) { return be(static_cast<std::uint32_t>(v), 4); }
  bytes& u64(std::uint64_t v) { return be(v, 8); }
  bytes& i64(std::int64_t v) { return be(static_cast<std::uint64_t>(v), 8); }
  bytes& cstr(std::string_view v) {
    s_.append(v);
    s_.push_back('\0');
    return *this;
  }
  bytes& raw(std::string_view v) {
    s_.append(v);
    return *this;
  }
  // TupleData column helpers
  bytes& text_col(std::string_view v) {
    ch('t');
    i32(static_cast<std::int32_t>(v.size()));
    return raw(v);
  }
  bytes& null_col() { return ch('n'); }
  bytes& toast_col() { return ch('u'); }

  const std::string& str() const { return s_; }

 private:
  bytes& be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

struct col_def {
  std::string name;
  std::uint32_t oid;
  bool key;
  std::int32_t typmod = -1;
};

inline std::string relation_msg(std::uint32_t relid, std::string_view schema, std::string_view name,
                                char ident, const std::vector<col_def>& cols) {
  bytes b;
  b.ch('R').u32(relid).cstr(schema).cstr(name).ch(ident).u16(
      static_cast<std::uint16_t>(cols.size()));
  for (const auto& c : cols) b.u8(c.key ? 1 : 0).cstr(c.name).u32(c.oid).i32(c.typmod);
  return b.str();
}

/// A tuple from optional text values: nullopt = NULL, "\x01TOAST" = unchanged TOAST marker.
inline constexpr std::string_view toast = "\x01TOAST";
inline void tuple(bytes& b, const std::vector<std::optional<std::string>>& vals) {
  b.u16(static_cast<std::uint16_t>(vals.size()));
  for (const auto& v : vals) {
    if (!v) {
      b.null_col();
    } else if (*v == toast) {
      b.toast_col();
    } else {
      b.text_col(*v);
    }
  }
}

inline std::string insert_msg(std::uint32_t relid,
                              const std::vector<std::optional<std::string>>& vals) {
  bytes b;
  b.ch('I').u32(relid).ch('N');
  tuple(b, vals);
  return b.str();
}

inline std::string update_msg(std::uint32_t relid, char old_kind,
                              const std::vector<std::optional<std::string>>& old_vals,
                              const std::vector<std::optional<std::string>>& new_vals) {
  bytes b;
  b.ch('U').u32(relid);
  if (old_kind != 0) {
    b.ch(old_kind);
    tuple(b, old_vals);
  }
  b.ch('N');
  tuple(b, new_vals);
  return b.str();
}

inline std::string delete_msg(std::uint32_t relid, char old_kind,
                              const std::vector<std::optional<std::string>>& old_vals) {
  bytes b;
  b.ch('D').u32(relid).ch(old_kind);
  tuple(b, old_vals);
  return b.str();
}

inline std::string begin_msg(std::uint64_t final_lsn, std::int64_t ts, std::uint32_t xid) {
  return bytes().ch('B').u64(final_lsn).i64(ts).u32(xid).str();
}

inline std::string commit_msg(std::uint64_t commit_lsn, std::uint64_t end_lsn, std::int64_t ts) {
  return bytes().ch('C').u8(0).u64(commit_lsn).u64(end_lsn).i64(ts).str();
}

/// Decoded messages view their input: tests keep every input alive for the whole test.
template <class Decoder, class Message>
auto decode_kept(Decoder& d, std::string msg, Message& out) {
  static std::deque<std::string> kept;
  kept.push_back(std::move(msg));
  return d.decode(kept.back(), out);
}

}  // namespace edgepipe::pgcdc::testing
