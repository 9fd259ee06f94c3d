#include "stages/transform/transform_engine.hpp"

#include <bit>
#include <cmath>
#include <cstring>

#include "stages/transform/iso8601.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"

namespace edgepipe {

namespace od = simdjson::ondemand;
using simdjson::error_code;

static_assert(kPayloadPadding >= simdjson::SIMDJSON_PADDING, "bodies must carry simdjson padding");

namespace {

// Marks a payload-level shape problem (valid JSON, wrong shape); the text is in `problem`.
constexpr error_code kRootNotContainer = simdjson::UNEXPECTED_ERROR;

std::string_view json_type_name(od::json_type t) {
  switch (t) {
    case od::json_type::array:
      return "an array";
    case od::json_type::object:
      return "an object";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "unknown";
}

inline std::string_view trim_token(std::string_view t) {
  if (!t.empty() && static_cast<unsigned char>(t.back()) > ' ') return t;  // the common case
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t'))
    t.remove_suffix(1);
  return t;
}

bool is_2xx(std::uint16_t status) { return status >= 200 && status < 300; }

std::uint64_t load_word(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

/// Bytes 16.. of a member name and its closing quote against a matcher (quoted_length > 16).
/// `key` lies inside a padded body: names up to kWordMatchMax are compared a word at a time.
bool key_tail_matches(const child_matcher& m, const char* key,
                      const std::uint64_t* words) noexcept {
  const char* want = reinterpret_cast<const char*>(words + m.rest_word);
  std::size_t left = m.quoted_length - 16;
  const char* k = key + 16;
  if (m.quoted_length > kWordMatchMax) {  // byte by byte: stops at the input's closing quote
    for (std::size_t i = 0; i < left; ++i)
      if (k[i] != want[i]) return false;
    return true;
  }
  for (; left > 8; left -= 8, k += 8, want += 8)
    if (load_word(k) != load_word(want)) return false;
  const std::uint64_t mask = left == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * left)) - 1;
  return ((load_word(k) ^ load_word(want)) & mask) == 0;
}

/// True when the raw JSON key at `key` (just past its opening quote, inside a padded body;
/// `first` = its first word) is exactly the matcher's name followed by the closing quote.
[[gnu::always_inline]] inline bool key_matches(const child_matcher& m, std::uint64_t first,
                                               const char* key,
                                               const std::uint64_t* words) noexcept {
  if (((first ^ m.first_word) & m.first_mask) != 0) return false;
  if (((load_word(key + 8) ^ m.second_word) & m.second_mask) != 0) return false;
  return m.quoted_length <= 16 || key_tail_matches(m, key, words);
}

/// True when the n bytes at p (inside a padded body) contain a backslash.
[[gnu::always_inline]] inline bool has_backslash(const char* p, std::size_t n) noexcept {
  constexpr std::uint64_t k01 = 0x0101010101010101ull;
  constexpr std::uint64_t k80 = 0x8080808080808080ull;
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t x = load_word(p + i) ^ (k01 * '\\');
    std::uint64_t zero = (x - k01) & ~x & k80;  // exact below the first zero byte
    if (n - i < 8) zero &= (std::uint64_t{1} << (8 * (n - i))) - 1;
    if (zero != 0) return true;
  }
  return false;
}

/// Copies `t`, which lies inside a padded body, with one fixed-size block copy when it is short.
void append_from_document(byte_arena& out, std::string_view t) {
  constexpr std::size_t kBlock = 32;
  if (t.size() <= kBlock) {
    std::memcpy(out.prepare(kBlock), t.data(), kBlock);
    out.commit(t.size());
  } else {
    out.append(t);
  }
}

/// A value as a JSON string: copied as it is when it came escape-free from the body (a string
/// without a backslash, or a number token); escaped otherwise.
void append_string(byte_arena& out, const slot_value& v) {
  if (!v.in_document || v.kind == slot_kind::raw) {
    append_json_string(out, v.text);
    return;
  }
  out.push_back('"');
  append_from_document(out, v.text);
  out.push_back('"');
}

/// The one timestamp rule (casts and event_time): ISO-8601 text, or a number of Unix seconds
/// (milliseconds when too large to be seconds). nullopt for anything else.
std::optional<std::int64_t> to_unix_ms(const slot_value& v) {
  if (v.kind != slot_kind::number && v.kind != slot_kind::string) return std::nullopt;
  // "YYYY-..." can never parse as a number: try ISO-8601 first.
  if (v.kind == slot_kind::string && v.text.size() >= 10 && v.text[4] == '-')
    if (const auto ms = parse_iso8601_ms(v.text)) return ms;
  if (const auto d = parse_double(v.text))
    return std::fabs(*d) < 1e11 ? static_cast<std::int64_t>(std::llround(*d * 1000.0))
                                : static_cast<std::int64_t>(std::llround(*d));
  if (v.kind == slot_kind::string) return parse_iso8601_ms(v.text);
  return std::nullopt;
}

}  // namespace

struct transform_engine::record_context {
  const payload* p = nullptr;
  record_batch* out = nullptr;
  record_batch* dlq = nullptr;
  std::uint64_t* sequence = nullptr;
  payload_outcome outcome;
  std::string root_problem;  // set with kRootNotContainer
};

transform_engine::transform_engine(std::vector<transform_program> programs, transform_limits limits)
    : programs_(std::move(programs)), limits_(limits), parser_(limits.max_payload_bytes) {
  learned_order_.resize(programs_.size());
  for (std::size_t i = 0; i < programs_.size(); ++i) {
    const transform_program& prog = programs_[i];
    std::vector<std::uint8_t>& order = learned_order_[i];
    order.assign(prog.matchers.size(), 0);
    for (std::size_t n = 0; n + 1 < prog.matcher_begin.size(); ++n)
      for (std::uint32_t k = prog.matcher_begin[n]; k < prog.matcher_begin[n + 1]; ++k)
        order[k] = static_cast<std::uint8_t>((k - prog.matcher_begin[n]) & 0xff);
  }
  scratch_.reserve(4096);
  for (const transform_program& prog : programs_)
    for (const compiled_field& f : prog.fields)
      (void)hasher_.prepare(f.hash);  // a failure shows on the first record, with its field
}

[[gnu::always_inline]] inline error_code transform_engine::extract(od::value& v, int slot) {
  slot_value& s = slots_[static_cast<std::size_t>(slot)];
  // The value's own bytes up to the next structural character: its first byte tells its type.
  const std::string_view token = trim_token(v.raw_json_token());
  const char lead = token.empty() ? '\0' : token.front();
  if (lead == '"') {
    // Stage 1 has checked the whole body (UTF-8, no raw control characters in strings), so a
    // string without a backslash is its own unescaped value: no copy, no re-escaping.
    if (token.size() >= 2 && token.back() == '"' &&
        !has_backslash(token.data() + 1, token.size() - 2)) {
      s = {slot_kind::string, false, true, token.substr(1, token.size() - 2)};
      return simdjson::SUCCESS;
    }
  } else if (lead == '-' || (lead >= '0' && lead <= '9')) {
    // Validated where it is used (cast or copy), so unused numbers cost nothing.
    s = {slot_kind::number, false, true, token};
    return simdjson::SUCCESS;
  }
  return extract_other(v, s);
}

error_code transform_engine::extract_other(od::value& v, slot_value& s) {
  const std::string_view token = trim_token(v.raw_json_token());
  const char lead = token.empty() ? '\0' : token.front();
  if (lead == '"') {  // a string with escapes: simdjson unescapes it
    std::string_view str;
    if (auto e = v.get_string().get(str)) return e;
    s = {slot_kind::string, false, false, str};
    return simdjson::SUCCESS;
  }
  od::json_type t{};
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::string:
    case od::json_type::number:
      break;  // taken by extract() and above from their first byte
    case od::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return e;
      s = {slot_kind::boolean, b, false, b ? std::string_view("true") : std::string_view("false")};
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      s = {slot_kind::null, false, false, {}};
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if (auto e = v.get_object().get(o)) return e;
      if (auto e = o.raw_json().get(raw)) return e;
      s = {slot_kind::raw, false, true, raw};
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if (auto e = v.get_array().get(a)) return e;
      if (auto e = a.raw_json().get(raw)) return e;
      s = {slot_kind::raw, false, true, raw};
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

error_code transform_engine::take(const transform_program& prog, od::value& v,
                                  const child_matcher& child) {
  od::json_type t{};
  if (auto e = v.type().get(t)) return e;
  if (t != od::json_type::object)  // descendants stay missing
    return child.slot >= 0 ? extract(v, child.slot) : simdjson::SUCCESS;
  od::object sub;
  if (auto e = v.get_object().get(sub)) return e;
  if (auto e = walk(prog, sub, child.node)) return e;
  if (child.slot >= 0) {  // the object itself is wanted too: rewind and take its text
    if (auto e = sub.reset().error()) return e;
    std::string_view raw;
    if (auto e = sub.raw_json().get(raw)) return e;
    slots_[static_cast<std::size_t>(child.slot)] = {slot_kind::raw, false, true, raw};
  }
  return simdjson::SUCCESS;
}

error_code transform_engine::walk(const transform_program& prog, od::object& obj,
                                  std::size_t node) {
  const std::size_t begin = prog.matcher_begin[node];
  const child_matcher* const kids = prog.matchers.data() + begin;
  const std::size_t count = prog.matcher_begin[node + 1] - begin;
  if (count == 0) return simdjson::SUCCESS;
  if (count > kMaxOrderedChildren) return walk_unordered(prog, obj, node);
  // One forward pass over the members, expecting the children in the order the previous
  // records had them (learned_order_; the spec's order at first): each member is compared with
  // the child expected next and the one after it (so one absent member costs nothing), and the
  // members nobody wants are stepped over by the iterator. Children not met that way (out of
  // order, or absent) are searched for in a second pass, which also teaches the new order.
  std::uint8_t* const order = order_ + begin;
  const std::uint64_t* const words = prog.key_words.data();
  std::uint64_t unfound = count == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
  std::size_t at = 0;  // position in `order` of the child expected next
  for (auto member : obj) {
    // References into the iterator's own objects: copying simdjson's small iterator structs
    // costs a store-forwarding stall each (the profile's hottest spot before).
    if (auto e = member.error()) return e;
    od::field& field = member.value_unsafe();
    const char* key = field.key().raw();
    const std::uint64_t first = load_word(key);
    std::size_t hit = at < count ? order[at] : count;
    if (hit != count && key_matches(kids[hit], first, key, words)) {
      at += 1;
    } else if (at + 1 < count && key_matches(kids[order[at + 1]], first, key, words)) {
      hit = order[at + 1];
      at += 2;
    } else if (count <= kScanAllChildren) {  // few children: try every one still unfound
      hit = count;
      for (std::uint64_t rest = unfound; rest != 0; rest &= rest - 1) {
        const auto k = static_cast<std::size_t>(std::countr_zero(rest));
        if (key_matches(kids[k], first, key, words)) {
          hit = k;
          break;
        }
      }
      if (hit == count) continue;  // not wanted
    } else {
      continue;  // not wanted here
    }
    unfound &= ~(std::uint64_t{1} << hit);
    const child_matcher& child = kids[hit];
    od::value& v = field.value();
    if (auto e = child.leaf ? extract(v, child.slot) : take(prog, v, child)) return e;
    if (unfound == 0) break;                             // the rest is skipped by whoever reads on
    if (at >= count && count > kScanAllChildren) break;  // nothing more expected in order
  }
  if (unfound == 0) return simdjson::SUCCESS;
  return walk_again(prog, obj, node, unfound);
}

error_code transform_engine::walk_again(const transform_program& prog, od::object& obj,
                                        std::size_t node, std::uint64_t unfound) {
  // Cold path: the members came in another order than expected, or some are absent. Read the
  // object again from its start, take the children still unfound, and note where every child
  // sits so the next records of this shape take the one-pass path.
  const std::size_t begin = prog.matcher_begin[node];
  const child_matcher* const kids = prog.matchers.data() + begin;
  const std::size_t count = prog.matcher_begin[node + 1] - begin;
  const std::uint64_t* const words = prog.key_words.data();
  constexpr std::uint32_t kAbsent = ~std::uint32_t{0};
  std::array<std::uint32_t, kMaxOrderedChildren> position;
  position.fill(kAbsent);
  if (auto e = obj.reset().error()) return e;
  std::uint32_t index = 0;
  for (auto member : obj) {
    // References into the iterator's own objects: copying simdjson's small iterator structs
    // costs a store-forwarding stall each (the profile's hottest spot before).
    if (auto e = member.error()) return e;
    od::field& field = member.value_unsafe();
    const char* key = field.key().raw();
    const std::uint64_t first = load_word(key);
    for (std::size_t k = 0; k < count; ++k) {
      if (position[k] != kAbsent || !key_matches(kids[k], first, key, words)) continue;
      position[k] = index;
      if ((unfound >> k) & 1) {
        unfound &= ~(std::uint64_t{1} << k);
        od::value& v = field.value();
        if (auto e = kids[k].leaf ? extract(v, kids[k].slot) : take(prog, v, kids[k])) return e;
      }
      break;
    }
    ++index;
  }
  // The new expected order: children by their position in this record, absent ones last.
  std::uint8_t* const order = order_ + begin;
  for (std::size_t k = 0; k < count; ++k) order[k] = static_cast<std::uint8_t>(k);
  for (std::size_t i = 1; i < count; ++i) {  // insertion sort: stable, no allocation
    const std::uint8_t k = order[i];
    std::size_t j = i;
    for (; j > 0 && position[order[j - 1]] > position[k]; --j) order[j] = order[j - 1];
    order[j] = k;
  }
  return simdjson::SUCCESS;
}

error_code transform_engine::walk_unordered(const transform_program& prog, od::object& obj,
                                            std::size_t node) {
  const std::vector<std::uint16_t>& children = prog.nodes[node].children;
  for (std::size_t i = 0; i < children.size(); ++i) {
    od::value v;
    const error_code found = obj.find_field_unordered(prog.nodes[children[i]].key).get(v);
    if (found == simdjson::NO_SUCH_FIELD) continue;  // stays "missing"
    if (found) return found;
    const child_matcher& child = prog.matchers[prog.matcher_begin[node] + i];
    if (auto e = child.leaf ? extract(v, child.slot) : take(prog, v, child)) return e;
  }
  return simdjson::SUCCESS;
}

bool transform_engine::string_form(const slot_value& v, std::string_view& out) {
  switch (v.kind) {
    case slot_kind::missing:
    case slot_kind::null:
      return false;
    default:
      out = v.text;
      return true;
  }
}

bool transform_engine::passes(const compiled_filter& f) const {
  const slot_value& v = slots_[static_cast<std::size_t>(f.slot)];
  const bool present = v.kind != slot_kind::missing && v.kind != slot_kind::null;
  switch (f.op) {
    case filter_op::exists:
      return present;
    case filter_op::missing:
      return !present;
    case filter_op::eq:
    case filter_op::ne: {
      bool equal = false;
      if (f.operand.kind == slot_kind::null) {
        equal = !present;
      } else if (present && f.operand.kind == slot_kind::number) {
        const auto a = parse_double(v.text);
        const auto b = parse_double(f.operand.text);
        equal = a && b && *a == *b;
      } else if (present) {
        equal = v.text == f.operand.text;
      }
      return f.op == filter_op::eq ? equal : !equal;
    }
    default: {
      if (!present) return false;
      const auto a = parse_double(v.text);
      const auto b = parse_double(f.operand.text);
      if (!a || !b) return false;
      switch (f.op) {
        case filter_op::gt:
          return *a > *b;
        case filter_op::ge:
          return *a >= *b;
        case filter_op::lt:
          return *a < *b;
        default:
          return *a <= *b;
      }
    }
  }
}

[[gnu::always_inline]] inline bool transform_engine::write_field_fast(const compiled_field& f,
                                                                      byte_arena& out) {
  // The common case in one piece, inline in emit()'s loop: the value came from the body (so
  // reading a little past it is safe), needs no escaping and is already in its output form.
  const slot_value& sv = slots_[static_cast<std::size_t>(f.slot)];
  constexpr std::size_t kValueBlock = 32;
  if (sv.in_document && sv.text.size() <= kValueBlock) {
    bool quoted = false;
    std::size_t length = 0;  // of the output form, a prefix of the value's text; 0: not ready
    switch (f.fast) {
      case compiled_field::fast_kind::string:
        quoted = sv.kind == slot_kind::string;
        if (quoted || (f.cast == value_cast::keep && sv.kind == slot_kind::number &&
                       double_token_is_canonical(sv.text)))
          length = sv.text.size();
        break;
      case compiled_field::fast_kind::double_:
        // Longer tokens (over 15 digits, mostly) take the general path: one scan there.
        if (sv.kind == slot_kind::number && sv.text.size() <= 16 && !sv.text.empty()) {
          length = detail::canonical_double_length_padded(sv.text.data(), sv.text.size());
          if (length == 0) {  // not its own output form: perhaps the shorter scientific one
            const std::size_t mark = out.size();
            std::memcpy(out.prepare(compiled_field::kPrefixBlock), f.prefix_block,
                        compiled_field::kPrefixBlock);
            out.commit(f.prefix.size());
            if (append_scientific_token_padded(out, sv.text)) return true;
            out.truncate(mark);  // the general path writes the prefix again
          }
        }
        break;
      case compiled_field::fast_kind::int_:
        if (sv.kind == slot_kind::number && int_token_is_canonical(sv.text))
          length = sv.text.size();
        break;
      case compiled_field::fast_kind::none:
        break;
    }
    if (length != 0 || (quoted && sv.text.empty())) {
      char* const start = out.prepare(compiled_field::kPrefixBlock + kValueBlock + 2);
      std::memcpy(start, f.prefix_block, compiled_field::kPrefixBlock);
      char* w = start + f.prefix.size();
      if (quoted) *w++ = '"';
      std::memcpy(w, sv.text.data(), kValueBlock);
      w += length;
      if (quoted) *w++ = '"';
      out.commit(static_cast<std::size_t>(w - start));
      return true;
    }
  }
  return false;
}

// Over 100 lines on purpose: the hot path's one switch over every field kind and cast; kept
// whole so each case inlines its writer and no call or indirection is added per field.
bool transform_engine::write_field(const compiled_field& f, byte_arena& out) {
  slot_value v;
  switch (f.kind) {
    case compiled_field::source_kind::slot:
      v = slots_[static_cast<std::size_t>(f.slot)];
      break;
    case compiled_field::source_kind::constant:
      v = f.constant;
      break;
    case compiled_field::source_kind::template_text: {
      scratch_.clear();
      bool gap = false;
      for (const template_part& part : f.parts) {
        scratch_.append(part.literal);
        if (part.slot < 0) continue;
        std::string_view s;
        if (string_form(slots_[static_cast<std::size_t>(part.slot)], s)) {
          scratch_.append(s);
        } else {
          gap = true;
        }
      }
      if (gap && f.required) {
        reason_ = "template of required field '" + f.name + "' refers to a missing or null value";
        return false;
      }
      v = {slot_kind::string, false, false, scratch_.view(0, scratch_.size())};
      break;
    }
  }
  if (v.kind == slot_kind::missing || v.kind == slot_kind::null) {
    if (f.has_default) {
      v = f.default_value;
    } else if (f.required) {
      reason_ =
          (v.kind == slot_kind::missing ? "missing required field '" : "null required field '") +
          f.name + "' (" + f.pointer + ")";
      return false;
    }
  }
  if (f.prefix_fits_block) {
    std::memcpy(out.prepare(compiled_field::kPrefixBlock), f.prefix_block,
                compiled_field::kPrefixBlock);
    out.commit(f.prefix.size());
  } else {
    out.append(f.prefix);
  }
  if (v.kind == slot_kind::missing || v.kind == slot_kind::null) {
    out.append("null", 4);
    return true;
  }
  if (f.hash != digest_kind::none) {
    out.push_back('"');
    if (!hasher_.append_hex(f.hash, v.text, out)) {
      reason_ = "hashing failed for field '" + f.name + "'";
      return false;
    }
    out.push_back('"');
    return true;
  }
  auto uncastable = [&](std::string_view to) {
    reason_ = "cannot cast field '" + f.name + "' (" + f.pointer + ") value '" +
              std::string(v.text.substr(0, 64)) + "' to " + std::string(to);
    return false;
  };
  switch (f.cast) {
    case value_cast::keep:
      switch (v.kind) {
        case slot_kind::string:
          append_string(out, v);
          return true;
        case slot_kind::number:
          if (v.in_document && double_token_is_canonical(v.text)) {
            append_from_document(out, v.text);
            return true;
          }
          if (!parse_double(v.text)) {
            reason_ = "invalid number '" + std::string(v.text.substr(0, 64)) + "' in field '" +
                      f.name + "'";
            return false;
          }
          out.append(v.text);
          return true;
        default:
          out.append(v.text);
          return true;  // boolean text, raw JSON
      }
    case value_cast::string:
      if (v.kind == slot_kind::number && !double_token_is_canonical(v.text) &&
          !parse_double(v.text))
        return uncastable("string");
      append_string(out, v);
      return true;
    case value_cast::double_: {
      if (v.kind != slot_kind::number && v.kind != slot_kind::string) return uncastable("double");
      if (append_double_token(out, v.text)) return true;  // canonical, or <= 15 digits
      const auto d = parse_double(v.text);
      if (!d) return uncastable("double");
      append_double(out, *d);
      return true;
    }
    case value_cast::int_: {
      if (v.kind != slot_kind::number && v.kind != slot_kind::string) return uncastable("int");
      if (append_int_token(out, v.text)) return true;
      const auto i = parse_int(v.text);
      if (!i) return uncastable("int");
      append_int(out, *i);
      return true;
    }
    case value_cast::bool_: {
      if (v.kind == slot_kind::boolean) {
        out.append(v.text);
        return true;
      }
      if (v.text == "true" || v.text == "1") {
        out.append("true", 4);
        return true;
      }
      if (v.text == "false" || v.text == "0") {
        out.append("false", 5);
        return true;
      }
      return uncastable("bool");
    }
    case value_cast::timestamp: {
      const std::optional<std::int64_t> ms = to_unix_ms(v);
      if (!ms) return uncastable("timestamp");
      append_int(out, *ms);
      return true;
    }
  }
  return false;
}

transform_engine::record_verdict transform_engine::emit(const transform_program& prog,
                                                        record_context& ctx) {
  for (const compiled_filter& f : prog.filters)
    if (!passes(f)) return record_verdict::filtered;

  byte_arena& arena = ctx.out->arena();
  const std::size_t start = arena.size();
  // Built in place in the batch's record table (a record built on the stack and pushed back was
  // copied with wide loads right after narrow stores: a store-forwarding stall per record).
  auto& records = ctx.out->records();
  record& r = records.emplace_back();
  r.source = ctx.p->source;
  r.ingest_unix_ns = ctx.p->received_unix_ns;
  r.ingest_mono_ns = ctx.p->received_mono_ns;
  r.event_time_ms = ctx.p->received_unix_ns / 1'000'000;
  auto reject = [&] {
    arena.truncate(start);
    records.pop_back();
    return record_verdict::rejected;
  };
  if (prog.key_slot >= 0) {
    std::string_view key;
    if (!string_form(slots_[static_cast<std::size_t>(prog.key_slot)], key) || key.empty()) {
      reason_ = "missing record key (" +
                prog.slot_pointers[static_cast<std::size_t>(prog.key_slot)] + ")";
      return reject();
    }
    r.key_offset = arena_offset(arena.size());
    r.key_length = arena_offset(key.size());
    if (const slot_value& k = slots_[static_cast<std::size_t>(prog.key_slot)];
        k.in_document && key.size() <= 32) {
      std::memcpy(arena.prepare(32), key.data(), 32);  // one fixed-size copy from the body
      arena.commit(key.size());
    } else {
      arena.append(key);
    }
  }
  if (prog.event_time_slot >= 0) {
    const slot_value& t = slots_[static_cast<std::size_t>(prog.event_time_slot)];
    if (t.kind == slot_kind::number || t.kind == slot_kind::string) {
      const std::optional<std::int64_t> ms = to_unix_ms(t);
      if (!ms) {
        reason_ = "event_time (" +
                  prog.slot_pointers[static_cast<std::size_t>(prog.event_time_slot)] + ") value '" +
                  std::string(t.text.substr(0, 64)) + "' is not a timestamp";
        return reject();
      }
      r.event_time_ms = *ms;
    }
  }
  r.value_offset = arena_offset(arena.size());
  arena.push_back('{');
  for (const compiled_field& f : prog.fields)
    if (!(f.fast != compiled_field::fast_kind::none && write_field_fast(f, arena)) &&
        !write_field(f, arena))
      return reject();
  arena.push_back('}');
  r.value_length = arena_offset(arena.size() - r.value_offset);
  r.sequence = (*ctx.sequence)++;
  return record_verdict::ok;
}

error_code transform_engine::process_object(const transform_program& prog, od::object obj,
                                            record_context& ctx) {
  const std::size_t n = prog.slot_pointers.size();
  for (std::size_t i = 0; i < n; ++i) slots_[i].kind = slot_kind::missing;
  if (auto e = walk(prog, obj, 0)) return e;
  switch (emit(prog, ctx)) {
    case record_verdict::ok:
      ++ctx.outcome.records;
      break;
    case record_verdict::filtered:
      ++ctx.outcome.filtered;
      break;
    case record_verdict::rejected: {
      ++ctx.outcome.rejected_records;
      // Cold path: rewind the record to show its bytes in the dead letter.
      std::string_view raw;
      if (obj.reset().error() || obj.raw_json().get(raw)) raw = {};
      dead_letter(*ctx.dlq, *ctx.p, prog.name, reason_, raw);
      break;
    }
  }
  return simdjson::SUCCESS;
}

template <class Node>
static error_code for_each_record(Node& node, od::json_type t, std::string& problem,
                                  auto&& on_object, auto&& on_other) {
  if (t == od::json_type::array) {
    od::array arr;
    if (auto e = node.get_array().get(arr)) return e;
    for (auto element : arr) {
      od::value v;
      if (auto e = element.get(v)) return e;
      od::json_type et{};
      if (auto e = v.type().get(et)) return e;
      if (et == od::json_type::object) {
        od::object o;
        if (auto e = v.get_object().get(o)) return e;
        if (auto e = on_object(o)) return e;
      } else {
        if (auto e = on_other(v, et)) return e;
      }
    }
    return simdjson::SUCCESS;
  }
  if (t == od::json_type::object) {
    od::object o;
    if (auto e = node.get_object().get(o)) return e;
    return on_object(o);
  }
  problem = std::string("the records are ") + std::string(json_type_name(t)) +
            ", expected an object or an array of objects";
  return kRootNotContainer;
}

payload_outcome transform_engine::run(const payload& p, std::string_view body, record_batch& out,
                                      record_batch& dead_letters, std::uint64_t& next_sequence) {
  record_context ctx;
  ctx.p = &p;
  ctx.out = &out;
  ctx.dlq = &dead_letters;
  ctx.sequence = &next_sequence;

  if (p.error != payload_error::none) {  // an incomplete response: never parsed, kept whole
    ctx.outcome.payload_rejected = true;
    std::string_view name;  // (a ?: of std::string and "" would bind to a temporary)
    if (p.source < programs_.size()) name = programs_[p.source].name;
    dead_letter(dead_letters, p, name,
                p.error == payload_error::too_large
                    ? "body larger than the size limit (cut at the limit)"
                : p.error == payload_error::timed_out
                    ? "timed out: the response did not complete within the source's timeout"
                    : "truncated body: the response ended before its declared end",
                body);
    return ctx.outcome;
  }
  if (!is_2xx(p.http_status)) {
    ctx.outcome.skipped_status = true;
    return ctx.outcome;
  }
  if (p.source >= programs_.size()) {
    ctx.outcome.payload_rejected = true;
    dead_letter(dead_letters, p, "", "payload from a source with no transform configured", body);
    return ctx.outcome;
  }
  const transform_program& prog = programs_[p.source];
  order_ = learned_order_[p.source].data();
  // Marks to roll back to if the payload turns out not to be valid JSON midway.
  const std::size_t arena_mark = out.arena().size();
  const std::size_t records_mark = out.records().size();
  const std::uint64_t sequence_mark = next_sequence;
  const std::size_t dlq_arena_mark = dead_letters.arena().size();
  const std::size_t dlq_records_mark = dead_letters.records().size();

  auto on_object = [&](od::object& o) { return process_object(prog, o, ctx); };
  auto on_other = [&](od::value& v, od::json_type t) -> error_code {
    ++ctx.outcome.rejected_records;
    std::string_view raw = trim_token(v.raw_json_token());
    if (t == od::json_type::array) {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      if (auto e = a.raw_json().get(raw)) return e;
    }
    dead_letter(dead_letters, p, prog.name,
                std::string("record is ") + std::string(json_type_name(t)) + ", not an object",
                raw);
    return simdjson::SUCCESS;
  };

  error_code err = simdjson::SUCCESS;
  std::string problem;
  if (body.empty()) {
    err = simdjson::EMPTY;
  } else {
    od::document doc;
    err = parser_.iterate(body.data(), body.size(), body.size() + kPayloadPadding).get(doc);
    if (!err) {
      od::json_type t{};
      if (prog.records_pointer.empty()) {
        err = doc.type().get(t);
        if (!err) err = for_each_record(doc, t, problem, on_object, on_other);
        // A root array was consumed whole: anything after it is trailing garbage.
        if (!err && t == od::json_type::array &&
            doc.current_location().error() == simdjson::SUCCESS)
          err = simdjson::TRAILING_CONTENT;
      } else {
        od::value v;
        err = doc.at_pointer(prog.records_pointer).get(v);
        if (err == simdjson::NO_SUCH_FIELD || err == simdjson::INDEX_OUT_OF_BOUNDS) {
          problem = "records pointer '" + prog.records_pointer + "' not found in the payload";
          err = kRootNotContainer;
        } else if (!err) {
          err = v.type().get(t);
          if (!err) err = for_each_record(v, t, problem, on_object, on_other);
        }
      }
      // JSON the walk could not step over makes simdjson abandon the document (found by
      // tests/fuzz/fuzz_transform): the payload is invalid, and a dead document cannot rewind.
      if (!err && !doc.is_alive()) err = simdjson::TAPE_ERROR;
      // Records are read lazily, so a root object (or the document around the records pointer)
      // that ends early or is followed by more bytes goes unnoticed by the walk: skim the
      // document's structure once to the end to catch both.
      if (!err && !(prog.records_pointer.empty() && t == od::json_type::array)) {
        doc.rewind();
        std::string_view whole;
        err = doc.raw_json().get(whole);
        if (!err && doc.current_location().error() == simdjson::SUCCESS)
          err = simdjson::TRAILING_CONTENT;
      }
    }
  }
  if (err) {
    // Not valid JSON (or not the expected shape): none of its records may leave.
    out.arena().truncate(arena_mark);
    out.records().resize(records_mark);
    next_sequence = sequence_mark;
    dead_letters.arena().truncate(dlq_arena_mark);
    dead_letters.records().resize(dlq_records_mark);
    ctx.outcome = payload_outcome{};
    ctx.outcome.payload_rejected = true;
    ctx.outcome.invalid_body = true;
    std::string reason =
        !problem.empty() ? problem : std::string("invalid JSON: ") + simdjson::error_message(err);
    dead_letter(dead_letters, p, prog.name, reason, body);
  }
  return ctx.outcome;
}

void transform_engine::dead_letter(record_batch& dlq, const payload& p, std::string_view source,
                                   std::string_view reason, std::string_view bytes) {
  byte_arena& a = dlq.arena();
  record r;
  r.source = p.source;
  r.ingest_unix_ns = p.received_unix_ns;
  r.ingest_mono_ns = p.received_mono_ns;
  r.event_time_ms = p.received_unix_ns / 1'000'000;
  r.value_offset = arena_offset(a.size());
  a.append("{\"reason\":", 10);
  append_json_string_lossy(a, reason);
  a.append(",\"source\":", 10);
  append_json_string_lossy(a, source);
  a.append(",\"received_at\":\"", 16);
  append_iso8601_ms(a, p.received_unix_ns / 1'000'000);
  a.append("\",\"http_status\":", 16);
  append_int(a, p.http_status);
  a.append(",\"size\":", 8);
  append_int(a, static_cast<std::int64_t>(bytes.size()));
  const bool truncated = bytes.size() > limits_.dead_letter_max_bytes;
  a.append(truncated ? ",\"truncated\":true,\"bytes\":" : ",\"truncated\":false,\"bytes\":");
  append_json_string_lossy(a, bytes.substr(0, limits_.dead_letter_max_bytes));
  a.push_back('}');
  r.value_length = arena_offset(a.size() - r.value_offset);
  dlq.records().push_back(r);
}

}  // namespace edgepipe
