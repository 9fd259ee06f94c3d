// bson_from_json must build byte-for-byte the BSON that libbson's bson_init_from_json builds
// (the MongoDB sink's old path), or decline (fallback) so the sink uses libbson.
#include "stages/sinks/mongodb/bson_from_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/synth_payloads.hpp"

namespace edgepipe {
namespace {

std::string hex(const bson_t* b) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  const std::uint8_t* p = bson_get_data(b);
  for (std::uint32_t i = 0; i < b->len; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

/// libbson's document for `json`, without top-level "_id" (as the sink builds it).
bool libbson_doc(const std::string& json, bson_t* out) {
  bson_t tmp;
  bson_error_t err;
  if (!bson_init_from_json(&tmp, json.data(), static_cast<ssize_t>(json.size()), &err))
    return false;
  bson_init(out);
  bson_copy_to_excluding_noinit(&tmp, out, "_id", nullptr);
  bson_destroy(&tmp);
  return true;
}

void expect_same_as_libbson(bson_from_json& conv, const std::string& json) {
  bson_t want;
  ASSERT_TRUE(libbson_doc(json, &want)) << json;
  bson_t* got = bson_new();
  ASSERT_EQ(conv.append_object(json, got), bson_from_json::result::ok) << json;
  EXPECT_EQ(hex(got), hex(&want)) << json;
  bson_destroy(got);
  bson_destroy(&want);
}

TEST(BsonFromJson, SameBytesAsLibbsonOnPlainJson) {
  bson_from_json conv;
  const std::vector<std::string> cases = {
      R"({})",
      R"({"a":1})",
      R"({"s":"text","n":null,"t":true,"f":false})",
      R"({"i32max":2147483647,"i32min":-2147483648,"i64a":2147483648,"i64b":-2147483649})",
      R"({"i64max":9223372036854775807,"i64min":-9223372036854775808})",
      R"({"zero":0,"d":1.5,"d2":-0.25,"e":1e3,"e2":1.5E-7,"tiny":5e-324,"big":1.7976931348623157e308})",
      R"({"m0":-0,"under":1e-400,"negzero":-0.0,"one":1.0,"digits":0.30000000000000004,"c":123456789.123456789})",
      R"({"esc":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","nul":"x\u0000y","utf8":"héllo ✓"})",
      R"({"nested":{"a":{"b":{"c":[1,2,{"d":"e"}]}}},"arr":[],"obj":{}})",
      R"({"arr":[1,"two",3.5,null,true,[[]],{"k":[0]}]})",
      R"({"dup":1,"dup":"again","k\u00e9y":2})",
      R"({"_id":"dropped","keep":1,"inner":{"_id":"kept"}})",
      R"(  {"ws" : [ 1 , 2 ] }  )",
      R"({"id":"a3f1","name":"Mr. John Doe","latitude":-12.3456,"longitude":123.4567,"zip":"0cc175b9c0f1b6a831c399e269772661"})",
  };
  for (const auto& c : cases) expect_same_as_libbson(conv, c);
}

TEST(BsonFromJson, SameBytesAsLibbsonOnSynthesizedApiPayloads) {
  // Whole synthesized API bodies (randomuser results, CoinGecko coins): real shapes and numbers.
  bson_from_json conv;
  for (const synth_api api : {synth_api::randomuser, synth_api::coingecko, synth_api::iss}) {
    synth_generator gen(api, 7);
    std::string body;
    for (int i = 0; i < 3; ++i) {
      gen.next(body);
      // CoinGecko is a root array: wrap it, as a record holding a list would be.
      const std::string json = body.front() == '[' ? "{\"coins\":" + body + "}" : body;
      expect_same_as_libbson(conv, json);
    }
  }
}

TEST(BsonFromJson, DeclinesWhatLibbsonTreatsSpecially) {
  bson_from_json conv;
  const std::vector<std::string> cases = {
      R"({"d":{"$date":"2024-01-01T00:00:00Z"}})",  // Extended JSON
      R"({"$set":1})",
      R"({"a.b":1})",                   // libmongoc validation
      R"({"":1})",                      // empty key
      R"({"k\u0000":1})",               // NUL in a key
      R"({"u":18446744073709551615})",  // libbson: out of range
      R"({"big":1e400})",               // out of range
      R"({"n":NaN})",
      R"([1,2])",  // not an object
      R"("text")",
      R"({"a":1)",  // truncated
      R"({"a":1} {"b":2})",
      "{\"bad\":\"\xff\"}",  // not UTF-8
  };
  for (const auto& c : cases) {
    bson_t* out = bson_new();
    EXPECT_EQ(conv.append_object(c, out), bson_from_json::result::fallback) << c;
    bson_destroy(out);
  }
  std::string deep;
  for (int i = 0; i < bson_from_json::kMaxDepth + 1; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < bson_from_json::kMaxDepth + 1; ++i) deep += "}";
  bson_t* out = bson_new();
  EXPECT_EQ(conv.append_object(deep, out), bson_from_json::result::fallback);
  bson_destroy(out);
  // And the converter is still good after declining.
  expect_same_as_libbson(conv, R"({"after":[1,2,3]})");
}

TEST(BsonFromJson, AppendsAfterWhatTheDocumentAlreadyHolds) {
  bson_from_json conv;
  bson_t* got = bson_new();
  BSON_APPEND_UTF8(got, "_id", "key-1");
  ASSERT_EQ(conv.append_object(R"({"_id":"theirs","v":2})", got), bson_from_json::result::ok);
  bson_t* want = bson_new();
  BSON_APPEND_UTF8(want, "_id", "key-1");
  BSON_APPEND_INT32(want, "v", 2);
  EXPECT_EQ(hex(got), hex(want));
  bson_destroy(got);
  bson_destroy(want);
}

}  // namespace
}  // namespace edgepipe
