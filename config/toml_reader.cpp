#include "config/toml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_pointer.hpp"
#include "platform/text_escape.hpp"

namespace edgepipe::config_detail {

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  const auto c0 = static_cast<unsigned char>(name[0]);
  if (!std::isalnum(c0) && c0 != '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '.' || u == '-';
  });
}

std::string toml_reader::where(const toml::node& n, const std::string& key) const {
  std::ostringstream s;
  s << (n.source().path ? *n.source().path : origin);
  if (n.source().begin.line > 0) s << ":" << n.source().begin.line;
  s << ": key '" << key << "'";
  return s.str();
}

std::string toml_reader::render(const toml::node& n) const {
  std::ostringstream s;
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  n.visit([&](const auto& v) { s << v; });
  return s.str();
}

bool toml_reader::fail(const toml::node& n, const std::string& key, const std::string& what) {
  if (error.empty()) error = where(n, key) + " = " + render(n) + ": " + what;
  return false;
}

bool toml_reader::check_name(const toml::node& n, std::string_view kind, const std::string& name) {
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

namespace {

// "FILE:LINE: key 'KEY'NOTE: WHAT", at the table `t` (for a key the file does not set).
std::string at_table(const std::string& origin, const toml::table& t, const std::string& key,
                     std::string_view note, const std::string& what) {
  std::ostringstream s;
  s << origin;
  if (t.source().begin.line > 0) s << ":" << t.source().begin.line;
  s << ": key '" << key << "'" << note << ": " << what;
  return s.str();
}

}  // namespace

bool toml_reader::fail_at(const toml::table& t, const std::string& key, const std::string& what) {
  if (error.empty()) error = at_table(origin, t, key, "", what);
  return false;
}

bool toml_reader::fail_key(const toml::table& t, std::string_view key, const std::string& full_key,
                           const std::string& what) {
  if (const toml::node* n = t.get(key)) return fail(*n, full_key, what);
  if (error.empty()) error = at_table(origin, t, full_key, " (not set, so its default)", what);
  return false;
}

bool toml_reader::check_keys(const toml::table& t, const std::string& path,
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

bool toml_reader::get_string(const toml::table& t, const std::string& path, std::string_view key,
                             std::string& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_string()) return fail(*n, path + "." + std::string(key), "expected a string");
  out = n->as_string()->get();
  return true;
}

bool toml_reader::get_uint(const toml::table& t, const std::string& path, std::string_view key,
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

bool toml_reader::get_duration(const toml::table& t, const std::string& path, std::string_view key,
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
    return fail(
        *n, path + "." + std::string(key),
        "must be between " + std::to_string(min_ms) + " ms and " + std::to_string(max_ms) + " ms");
  out = *ms;
  return true;
}

bool toml_reader::get_uint(const toml::table& t, const std::string& path, const option_doc& o,
                           std::uint64_t& out) {
  const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
  return get_uint(t, path, o.key, b.lo, b.hi, out);
}

bool toml_reader::get_duration(const toml::table& t, const std::string& path, const option_doc& o,
                               std::uint64_t& out) {
  const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
  return get_duration(t, path, o.key, b.lo, b.hi, out);
}

bool toml_reader::get_bool(const toml::table& t, const std::string& path, std::string_view key,
                           bool& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return true;
  if (!n->is_boolean()) return fail(*n, path + "." + std::string(key), "expected true or false");
  out = n->as_boolean()->get();
  return true;
}

bool toml_reader::get_cpu(const toml::table& t, const std::string& path, std::string_view key,
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

bool toml_reader::get_literal(const toml::node& n, const std::string& key, literal_value& out) {
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

bool toml_reader::get_pointer(const toml::table& t, const std::string& path, std::string_view key,
                              std::string& out) {
  if (!get_string(t, path, key, out)) return false;
  std::vector<std::string> segs;
  std::string why;
  if (!split_json_pointer(out, segs, why))
    return fail_key(t, key, path + "." + std::string(key), "invalid JSON pointer: " + why);
  return true;
}

std::span<const option_doc> section(std::string_view path) {
  for (const auto& s : config_sections())
    if (s.path == path) return s.options;
  return {};
}

bool one_of(toml_reader& r, const toml::table& t, const std::string& path, std::string_view key,
            const std::string& value, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed)
    if (a == value) return true;
  std::string names;
  for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
  return r.fail_key(t, key, path + "." + std::string(key), "expected one of " + names);
}

bool resolve_secret(toml_reader& r, const toml::node& n, const std::string& key,
                    std::string& value) {
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
    const std::string file = value.substr(5);
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
      return r.fail(n, key, "cannot read file " + file + ": it is a directory");
    std::ifstream in(file);
    if (!in) return r.fail(n, key, "cannot read file " + file);
    std::getline(in, value);
    if (in.bad()) return r.fail(n, key, "cannot read file " + file);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
  }
  return true;
}

}  // namespace edgepipe::config_detail
