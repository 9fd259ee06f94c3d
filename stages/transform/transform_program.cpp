#include "stages/transform/transform_program.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "platform/text_escape.hpp"
#include "platform/utf8.hpp"

namespace edgepipe {

status transform_program::add_pointer(std::string_view pointer, const std::string& where,
                                      int& slot) {
  std::vector<std::string> segments;
  std::string error;
  if (!split_json_pointer(pointer, segments, error))
    return status::error(where + ": invalid JSON pointer '" + std::string(pointer) + "': " + error);
  if (segments.empty())
    return status::error(where + ": the pointer '' names the whole record; name a member");
  for (const auto& s : segments) {
    for (const char c : s) {
      if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
        return status::error(where + ": JSON pointer '" + std::string(pointer) +
                             "' has a quote, backslash or control character in a member name");
    }
  }
  std::size_t node = 0;
  for (const auto& seg : segments) {
    std::size_t next = 0;
    for (const auto c : nodes[node].children)
      if (nodes[c].key == seg) next = c;
    if (next == 0) {
      if (nodes.size() >= 0xffff) return status::error(where + ": too many pointers");
      nodes.push_back(pointer_node{seg, {}, -1});
      next = nodes.size() - 1;
      nodes[node].children.push_back(static_cast<std::uint16_t>(next));
    }
    node = next;
  }
  if (nodes[node].slot < 0) {
    nodes[node].slot = static_cast<int>(slot_pointers.size());
    slot_pointers.emplace_back(pointer);
  }
  slot = nodes[node].slot;
  return status::ok();
}

namespace {

/// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

/// Config texts are written into records as they are (escaped, never re-encoded), so they must be
/// UTF-8. The loader's TOML parser only yields UTF-8; a spec built some other way (tests,
/// fuzzing) is refused here. The message names the offset and byte, not the text itself.
status check_utf8(std::string_view text, const std::string& where, const char* what) {
  const std::size_t at = utf8_invalid_offset(text);
  if (at == text.size()) return status::ok();
  static constexpr char kHex[] = "0123456789ABCDEF";
  const auto byte = static_cast<unsigned char>(text[at]);
  return status::error(where + ": the " + what + " is not valid UTF-8 (byte 0x" + kHex[byte >> 4] +
                       kHex[byte & 0xF] + " at offset " + std::to_string(at) + ")");
}

status parse_template(std::string_view text, const std::string& where,
                      std::vector<std::pair<std::string, std::string>>& pieces) {
  // pieces: (literal before, pointer) ; the last piece may have an empty pointer.
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal.push_back('}');
      ++i;
    } else if (c == '{') {
      const std::size_t end = text.find('}', i);
      if (end == std::string_view::npos)
        return status::error(where + ": unclosed '{' in template '" + std::string(text) + "'");
      pieces.emplace_back(std::move(literal), std::string(text.substr(i + 1, end - i - 1)));
      literal.clear();
      i = end;
    } else if (c == '}') {
      return status::error(where + ": unmatched '}' in template '" + std::string(text) +
                           "' (write '}}' for a literal brace)");
    } else {
      literal.push_back(c);
    }
  }
  if (!literal.empty() || pieces.empty()) pieces.emplace_back(std::move(literal), std::string());
  return status::ok();
}

}  // namespace

status transform_program::keep_literal(const literal_value& v, const std::string& where,
                                       slot_value& out) {
  // Number and boolean texts are written into records as they are: they must be JSON. The
  // loader only makes valid ones; a spec built some other way (tests, fuzzing) is refused here.
  slot_value s;
  switch (v.type) {
    case literal_value::kind::null:
      s.kind = slot_kind::null;
      out = s;
      return status::ok();
    case literal_value::kind::string:
      if (status u = check_utf8(v.text, where, "string"); !u) return u;
      s.kind = slot_kind::string;
      break;
    case literal_value::kind::number:
      if (!is_json_number(v.text))
        return status::error(where + ": '" + v.text + "' is not a JSON number");
      s.kind = slot_kind::number;
      break;
    case literal_value::kind::boolean:
      if (v.text != "true" && v.text != "false")
        return status::error(where + ": '" + v.text + "' is not true or false");
      s.kind = slot_kind::boolean;
      s.boolean = v.text == "true";
      break;
  }
  literal_storage.push_back(v.text);
  s.text = literal_storage.back();
  out = s;
  return status::ok();
}

// Over 100 lines on purpose: one pass over the spec in the order the engine relies on (records
// pointer, fields, key, event time, filters, then the matchers); each step is a few lines.
status transform_program::compile(const source_spec& spec, transform_program& p) {
  p = transform_program{};
  p.name = spec.name;
  p.records_pointer = spec.records_pointer;
  p.nodes.push_back(pointer_node{});
  // Literal views must stay valid: reserve enough up front so the vector never moves.
  p.literal_storage.reserve(spec.fields.size() * 2 + spec.filters.size() + 1);
  const std::string base = "sources." + spec.name;

  {
    std::vector<std::string> segs;
    std::string error;
    if (!split_json_pointer(spec.records_pointer, segs, error))
      return status::error(base + ".records: invalid JSON pointer '" + spec.records_pointer +
                           "': " + error);
  }
  if (spec.fields.empty()) return status::error(base + ".fields: at least one field is required");

  for (std::size_t i = 0; i < spec.fields.size(); ++i) {
    const field_spec& f = spec.fields[i];
    if (status s = check_utf8(f.name, base + ".fields[" + std::to_string(i) + "]", "name"); !s)
      return s;
    const std::string where = base + ".fields[" + std::to_string(i) + "] (" + f.name + ")";
    for (std::size_t j = 0; j < i; ++j)
      if (spec.fields[j].name == f.name)
        return status::error(where + ": duplicate field name '" + f.name + "'");
    compiled_field c;
    c.name = f.name;
    c.prefix = (i == 0 ? "" : ",") + json_string(f.name) + ":";  // control bytes escaped too
    c.prefix_fits_block = c.prefix.size() <= compiled_field::kPrefixBlock;
    if (c.prefix_fits_block) std::memcpy(c.prefix_block, c.prefix.data(), c.prefix.size());
    c.cast = f.cast;
    c.hash = f.hash;
    c.required = f.required;
    if (f.default_value) {
      c.has_default = true;
      if (status s = p.keep_literal(*f.default_value, where + ".default", c.default_value); !s)
        return s;
    }
    const int sources = (f.from ? 1 : 0) + (f.template_text ? 1 : 0) + (f.constant ? 1 : 0);
    if (sources != 1)
      return status::error(where + ": give exactly one of 'from', 'template' or 'const'");
    if (f.from) {
      c.kind = compiled_field::source_kind::slot;
      c.pointer = *f.from;
      if (status s = p.add_pointer(*f.from, where + ".from", c.slot); !s) return s;
    } else if (f.template_text) {
      c.kind = compiled_field::source_kind::template_text;
      c.pointer = *f.template_text;
      if (status s = check_utf8(*f.template_text, where + ".template", "template"); !s) return s;
      std::vector<std::pair<std::string, std::string>> pieces;
      if (status s = parse_template(*f.template_text, where + ".template", pieces); !s) return s;
      for (auto& [literal, pointer] : pieces) {
        template_part part;
        part.literal = std::move(literal);
        if (!pointer.empty()) {
          if (status s = p.add_pointer(pointer, where + ".template", part.slot); !s) return s;
        }
        c.parts.push_back(std::move(part));
      }
    } else if (f.constant) {  // exactly one of the three, checked above
      c.kind = compiled_field::source_kind::constant;
      if (status s = p.keep_literal(*f.constant, where + ".const", c.constant); !s) return s;
    }
    if (c.hash != digest_kind::none && c.cast != value_cast::keep && c.cast != value_cast::string)
      return status::error(where +
                           ": 'hash' produces a hex string; it cannot be combined with type "
                           "other than \"string\"");
    if (c.kind == compiled_field::source_kind::slot && c.hash == digest_kind::none &&
        c.prefix_fits_block) {
      if (c.cast == value_cast::keep || c.cast == value_cast::string)
        c.fast = compiled_field::fast_kind::string;
      else if (c.cast == value_cast::double_)
        c.fast = compiled_field::fast_kind::double_;
      else if (c.cast == value_cast::int_)
        c.fast = compiled_field::fast_kind::int_;
    }
    p.fields.push_back(std::move(c));
  }
  // Key and event time after the fields, so the trie (and the walk) follows the fields' order,
  // which the bundled configs keep in the API's own order: one forward pass per record.
  if (!spec.key_pointer.empty()) {
    if (status s = p.add_pointer(spec.key_pointer, base + ".key", p.key_slot); !s) return s;
  }
  if (!spec.event_time_pointer.empty()) {
    if (status s = p.add_pointer(spec.event_time_pointer, base + ".event_time", p.event_time_slot);
        !s)
      return s;
  }
  for (std::size_t i = 0; i < spec.filters.size(); ++i) {
    const filter_spec& f = spec.filters[i];
    const std::string where = base + ".filter[" + std::to_string(i) + "]";
    compiled_filter c;
    c.op = f.op;
    c.pointer = f.pointer;
    if (status s = p.add_pointer(f.pointer, where + ".field", c.slot); !s) return s;
    const bool needs_operand = f.op != filter_op::exists && f.op != filter_op::missing;
    if (needs_operand && !f.value) return status::error(where + ": operator needs a 'value'");
    if (needs_operand) {
      if (status s = p.keep_literal(*f.value, where + ".value", c.operand); !s) return s;
      const bool ordered = f.op == filter_op::gt || f.op == filter_op::ge ||
                           f.op == filter_op::lt || f.op == filter_op::le;
      if (ordered && c.operand.kind != slot_kind::number)
        return status::error(where + ": operators gt/ge/lt/le need a number 'value'");
    }
    p.filters.push_back(std::move(c));
  }
  if (p.slot_pointers.size() > 256)
    return status::error(base + ": more than 256 distinct pointers in one transform");
  p.build_matchers();
  return status::ok();
}

void transform_program::build_matchers() {
  matchers.clear();
  key_words.clear();
  matcher_begin.assign(nodes.size() + 1, 0);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    matcher_begin[n] = static_cast<std::uint32_t>(matchers.size());
    for (const std::uint16_t c : nodes[n].children) {
      std::string quoted = nodes[c].key + '"';
      const std::size_t length = quoted.size();
      quoted.resize(std::max<std::size_t>(16, (length + 7) / 8 * 8), '\0');
      auto mask_of = [](std::size_t bytes) {
        return bytes >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * bytes)) - 1;
      };
      child_matcher m;
      std::memcpy(&m.first_word, quoted.data(), 8);
      std::memcpy(&m.second_word, quoted.data() + 8, 8);
      m.first_mask = mask_of(length);
      m.second_mask = length > 8 ? mask_of(length - 8) : 0;
      m.quoted_length = static_cast<std::uint32_t>(length);
      m.rest_word = static_cast<std::uint32_t>(key_words.size());
      for (std::size_t i = 16; i < quoted.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, quoted.data() + i, 8);
        key_words.push_back(w);
      }
      key_words.push_back(0);  // the overlapping last-word compare may read one word more
      m.node = c;
      m.leaf = nodes[c].children.empty();
      m.slot = nodes[c].slot;
      matchers.push_back(m);
    }
  }
  matcher_begin[nodes.size()] = static_cast<std::uint32_t>(matchers.size());
}

}  // namespace edgepipe
