// Derivation and rendering of a transform's output schema (see transform_schema.hpp).
#include "stages/transform/transform_schema.hpp"

#include <cstdio>

namespace edgepipe {

namespace {

schema_type literal_type(const slot_value& v) {
  switch (v.kind) {
    case slot_kind::string:
      return schema_type::string;
    case slot_kind::number:
      return v.text.find_first_of(".eE") == std::string_view::npos ? schema_type::integer
                                                                   : schema_type::number;
    case slot_kind::boolean:
      return schema_type::boolean;
    default:
      return schema_type::any;
  }
}

bool is_value(const slot_value& v) {
  return v.kind != slot_kind::missing && v.kind != slot_kind::null;
}

/// The type of a field's written value when it is not null, mirroring transform_engine's
/// write_field: a digest is hex text; a cast fixes the type; otherwise the value's own type.
schema_type value_type(const compiled_field& f) {
  if (f.hash != digest_kind::none) return schema_type::string;
  switch (f.cast) {
    case value_cast::string:
      return schema_type::string;
    case value_cast::double_:
      return schema_type::number;
    case value_cast::int_:
    case value_cast::timestamp:
      return schema_type::integer;
    case value_cast::bool_:
      return schema_type::boolean;
    case value_cast::keep:
      break;
  }
  switch (f.kind) {
    case compiled_field::source_kind::template_text:
      return schema_type::string;
    case compiled_field::source_kind::constant: {
      const schema_type t = literal_type(f.constant);
      // A constant and a default of another type make the field either.
      if (f.has_default && is_value(f.default_value) && literal_type(f.default_value) != t)
        return schema_type::any;
      return t;
    }
    case compiled_field::source_kind::slot:
      return schema_type::any;
  }
  return schema_type::any;
}

/// Whether the engine can write null: never for a required field (rejected instead), a
/// template (always text), a non-null constant, or a field with a non-null default.
bool can_be_null(const compiled_field& f) {
  if (f.required) return false;
  if (f.has_default && is_value(f.default_value)) return false;
  if (f.kind == compiled_field::source_kind::template_text) return false;
  if (f.kind == compiled_field::source_kind::constant) return !is_value(f.constant);
  return true;
}

void append_quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

const char* json_schema_type(schema_type t) {
  switch (t) {
    case schema_type::string:
      return "string";
    case schema_type::number:
      return "number";
    case schema_type::integer:
      return "integer";
    case schema_type::boolean:
      return "boolean";
    case schema_type::any:
      break;
  }
  return nullptr;
}

const char* spark_type(const schema_field& f) {
  switch (f.type) {
    case schema_type::string:
      return f.event_time ? "TIMESTAMP" : "STRING";
    case schema_type::number:
      return "DOUBLE";
    case schema_type::integer:
      return "BIGINT";
    case schema_type::boolean:
      return "BOOLEAN";
    case schema_type::any:
      break;
  }
  return "STRING";  // from_json keeps a non-string value's JSON text in a STRING column
}

const char* avro_type(schema_type t) {
  switch (t) {
    case schema_type::number:
      return "double";
    case schema_type::integer:
      return "long";
    case schema_type::boolean:
      return "boolean";
    default:
      return "string";
  }
}

/// Spark and Avro names: letters, digits and '_' pass; anything else needs quoting (Spark
/// backticks) or is refused by Avro (replaced by '_', with the JSON name kept in "aliases").
bool plain_name(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (const char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

}  // namespace

record_schema derive_schema(const source_spec& spec, const transform_program& prog) {
  record_schema s;
  s.source = spec.name;
  s.key_pointer = spec.key_pointer;
  s.event_time_pointer = spec.event_time_pointer;
  s.fields.reserve(prog.fields.size());
  for (const compiled_field& f : prog.fields) {
    schema_field out;
    out.name = f.name;
    out.type = value_type(f);
    out.nullable = can_be_null(f);
    out.epoch_millis = f.cast == value_cast::timestamp && f.hash == digest_kind::none;
    if (f.kind == compiled_field::source_kind::slot) {
      out.key = prog.key_slot >= 0 && f.slot == prog.key_slot;
      out.event_time = prog.event_time_slot >= 0 && f.slot == prog.event_time_slot;
      out.origin = f.pointer;
    } else if (f.kind == compiled_field::source_kind::template_text) {
      out.origin = "template";
    } else {
      out.origin = "constant";
    }
    s.fields.push_back(std::move(out));
  }
  return s;
}

std::string to_json_schema(const record_schema& s) {
  std::string o = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":";
  append_quoted(o, "edgepipe." + s.source);
  o += ",\"type\":\"object\",\"properties\":{";
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    const schema_field& f = s.fields[i];
    if (i) o += ',';
    append_quoted(o, f.name);
    o += ':';
    o += '{';
    const char* t = json_schema_type(f.type);
    if (t && f.nullable) {
      o += "\"type\":[\"";
      o += t;
      o += "\",\"null\"]";
    } else if (t) {
      o += "\"type\":\"";
      o += t;
      o += '"';
    } else if (!f.nullable) {
      o += "\"not\":{\"type\":\"null\"}";
    }
    if (f.key) o += std::string(t || !f.nullable ? "," : "") + "\"x-edgepipe-key\":true";
    if (f.event_time)
      o += std::string(t || !f.nullable || f.key ? "," : "") + "\"x-edgepipe-event-time\":true";
    if (f.epoch_millis)
      o += std::string(t || !f.nullable || f.key || f.event_time ? "," : "") +
           "\"x-edgepipe-unit\":\"unix-ms\"";
    o += '}';
  }
  o += "},\"required\":[";
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    if (i) o += ',';
    append_quoted(o, s.fields[i].name);
  }
  o += "],\"additionalProperties\":false";
  if (!s.key_pointer.empty()) {
    o += ",\"x-edgepipe-key-pointer\":";
    append_quoted(o, s.key_pointer);
  }
  if (!s.event_time_pointer.empty()) {
    o += ",\"x-edgepipe-event-time-pointer\":";
    append_quoted(o, s.event_time_pointer);
  }
  o += "}\n";
  return o;
}

std::string to_spark_ddl(const record_schema& s) {
  std::string o;
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    const schema_field& f = s.fields[i];
    if (i) o += ", ";
    if (plain_name(f.name)) {
      o += f.name;
    } else {
      o += '`';
      for (const char c : f.name) {
        if (c == '`') o += '`';
        o += c;
      }
      o += '`';
    }
    o += ' ';
    o += spark_type(f);
    if (!f.nullable) o += " NOT NULL";
  }
  o += '\n';
  return o;
}

std::string to_avro_schema(const record_schema& s) {
  std::string name;
  for (const char c : s.source)
    name += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_';
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) name.insert(0, "_");
  std::string o = "{\"type\":\"record\",\"name\":";
  append_quoted(o, name);
  o += ",\"namespace\":\"edgepipe\",\"fields\":[";
  for (std::size_t i = 0; i < s.fields.size(); ++i) {
    const schema_field& f = s.fields[i];
    if (i) o += ',';
    o += "{\"name\":";
    std::string field_name;
    if (plain_name(f.name)) {
      field_name = f.name;
    } else {
      for (const char c : f.name)
        field_name +=
            ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
                ? c
                : '_';
      if (field_name.empty() || (field_name[0] >= '0' && field_name[0] <= '9'))
        field_name.insert(0, "_");
    }
    append_quoted(o, field_name);
    o += ",\"type\":";
    std::string t = "\"";
    t += avro_type(f.type);
    t += '"';
    if (f.epoch_millis) t = "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}";
    if (f.nullable) {
      o += "[\"null\"," + t + "],\"default\":null";
    } else {
      o += t;
    }
    if (field_name != f.name) {
      o += ",\"aliases\":[";
      append_quoted(o, f.name);
      o += ']';
    }
    std::string doc;
    if (f.type == schema_type::any) doc += "any JSON value, as its JSON text. ";
    if (f.key) doc += "record key. ";
    if (f.event_time) doc += "event time. ";
    doc += "from " + f.origin;
    o += ",\"doc\":";
    append_quoted(o, doc);
    o += '}';
  }
  o += "]}\n";
  return o;
}

}  // namespace edgepipe
