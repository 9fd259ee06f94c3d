// One recursive writer per format over the schema_node tree.
#include "stages/sources/postgres_cdc/envelope_schema_text.hpp"

#include <set>
#include <string_view>

#include "core/byte_arena.hpp"
#include "stages/sources/postgres_cdc/cdc_json.hpp"

namespace edgepipe::pgcdc {
namespace {

std::string quoted(std::string_view s) {
  byte_arena a;
  append_json_string(a, s);
  return {a.data(), a.size()};
}

// ---- JSON Schema ----

void json_schema_node(const schema_node& n, std::string& o);

void json_schema_record_body(const schema_node& n, std::string& o) {
  o += "\"properties\":{";
  for (std::size_t i = 0; i < n.fields.size(); ++i) {
    if (i != 0) o += ',';
    o += quoted(n.fields[i].name);
    o += ':';
    json_schema_node(n.fields[i], o);
  }
  o += "},\"required\":[";
  for (std::size_t i = 0; i < n.fields.size(); ++i) {
    if (i != 0) o += ',';
    o += quoted(n.fields[i].name);
  }
  o += "],\"additionalProperties\":false";
}

std::string_view json_type(value_type t) {
  switch (t) {
    case value_type::boolean:
      return "boolean";
    case value_type::int32:
    case value_type::int64:
      return "integer";
    case value_type::float64:
      return "number";
    case value_type::string:
      return "string";
    case value_type::variable_decimal:
      return "object";
    case value_type::array:
      return "array";
  }
  return "string";
}

void json_schema_node(const schema_node& n, std::string& o) {
  if (n.type == value_type::float64 && !n.record) {
    o += "{\"anyOf\":[{\"type\":\"number\"},{\"enum\":[\"NaN\",\"Infinity\",\"-Infinity\"]}";
    if (n.nullable) o += ",{\"type\":\"null\"}";
    o += "]}";
    return;
  }
  const std::string_view type = n.record ? std::string_view("object") : json_type(n.type);
  o += "{\"type\":";
  if (n.nullable) {
    o += "[\"";
    o += type;
    o += "\",\"null\"]";
  } else {
    o += '"';
    o += type;
    o += '"';
  }
  if (n.record) {
    o += ',';
    json_schema_record_body(n, o);
  } else if (!n.items.empty()) {
    o += ",\"items\":";
    json_schema_node(n.items[0], o);
  } else if (!n.symbols.empty()) {
    o += ",\"enum\":[";
    for (std::size_t i = 0; i < n.symbols.size(); ++i) {
      if (i != 0) o += ',';
      o += quoted(n.symbols[i]);
    }
    if (n.nullable) o += ",null";
    o += ']';
  }
  o += '}';
}

// ---- Spark DDL ----

bool plain_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (const char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

void spark_name(std::string_view name, std::string& o) {
  if (plain_identifier(name)) {
    o += name;
    return;
  }
  o += '`';
  for (const char c : name) {
    if (c == '`') o += '`';
    o += c;
  }
  o += '`';
}

void spark_type(const schema_node& n, std::string& o) {
  if (n.record) {
    o += "STRUCT<";
    for (std::size_t i = 0; i < n.fields.size(); ++i) {
      if (i != 0) o += ", ";
      spark_name(n.fields[i].name, o);
      o += ": ";
      spark_type(n.fields[i], o);
      if (!n.fields[i].nullable) o += " NOT NULL";
    }
    o += '>';
    return;
  }
  switch (n.type) {
    case value_type::boolean:
      o += "BOOLEAN";
      return;
    case value_type::int32:
      o += "INT";
      return;
    case value_type::int64:
      o += "BIGINT";
      return;
    case value_type::float64:
      o += "DOUBLE";
      return;
    case value_type::string:
    case value_type::variable_decimal:  // always a record (above)
      o += "STRING";
      return;
    case value_type::array:
      o += "ARRAY<";
      spark_type(n.items[0], o);
      o += '>';
      return;
  }
}

// ---- Avro ----

// Avro names and namespace parts: [A-Za-z_][A-Za-z0-9_]*.
std::string avro_namespace(std::string_view ns) {
  std::string out;
  bool part_start = true;
  for (const char c : ns) {
    if (c == '.') {
      out += '.';
      part_start = true;
      continue;
    }
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (part_start && digit) out += '_';
    out += alpha || digit ? c : '_';
    part_start = false;
  }
  return out;
}

void avro_type(const schema_node& n, std::set<std::string>& defined, std::string& o);

void avro_nullable_type(const schema_node& n, std::set<std::string>& defined, std::string& o) {
  if (n.nullable) o += "[\"null\",";
  avro_type(n, defined, o);
  if (n.nullable) o += ']';
}

void avro_type(const schema_node& n, std::set<std::string>& defined, std::string& o) {
  if (n.record) {
    const std::string name = avro_namespace(n.record_name);
    if (!defined.insert(name).second) {
      o += quoted(name);
      return;
    }
    o += "{\"type\":\"record\",\"name\":";
    o += quoted(name);
    o += ",\"fields\":[";
    for (std::size_t i = 0; i < n.fields.size(); ++i) {
      if (i != 0) o += ',';
      o += "{\"name\":";
      o += quoted(n.fields[i].name);
      o += ",\"type\":";
      avro_nullable_type(n.fields[i], defined, o);
      if (n.fields[i].nullable) o += ",\"default\":null";
      o += '}';
    }
    o += "]}";
    return;
  }
  switch (n.type) {
    case value_type::boolean:
      o += "\"boolean\"";
      return;
    case value_type::int32:
      o += "\"int\"";
      return;
    case value_type::int64:
      o += "\"long\"";
      return;
    case value_type::float64:
      o += "\"double\"";
      return;
    case value_type::string:
    case value_type::variable_decimal:
      o += "\"string\"";
      return;
    case value_type::array:
      o += "{\"type\":\"array\",\"items\":";
      avro_nullable_type(n.items[0], defined, o);
      o += '}';
      return;
  }
}

}  // namespace

std::string to_json_schema(const event_schema& s) {
  std::string o = "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":";
  o += quoted(s.avro_namespace + "." + s.root.record_name);
  o += ",\"type\":\"object\",";
  json_schema_record_body(s.root, o);
  o += "}\n";
  return o;
}

std::string to_spark_ddl(const event_schema& s) {
  std::string o;
  for (std::size_t i = 0; i < s.root.fields.size(); ++i) {
    const schema_node& f = s.root.fields[i];
    if (i != 0) o += ", ";
    spark_name(f.name, o);
    o += ' ';
    spark_type(f, o);
    if (!f.nullable) o += " NOT NULL";
  }
  o += '\n';
  return o;
}

std::string to_avro_schema(const event_schema& s) {
  std::set<std::string> defined;
  std::string record;
  avro_type(s.root, defined, record);
  // Insert the namespace into the root record: {"type":"record","name":...,"namespace":...
  std::string o = "{\"type\":\"record\",\"namespace\":";
  o += quoted(avro_namespace(s.avro_namespace));
  o += ',';
  o += record.substr(std::string_view("{\"type\":\"record\",").size());
  o += '\n';
  return o;
}

}  // namespace edgepipe::pgcdc
