// [sources.<name>]: a JSON source (its fields, filters and optional HTTP polling) or a
// postgres_cdc source, read into a source_spec. Part of the config loader (config/toml_reader.hpp).
#include <algorithm>
#include <string>
#include <string_view>

#include "config/toml_reader.hpp"
#include "core/kafka_topic_name.hpp"

namespace edgepipe::config_detail {
namespace {

bool read_field(toml_reader& r, const toml::table& t, const std::string& path, field_spec& f) {
  if (!r.check_keys(t, path, section("sources.<name>.fields[]"))) return false;
  if (!t.contains("name"))
    return r.fail_at(t, path + ".name", "missing (every field needs a name)");
  if (!r.get_string(t, path, "name", f.name)) return false;
  if (f.name.empty() || f.name.find_first_of("\"\\") != std::string::npos)
    return r.fail_key(t, "name", path + ".name", "must be non-empty without quotes or backslashes");
  if (t.contains("from")) {
    std::string p;
    if (!r.get_pointer(t, path, "from", p)) return false;
    if (p.empty()) return r.fail_key(t, "from", path + ".from", "must name a member, e.g. \"/id\"");
    f.from = p;
  }
  if (t.contains("template")) {
    std::string s;
    if (!r.get_string(t, path, "template", s)) return false;
    f.template_text = s;
  }
  if (const toml::node* n = t.get("const")) {
    literal_value v;
    if (!r.get_literal(*n, path + ".const", v)) return false;
    f.constant = v;
  }
  if (const toml::node* n = t.get("default")) {
    literal_value v;
    if (!r.get_literal(*n, path + ".default", v)) return false;
    f.default_value = v;
  }
  std::string type{schema::default_string("field", "type")};
  if (!r.get_string(t, path, "type", type)) return false;
  static const std::pair<std::string_view, value_cast> kCasts[] = {
      {"keep", value_cast::keep},      {"string", value_cast::string},
      {"double", value_cast::double_}, {"int", value_cast::int_},
      {"bool", value_cast::bool_},     {"timestamp", value_cast::timestamp}};
  auto cast = std::find_if(std::begin(kCasts), std::end(kCasts),
                           [&](const auto& c) { return c.first == type; });
  if (cast == std::end(kCasts))
    return r.fail_key(t, "type", path + ".type",
                      "unknown type (expected keep, string, double, int, bool or timestamp)");
  f.cast = cast->second;
  std::string hash{schema::default_string("field", "hash")};
  if (!r.get_string(t, path, "hash", hash)) return false;
  if (hash == "md5") {
    f.hash = digest_kind::md5;
  } else if (hash == "sha256") {
    f.hash = digest_kind::sha256;
  } else if (hash != "none") {
    return r.fail_key(t, "hash", path + ".hash", "unknown hash (expected md5, sha256 or none)");
  }
  return r.get_bool(t, path, "required", f.required);
}

bool read_filter(toml_reader& r, const toml::table& t, const std::string& path, filter_spec& f) {
  if (!r.check_keys(t, path, section("sources.<name>.filter[]"))) return false;
  if (!t.contains("field")) return r.fail_at(t, path + ".field", "missing");
  if (!r.get_pointer(t, path, "field", f.pointer)) return false;
  std::string op{schema::default_string("filter", "op")};
  if (!r.get_string(t, path, "op", op)) return false;
  static const std::pair<std::string_view, filter_op> kOps[] = {
      {"eq", filter_op::eq},         {"ne", filter_op::ne},          {"gt", filter_op::gt},
      {"ge", filter_op::ge},         {"lt", filter_op::lt},          {"le", filter_op::le},
      {"exists", filter_op::exists}, {"missing", filter_op::missing}};
  auto it =
      std::find_if(std::begin(kOps), std::end(kOps), [&](const auto& o) { return o.first == op; });
  if (it == std::end(kOps))
    return r.fail_key(t, "op", path + ".op",
                      "unknown operator (expected eq, ne, gt, ge, lt, le, exists, missing)");
  f.op = it->second;
  if (const toml::node* n = t.get("value")) {
    literal_value v;
    if (!r.get_literal(*n, path + ".value", v)) return false;
    f.value = v;
  }
  return true;
}

bool read_http(toml_reader& r, const toml::table& t, const std::string& path, http_poll_spec& h) {
  if (!r.get_string(t, path, "url", h.url)) return false;
  if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0)
    return r.fail_key(t, "url", path + ".url", "must start with http:// or https://");
  if (!r.get_string(t, path, "method", h.method)) return false;
  if (t.contains("method") &&
      !one_of(r, t, path, "method", h.method, {"GET", "POST", "PUT", "HEAD"}))
    return false;
  if (!r.get_string(t, path, "body", h.body)) return false;
  if (const toml::node* n = t.get("headers")) {
    if (!n->is_table()) return r.fail(*n, path + ".headers", "expected a table of strings");
    for (auto&& [hk, hv] : *n->as_table()) {
      const std::string key = path + ".headers." + std::string(hk.str());
      if (!hv.is_string()) return r.fail(hv, key, "expected a string");
      std::string value(hv.as_string()->get());
      if (!resolve_secret(r, hv, key, value)) return false;
      h.headers.emplace_back(std::string(hk.str()), std::move(value));
    }
  }
  if (!r.get_string(t, path, "schedule", h.schedule)) return false;
  if (!h.schedule.empty()) {
    std::string why;
    if (!r.checks.check_schedule(h.schedule, why))
      return r.fail_key(t, "schedule", path + ".schedule", why);
  }
  return r.get_duration(t, path, opt("source", "interval"), h.interval_ms) &&
         r.get_duration(t, path, opt("source", "jitter"), h.jitter_ms) &&
         r.get_duration(t, path, opt("source", "timeout"), h.timeout_ms) &&
         r.get_duration(t, path, opt("source", "connect_timeout"), h.connect_timeout_ms) &&
         r.get_duration(t, path, opt("source", "backoff_initial"), h.backoff_initial_ms) &&
         r.get_duration(t, path, opt("source", "backoff_max"), h.backoff_max_ms) &&
         r.get_bool(t, path, "conditional", h.conditional) &&
         r.get_uint(t, path, opt("source", "max_body_bytes"), h.max_body_bytes);
}

/// PostgreSQL's rule for slot names: lower-case letters, digits and underscores, 1..63.
bool valid_slot_name(std::string_view s) {
  return !s.empty() && s.size() <= 63 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

/// Kafka's rule for topic names (the prefix ends up in every topic): A-Z a-z 0-9 . _ -
bool valid_topic_text(std::string_view s) {
  return !s.empty() && s.size() <= 200 && kafka_topic_chars(s);
}

bool read_cdc_source(toml_reader& r, const toml::table& t, const std::string& path,
                     postgres_cdc_spec& c) {
  if (!r.check_keys(t, path, section("sources.<name> (postgres_cdc)"))) return false;
  if (!t.contains("conninfo"))
    return r.fail_at(t, path + ".conninfo", "missing: a postgres_cdc source needs a conninfo");
  if (!r.get_string(t, path, "conninfo", c.conninfo)) return false;
  if (c.conninfo.empty()) return r.fail_key(t, "conninfo", path + ".conninfo", "must not be empty");
  if (c.conninfo.find("password") != std::string::npos)
    return r.fail_at(t, path + ".conninfo",
                     "holds a password: give it as " + path +
                         ".password = \"env:NAME\" or \"file:PATH\" instead");
  if (const toml::node* n = t.get("password")) {
    if (!n->is_string()) return r.fail(*n, path + ".password", "expected a string");
    c.password = n->as_string()->get();
    if (c.password.rfind("env:", 0) != 0 && c.password.rfind("file:", 0) != 0)
      return r.fail_at(t, path + ".password",
                       "expected \"env:NAME\" or \"file:PATH\" (a password is never written "
                       "in the config)");
    if (!resolve_secret(r, *n, path + ".password", c.password)) return false;
  }
  if (!r.get_string(t, path, "publication", c.publication)) return false;
  if (c.publication.empty())
    return r.fail_key(t, "publication", path + ".publication", "must not be empty");
  if (!r.get_string(t, path, "slot", c.slot)) return false;
  if (!valid_slot_name(c.slot))
    return r.fail_key(t, "slot", path + ".slot",
                      "a replication slot name is 1..63 of a-z 0-9 _ (PostgreSQL's rule)");
  if (const toml::node* n = t.get("tables")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return r.fail(*n, path + ".tables", "expected an array of strings");
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const toml::node& e = *arr->get(i);
      const std::string key = path + ".tables[" + std::to_string(i) + "]";
      if (!e.is_string()) return r.fail(e, key, "expected a string \"schema.table\"");
      const std::string v(e.as_string()->get());
      const auto dot = v.find('.');
      if (dot == std::string::npos || dot == 0 || dot + 1 == v.size())
        return r.fail(e, key, "expected \"schema.table\"");
      c.tables.push_back(v);
    }
  }
  if (!r.get_string(t, path, "topic_prefix", c.topic_prefix)) return false;
  if (!valid_topic_text(c.topic_prefix))
    return r.fail_key(t, "topic_prefix", path + ".topic_prefix",
                      "1..200 of A-Z a-z 0-9 . _ - (it starts every Kafka topic name)");
  if (!r.get_string(t, path, "snapshot", c.snapshot)) return false;
  if (t.contains("snapshot") &&
      !one_of(r, t, path, "snapshot", c.snapshot, {"initial", "never", "initial_only"}))
    return false;
  if (!r.get_string(t, path, "decimal_handling", c.decimal_handling)) return false;
  if (t.contains("decimal_handling") &&
      !one_of(r, t, path, "decimal_handling", c.decimal_handling, {"string", "double", "precise"}))
    return false;
  return r.get_bool(t, path, "tombstones", c.tombstones) &&
         r.get_duration(t, path, opt("postgres_cdc", "status_interval"), c.status_interval_ms) &&
         r.get_uint(t, path, opt("postgres_cdc", "batch_records"), c.batch_records);
}

}  // namespace

bool read_source(toml_reader& r, const std::string& name, const toml::table& t, source_spec& s) {
  const std::string path = "sources." + name;
  s.name = name;
  if (const toml::node* n = t.get("type")) {
    if (!n->is_string()) return r.fail(*n, path + ".type", "expected a string");
    const std::string type(n->as_string()->get());
    if (type == "postgres_cdc") {
      postgres_cdc_spec c;
      if (!read_cdc_source(r, t, path, c)) return false;
      s.cdc = std::move(c);
      return true;
    }
    if (!type.empty())
      return r.fail(*n, path + ".type", "expected \"\" (a JSON source) or \"postgres_cdc\"");
  }
  if (!r.check_keys(t, path, section("sources.<name>"))) return false;
  if (t.contains("url")) {
    http_poll_spec h;
    if (!read_http(r, t, path, h)) return false;
    s.http = std::move(h);
  } else {
    for (const char* k :
         {"method", "body", "headers", "interval", "jitter", "timeout", "connect_timeout",
          "backoff_initial", "backoff_max", "conditional", "max_body_bytes"})
      if (const toml::node* n = t.get(k))
        return r.fail(*n, path + "." + k, "an HTTP setting needs 'url' in the same source");
  }
  if (!r.get_pointer(t, path, "records", s.records_pointer)) return false;
  if (!r.get_pointer(t, path, "key", s.key_pointer)) return false;
  if (!r.get_pointer(t, path, "event_time", s.event_time_pointer)) return false;
  if (!t.contains("fields"))
    return r.fail_at(t, path + ".fields", "missing: a source needs [[" + path + ".fields]]");
  if (!each_table_in_array(r, t, "fields", path + ".fields",
                           [&](const toml::table& ft, const std::string& p) {
                             field_spec f;
                             if (!read_field(r, ft, p, f)) return false;
                             s.fields.push_back(std::move(f));
                             return true;
                           }))
    return false;
  return each_table_in_array(r, t, "filter", path + ".filter",
                             [&](const toml::table& ft, const std::string& p) {
                               filter_spec f;
                               if (!read_filter(r, ft, p, f)) return false;
                               s.filters.push_back(std::move(f));
                               return true;
                             });
}

}  // namespace edgepipe::config_detail
