#include "config/config_schema.hpp"

namespace edgepipe {

namespace {
// Every integer and duration has a range that parses, and its default (where it is a number)
// lies inside it: checked once, at compile time.
consteval bool every_range_parses() {
  for (const section_doc& s : schema_tables::kSections)
    for (const option_doc& o : s.options) {
      if (!schema::is_integer(o) && !schema::is_duration(o)) continue;
      const auto r = schema::range_of(o);
      if (!r) return false;
      const auto d = schema::default_number(o);
      if (d && (*d < r->lo || *d > r->hi)) return false;
    }
  return true;
}
static_assert(every_range_parses(), "config schema: a range does not parse or holds no default");
}  // namespace

std::span<const section_doc> config_sections() noexcept { return schema_tables::kSections; }

}  // namespace edgepipe
