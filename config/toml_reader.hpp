// Reading config TOML (toml++) into the config structs: typed getters whose errors name the file,
// line, key and value; the checks every section shares. Used by config_loader.cpp (the top-level
// tables, includes), config_sources.cpp ([sources.*]) and config_sinks.cpp ([sinks.*]).
// Threading: a toml_reader belongs to one load_config_* call, on the thread that makes it (the
// main thread, before any stage starts).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config_schema.hpp"
#include "config/pipeline_config.hpp"
#include "config/stage_checks.hpp"

namespace edgepipe::config_detail {

/// The schema entry of `key` in section `id` (config/config_schema.hpp): its range bounds the
/// value. consteval: a name that is not in the table fails the build.
consteval const option_doc& opt(std::string_view id, std::string_view key) {
  return schema::option(id, key);
}

/// Source and sink names end up in file names (<spool>/<sink>.ledger), thread names, JSON and
/// Prometheus labels: keep them to a plain character set.
bool valid_name(std::string_view name);

/// A reading context: the file name, the stage checks, and the first error (later failures keep
/// it). Each get_* leaves `out` as it is when the key is absent (the default stays), and returns
/// false with `error` set when the key holds the wrong type or a value out of range.
struct toml_reader {
  const std::string& origin;
  const stage_checks& checks;
  std::string error;
  std::string where(const toml::node& n, const std::string& key) const;
  std::string render(const toml::node& n) const;
  bool fail(const toml::node& n, const std::string& key, const std::string& what);
  /// A [sources.<name>] or [sinks.<name>] table whose name is outside the character set.
  bool check_name(const toml::node& n, std::string_view kind, const std::string& name);
  bool fail_at(const toml::table& t, const std::string& key, const std::string& what);
  /// Fails at t[key] when the file sets it, else at the table, saying the default was checked: a
  /// cross-check (retry_backoff_max against retry_backoff) can fail on a key left unset.
  bool fail_key(const toml::table& t, std::string_view key, const std::string& full_key,
                const std::string& what);
  bool check_keys(const toml::table& t, const std::string& path,
                  std::span<const option_doc> allowed);
  bool get_string(const toml::table& t, const std::string& path, std::string_view key,
                  std::string& out);
  bool get_uint(const toml::table& t, const std::string& path, std::string_view key,
                std::uint64_t lo, std::uint64_t hi, std::uint64_t& out);
  template <class T>
  bool get_size(const toml::table& t, const std::string& path, std::string_view key,
                std::uint64_t lo, std::uint64_t hi, T& out) {
    auto v = static_cast<std::uint64_t>(out);
    if (!get_uint(t, path, key, lo, hi, v)) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool get_duration(const toml::table& t, const std::string& path, std::string_view key,
                    std::uint64_t min_ms, std::uint64_t max_ms, std::uint64_t& out);
  // The same, with the range from the schema table (every integer and duration has one: see
  // the static_assert in config_schema.cpp).
  bool get_uint(const toml::table& t, const std::string& path, const option_doc& o,
                std::uint64_t& out);
  template <class T>
  bool get_size(const toml::table& t, const std::string& path, const option_doc& o, T& out) {
    const schema::bounds b = schema::range_of(o).value_or(schema::bounds{0, 0});
    return get_size(t, path, o.key, b.lo, b.hi, out);
  }
  bool get_duration(const toml::table& t, const std::string& path, const option_doc& o,
                    std::uint64_t& out);
  bool get_bool(const toml::table& t, const std::string& path, std::string_view key, bool& out);
  bool get_cpu(const toml::table& t, const std::string& path, std::string_view key,
               std::optional<int>& out);
  bool get_literal(const toml::node& n, const std::string& key, literal_value& out);
  bool get_pointer(const toml::table& t, const std::string& path, std::string_view key,
                   std::string& out);
};

/// The allowed keys of a section, from the schema table ({} for an unknown path).
std::span<const option_doc> section(std::string_view path);

/// True when `value` (the string at t[key]) is one of `allowed`; else fails naming them.
bool one_of(toml_reader& r, const toml::table& t, const std::string& path, std::string_view key,
            const std::string& value, std::initializer_list<std::string_view> allowed);

/// "env:NAME" (or "env:NAME:-DEFAULT") and "file:PATH" replaced by the variable's value or the
/// file's first line; any other value stays. The error names the variable or file, never a value.
bool resolve_secret(toml_reader& r, const toml::node& n, const std::string& key,
                    std::string& value);

/// Calls f(table, "path[i]") for each table of the array at parent[key] (absent: none).
template <class F>
bool each_table_in_array(toml_reader& r, const toml::table& parent, std::string_view key,
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

/// [sources.<name>] (config_sources.cpp) and [sinks.<name>] (config_sinks.cpp).
bool read_source(toml_reader& r, const std::string& name, const toml::table& t, source_spec& s);
bool read_sink(toml_reader& r, const std::string& name, const toml::table& t, sink_config& s);

}  // namespace edgepipe::config_detail
