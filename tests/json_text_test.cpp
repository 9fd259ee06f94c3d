// JSON text helpers: string escaping (strict and lossy), number formatting and parsing, and
// ISO-8601 times.
#include "stages/transform/json_text.hpp"
#include "stages/transform/iso8601.hpp"
#include "stages/transform/json_numbers.hpp"

#include "test_util.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace edgepipe {
namespace {

std::string strict(std::string_view s) {
  byte_arena a;
  append_json_string(a, s);
  return std::string(a.view(0, a.size()));
}
std::string lossy(std::string_view s) {
  byte_arena a;
  append_json_string_lossy(a, s);
  return std::string(a.view(0, a.size()));
}
std::string dbl(double v) {
  byte_arena a;
  append_double(a, v);
  return std::string(a.view(0, a.size()));
}
std::string integer(std::int64_t v) {
  byte_arena a;
  append_int(a, v);
  return std::string(a.view(0, a.size()));
}
std::string iso(std::int64_t ms) {
  byte_arena a;
  append_iso8601_ms(a, ms);
  return std::string(a.view(0, a.size()));
}

// Parses `json` (a JSON string literal) back; false if it is not valid JSON.
bool decode(const std::string& json, std::string& out) {
  simdjson::dom::parser parser;
  std::string_view s;
  if (parser.parse(json).get(s)) return false;
  out = s;
  return true;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(JsonText, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(strict(""), R"("")");
  EXPECT_EQ(strict("plain"), R"("plain")");
  EXPECT_EQ(strict("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(strict("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(strict(std::string("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  // DEL, '/', and UTF-8 need no escaping.
  EXPECT_EQ(strict("\x7f/Görlitz \xF0\x9F\x98\x80"), "\"\x7f/Görlitz \xF0\x9F\x98\x80\"");
  EXPECT_EQ(strict("\"\""), R"("\"\"")");
  EXPECT_EQ(strict("end\\"), R"("end\\")");
}

TEST(JsonText, EscapedStringsDecodeToTheOriginal) {
  std::string all;
  for (int c = 0; c < 128; ++c) all.push_back(static_cast<char>(c));
  all += "Renée Öztürk 日本 \xF0\x9F\x98\x80";
  std::string back;
  ASSERT_TRUE(decode(strict(all), back)) << strict(all);
  EXPECT_EQ(back, all);
  ASSERT_TRUE(decode(lossy(all), back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(lossy(all), strict(all));  // valid UTF-8: lossy and strict agree
}

TEST(JsonText, LossyReplacesInvalidUtf8) {
  EXPECT_EQ(lossy("\xff"), "\"" + kFffd + "\"");
  EXPECT_EQ(lossy("a\x80z"), "\"a" + kFffd + "z\"");                      // stray continuation
  EXPECT_EQ(lossy("\xc0\xaf"), "\"" + kFffd + kFffd + "\"");              // overlong '/'
  EXPECT_EQ(lossy("\xc1\xbf"), "\"" + kFffd + kFffd + "\"");              // overlong
  EXPECT_EQ(lossy("\xe0\x80\xaf"), "\"" + kFffd + kFffd + kFffd + "\"");  // overlong 3-byte
  EXPECT_EQ(lossy("\xed\xa0\x80"), "\"" + kFffd + kFffd + kFffd + "\"");  // surrogate
  EXPECT_EQ(lossy("\xf4\x90\x80\x80"), "\"" + kFffd + kFffd + kFffd + kFffd + "\"");  // > U+10FFFF
  EXPECT_EQ(lossy("\xf5\x80"), "\"" + kFffd + kFffd + "\"");
  EXPECT_EQ(lossy("x\xe2\x82"), "\"x" + kFffd + kFffd + "\"");        // cut at the end
  EXPECT_EQ(lossy("\xe2\x82\"y"), "\"" + kFffd + kFffd + "\\\"y\"");  // cut by a quote
  EXPECT_EQ(lossy("\xc3\n"), "\"" + kFffd + "\\n\"");                 // cut by a newline
  // Valid sequences at every length are kept.
  EXPECT_EQ(lossy("\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
            "\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
  EXPECT_EQ(lossy(std::string("\x00\"\\", 3)), R"("\u0000\"\\")");
}

TEST(JsonText, LossyOutputIsAlwaysValidJson) {
  // Every byte alone and in pairs, and pseudo-random byte strings.
  std::string back;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      const char bytes[2] = {static_cast<char>(a), static_cast<char>(b)};
      const std::string out = lossy(std::string_view(bytes, 2));
      ASSERT_TRUE(simdjson::validate_utf8(out.data(), out.size())) << a << " " << b;
      ASSERT_TRUE(decode(out, back)) << a << " " << b;
    }
  }
  std::uint64_t x = 0x9e3779b97f4a7c15;
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    const int n = round % 40;
    for (int i = 0; i < n; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      s.push_back(static_cast<char>(x & 0xff));
    }
    const std::string out = lossy(s);
    ASSERT_TRUE(decode(out, back)) << round;
    if (simdjson::validate_utf8(s.data(), s.size())) {
      EXPECT_EQ(back, s);
    }
  }
}

TEST(JsonText, AppendDoubleIsShortestRoundTrip) {
  EXPECT_EQ(dbl(-8.7373), "-8.7373");
  EXPECT_EQ(dbl(0.1), "0.1");
  EXPECT_EQ(dbl(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(dbl(100.0), "100");
  EXPECT_EQ(dbl(0.0), "0");
  EXPECT_EQ(dbl(-0.0), "-0");
  EXPECT_EQ(dbl(19600000.0), "19600000");  // tie: fixed wins
  EXPECT_EQ(dbl(2.5e10), "2.5e+10");
  EXPECT_EQ(dbl(1e21), "1e+21");
  EXPECT_EQ(dbl(1.2345e-5), "1.2345e-05");
  EXPECT_EQ(dbl(5e-324), "5e-324");
  EXPECT_EQ(dbl(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(dbl(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(dbl(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(dbl(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonText, AppendInt) {
  EXPECT_EQ(integer(0), "0");
  EXPECT_EQ(integer(-1), "-1");
  EXPECT_EQ(integer(1700000000000), "1700000000000");
  EXPECT_EQ(integer(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");
  EXPECT_EQ(integer(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
}

TEST(JsonText, AppendsAccumulateInOneArena) {
  byte_arena a;
  a.append("[", 1);
  append_json_string(a, "x");
  a.push_back(',');
  append_double(a, 1.5);
  a.push_back(',');
  append_int(a, -2);
  a.push_back(',');
  append_json_string_lossy(a, "\xff");
  a.push_back(']');
  EXPECT_EQ(a.view(0, a.size()), "[\"x\",1.5,-2,\"" + kFffd + "\"]");
}

TEST(JsonText, ParseDouble) {
  EXPECT_EQ(parse_double("1.5"), 1.5);
  EXPECT_EQ(parse_double("-8.7373"), -8.7373);
  EXPECT_EQ(parse_double(" 1.5 "), 1.5);
  EXPECT_EQ(parse_double("\t-2\r\n"), -2.0);
  EXPECT_EQ(parse_double("+3"), 3.0);
  EXPECT_EQ(parse_double("1e3"), 1000.0);
  EXPECT_EQ(parse_double("1E-2"), 0.01);
  EXPECT_EQ(parse_double("0.000012345"), 1.2345e-5);
  EXPECT_EQ(parse_double("1700000000123"), 1700000000123.0);
  const auto negative_zero = parse_double("-0");
  ASSERT_TRUE(negative_zero);
  EXPECT_TRUE(std::signbit(*negative_zero));
  for (const char* bad : {"",    " ",         "abc",   "1.5x",   "x1.5",  "1 2",  "nan", "NaN",
                          "inf", "-infinity", "1e400", "-1e400", "+",     "-",    "+-1", "-+1",
                          "++1", "--1",       "0x10",  "1,5",    "\"1\"", "true", "null"}) {
    EXPECT_FALSE(parse_double(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(JsonText, ParseInt) {
  EXPECT_EQ(parse_int("12"), 12);
  EXPECT_EQ(parse_int(" 40 "), 40);
  EXPECT_EQ(parse_int("+7"), 7);
  EXPECT_EQ(parse_int("-7"), -7);
  EXPECT_EQ(parse_int("0"), 0);
  EXPECT_EQ(parse_int("12.0"), 12);
  EXPECT_EQ(parse_int("-3.000"), -3);
  EXPECT_EQ(parse_int("1e3"), 1000);
  EXPECT_EQ(parse_int("1700000000"), 1700000000);
  EXPECT_EQ(parse_int("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parse_int("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
  for (const char* bad : {"",
                          " ",
                          "12.5",
                          "0.1",
                          "1e-1",
                          "abc",
                          "12abc",
                          "9223372036854775808",
                          "-9223372036854775809",
                          "1e19",
                          "nan",
                          "inf",
                          "+",
                          "-",
                          "+-3",
                          "-+3",
                          "++3",
                          "0x1A",
                          "1 2",
                          "true"}) {
    EXPECT_FALSE(parse_int(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(JsonText, ParseIso8601) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34:56.789Z"), 1704112496789);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34:56.123456Z"), 1704112496123);  // truncated to ms
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34:56,123Z"), 1704112496123);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34:56.1Z"), 1704112496100);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34Z"), 1704112440000);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T12:34:56"), 1704112496000);  // no zone: UTC
  EXPECT_EQ(parse_iso8601_ms("2024-01-01t12:34:56z"), 1704112496000);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01 12:34:56Z"), 1704112496000);
  EXPECT_EQ(parse_iso8601_ms(" 2024-01-01T12:34:56Z "), 1704112496000);
  // 1700000000 s = 2023-11-14T22:13:20Z.
  EXPECT_EQ(parse_iso8601_ms("2023-11-15T00:13:20+02:00"), 1700000000000);
  EXPECT_EQ(parse_iso8601_ms("2023-11-15T00:13:20.250+0200"), 1700000000250);
  EXPECT_EQ(parse_iso8601_ms("2023-11-14T16:43:20-05:30"), 1700000000000);
  EXPECT_EQ(parse_iso8601_ms("2023-11-14T22:13:20+00:00"), 1700000000000);
  EXPECT_EQ(parse_iso8601_ms("2024-02-29"), 1709164800000);
  EXPECT_EQ(parse_iso8601_ms("2000-02-29T00:00:00Z"), 951782400000);
  EXPECT_EQ(parse_iso8601_ms("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(parse_iso8601_ms("1900-03-01T06:07:08Z"), -2203869172000);
  for (const char* bad : {"",
                          "2024",
                          "2024-01",
                          "24-01-01",
                          "2024/01/01",
                          "2024-13-01",
                          "2024-00-10",
                          "2024-01-00",
                          "2024-01-32",
                          "2024-01-01T",
                          "2024-01-01T25:00Z",
                          "2024-01-01T12:60Z",
                          "2024-01-01T12:34:61Z",
                          "2024-01-01X12:34Z",
                          "2024-01-01T12:34:56Zjunk",
                          "2024-01-01T12:34:56+0",
                          "2024-01-01T12:34:56+02:",
                          "2024-01-01T12:34:56.",
                          "2024-01-01T1:34Z",
                          "yesterday",
                          "1700000000"}) {
    EXPECT_FALSE(parse_iso8601_ms(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(JsonText, AppendIso8601) {
  EXPECT_EQ(iso(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iso(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(iso(1700000000250), "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(iso(1704112496789), "2024-01-01T12:34:56.789Z");
  EXPECT_EQ(iso(1709164800000), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(iso(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(iso(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(iso(-62135596800000), "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(iso(-2203869172000), "1900-03-01T06:07:08.000Z");
}

TEST(JsonText, Iso8601RoundTrip) {
  // From year 1 to 9999 in uneven steps, plus the neighbourhood of the epoch.
  const std::int64_t lo = -62135596800000;
  const std::int64_t hi = 253402300799999;
  for (std::int64_t ms = lo; ms <= hi; ms += 7'777'777'777'777) {
    const std::string text = iso(ms);
    EXPECT_EQ(parse_iso8601_ms(text), ms) << text;
  }
  for (std::int64_t ms = -100'000'123; ms <= 100'000'123; ms += 999'983) {
    const std::string text = iso(ms);
    EXPECT_EQ(parse_iso8601_ms(text), ms) << text;
  }
  EXPECT_EQ(parse_iso8601_ms(iso(hi)), hi);
  EXPECT_EQ(parse_iso8601_ms(iso(lo)), lo);
}

TEST(JsonText, Iso8601ExactFormAgreesWithTheGeneralParser) {
  // The exact "YYYY-MM-DDTHH:MM:SS.mmmZ" form has a fast path; the same instant written any
  // other way goes through the general parser, and both must agree.
  for (std::int64_t ms = -62135596800000; ms <= 253402300799999; ms += 3'333'333'333'331) {
    const std::string exact = iso(ms);
    std::string offset = exact;
    offset.replace(offset.size() - 1, 1, "+00:00");
    EXPECT_EQ(parse_iso8601_ms(exact), parse_iso8601_ms(offset)) << exact;
    EXPECT_EQ(parse_iso8601_ms(exact), parse_iso8601_ms(" " + exact + " ")) << exact;
  }
  // One byte wrong anywhere: not a timestamp (digits and separators are both checked).
  const std::string good = "2024-02-29T23:59:58.123Z";
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = 'x';
    EXPECT_EQ(parse_iso8601_ms(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_iso8601_ms("2024-13-01T00:00:00.000Z"), std::nullopt);
  EXPECT_EQ(parse_iso8601_ms("2024-01-01T24:00:00.000Z"), std::nullopt);
}

// What append_double(*parse_double(t)) writes: the reference for the cast fast paths.
std::string round_trip(std::string_view t) {
  byte_arena a;
  const auto d = parse_double(t);
  if (!d) return "<invalid>";
  append_double(a, *d);
  return std::string(a.data(), a.size());
}

TEST(JsonText, CanonicalDoubleLengthIsExactlyTheRoundTripsPrefix) {
  struct example {
    const char* token;
    std::size_t length;
  };
  const example examples[] = {
      {"0", 1},
      {"-0", 2},
      {"0.0", 1},
      {"-0.0", 2},
      {"2.50", 3},
      {"3.0", 1},
      {"44290.01", 8},
      {"-6.10725", 8},
      {"0.000123", 8},
      {"0.0000001", 0},
      {"100000", 0},
      {"123000", 6},
      {"19600418.0", 8},
      {"1e5", 0},
      {"01", 0},
      {"1.", 0},
      {".5", 0},
      {"-", 0},
      {"", 0},
      {"1234567890123456", 0},
      {"123456789012345", 15},
      {"1.23456789012345", 16},
      {"1.234567890123456", 0},
  };
  for (const example& e : examples) {
    EXPECT_EQ(canonical_double_length(e.token, false), e.length) << e.token;
    std::string padded = e.token;
    padded.append(32, '7');  // readable bytes after the token that must not matter
    EXPECT_EQ(canonical_double_length(std::string_view(padded.data(), std::strlen(e.token)), true),
              e.length)
        << e.token << " (padded)";
  }
  // Random decimals: whenever a length is claimed, it is the round trip's own text.
  std::mt19937_64 rng(42);
  std::size_t claimed = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string t;
    if (rng() % 4 == 0) t += '-';
    const int int_digits = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < int_digits; ++k)
      t += static_cast<char>(
          '0' + (k == 0 && int_digits > 1 && rng() % 8 != 0 ? 1 + rng() % 9 : rng() % 10));
    if (rng() % 3 != 0) {
      t += '.';
      const int frac = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < frac; ++k) t += static_cast<char>('0' + rng() % 10);
    }
    std::string padded = t + std::string(32, static_cast<char>('0' + rng() % 10));
    const std::size_t n = canonical_double_length(std::string_view(padded.data(), t.size()), true);
    EXPECT_EQ(n, canonical_double_length(t, false)) << t;
    if (n == 0) continue;
    ++claimed;
    ASSERT_EQ(t.substr(0, n), round_trip(t)) << t;
  }
  EXPECT_GT(claimed, 100000u);
}

TEST(JsonText, AppendDoubleWritesNoIntegerLiteralBeyondInt64) {
  // 1.96e19 as fixed notation is 19600000274123456512: valid JSON, but simdjson, Go and Java
  // reject it or make it a big integer. From 2^63 on, the scientific form is written instead.
  EXPECT_EQ(dbl(19600000274123456789.12), "1.9600000274123457e+19");
  EXPECT_EQ(dbl(98765432109876500000.0), "9.87654321098765e+19");
  EXPECT_EQ(dbl(-12345678901234567890.0), "-1.2345678901234567e+19");
  EXPECT_EQ(dbl(0x1p63), "9.223372036854776e+18");
  EXPECT_EQ(dbl(1234567890123456789.0), "1234567890123456768");  // below 2^63: shortest form
  EXPECT_EQ(dbl(-1234567890123456789.0), "-1234567890123456768");
  EXPECT_EQ(dbl(1e19), "1e+19");
  for (const char* t : {"19600000274123456789.12", "98765432109876500000", "9200000000000000000",
                        "-98765432109876500000.0", "12345678901234500000"}) {
    byte_arena a;  // the fast paths never write what the round trip would not
    if (append_double_token(a, t)) {
      EXPECT_EQ(std::string(a.data(), a.size()), round_trip(t)) << t;
    }
    EXPECT_FALSE(double_token_is_canonical(t)) << t;
  }
}

TEST(JsonText, DoubleTokenFastPathsWriteWhatTheRoundTripWrites) {
  for (const char* t : {"95000000000.0", "0.0000012", "100000", "-0.00000001", "21000000",
                        "120180000.0", "1000000000000000000000", "0.000000000000000000001",
                        "-4400000000000000000000000.000", "0.1", "7", "123.456000"}) {
    byte_arena a;
    ASSERT_TRUE(append_double_token(a, t)) << t;
    EXPECT_EQ(std::string(a.data(), a.size()), round_trip(t)) << t;
  }
  // Random plain decimals heavy in zeros (where %e wins): every one the fast paths take is
  // written exactly as the parse + shortest round trip writes it.
  std::mt19937_64 rng(7);
  int taken = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string t = testing::zero_heavy_decimal(rng, 25);
    byte_arena a;
    if (!append_double_token(a, t)) continue;
    ++taken;
    ASSERT_EQ(std::string(a.data(), a.size()), round_trip(t)) << t;
  }
  EXPECT_GT(taken, 90000);
}

TEST(JsonText, PaddedScientificFormAgreesWithTheBytewiseOne) {
  // The transform's word-at-a-time version (tokens of 1..16 bytes inside a padded body) must
  // write, and refuse, exactly what the byte loop does, whatever bytes follow the token.
  auto both = [](const std::string& t, char fill) {
    std::string padded = t;
    padded.append(48, fill);
    byte_arena fast, bytewise;
    const bool took =
        append_scientific_token_padded(fast, std::string_view(padded.data(), t.size()));
    EXPECT_EQ(took, append_scientific_token(bytewise, t)) << t << " fill " << fill;
    EXPECT_EQ(std::string(fast.data(), fast.size()), std::string(bytewise.data(), bytewise.size()))
        << t;
    if (took) {
      EXPECT_EQ(std::string(fast.data(), fast.size()), round_trip(t)) << t;
    }
    return took;
  };
  for (const char* t : {"95000000000.0",
                        "434000000.0",
                        "0.0000012",
                        "-0.00000001",
                        "100000",
                        "1000000000000000",
                        "0.000000000000001",
                        "5",
                        "0",
                        "-0",
                        "0.0",
                        "-",
                        "",
                        ".5",
                        "1.",
                        "01",
                        "1e5",
                        "--5",
                        "1.2.3",
                        "-1-",
                        "0.1",
                        "7.000",
                        "120180000.0",
                        "19600418.0",
                        "2.5e-05",
                        "0.00001000",
                        "-4400000000000"}) {
    for (char fill : {'0', '9', '.', '-', 'e', '\0'}) both(t, fill);
  }
  std::mt19937_64 rng(11);
  int taken = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string t = testing::zero_heavy_decimal(rng, 14);
    if (t.size() > 16) t.resize(1 + rng() % 16);  // cut: also shapes that must be refused
    if (both(t, static_cast<char>('0' + rng() % 10))) ++taken;
  }
  EXPECT_GT(taken, 20000);
}

}  // namespace
}  // namespace edgepipe
