// A source's transform compiled for execution: every JSON pointer the spec reads (fields,
// templates, key, event time, filters) merged into one trie, so each record is walked once, and
// each output field reduced to "write slot N with cast C" or a template of slots.
// Built once before any thread starts; read-only afterwards (safe to share).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/source_spec.hpp"
#include "core/json_pointer.hpp"
#include "core/status.hpp"

namespace edgepipe {

enum class slot_kind : std::uint8_t { missing, null, string, number, boolean, raw };

/// A value found in a record (or a literal). `text` is the unescaped string, the number token,
/// or the raw JSON of an object/array; it points into the parser's buffers or the program.
struct slot_value {
  slot_kind kind = slot_kind::missing;
  bool boolean = false;
  /// `text` lies inside the padded payload body (so reading a little past its end is safe) and,
  /// for a string, has no escapes: it is the unescaped value and valid JSON string content
  /// at once, so it is copied as it is.
  bool in_document = false;
  std::string_view text;
};

/// The longest member name matched by word compares (longer names compare byte by byte);
/// below the body's padding, so a compare never reads past it.
inline constexpr std::size_t kWordMatchMax = 48;

struct pointer_node {
  std::string key;                      // the member name this node matches in its parent
  std::vector<std::uint16_t> children;  // indexes into transform_program::nodes
  int slot = -1;                        // >= 0 when an operation reads this exact pointer
};

/// How the walk recognises one child of a node in the raw input: the child's name and its
/// closing quote (`quoted_length` bytes; names with escapes are refused at compile time), the
/// first word of them inline, the rest in transform_program::key_words.
struct child_matcher {
  std::uint64_t first_word = 0;   // bytes 0..7, zero-padded
  std::uint64_t first_mask = 0;   // the bytes of first_word that take part
  std::uint64_t second_word = 0;  // bytes 8..15, zero-padded
  std::uint64_t second_mask = 0;  // the bytes of second_word that take part (0: none)
  std::uint32_t quoted_length = 0;
  std::uint32_t rest_word = 0;  // index in key_words of bytes 16.. (when quoted_length > 16)
  std::uint16_t node = 0;       // index in transform_program::nodes
  bool leaf = true;             // no children: the value goes to `slot` as it is
  int slot = -1;
};

struct template_part {
  std::string literal;  // text before the slot (may be empty)
  int slot = -1;        // -1 for a trailing literal
};

struct compiled_field {
  enum class source_kind { slot, template_text, constant };
  std::string prefix;  // `"name":` with a leading comma for every field but the first
  // The prefix zero-padded to kPrefixBlock bytes, copied as one fixed-size block when it fits.
  static constexpr std::size_t kPrefixBlock = 32;
  char prefix_block[kPrefixBlock] = {};
  bool prefix_fits_block = false;
  // What the common case of this field is, decided at compile time: a value read from the body
  // (no hash, no default needed) written with one fixed-size copy of the prefix and the value.
  enum class fast_kind : std::uint8_t { none, string, double_, int_ };
  fast_kind fast = fast_kind::none;
  std::string name;
  source_kind kind = source_kind::slot;
  int slot = -1;
  std::vector<template_part> parts;
  slot_value constant;
  value_cast cast = value_cast::keep;
  digest_kind hash = digest_kind::none;
  bool required = false;
  bool has_default = false;
  slot_value default_value;
  std::string pointer;  // for error messages
};

struct compiled_filter {
  int slot = -1;
  filter_op op = filter_op::eq;
  slot_value operand;
  std::string pointer;
};

class transform_program {
 public:
  /// Compiles `spec`; on error the message names the source and the offending key/value.
  static status compile(const source_spec& spec, transform_program& out);

  std::string name;
  std::string records_pointer;
  std::vector<pointer_node> nodes;  // nodes[0] is the record itself
  // Per node n: its children's matchers are matchers[matcher_begin[n] .. matcher_begin[n + 1]),
  // in the order of `children`.
  std::vector<child_matcher> matchers;
  std::vector<std::uint32_t> matcher_begin;
  std::vector<std::uint64_t> key_words;  // child name bytes past the second word, zero-padded
  std::vector<std::string> slot_pointers;
  int key_slot = -1;
  int event_time_slot = -1;
  std::vector<compiled_field> fields;
  std::vector<compiled_filter> filters;

  // Keeps literal texts alive for slot_value views (stable: reserved up front).
  std::vector<std::string> literal_storage;

 private:
  status add_pointer(std::string_view pointer, const std::string& where, int& slot);
  slot_value keep_literal(const literal_value& v);
  void build_matchers();
};

}  // namespace edgepipe
