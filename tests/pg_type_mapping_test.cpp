// PostgreSQL text output -> Debezium JSON values: every row of the type table that has its own
// rendering, the decimal_handling modes (incl. Debezium's base64 two's complement), arrays,
// and the fallbacks (unknown types, unparsable values) that must be counted.
#include "stages/sources/postgres_cdc/pg_type_mapping.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace edgepipe::pgcdc {
namespace {

struct rendered {
  std::string json;
  render_result result;
};

rendered render(std::uint32_t oid, std::string_view text, std::int32_t typmod = -1,
                decimal_handling mode = decimal_handling::string) {
  byte_arena a;
  const auto r = render_pg_text(a, oid, typmod, text, mode);
  return {std::string(a.view(0, a.size())), r};
}

std::string json(std::uint32_t oid, std::string_view text, std::int32_t typmod = -1,
                 decimal_handling mode = decimal_handling::string) {
  const auto r = render(oid, text, typmod, mode);
  EXPECT_EQ(r.result, render_result::ok) << oid << " " << text;
  return r.json;
}

constexpr std::int32_t numeric_typmod(int precision, int scale) {
  return ((precision << 16) | scale) + 4;
}

TEST(PgTypeMapping, TableHasUniqueOidsAndArraysPointAtKnownElements) {
  std::set<std::uint32_t> seen;
  for (const auto& e : pg_type_table()) {
    EXPECT_TRUE(seen.insert(e.oid).second) << e.name;
    EXPECT_FALSE(e.json_form.empty()) << e.name;
    if (e.render == pg_render::array) {
      ASSERT_NE(find_pg_type(e.element_oid), nullptr) << e.name;
      EXPECT_NE(find_pg_type(e.element_oid)->render, pg_render::array) << e.name;
    }
  }
  EXPECT_EQ(find_pg_type(999999), nullptr);
}

TEST(PgTypeMapping, BooleansIntegersFloats) {
  EXPECT_EQ(json(16, "t"), "true");
  EXPECT_EQ(json(16, "f"), "false");
  EXPECT_EQ(json(23, "-2147483648"), "-2147483648");
  EXPECT_EQ(json(20, "9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(json(21, "0"), "0");
  EXPECT_EQ(json(701, "1.5"), "1.5");
  EXPECT_EQ(json(701, "-1.25e+30"), "-1.25e+30");
  EXPECT_EQ(json(700, "NaN"), "\"NaN\"");
  EXPECT_EQ(json(701, "-Infinity"), "\"-Infinity\"");
  EXPECT_EQ(render(23, "12x").result, render_result::fallback);
  EXPECT_EQ(render(16, "maybe").json, "\"maybe\"");
}

TEST(PgTypeMapping, TextLikeTypesAreStrings) {
  EXPECT_EQ(json(25, "he said \"hi\"\n"), "\"he said \\\"hi\\\"\\n\"");
  EXPECT_EQ(json(2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
  EXPECT_EQ(json(3802, "{\"a\": 1}"), "\"{\\\"a\\\": 1}\"");
  EXPECT_EQ(json(1042, "ab  "), "\"ab  \"");
}

TEST(PgTypeMapping, NumericPerDecimalHandling) {
  EXPECT_EQ(json(1700, "12.50", numeric_typmod(10, 2)), "\"12.50\"");
  EXPECT_EQ(json(1700, "12.50", numeric_typmod(10, 2), decimal_handling::double_), "12.5");
  EXPECT_EQ(json(1700, "NaN", -1, decimal_handling::double_), "\"NaN\"");
  // string: Debezium 3.6 writes its SpecialValueDecimal names for the special values.
  EXPECT_EQ(json(1700, "NaN"), "\"NAN\"");
  EXPECT_EQ(json(1700, "Infinity"), "\"POSITIVE_INFINITY\"");
  EXPECT_EQ(json(1700, "-Infinity"), "\"NEGATIVE_INFINITY\"");
  EXPECT_EQ(json(1231, "{NaN,0.10}"), R"(["NAN","0.10"])");
  // precise with a declared scale: base64 of the unscaled big-endian two's complement.
  EXPECT_EQ(json(1700, "12.50", numeric_typmod(10, 2), decimal_handling::precise), "\"BOI=\"");
  EXPECT_EQ(json(1700, "-12.50", numeric_typmod(10, 2), decimal_handling::precise), "\"+x4=\"");
  EXPECT_EQ(json(1700, "0.00", numeric_typmod(10, 2), decimal_handling::precise), "\"AA==\"");
  EXPECT_EQ(json(1700, "1.28", numeric_typmod(10, 2), decimal_handling::precise),
            "\"AIA=\"");  // 0x0080
  EXPECT_EQ(json(1700, "-1.28", numeric_typmod(10, 2), decimal_handling::precise),
            "\"gA==\"");  // 0x80
  EXPECT_EQ(json(1700, "-2.56", numeric_typmod(10, 2), decimal_handling::precise),
            "\"/wA=\"");  // 0xff00
  EXPECT_EQ(
      json(1700, "-12345678901234567890123", numeric_typmod(30, 0), decimal_handling::precise),
      "\"/WK9SbGJjr27NQ==\"");
  // A scale wider than the text (never sent by the server, but harmless): digits are padded.
  EXPECT_EQ(json(1700, "12.5", numeric_typmod(10, 2), decimal_handling::precise), "\"BOI=\"");
  // No declared scale: Debezium's VariableScaleDecimal struct.
  EXPECT_EQ(json(1700, "3.14159", -1, decimal_handling::precise),
            "{\"scale\":5,\"value\":\"BMsv\"}");
  EXPECT_EQ(json(1700, "1250", -1, decimal_handling::precise), "{\"scale\":0,\"value\":\"BOI=\"}");
  EXPECT_EQ(render(1700, "NaN", -1, decimal_handling::precise).result, render_result::fallback);
  EXPECT_EQ(render(1700, "1.2.3", -1, decimal_handling::precise).json, "\"1.2.3\"");
}

TEST(PgTypeMapping, DatesTimesTimestamps) {
  EXPECT_EQ(json(1082, "1970-01-01"), "0");
  EXPECT_EQ(json(1082, "2026-01-02"), "20455");
  EXPECT_EQ(json(1082, "1969-12-31"), "-1");
  EXPECT_EQ(render(1082, "infinity").result, render_result::fallback);
  EXPECT_EQ(render(1082, "0044-03-15 BC").result, render_result::fallback);
  // timestamp: epoch micros (precision unspecified or 4-6), millis for precision 0-3.
  EXPECT_EQ(json(1114, "2026-01-02 03:04:05.123456"), "1767323045123456");
  EXPECT_EQ(json(1114, "2026-01-02 03:04:05.123456", 6), "1767323045123456");
  EXPECT_EQ(json(1114, "2026-01-02 03:04:05.123", 3), "1767323045123");
  EXPECT_EQ(json(1114, "1969-12-31 23:59:59.9995"), "-500");
  EXPECT_EQ(json(1114, "1969-12-31 23:59:59.9995", 3), "-1");  // floor, like Instant.toEpochMilli
  EXPECT_EQ(json(1114, "1970-01-01 00:00:00"), "0");
  // timestamptz: ISO-8601 in UTC, whatever offset the server printed; the fraction has the
  // column's precision in digits (6 when undeclared, none for 0), as Debezium 3.6 writes it
  // (compared side by side: tests/integration/test_debezium_compare.py).
  EXPECT_EQ(json(1184, "2026-01-02 03:04:05.123456+00"), "\"2026-01-02T03:04:05.123456Z\"");
  EXPECT_EQ(json(1184, "2026-01-02 03:04:05.1234+02"), "\"2026-01-02T01:04:05.123400Z\"");
  EXPECT_EQ(json(1184, "2026-01-02 00:30:00-05:30"), "\"2026-01-02T06:00:00.000000Z\"");
  EXPECT_EQ(json(1184, "1969-12-31 23:59:59.5+00"), "\"1969-12-31T23:59:59.500000Z\"");
  EXPECT_EQ(json(1184, "2026-01-02 03:04:05.12+00", 3), "\"2026-01-02T03:04:05.120Z\"");
  EXPECT_EQ(json(1184, "2026-01-02 03:04:05+00", 3), "\"2026-01-02T03:04:05.000Z\"");
  EXPECT_EQ(json(1184, "2026-01-02 03:04:06+00", 0), "\"2026-01-02T03:04:06Z\"");
  EXPECT_EQ(render(1184, "infinity").result, render_result::fallback);
  // time: micros of day, millis for precision 0-3.
  EXPECT_EQ(json(1083, "00:00:01.5"), "1500000");
  EXPECT_EQ(json(1083, "23:59:59.999999"), "86399999999");
  EXPECT_EQ(json(1083, "12:00:00.123", 3), "43200123");
  EXPECT_EQ(render(1083, "25:00:00").result, render_result::fallback);
}

TEST(PgTypeMapping, ParsersRejectMalformedText) {
  std::int64_t v = 0;
  EXPECT_FALSE(parse_pg_date_days("2026-13-01", v));
  EXPECT_FALSE(parse_pg_date_days("2026-01-01x", v));
  EXPECT_FALSE(parse_pg_timestamp_us("2026-01-01T00:00:00", v));
  EXPECT_FALSE(parse_pg_timestamp_us("2026-01-01 00:00:00.", v));
  EXPECT_FALSE(parse_pg_timestamp_us("2026-01-01 00:00:00+", v));
  EXPECT_TRUE(parse_pg_timestamp_us("12026-01-01 00:00:00", v));  // 5-digit years are printed as is
  EXPECT_FALSE(parse_pg_time_us("1:00:00", v));
}

TEST(PgTypeMapping, ByteaIsBase64) {
  EXPECT_EQ(json(17, "\\x0102ff"), "\"AQL/\"");
  EXPECT_EQ(json(17, "\\x"), "\"\"");
  EXPECT_EQ(render(17, "\\x0g").result, render_result::fallback);
  EXPECT_EQ(render(17, "abc").result, render_result::fallback);
}

TEST(PgTypeMapping, ArraysRenderElementsByType) {
  EXPECT_EQ(json(1007, "{1,2,NULL,-3}"), "[1,2,null,-3]");
  EXPECT_EQ(json(1007, "{}"), "[]");
  EXPECT_EQ(json(1009, R"({"a b","c\"d",NULL,"NULL",plain})"),
            R"(["a b","c\"d",null,"NULL","plain"])");
  EXPECT_EQ(json(1007, "{{1,2},{3,4}}"), "[[1,2],[3,4]]");
  EXPECT_EQ(json(1000, "{t,f}"), "[true,false]");
  EXPECT_EQ(json(1182, "{1970-01-02,NULL}"), "[1,null]");
  EXPECT_EQ(json(1185, R"({"2026-01-02 03:04:05+00"})"), R"(["2026-01-02T03:04:05.000000Z"])");
  EXPECT_EQ(json(1231, "{1.5,NaN}", -1, decimal_handling::double_), R"([1.5,"NaN"])");
  // Malformed or bounded arrays fall back to the text, as one JSON string.
  EXPECT_EQ(render(1007, "{1,}").json, "\"{1,}\"");
  EXPECT_EQ(render(1007, "{1,2").result, render_result::fallback);
  EXPECT_EQ(render(1007, "[0:1]={1,2}").result, render_result::fallback);
  EXPECT_EQ(render(1007, "{1,x}").result, render_result::fallback);  // element did not parse
}

TEST(PgTypeMapping, UnknownTypesAreTextAndReported) {
  const auto r = render(600, "(1,2)");  // point: not in the table
  EXPECT_EQ(r.result, render_result::unknown_type);
  EXPECT_EQ(r.json, "\"(1,2)\"");
  EXPECT_EQ(render(90001, "happy").json, "\"happy\"");  // an enum
}

// docs/cdc.md prints the type table; it must list every row exactly as the code has it.
TEST(PgTypeMapping, DocsListEveryType) {
  std::ifstream in(std::string(EDGEPIPE_SOURCE_DIR) + "/docs/cdc.md");
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const auto& e : pg_type_table()) {
    const std::string row = "| " + std::string(e.name) + " | " + std::to_string(e.oid) + " | " +
                            std::string(e.json_form) + " |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/cdc.md lacks: " << row;
  }
}

}  // namespace
}  // namespace edgepipe::pgcdc
