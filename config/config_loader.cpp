#include "config/config_loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_schema.hpp"
#include "core/json_pointer.hpp"
#include "core/record.hpp"
#include "platform/text_escape.hpp"

namespace edgepipe {

extern const std::string_view kEmbeddedDefaultConfig;

std::optional<double> parse_speed(std::string_view text) {
  if (text == "max") return 0.0;
  if (text.size() < 2 || text.back() != 'x') return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size() - 1, v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() - 1 || !(v > 0) ||
      !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) {
  std::uint64_t scale = 1;
  std::string_view number = text;
  auto ends = [&](std::string_view suffix) {
    return text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
  };
  if (ends("ms")) {
    number = text.substr(0, text.size() - 2);
  } else if (ends("s")) {
    scale = 1000;
    number = text.substr(0, text.size() - 1);
  } else if (ends("m")) {
    scale = 60'000;
    number = text.substr(0, text.size() - 1);
  } else if (ends("h")) {
    scale = 3'600'000;
    number = text.substr(0, text.size() - 1);
  }
  double v = 0;
  const auto r = std::from_chars(number.data(), number.data() + number.size(), v);
  if (r.ec != std::errc() || r.ptr != number.data() + number.size() || v < 0 || !std::isfinite(v))
    return std::nullopt;
  // Converting a double above 2^64 to an integer is undefined, and callers turn milliseconds
  // into nanoseconds: anything longer than kMaxDurationMs is not a duration we accept.
  const double ms = v * static_cast<double>(scale);
  if (!(ms <= static_cast<double>(kMaxDurationMs))) return std::nullopt;
  return static_cast<std::uint64_t>(ms);
}

namespace {

/// The schema entry of `key` in section `id` (config/config_schema.hpp): its range bounds the
/// value. consteval: a name that is not in the table fails the build.
consteval const option_doc& opt(std::string_view id, std::string_view key) {
  return schema::option(id, key);
}

/// Source and sink names end up in file names (<spool>/<sink>.ledger), thread names, JSON and
/// Prometheus labels: keep them to a plain character set.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  const auto c0 = static_cast<unsigned char>(name[0]);
  if (!std::isalnum(c0) && c0 != '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '.' || u == '-';
  });
}

// A reading context: the file name and the dotted path of the table being read.
struct reader {
  const std::string& origin;
  const stage_checks& checks;
  std::string error;

  std::string where(const toml::node& n, const std::string& key) const {
    std::ostringstream s;
    s << (n.source().path ? *n.source().path : origin);
    if (n.source().begin.line > 0) s << ":" << n.source().begin.line;
    s << ": key '" << key << "'";
    return s.str();
  }
  std::string render(const toml::node& n) const {
    std::ostringstream s;
    if (n.is_table()) return "a table";
    if (n.is_array()) return "an array";
    n.visit([&](const auto& v) { s << v; });
    return s.str();
  }
  bool fail(const toml::node& n, const std::string& key, const std::string& what) {
    if (error.empty()) error = where(n, key) + " = " + render(n) + ": " + what;
    return false;
  }
  /// A [sources.<name>] or [sinks.<name>] table whose name is outside the character set.
  bool check_name(const toml::node& n, std::string_view kind, const std::string& name) {
    if (valid_name(name)) return true;
    if (error.empty()) {
      std::ostringstream s;
      s << (n.source().path ? *n.source().path : origin);
      if (n.source().begin.line > 0) s << ":" << n.source().begin.line;
      s << ": key '" << kind << "." << json_string(name) << "': the name " << json_string(name)
        << " is not allowed: use 1.." << kMaxNameLength
        << " of A-Z a-z 0-9 _ . - (starting with a letter, digit or _)";
      error = s.str();
    }
    return false;
  }
  bool fail_at(const toml::table& t, const std::string& key, const std::string& what) {
    if (error.empty()) {
      std::ostringstream s;
      s << origin;
      if (t.source().begin.line > 0) s << ":" << t.source().begin.line;
      s << ": key '" << key << "': " << what;
      error = s.str();
    }
    return false;
  }

  bool check_keys(const toml::table& t, const std::string& path,
                  std::span<const option_doc> allowed) {
    for (auto&& [k, v] : t) {
      const bool known = std::any_of(allowed.begin(), allowed.end(),
                                     [&](const option_doc& o) { return o.key == k.str(); });
      if (!known) {
        std::string names;
        for (const auto& o : allowed) names += (names.empty() ? "" : ", ") + std::string(o.key);
        return fail(v, path + "." + std::string(k.str()), "unknown key (allowed: " + names + ")");
      }
    }
    return true;
  }

  bool get_string(const toml::table& t, const std::string& path, std::string_view key,
                  std::string& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_string()) return fail(*n, path + "." + std::string(key), "expected a string");
    out = n->as_string()->get();
    return true;
  }
  bool get_uint(const toml::table& t, const std::string& path, std::string_view key,
                std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_integer()) return fail(*n, path + "." + std::string(key), "expected an integer");
    const std::int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi)
      return fail(*n, path + "." + std::string(key),
                  "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    out = static_cast<std::uint64_t>(v);
    return true;
  }
  template <class T>
  bool get_size(const toml::table& t, const std::string& path, std::string_view key,
                std::uint64_t lo, std::uint64_t hi, T& out) {
    auto v = static_cast<std::uint64_t>(out);
    if (!get_uint(t, path, key, lo, hi, v)) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool get_duration(const toml::table& t, const std::string& path, std::string_view key,
                    std::uint64_t min_ms, std::uint64_t max_ms, std::uint64_t& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    std::optional<std::uint64_t> ms;
    if (n->is_integer() && n->as_integer()->get() >= 0 &&
        static_cast<std::uint64_t>(n->as_integer()->get()) <= kMaxDurationMs) {
      ms = static_cast<std::uint64_t>(n->as_integer()->get());
    } else if (n->is_string()) {
      ms = parse_duration_ms(n->as_string()->get());
    }
    if (!ms)
      return fail(*n, path + "." + std::string(key),
                  "expected a duration such as \"500ms\", \"5s\", \"2m\" or integer ms, "
                  "between " +
                      std::to_string(min_ms) + " ms and " + std::to_string(max_ms) + " ms");
    if (*ms < min_ms || *ms > max_ms)
      return fail(*n, path + "." + std::string(key),
                  "must be between " + std::to_string(min_ms) + " ms and " +
                      std::to_string(max_ms) + " ms");
    out = *ms;
    return true;
  }
  // The same, with the range from the schema table (every integer and duration has one: see
  // the static_assert in config_schema.cpp).
  bool get_uint(const toml::table& t, const std::string& path, const option_doc& o,
                std::uint64_t& out) {
    const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
    return get_uint(t, path, o.key, b.lo, b.hi, out);
  }
  template <class T>
  bool get_size(const toml::table& t, const std::string& path, const option_doc& o, T& out) {
    const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
    return get_size(t, path, o.key, b.lo, b.hi, out);
  }
  bool get_duration(const toml::table& t, const std::string& path, const option_doc& o,
                    std::uint64_t& out) {
    const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
    return get_duration(t, path, o.key, b.lo, b.hi, out);
  }
  bool get_bool(const toml::table& t, const std::string& path, std::string_view key, bool& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (!n->is_boolean()) return fail(*n, path + "." + std::string(key), "expected true or false");
    out = n->as_boolean()->get();
    return true;
  }
  bool get_cpu(const toml::table& t, const std::string& path, std::string_view key,
               std::optional<int>& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return true;
    if (n->is_string() && n->as_string()->get() == "none") {
      out.reset();
      return true;
    }
    if (n->is_integer() && n->as_integer()->get() >= 0 && n->as_integer()->get() < 1024) {
      out = static_cast<int>(n->as_integer()->get());
      return true;
    }
    return fail(*n, path + "." + std::string(key), "expected a CPU number (0..1023) or \"none\"");
  }
  bool get_literal(const toml::node& n, const std::string& key, literal_value& out) {
    if (n.is_string()) {
      out = {literal_value::kind::string, std::string(n.as_string()->get())};
    } else if (n.is_integer()) {
      out = {literal_value::kind::number, std::to_string(n.as_integer()->get())};
    } else if (n.is_floating_point()) {
      const double d = n.as_floating_point()->get();
      if (!std::isfinite(d)) return fail(n, key, "must be a finite number");
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      out = {literal_value::kind::number, std::string(buf, r.ptr)};
    } else if (n.is_boolean()) {
      out = {literal_value::kind::boolean, n.as_boolean()->get() ? "true" : "false"};
    } else {
      return fail(n, key, "expected a string, number or boolean");
    }
    return true;
  }
  bool get_pointer(const toml::table& t, const std::string& path, std::string_view key,
                   std::string& out) {
    if (!get_string(t, path, key, out)) return false;
    std::vector<std::string> segs;
    std::string why;
    if (!split_json_pointer(out, segs, why))
      return fail(*t.get(key), path + "." + std::string(key), "invalid JSON pointer: " + why);
    return true;
  }
};

std::span<const option_doc> section(std::string_view path) {
  for (const auto& s : config_sections())
    if (s.path == path) return s.options;
  return {};
}

bool one_of(reader& r, const toml::table& t, const std::string& path, std::string_view key,
            const std::string& value, std::initializer_list<std::string_view> allowed);

bool read_field(reader& r, const toml::table& t, const std::string& path, field_spec& f) {
  if (!r.check_keys(t, path, section("sources.<name>.fields[]"))) return false;
  if (!t.contains("name"))
    return r.fail_at(t, path + ".name", "missing (every field needs a name)");
  if (!r.get_string(t, path, "name", f.name)) return false;
  if (f.name.empty() || f.name.find_first_of("\"\\") != std::string::npos)
    return r.fail(*t.get("name"), path + ".name",
                  "must be non-empty without quotes or backslashes");
  if (t.contains("from")) {
    std::string p;
    if (!r.get_pointer(t, path, "from", p)) return false;
    if (p.empty())
      return r.fail(*t.get("from"), path + ".from", "must name a member, e.g. \"/id\"");
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
    return r.fail(*t.get("type"), path + ".type",
                  "unknown type (expected keep, string, double, int, bool or timestamp)");
  f.cast = cast->second;
  std::string hash{schema::default_string("field", "hash")};
  if (!r.get_string(t, path, "hash", hash)) return false;
  if (hash == "md5") {
    f.hash = digest_kind::md5;
  } else if (hash == "sha256") {
    f.hash = digest_kind::sha256;
  } else if (hash != "none") {
    return r.fail(*t.get("hash"), path + ".hash", "unknown hash (expected md5, sha256 or none)");
  }
  return r.get_bool(t, path, "required", f.required);
}

bool read_filter(reader& r, const toml::table& t, const std::string& path, filter_spec& f) {
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
    return r.fail(*t.get("op"), path + ".op",
                  "unknown operator (expected eq, ne, gt, ge, lt, le, exists, missing)");
  f.op = it->second;
  if (const toml::node* n = t.get("value")) {
    literal_value v;
    if (!r.get_literal(*n, path + ".value", v)) return false;
    f.value = v;
  }
  return true;
}

template <class F>
bool each_table_in_array(reader& r, const toml::table& parent, std::string_view key,
                         const std::string& path, F&& f) {
  const toml::node* n = parent.get(key);
  if (n == nullptr) return true;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) return r.fail(*n, path, "expected an array of tables ([[" + path + "]])");
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    const std::string p = path + "[" + std::to_string(i) + "]";
    if (!e.is_table()) return r.fail(e, p, "expected a table");
    if (!f(*e.as_table(), p)) return false;
  }
  return true;
}

bool resolve_secret(reader& r, const toml::node& n, const std::string& key, std::string& value) {
  // "env:NAME" and "file:PATH" keep API keys out of config files. The error names the
  // variable or file, never the value.
  if (value.rfind("env:", 0) == 0) {
    // "env:NAME:-DEFAULT" (as in sh): DEFAULT when NAME is not set (for well-known local
    // defaults such as the test stack's; a real secret has no default).
    std::string name = value.substr(4);
    std::optional<std::string> fallback;
    if (const auto dash = name.find(":-"); dash != std::string::npos) {
      fallback = name.substr(dash + 2);
      name.resize(dash);
    }
    const char* v = std::getenv(name.c_str());
    if (v == nullptr && !fallback)
      return r.fail(n, key, "environment variable " + name + " is not set");
    value = v != nullptr ? std::string(v) : *fallback;
  } else if (value.rfind("file:", 0) == 0) {
    std::ifstream in(value.substr(5));
    if (!in) return r.fail(n, key, "cannot read file " + value.substr(5));
    std::getline(in, value);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
  }
  return true;
}

bool read_http(reader& r, const toml::table& t, const std::string& path, http_poll_spec& h) {
  if (!r.get_string(t, path, "url", h.url)) return false;
  if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0)
    return r.fail(*t.get("url"), path + ".url", "must start with http:// or https://");
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
      return r.fail(*t.get("schedule"), path + ".schedule", why);
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
  return !s.empty() && s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '.' || c == '_' || c == '-';
  });
}

bool read_cdc_source(reader& r, const toml::table& t, const std::string& path,
                     postgres_cdc_spec& c) {
  if (!r.check_keys(t, path, section("sources.<name> (postgres_cdc)"))) return false;
  if (!t.contains("conninfo"))
    return r.fail_at(t, path + ".conninfo", "missing: a postgres_cdc source needs a conninfo");
  if (!r.get_string(t, path, "conninfo", c.conninfo)) return false;
  if (c.conninfo.empty())
    return r.fail(*t.get("conninfo"), path + ".conninfo", "must not be empty");
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
    return r.fail(*t.get("publication"), path + ".publication", "must not be empty");
  if (!r.get_string(t, path, "slot", c.slot)) return false;
  if (!valid_slot_name(c.slot))
    return r.fail(*t.get("slot"), path + ".slot",
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
    return r.fail(*t.get("topic_prefix"), path + ".topic_prefix",
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

bool read_source(reader& r, const std::string& name, const toml::table& t, source_spec& s) {
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

bool read_file_sink(reader& r, const toml::table& t, const std::string& path, sink_config& s) {
  if (!r.check_keys(t, path, section("sinks.<name>"))) return false;
  if (!t.contains("path")) return r.fail_at(t, path + ".path", "missing");
  if (!r.get_string(t, path, "path", s.file.path)) return false;
  if (s.file.path.empty()) return r.fail(*t.get("path"), path + ".path", "must not be empty");
  if (!r.get_uint(t, path, opt("file", "rotate_bytes"), s.file.rotate_bytes)) return false;
  if (s.file.rotate_bytes != 0 && s.file.rotate_bytes < 4096)
    return r.fail(*t.get("rotate_bytes"), path + ".rotate_bytes", "must be 0 or at least 4096");
  std::string format{schema::default_string("file", "format")};
  if (!r.get_string(t, path, "format", format)) return false;
  if (format == "value") {
    s.file.format = file_format::value;
  } else if (format == "envelope") {
    s.file.format = file_format::envelope;
  } else {
    return r.fail(*t.get("format"), path + ".format", "expected \"value\" or \"envelope\"");
  }
  return r.get_bool(t, path, "fsync", s.file.fsync);
}

bool one_of(reader& r, const toml::table& t, const std::string& path, std::string_view key,
            const std::string& value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (a == value) return true;
  std::string names;
  for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
  return r.fail(*t.get(key), path + "." + std::string(key), "expected one of " + names);
}

bool read_kafka_sink(reader& r, const toml::table& t, const std::string& path, sink_config& s) {
  kafka_sink_config& k = s.kafka;
  if (!r.check_keys(t, path, section("sinks.<name> (kafka)"))) return false;
  if (!r.get_string(t, path, "brokers", k.brokers)) return false;
  if (k.brokers.empty()) return r.fail(*t.get("brokers"), path + ".brokers", "must not be empty");
  if (!r.get_string(t, path, "topic", k.topic)) return false;
  if (!r.get_string(t, path, "topic_prefix", k.topic_prefix)) return false;
  if (!r.get_size(t, path, opt("kafka", "partitions"), k.partitions)) return false;
  if (!r.get_size(t, path, opt("kafka", "replication_factor"), k.replication_factor)) return false;
  if (!r.get_bool(t, path, "create_topics", k.create_topics)) return false;
  if (!r.get_string(t, path, "compression", k.compression)) return false;
  if (t.contains("compression") &&
      !one_of(r, t, path, "compression", k.compression, {"none", "gzip", "snappy", "lz4", "zstd"}))
    return false;
  if (!r.get_size(t, path, opt("kafka", "linger_ms"), k.linger_ms)) return false;
  if (!r.get_size(t, path, opt("kafka", "batch_bytes"), k.batch_bytes)) return false;
  if (!r.get_uint(t, path, opt("kafka", "max_buffer_bytes"), k.max_buffer_bytes)) return false;
  if (!r.get_size(t, path, opt("kafka", "max_in_flight"), k.max_in_flight)) return false;
  if (!r.get_size(t, path, opt("kafka", "message_timeout_ms"), k.message_timeout_ms)) return false;
  if (!r.get_string(t, path, "acks", k.acks)) return false;
  if (t.contains("acks") && !one_of(r, t, path, "acks", k.acks, {"all", "1", "0", "-1"}))
    return false;
  if (!r.get_bool(t, path, "exactly_once", k.exactly_once)) return false;
  if (!r.get_size(t, path, opt("kafka", "transaction_records"), k.transaction_records))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_interval"), k.transaction_interval_ms))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_interval_busy"),
                      k.transaction_interval_busy_ms))
    return false;
  if (!r.get_duration(t, path, opt("kafka", "transaction_idle"), k.transaction_idle_ms))
    return false;
  if (!r.get_string(t, path, "state_topic", k.state_topic)) return false;
  if (k.state_topic.empty())
    return r.fail(*t.get("state_topic"), path + ".state_topic", "must not be empty");
  if (k.exactly_once && k.acks != "all" && k.acks != "-1")
    return r.fail(*t.get("acks"), path + ".acks", "exactly_once needs acks = \"all\"");
  if (const toml::node* n = t.get("properties")) {
    if (!n->is_table()) return r.fail(*n, path + ".properties", "expected a table of strings");
    for (auto&& [pk, pv] : *n->as_table()) {
      if (!pv.is_string())
        return r.fail(pv, path + ".properties." + std::string(pk.str()), "expected a string");
      k.properties.emplace_back(std::string(pk.str()), std::string(pv.as_string()->get()));
    }
  }
  return true;
}

bool read_mongo_sink(reader& r, const toml::table& t, const std::string& path, sink_config& s) {
  mongo_sink_config& m = s.mongo;
  if (!r.check_keys(t, path, section("sinks.<name> (mongodb)"))) return false;
  if (!r.get_string(t, path, "uri", m.uri)) return false;
  if (m.uri.rfind("mongodb://", 0) != 0 && m.uri.rfind("mongodb+srv://", 0) != 0)
    return r.fail(*t.get("uri"), path + ".uri", "must start with mongodb:// or mongodb+srv://");
  if (!r.get_string(t, path, "database", m.database)) return false;
  if (m.database.empty() || m.database.find_first_of("/\\. \"$") != std::string::npos)
    return r.fail(*t.get("database"), path + ".database", "not a valid MongoDB database name");
  if (!r.get_string(t, path, "collection", m.collection)) return false;
  std::string mode{schema::default_string("mongodb", "mode")};
  if (!r.get_string(t, path, "mode", mode)) return false;
  if (t.contains("mode") && !one_of(r, t, path, "mode", mode, {"insert", "upsert"})) return false;
  m.mode = mode == "upsert" ? mongo_mode::upsert : mongo_mode::insert;
  if (!r.get_string(t, path, "write_concern", m.write_concern)) return false;
  if (t.contains("write_concern") && m.write_concern != "majority" &&
      (m.write_concern.empty() ||
       m.write_concern.find_first_not_of("0123456789") != std::string::npos))
    return r.fail(*t.get("write_concern"), path + ".write_concern",
                  "expected a number of nodes (\"0\", \"1\", ...) or \"majority\"");
  if (!r.get_size(t, path, opt("mongodb", "write_timeout_ms"), m.write_timeout_ms)) return false;
  if (!r.get_size(t, path, opt("mongodb", "bulk_documents"), m.bulk_documents)) return false;
  if (!r.get_size(t, path, opt("mongodb", "upsert_bulk_size"), m.upsert_bulk_size)) return false;
  if (!r.get_size(t, path, opt("mongodb", "max_retries"), m.max_retries)) return false;
  if (!r.get_size(t, path, opt("mongodb", "retry_backoff_ms"), m.retry_backoff_ms)) return false;
  if (!r.get_string(t, path, "dead_letter_path", m.dead_letter_path)) return false;
  return each_table_in_array(
      r, t, "indexes", path + ".indexes", [&](const toml::table& it, const std::string& p) {
        static constexpr option_doc kIndex[] = {{"keys", "", "", ""}, {"unique", "", "", ""}};
        if (!r.check_keys(it, p, kIndex)) return false;
        mongo_index_spec idx;
        const toml::node* keys = it.get("keys");
        if (keys == nullptr || !keys->is_table() || keys->as_table()->empty())
          return keys ? r.fail(*keys, p + ".keys", "expected a table such as { id = 1 }")
                      : r.fail_at(it, p + ".keys", "missing");
        for (auto&& [kk, kv] : *keys->as_table()) {
          if (!kv.is_integer() || (kv.as_integer()->get() != 1 && kv.as_integer()->get() != -1))
            return r.fail(kv, p + ".keys." + std::string(kk.str()), "expected 1 or -1");
          idx.keys.emplace_back(std::string(kk.str()), static_cast<int>(kv.as_integer()->get()));
        }
        if (!r.get_bool(it, p, "unique", idx.unique)) return false;
        m.indexes.push_back(std::move(idx));
        return true;
      });
}

bool read_sink(reader& r, const std::string& name, const toml::table& t, sink_config& s) {
  const std::string path = "sinks." + name;
  s.name = name;
  if (!t.contains("type"))
    return r.fail_at(t, path + ".type", "missing (type = \"file\", \"kafka\" or \"mongodb\")");
  if (!r.get_string(t, path, "type", s.type)) return false;
  if (!r.get_cpu(t, path, "cpu", s.cpu)) return false;
  if (s.type == "file") return read_file_sink(r, t, path, s);
  if (s.type == "kafka") return read_kafka_sink(r, t, path, s);
  if (s.type == "mongodb") return read_mongo_sink(r, t, path, s);
  return r.fail(*t.get("type"), path + ".type",
                "unknown sink type (expected file, kafka or mongodb)");
}

bool read_spool(reader& r, const toml::table& t, spool_config& sp) {
  const std::string path = "spool";
  if (!r.check_keys(t, path, section("spool"))) return false;
  if (!r.get_string(t, path, "dir", sp.dir)) return false;
  std::string fsync{schema::default_string("spool", "fsync")};
  if (!r.get_string(t, path, "fsync", fsync)) return false;
  if (t.contains("fsync") &&
      !one_of(r, t, path, "fsync", fsync, {"every_batch", "interval", "off"}))
    return false;
  sp.fsync = fsync == "every_batch" ? fsync_policy::every_batch
             : fsync == "off"       ? fsync_policy::off
                                    : fsync_policy::interval;
  if (!r.get_duration(t, path, opt("spool", "fsync_interval"), sp.fsync_interval_ms)) return false;
  if (!r.get_uint(t, path, opt("spool", "segment_bytes"), sp.segment_bytes)) return false;
  if (!r.get_uint(t, path, opt("spool", "max_bytes"), sp.max_bytes)) return false;
  if (sp.max_bytes < 4 * sp.segment_bytes)
    return r.fail(t.contains("max_bytes") ? *t.get("max_bytes") : *t.get("segment_bytes"),
                  "spool.max_bytes",
                  "must be at least 4 x segment_bytes (" + std::to_string(4 * sp.segment_bytes) +
                      ") so that rolls and drops have room; got " + std::to_string(sp.max_bytes));
  std::string on_full{schema::default_string("spool", "on_full")};
  if (!r.get_string(t, path, "on_full", on_full)) return false;
  if (t.contains("on_full") && !one_of(r, t, path, "on_full", on_full, {"block", "drop_oldest"}))
    return false;
  sp.on_full = on_full == "drop_oldest" ? full_policy::drop_oldest : full_policy::block;
  if (!r.get_duration(t, path, opt("spool", "retry_backoff"), sp.retry_backoff_ms)) return false;
  if (!r.get_duration(t, path, opt("spool", "retry_backoff_max"), sp.retry_backoff_max_ms))
    return false;
  if (sp.retry_backoff_max_ms < sp.retry_backoff_ms)
    return r.fail(*t.get("retry_backoff_max"), "spool.retry_backoff_max",
                  "must not be shorter than retry_backoff");
  if (!r.get_duration(t, path, opt("spool", "ledger_interval"), sp.ledger_interval_ms))
    return false;
  if (!r.get_bool(t, path, "direct_io", sp.direct_io)) return false;
  if (!r.get_uint(t, path, opt("spool", "memory_bytes"), sp.memory_bytes)) return false;
  if (!r.get_uint(t, path, opt("spool", "write_buffer_bytes"), sp.write_buffer_bytes)) return false;
  return true;
}

// Over 100 lines on purpose: the top-level tables in the order the schema documents them, each
// a few lines that hand off to its own reader.
bool read_root(reader& r, const toml::table& root, pipeline_config& c) {
  static constexpr option_doc kTop[] = {
      {"pipeline", "", "", ""}, {"replay", "", "", ""},  {"dead_letter", "", "", ""},
      {"sinks", "", "", ""},    {"sources", "", "", ""}, {"capture", "", "", ""},
      {"http", "", "", ""},     {"log", "", "", ""},     {"spool", "", "", ""}};
  if (!r.check_keys(root, "", kTop)) {
    // Drop the leading dot of a top-level key in the message.
    const auto pos = r.error.find("key '.");
    if (pos != std::string::npos) r.error.erase(pos + 5, 1);
    return false;
  }
  auto table_at = [&](std::string_view key, const toml::table*& out) {
    out = nullptr;
    const toml::node* n = root.get(key);
    if (n == nullptr) return true;
    if (!n->is_table())
      return r.fail(*n, std::string(key), "expected a table [" + std::string(key) + "]");
    out = n->as_table();
    return true;
  };
  const toml::table* t = nullptr;
  if (!table_at("pipeline", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "pipeline", section("pipeline"))) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "batch_records"), c.batch_records))
      return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "batch_bytes"), c.batch_bytes)) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "ring_capacity"), c.ring_capacity))
      return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "max_payload_bytes"), c.max_payload_bytes))
      return false;
    if (!r.get_uint(*t, "pipeline", opt("pipeline", "http_body_budget"), c.http_body_budget))
      return false;
    if (!r.get_cpu(*t, "pipeline", "source_cpu", c.source_cpu)) return false;
    if (!r.get_cpu(*t, "pipeline", "transform_cpu", c.transform_cpu)) return false;
    if (!r.get_duration(*t, "pipeline", opt("pipeline", "drain_timeout"), c.drain_timeout_ms))
      return false;
    if (!r.get_uint(*t, "pipeline", opt("pipeline", "pool_bytes"), c.pool_bytes)) return false;
    if (!r.get_size(*t, "pipeline", opt("pipeline", "replay_window_bytes"), c.replay_window_bytes))
      return false;
    if (!r.get_duration(*t, "pipeline", opt("pipeline", "idle_trim"), c.idle_trim_ms)) return false;
    if (!r.get_string(*t, "pipeline", "node_id", c.node_id)) return false;
  }
  if (!table_at("capture", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "capture", section("capture"))) return false;
    capture_config cc;
    if (!t->contains("path")) return r.fail_at(*t, "capture.path", "missing");
    if (!r.get_string(*t, "capture", "path", cc.path)) return false;
    if (!r.get_uint(*t, "capture", opt("capture", "rotate_bytes"), cc.rotate_bytes)) return false;
    c.capture = cc;
  }
  if (!table_at("http", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "http", section("http"))) return false;
    if (!r.get_bool(*t, "http", "enabled", c.http_server.enabled)) return false;
    if (!r.get_string(*t, "http", "listen", c.http_server.listen)) return false;
    if (c.http_server.listen.rfind(':') == std::string::npos)
      return r.fail(*t->get("listen"), "http.listen", "expected ADDRESS:PORT, e.g. 127.0.0.1:9464");
    for (const char* key : {"bearer_token", "basic_auth"}) {
      std::string& v = std::string(key) == "bearer_token" ? c.http_server.bearer_token
                                                          : c.http_server.basic_auth;
      if (!r.get_string(*t, "http", key, v)) return false;
      if (!t->contains(key)) continue;
      // A secret in the config file would be readable by whoever reads the config.
      if (v.rfind("env:", 0) != 0 && v.rfind("file:", 0) != 0)
        return r.fail(*t->get(key), std::string("http.") + key,
                      "must be \"env:NAME\" or \"file:PATH\" (keep secrets out of the config)");
      if (!resolve_secret(r, *t->get(key), std::string("http.") + key, v)) return false;
      if (v.empty()) return r.fail(*t->get(key), std::string("http.") + key, "is empty");
      if (std::string(key) == "basic_auth" && v.find(':') == std::string::npos)
        return r.fail(*t->get(key), "http.basic_auth", "must hold user:password");
    }
    if (!c.http_server.bearer_token.empty() && !c.http_server.basic_auth.empty())
      return r.fail(*t->get("basic_auth"), "http.basic_auth",
                    "give bearer_token or basic_auth, not both");
  }
  if (!table_at("log", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "log", section("log"))) return false;
    std::string format{schema::default_string("log", "format")};
    if (!r.get_string(*t, "log", "format", format)) return false;
    if (t->contains("format") && !one_of(r, *t, "log", "format", format, {"text", "json"}))
      return false;
    c.logs = format == "json" ? log_format::json : log_format::text;
  }
  if (!table_at("replay", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "replay", section("replay"))) return false;
    replay_config rc;
    if (!t->contains("trace")) return r.fail_at(*t, "replay.trace", "missing");
    if (!r.get_string(*t, "replay", "trace", rc.trace)) return false;
    std::string speed{schema::default_string("replay", "speed")};
    if (!r.get_string(*t, "replay", "speed", speed)) return false;
    const auto factor = parse_speed(speed);
    if (!factor)
      return r.fail(*t->get("speed"), "replay.speed", "expected \"max\", \"1x\" or \"Nx\"");
    rc.speed = *factor;
    if (!r.get_string(*t, "replay", "source", rc.source)) return false;
    c.replay = rc;
  }
  if (!table_at("spool", t)) return false;
  if (t && !read_spool(r, *t, c.spool)) return false;
  if (!table_at("dead_letter", t)) return false;
  if (t) {
    if (!r.check_keys(*t, "dead_letter", section("dead_letter"))) return false;
    if (!r.get_string(*t, "dead_letter", "path", c.dead_letter.path)) return false;
    if (!r.get_size(*t, "dead_letter", opt("dead_letter", "max_bytes"), c.dead_letter.max_bytes))
      return false;
    if (!r.get_uint(*t, "dead_letter", opt("dead_letter", "rotate_bytes"),
                    c.dead_letter.rotate_bytes))
      return false;
  }
  if (!table_at("sinks", t)) return false;
  if (t) {
    for (auto&& [k, v] : *t) {
      const std::string name(k.str());
      if (!r.check_name(v, "sinks", name)) return false;
      if (!v.is_table()) return r.fail(v, "sinks." + name, "expected a table [sinks." + name + "]");
      sink_config s;
      if (!read_sink(r, name, *v.as_table(), s)) return false;
      c.sinks.push_back(std::move(s));
    }
  }
  if (!table_at("sources", t)) return false;
  if (t) {
    for (auto&& [k, v] : *t) {
      const std::string name(k.str());
      if (!r.check_name(v, "sources", name)) return false;
      if (!v.is_table())
        return r.fail(v, "sources." + name, "expected a table [sources." + name + "]");
      source_spec s;
      if (!read_source(r, name, *v.as_table(), s)) return false;
      c.sources.push_back(std::move(s));
    }
  }
  return true;
}

}  // namespace

namespace {

// Overlay wins; tables merge member by member, so an included file supplies defaults.
void deep_merge(toml::table& base, const toml::table& overlay) {
  for (auto&& [k, v] : overlay) {
    toml::node* existing = base.get(k);
    if (existing && existing->is_table() && v.is_table()) {
      deep_merge(*existing->as_table(), *v.as_table());
    } else {
      base.insert_or_assign(k, v);
    }
  }
}

status parse_toml(std::string_view text, const std::string& origin, toml::table& root) {
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream s;
    s << origin << ":" << e.source().begin.line << ":" << e.source().begin.column
      << ": TOML syntax error: " << e.description();
    return status::error(s.str());
  }
  return status::ok();
}

status read_text(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::error(errno_message("cannot read config file " + path, errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  text = buf.str();
  return status::ok();
}

// `include = "base.toml"` (or a list; "embedded:default" is the built-in config): the included
// files are read first and this file's keys override theirs. Paths are relative to the file.
status include_error(const std::string& origin, const std::string& name, const status& why) {
  return status::error(origin + ": key 'include' = \"" + name + "\": " + why.message());
}

status resolve_includes(toml::table& root, const std::string& origin, int depth) {
  toml::node* inc = root.get("include");
  if (inc == nullptr) return status::ok();
  if (depth > 4) return status::error(origin + ": includes nested more than 4 deep");
  std::vector<std::string> names;
  if (inc->is_string()) {
    names.emplace_back(inc->as_string()->get());
  } else if (inc->is_array()) {
    for (auto&& e : *inc->as_array()) {
      if (!e.is_string()) return status::error(origin + ": key 'include': expected file names");
      names.emplace_back(e.as_string()->get());
    }
  } else {
    return status::error(origin + ": key 'include': expected a file name or a list of them");
  }
  toml::table merged;
  for (const auto& name : names) {
    std::string text;
    std::string path = name;
    if (name == "embedded:default") {
      text = std::string(kEmbeddedDefaultConfig);
      path = "<embedded default config>";
    } else {
      const std::filesystem::path p(name);
      if (p.is_relative()) path = (std::filesystem::path(origin).parent_path() / p).string();
      if (status s = read_text(path, text); !s) return include_error(origin, name, s);
    }
    toml::table included;
    if (status s = parse_toml(text, path, included); !s) return s;
    if (status s = resolve_includes(included, path, depth + 1); !s) return s;
    deep_merge(merged, included);
  }
  root.erase("include");
  deep_merge(merged, root);
  root = std::move(merged);
  return status::ok();
}

}  // namespace

status load_config_text(std::string_view text, const std::string& origin,
                        const stage_checks& checks, pipeline_config& out) {
  out = pipeline_config{};
  out.origin = origin;
  toml::table root;
  if (status s = parse_toml(text, origin, root); !s) return s;
  if (status s = resolve_includes(root, origin, 0); !s) return s;
  reader r{origin, checks, {}};
  if (!read_root(r, root, out)) return status::error(r.error);
  if (out.sources.size() >= kUnknownSource)
    return status::error(origin + ": too many sources (at most " +
                         std::to_string(kUnknownSource - 1) + ")");
  return status::ok();
}

status load_config_file(const std::string& path, const stage_checks& checks, pipeline_config& out) {
  std::string text;
  if (status s = read_text(path, text); !s) return s;
  return load_config_text(text, path, checks, out);
}

std::string_view default_config_text() noexcept { return kEmbeddedDefaultConfig; }

status load_default_config(const stage_checks& checks, pipeline_config& out) {
  return load_config_text(kEmbeddedDefaultConfig, "<embedded default config>", checks, out);
}

status validate_config(const pipeline_config& c, const stage_checks& checks) {
  if (c.sources.empty())
    return status::error(c.origin + ": no [sources.<name>] defined: nothing to transform");
  if (c.sinks.empty())
    return status::error(c.origin + ": no [sinks.<name>] defined and no --sink given");
  for (std::size_t i = 0; i < c.sources.size(); ++i) {
    const source_spec& s = c.sources[i];
    if (!s.cdc) continue;
    if (!c.spool.enabled())
      return status::error(c.origin + ": sources." + s.name +
                           " (postgres_cdc) needs a spool ([spool] dir, not --spool none): a "
                           "change is confirmed to PostgreSQL only once the spool holds it");
    for (std::size_t j = 0; j < i; ++j)
      if (c.sources[j].cdc && c.sources[j].cdc->slot == s.cdc->slot &&
          c.sources[j].cdc->conninfo == s.cdc->conninfo)
        return status::error(c.origin + ": sources." + s.name + " and sources." +
                             c.sources[j].name + " use the same replication slot '" + s.cdc->slot +
                             "'");
  }
  for (const auto& s : c.sources) {
    if (s.cdc) continue;  // no transform: the source builds its records itself
    if (status st = checks.check_transform(s); !st)
      return status::error(c.origin + ": " + st.message());
  }
  for (std::size_t i = 0; i < c.sinks.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (c.sinks[i].type == "file" && c.sinks[j].type == "file" &&
          c.sinks[i].file.path == c.sinks[j].file.path)
        return status::error(c.origin + ": sinks." + c.sinks[i].name + " and sinks." +
                             c.sinks[j].name + " write the same file '" + c.sinks[i].file.path +
                             "'");
    }
    if (c.sinks[i].type == "file" && c.sinks[i].file.path == c.dead_letter.path)
      return status::error(c.origin + ": sinks." + c.sinks[i].name +
                           " writes the dead-letter file '" + c.dead_letter.path + "'");
  }
  if (c.replay && !c.replay->source.empty()) {
    const bool known = std::any_of(c.sources.begin(), c.sources.end(), [&](const source_spec& s) {
      return s.name == c.replay->source;
    });
    if (!known)
      return status::error(c.origin + ": replay source '" + c.replay->source +
                           "' is not one of the configured [sources]");
  }
  return status::ok();
}

}  // namespace edgepipe
