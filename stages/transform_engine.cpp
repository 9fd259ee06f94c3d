#include "stages/transform_engine.hpp"

#include <cmath>
#include <cstring>

#include "stages/json_text.hpp"

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

std::string_view trim_token(std::string_view t) {
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t'))
    t.remove_suffix(1);
  return t;
}

bool is_2xx(std::uint16_t status) { return status >= 200 && status < 300; }

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
  scratch_.reserve(4096);
}

error_code transform_engine::extract(od::value& v, int slot) {
  slot_value& s = slots_[static_cast<std::size_t>(slot)];
  od::json_type t{};
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case od::json_type::string: {
      std::string_view str;
      if (auto e = v.get_string().get(str)) return e;
      s = {slot_kind::string, false, str};
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      // Validated where it is used (cast or copy), so unused numbers cost nothing.
      s = {slot_kind::number, false, trim_token(v.raw_json_token())};
      return simdjson::SUCCESS;
    case od::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return e;
      s = {slot_kind::boolean, b, b ? std::string_view("true") : std::string_view("false")};
      return simdjson::SUCCESS;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      s = {slot_kind::null, false, {}};
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if (auto e = v.get_object().get(o)) return e;
      if (auto e = o.raw_json().get(raw)) return e;
      s = {slot_kind::raw, false, raw};
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if (auto e = v.get_array().get(a)) return e;
      if (auto e = a.raw_json().get(raw)) return e;
      s = {slot_kind::raw, false, raw};
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

error_code transform_engine::walk(const transform_program& prog, od::object& obj,
                                  std::size_t node) {
  for (const std::uint16_t ci : prog.nodes[node].children) {
    const pointer_node& child = prog.nodes[ci];
    od::value v;
    const error_code found = obj.find_field_unordered(child.key).get(v);
    if (found == simdjson::NO_SUCH_FIELD) continue;  // stays "missing"
    if (found) return found;
    if (child.children.empty()) {
      if (auto e = extract(v, child.slot)) return e;
      continue;
    }
    od::json_type t{};
    if (auto e = v.type().get(t)) return e;
    if (t != od::json_type::object) {  // descendants stay missing
      if (child.slot >= 0) {
        if (auto e = extract(v, child.slot)) return e;
      }
      continue;
    }
    od::object sub;
    if (auto e = v.get_object().get(sub)) return e;
    if (auto e = walk(prog, sub, ci)) return e;
    if (child.slot >= 0) {  // the object itself is wanted too: rewind and take its text
      if (auto e = sub.reset().error()) return e;
      std::string_view raw;
      if (auto e = sub.raw_json().get(raw)) return e;
      slots_[static_cast<std::size_t>(child.slot)] = {slot_kind::raw, false, raw};
    }
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
      v = {slot_kind::string, false, scratch_.view(0, scratch_.size())};
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
  out.append(f.prefix);
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
          append_json_string(out, v.text);
          return true;
        case slot_kind::number:
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
      if (v.kind == slot_kind::number && !parse_double(v.text)) return uncastable("string");
      append_json_string(out, v.text);
      return true;
    case value_cast::double_: {
      if (v.kind != slot_kind::number && v.kind != slot_kind::string) return uncastable("double");
      if (append_double_token(out, v.text)) return true;
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
  record r;
  r.source = ctx.p->source;
  r.ingest_unix_ns = ctx.p->received_unix_ns;
  r.ingest_mono_ns = ctx.p->received_mono_ns;
  r.event_time_ms = ctx.p->received_unix_ns / 1'000'000;
  auto reject = [&] {
    arena.truncate(start);
    return record_verdict::rejected;
  };
  if (prog.key_slot >= 0) {
    std::string_view key;
    if (!string_form(slots_[static_cast<std::size_t>(prog.key_slot)], key) || key.empty()) {
      reason_ = "missing record key (" +
                prog.slot_pointers[static_cast<std::size_t>(prog.key_slot)] + ")";
      return reject();
    }
    r.key_offset = static_cast<std::uint32_t>(arena.size());
    r.key_length = static_cast<std::uint32_t>(key.size());
    arena.append(key);
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
  r.value_offset = static_cast<std::uint32_t>(arena.size());
  arena.push_back('{');
  for (const compiled_field& f : prog.fields)
    if (!write_field(f, arena)) return reject();
  arena.push_back('}');
  r.value_length = static_cast<std::uint32_t>(arena.size() - r.value_offset);
  r.sequence = (*ctx.sequence)++;
  ctx.out->records().push_back(r);
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
  r.value_offset = static_cast<std::uint32_t>(a.size());
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
  r.value_length = static_cast<std::uint32_t>(a.size() - r.value_offset);
  dlq.records().push_back(r);
}

}  // namespace edgepipe
