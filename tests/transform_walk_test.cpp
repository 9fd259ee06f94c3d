// The transform's record walk reads the same values whatever the members' order: it expects the
// order it learned from earlier records, looks again for what it missed, and copies strings
// without escapes straight from the body. Checked here against simdjson's DOM reading the same
// records: shuffled members, absent members, extra members, nested objects, escaped strings,
// names longer than the word compares, for nodes with few children (any order in one pass)
// and many (the learned order).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

// Member names of every length class: <= 8 bytes with the quote, <= 16, longer, much longer.
const std::vector<std::string> kNames = {
    "a",
    "id",
    "name",
    "symbol_x",
    "current_price",
    "market_cap",
    "zz_rank_xx",
    "q",
    "high_24h_",
    "price_change_percentage_24h",
    "b2",
    "circulating_supply_of_the_coin_in_circulation_right_now_and_more_text",
};

std::string escaped_string_value(std::mt19937& rng, int i) {
  switch (rng() % 5) {
    case 0:
      return "\"plain " + std::to_string(i) + "\"";
    case 1:
      return "\"quote \\\" and backslash \\\\ " + std::to_string(i) + "\"";
    case 2:
      return "\"unicode \\u00e9\\u4e2d and tab\\t" + std::to_string(i) + "\"";
    case 3:
      return "\"\"";
    default:
      return "\"caf\xc3\xa9 " + std::to_string(i) + "\"";
  }
}

// One record: the wanted members (each present with probability 0.85) plus noise members, in a
// random order; "nested" holds an object with its own shuffled members.
std::string make_record(std::mt19937& rng, int i, bool shuffle) {
  std::vector<std::string> members;
  for (std::size_t k = 0; k < kNames.size(); ++k) {
    if (rng() % 100 >= 85) continue;
    const std::string value = (k % 2 == 0) ? std::to_string(static_cast<int>(rng() % 100000) - 500)
                                           : escaped_string_value(rng, i);
    members.push_back("\"" + kNames[k] + "\":" + value);
  }
  for (int n = 0; n < 3; ++n)
    members.push_back("\"noise_" + std::to_string(rng() % 7) + "\":[1,{\"a\":2}]");
  std::vector<std::string> inner = {"\"x\":" + std::to_string(rng() % 1000), "\"y\":\"why\"",
                                    "\"long_inner_member_name\":true"};
  if (rng() % 4 == 0) inner.erase(inner.begin());
  inner.push_back("\"inner_noise_" + std::to_string(rng() % 3) + "\":\"n\"");
  inner.push_back("\"zz\":[]");
  if (shuffle) std::shuffle(inner.begin(), inner.end(), rng);
  std::string nested = "{";
  for (std::size_t n = 0; n < inner.size(); ++n) nested += (n ? "," : "") + inner[n];
  nested += "}";
  members.push_back("\"nested\":" + nested);
  if (shuffle) std::shuffle(members.begin(), members.end(), rng);
  std::string r = "{";
  for (std::size_t n = 0; n < members.size(); ++n) r += (n ? ", " : "") + members[n];
  return r + "}";
}

source_spec make_spec() {
  source_spec spec;
  spec.name = "walk";
  for (std::size_t k = 0; k < kNames.size(); ++k) {
    field_spec f;
    f.name = "f" + std::to_string(k);
    f.from = "/" + kNames[k];
    spec.fields.push_back(f);
  }
  for (const char* inner : {"x", "y", "long_inner_member_name"}) {
    field_spec f;
    f.name = std::string("nested_") + inner;
    f.from = std::string("/nested/") + inner;
    spec.fields.push_back(f);
  }
  return spec;
}

// What the transform must write for one record, read with the DOM.
std::string expected_output(const source_spec& spec, std::string_view record) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(std::string(record)).get(root), simdjson::SUCCESS) << record;
  byte_arena out;
  out.push_back('{');
  for (std::size_t i = 0; i < spec.fields.size(); ++i) {
    const field_spec& f = spec.fields[i];
    out.append((i ? ",\"" : "\"") + f.name + "\":");
    simdjson::dom::element v;
    if (root.at_pointer(*f.from).get(v) != simdjson::SUCCESS) {
      out.append("null", 4);
    } else if (v.is_string()) {
      append_json_string(out, std::string_view(v));
    } else {
      out.append(simdjson::minify(v));
    }
  }
  out.push_back('}');
  return std::string(out.data(), out.size());
}

// An engine for one source whose only field "v" is read from "/v" with `cast`.
std::unique_ptr<transform_engine> one_field_engine(value_cast cast) {
  source_spec spec;
  spec.name = "one";
  field_spec f;
  f.name = "v";
  f.from = "/v";
  f.cast = cast;
  spec.fields.push_back(f);
  transform_program program;
  EXPECT_TRUE(transform_program::compile(spec, program).is_ok());
  std::vector<transform_program> programs;
  programs.push_back(std::move(program));
  return std::make_unique<transform_engine>(std::move(programs), transform_limits{});
}

// Runs one payload of source 0 through `engine`.
payload_outcome run_one(transform_engine& engine, const std::string& body, record_batch& out,
                        record_batch& dead, std::uint64_t& sequence) {
  payload_batch in;
  const std::size_t at = in.add(body, 0, 200, 1'700'000'000'000'000'000, 1);
  return engine.run(in.payloads()[at], in.body(in.payloads()[at]), out, dead, sequence);
}

void check_walk(bool shuffle, int payloads) {
  const source_spec spec = make_spec();
  transform_program program;
  ASSERT_TRUE(transform_program::compile(spec, program).is_ok());
  std::vector<transform_program> programs;
  programs.push_back(std::move(program));
  transform_engine engine(std::move(programs), transform_limits{});
  std::mt19937 rng(shuffle ? 7 : 11);
  std::uint64_t sequence = 0;
  int checked = 0;
  for (int p = 0; p < payloads; ++p) {
    std::vector<std::string> records;
    std::string body = "[";
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      records.push_back(make_record(rng, i, shuffle));
      body += (i ? "," : "") + records.back();
    }
    body += "]";
    record_batch out, dead;
    const payload_outcome o = run_one(engine, body, out, dead, sequence);
    ASSERT_FALSE(o.payload_rejected) << body;
    ASSERT_EQ(out.records().size(), records.size()) << body;
    for (std::size_t i = 0; i < records.size(); ++i) {
      EXPECT_EQ(std::string(out.value(out.records()[i])), expected_output(spec, records[i]))
          << "record " << i << " of payload " << p << ": " << records[i];
      ++checked;
    }
  }
  EXPECT_GT(checked, payloads);
}

TEST(TransformWalk, ShuffledAbsentAndExtraMembersReadAsTheDomReadsThem) { check_walk(true, 300); }

TEST(TransformWalk, StableOrderWithAbsentMembersReadsAsTheDomReadsThem) { check_walk(false, 300); }

TEST(TransformWalk, RawControlCharacterInAStringRejectsThePayload) {
  auto engine = one_field_engine(value_cast::keep);
  record_batch out, dead;
  std::uint64_t sequence = 0;
  const payload_outcome o =
      run_one(*engine, std::string("{\"v\":\"bad\x01", 10) + "byte\"}", out, dead, sequence);
  EXPECT_TRUE(o.payload_rejected);
  EXPECT_TRUE(out.records().empty());
  EXPECT_EQ(dead.records().size(), 1u);
}

TEST(TransformWalk, DoubleCastWritesWhatParseAndShortestFormatWrite) {
  // The field writer's fast paths (token as it is, trailing fraction zeros cut, the scientific
  // form from the token's digits) against append_double(parse_double(token)).
  auto engine = one_field_engine(value_cast::double_);
  std::vector<std::string> tokens = {"95000000000.0",      "0.0000012", "100000", "-0.00000001",
                                     "21000000",           "3.0",       "-0.0",   "44290.01",
                                     "19600418.123456789", "1e5",       "2.5E-3", "0"};
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) tokens.push_back(testing::zero_heavy_decimal(rng, 11));
  std::uint64_t sequence = 0;
  for (const std::string& t : tokens) {
    record_batch out, dead;
    const payload_outcome o = run_one(*engine, "{\"v\":" + t + "}", out, dead, sequence);
    ASSERT_EQ(o.records, 1u) << t;
    byte_arena want;
    const auto d = parse_double(t);
    ASSERT_TRUE(d.has_value()) << t;
    want.append("{\"v\":", 5);
    append_double(want, *d);
    want.push_back('}');
    EXPECT_EQ(std::string(out.value(out.records()[0])), std::string(want.data(), want.size())) << t;
  }
}

}  // namespace
}  // namespace edgepipe
