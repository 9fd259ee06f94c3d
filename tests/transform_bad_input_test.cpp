// Bad input never crashes the transform and is never silently dropped: every bad payload or bad
// record leaves a dead letter (valid JSON with its reason, source and bytes), good records of a
// valid payload still flow, and a payload that is not valid JSON is rolled back whole.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.hpp"
#include "config/pipeline_config.hpp"
#include "core/batch.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"

namespace edgepipe {
namespace {

constexpr std::int64_t kReceivedNs = 1'700'000'123'456'789'000;  // 2023-11-14T22:15:23.456789Z

std::string data_file(const std::string& name) {
  std::ifstream in(std::string(EDGEPIPE_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << name;
  std::ostringstream s;
  s << in.rdbuf();
  std::string body = s.str();
  while (!body.empty() && (body.back() == '\n' || body.back() == ' ')) body.pop_back();
  return body;
}

// A dead letter, parsed back: it must be valid JSON with these members.
struct letter {
  std::string reason;
  std::string source;
  std::string bytes;
  std::string received_at;
  std::int64_t http_status = 0;
  std::int64_t size = -1;
  bool truncated = false;
};

letter parse_letter(std::string_view json) {
  letter l;
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  const auto err = parser.parse(std::string(json)).get(e);
  EXPECT_EQ(err, simdjson::SUCCESS) << "dead letter is not valid JSON: " << json;
  if (err) return l;
  std::string_view s;
  EXPECT_EQ(e["reason"].get(s), simdjson::SUCCESS) << json;
  l.reason = s;
  EXPECT_EQ(e["source"].get(s), simdjson::SUCCESS) << json;
  l.source = s;
  EXPECT_EQ(e["bytes"].get(s), simdjson::SUCCESS) << json;
  l.bytes = s;
  EXPECT_EQ(e["received_at"].get(s), simdjson::SUCCESS) << json;
  l.received_at = s;
  EXPECT_EQ(e["http_status"].get(l.http_status), simdjson::SUCCESS) << json;
  EXPECT_EQ(e["size"].get(l.size), simdjson::SUCCESS) << json;
  EXPECT_EQ(e["truncated"].get(l.truncated), simdjson::SUCCESS) << json;
  EXPECT_FALSE(l.reason.empty()) << json;
  return l;
}

class TransformBadInput : public ::testing::Test {
 protected:
  void SetUp() override { make_engine({}); }

  void make_engine(transform_limits limits) {
    ASSERT_TRUE(load_default_config(pipeline_stage_checks(), config_).is_ok());
    std::vector<transform_program> programs;
    for (const source_spec& s : config_.sources) {
      transform_program p;
      ASSERT_TRUE(transform_program::compile(s, p).is_ok());
      programs.push_back(std::move(p));
    }
    engine_ = std::make_unique<transform_engine>(std::move(programs), limits);
  }

  source_id id(const std::string& name) const {
    for (std::size_t i = 0; i < config_.sources.size(); ++i)
      if (config_.sources[i].name == name) return static_cast<source_id>(i);
    ADD_FAILURE() << "no source " << name;
    return kUnknownSource;
  }

  payload_outcome run(std::string_view body, source_id source, std::uint16_t status = 200) {
    payload_batch in;
    const std::size_t i = in.add(body, source, status, kReceivedNs, 7);
    const payload p = in.payloads()[i];
    return engine_->run(p, in.body(p), out_, dead_, sequence_);
  }
  payload_outcome run(std::string_view body, const std::string& source) {
    return run(body, id(source));
  }

  void reset() {
    out_.clear();
    dead_.clear();
    sequence_ = 0;
  }

  std::vector<letter> letters() const {
    std::vector<letter> v;
    for (const record& r : dead_.records()) v.push_back(parse_letter(dead_.value(r)));
    return v;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> v;
    for (const record& r : out_.records()) v.emplace_back(out_.key(r));
    return v;
  }

  // A payload that is not valid JSON: nothing out, exactly one dead letter holding the body.
  void expect_payload_rejected(const payload_outcome& o, std::string_view body,
                               const std::string& source) {
    EXPECT_TRUE(o.payload_rejected);
    EXPECT_FALSE(o.skipped_status);
    EXPECT_EQ(o.records, 0u);
    EXPECT_EQ(o.rejected_records, 0u);
    EXPECT_EQ(o.filtered, 0u);
    EXPECT_TRUE(out_.records().empty());
    EXPECT_EQ(out_.bytes(), 0u) << "rolled-back bytes left in the arena";
    EXPECT_EQ(sequence_, 0u);
    const auto l = letters();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].source, source);
    EXPECT_EQ(l[0].size, static_cast<std::int64_t>(body.size()));
    EXPECT_EQ(l[0].http_status, 200);
    EXPECT_EQ(l[0].received_at, "2023-11-14T22:15:23.456Z");
  }

  pipeline_config config_;
  std::unique_ptr<transform_engine> engine_;
  record_batch out_;
  record_batch dead_;
  std::uint64_t sequence_ = 0;
};

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

TEST_F(TransformBadInput, TruncatedPayloadIsRolledBackWhole) {
  const std::string full = data_file("coingecko-markets.json");
  // Cut inside the third coin: the first two were already transformed when the cut is seen.
  const std::string body = full.substr(0, full.find("\"example-staked-token\"") + 40);
  const payload_outcome o = run(body, "coingecko");
  expect_payload_rejected(o, body, "coingecko");
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].bytes, body);
  EXPECT_FALSE(l[0].truncated);
  EXPECT_NE(l[0].reason.find("invalid JSON"), std::string::npos) << l[0].reason;
}

TEST_F(TransformBadInput, EveryProperPrefixOfEachPayloadIsRejectedWhole) {
  const std::pair<const char*, const char*> cases[] = {{"iss-now.json", "iss"},
                                                       {"randomuser.json", "randomuser"},
                                                       {"coingecko-markets.json", "coingecko"}};
  for (const auto& [file, source] : cases) {
    const std::string full = data_file(file);
    ASSERT_FALSE(full.empty());
    // Sanity: the whole payload is good.
    reset();
    EXPECT_GT(run(full, source).records, 0u) << file;
    EXPECT_TRUE(dead_.records().empty()) << file;
    int failures = 0;
    for (std::size_t len = 0; len < full.size() && failures < 5; ++len) {
      reset();
      const std::string_view body(full.data(), len);
      const payload_outcome o = run(body, source);
      const bool ok = o.payload_rejected && o.records == 0 && out_.records().empty() &&
                      dead_.records().size() == 1 && sequence_ == 0;
      if (!ok) {
        ++failures;
        ADD_FAILURE() << file << " cut to " << len << " bytes (ending '"
                      << body.substr(len > 40 ? len - 40 : 0) << "'): records=" << o.records
                      << " dead letters=" << dead_.records().size()
                      << " payload_rejected=" << o.payload_rejected;
      } else {
        (void)parse_letter(dead_.value(dead_.records()[0]));
      }
    }
  }
}

// Found by tests/fuzz/fuzz_transform: a malformed object where the record's last field is
// read ("timestamp":{ 1700000000}) makes simdjson abandon the document; the transform then
// rewound the dead document (a null-pointer dereference) instead of rejecting the payload.
TEST_F(TransformBadInput, MalformedValueThatKillsTheParserRejectsThePayload) {
  const std::string body =
      "{\"iss_position\": {\"longitude\": \"-85.5523\", \"latitude\": \"-8.7373\"}, "
      "\"message\": \"success\", \"timestamp\":{ 1700000000}\n";
  const payload_outcome o = run(body, "iss");
  expect_payload_rejected(o, body, "iss");
}

TEST_F(TransformBadInput, InvalidUtf8InsideAStringRejectsThePayload) {
  std::string body = data_file("coingecko-markets.json");
  const std::size_t at = body.find("Ethereum");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 8, "Ether\xff\xfe\xc0um");
  const payload_outcome o = run(body, "coingecko");
  expect_payload_rejected(o, body, "coingecko");
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].bytes.find("Ether\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDum"), std::string::npos);
}

TEST_F(TransformBadInput, DeeplyNestedRecordIsRejectedAndTheOthersFlow) {
  const std::string full = data_file("coingecko-markets.json");
  // [bitcoin, ethereum, token] -> [bitcoin, <5000 nested arrays>, ethereum, token]
  const std::size_t second = full.find("{\"id\":\"ethereum\"");
  ASSERT_NE(second, std::string::npos);
  const std::string body = full.substr(0, second) + nested_arrays(5000) + "," + full.substr(second);
  const payload_outcome o = run(body, "coingecko");
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(o.records, 3u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(keys(), (std::vector<std::string>{"bitcoin", "ethereum", "example-staked-token"}));
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason, "record is an array, not an object");
  EXPECT_EQ(l[0].source, "coingecko");
  EXPECT_EQ(l[0].size, 10000);
  EXPECT_TRUE(l[0].truncated);
  EXPECT_EQ(l[0].bytes, std::string(4096, '['));
}

TEST_F(TransformBadInput, DeepNestingAsTheWholePayload) {
  for (const char* source : {"iss", "randomuser", "coingecko"}) {
    reset();
    const std::string body = nested_arrays(5000);
    const payload_outcome o = run(body, source);
    EXPECT_EQ(o.records, 0u) << source;
    ASSERT_EQ(dead_.records().size(), 1u) << source;
    (void)parse_letter(dead_.value(dead_.records()[0]));

    // Unbalanced: never closed.
    reset();
    const std::string open = std::string(5000, '[');
    expect_payload_rejected(run(open, source), open, source);

    // 5000 nested objects where the record should be: for iss a record without "message"
    // (filtered, counted), otherwise a dead letter.
    reset();
    std::string objects;
    for (int i = 0; i < 5000; ++i) objects += "{\"a\":";
    objects += "1" + std::string(5000, '}');
    const payload_outcome oo = run(objects, source);
    EXPECT_EQ(oo.records, 0u) << source;
    if (std::string_view(source) == "iss") {
      EXPECT_EQ(oo.filtered, 1u);
      EXPECT_TRUE(dead_.records().empty());
    } else {
      ASSERT_EQ(dead_.records().size(), 1u) << source;
      const letter l = parse_letter(dead_.value(dead_.records()[0]));
      EXPECT_TRUE(l.truncated);
      EXPECT_EQ(l.size, static_cast<std::int64_t>(objects.size()));
    }
  }
}

TEST_F(TransformBadInput, WrongTypeRejectsThatRecordNamingTheField) {
  std::string body = data_file("coingecko-markets.json");
  const std::size_t at = body.find("\"current_price\":2281.5");
  ASSERT_NE(at, std::string::npos);
  body.replace(at, 22, "\"current_price\":\"abc\"");
  const payload_outcome o = run(body, "coingecko");
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(keys(), (std::vector<std::string>{"bitcoin", "example-staked-token"}));
  ASSERT_EQ(out_.records().size(), 2u);
  EXPECT_EQ(out_.records()[0].sequence, 0u);
  EXPECT_EQ(out_.records()[1].sequence, 1u);
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason,
            "cannot cast field 'current_price' (/current_price) value 'abc' to double");
  EXPECT_EQ(l[0].source, "coingecko");
  // The record's own bytes, not the whole payload.
  EXPECT_EQ(l[0].bytes.rfind("{\"id\":\"ethereum\"", 0), 0u) << l[0].bytes;
  EXPECT_EQ(l[0].bytes.back(), '}');
  EXPECT_EQ(l[0].bytes.find("bitcoin"), std::string::npos);
  EXPECT_FALSE(l[0].truncated);
}

TEST_F(TransformBadInput, OtherWrongTypes) {
  struct wrong {
    const char* source;
    std::string body;
    const char* field;
  };
  const wrong cases[] = {
      {"coingecko", R"([{"id":"a","market_cap_rank":"first"},{"id":"b","market_cap_rank":3}])",
       "'market_cap_rank'"},
      {"coingecko", R"([{"id":"a","market_cap_rank":1.5},{"id":"b"}])", "'market_cap_rank'"},
      {"coingecko", R"([{"id":"a","current_price":{"usd":1}},{"id":"b"}])", "'current_price'"},
      {"coingecko", R"([{"id":"a","high_24h":[1]},{"id":"b"}])", "'high_24h'"},
      {"coingecko", R"([{"id":"a","low_24h":true},{"id":"b"}])", "'low_24h'"},
      {"coingecko", R"([{"id":"a","total_volume":1.2.3},{"id":"b"}])", "'total_volume'"},
      {"randomuser",
       R"({"results":[{"login":{"uuid":"u1"},"location":{"coordinates":{"latitude":"north"}}},{"login":{"uuid":"u2"}}]})",
       "'latitude'"},
  };
  for (const wrong& w : cases) {
    reset();
    const payload_outcome o = run(w.body, w.source);
    EXPECT_FALSE(o.payload_rejected) << w.body;
    EXPECT_EQ(o.records, 1u) << w.body;
    EXPECT_EQ(o.rejected_records, 1u) << w.body;
    const auto l = letters();
    ASSERT_EQ(l.size(), 1u) << w.body;
    EXPECT_NE(l[0].reason.find(w.field), std::string::npos) << l[0].reason;
  }
  // ISS: the payload is the record.
  reset();
  const std::string iss =
      R"({"iss_position": {"longitude": "-85.5523", "latitude": "north"}, "message": "success", "timestamp": 1700000000})";
  const payload_outcome o = run(iss, "iss");
  EXPECT_EQ(o.records, 0u);
  EXPECT_EQ(o.rejected_records, 1u);
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].reason.find("'latitude'"), std::string::npos) << l[0].reason;
  EXPECT_EQ(l[0].bytes, iss);
}

TEST_F(TransformBadInput, RecordMissingItsRequiredKey) {
  std::string body = data_file("coingecko-markets.json");
  const std::size_t at = body.find("\"id\":\"ethereum\",");
  ASSERT_NE(at, std::string::npos);
  body.erase(at, 16);
  const payload_outcome o = run(body, "coingecko");
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(keys(), (std::vector<std::string>{"bitcoin", "example-staked-token"}));
  auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason, "missing record key (/id)");
  EXPECT_EQ(l[0].bytes.rfind("{\"symbol\":\"eth\"", 0), 0u) << l[0].bytes;

  // randomuser: a result without login.uuid; an empty key counts as missing too.
  reset();
  std::string users = data_file("randomuser.json");
  const std::size_t uuid = users.find("\"uuid\": \"c4168eac");
  ASSERT_NE(uuid, std::string::npos);
  users.replace(uuid, 6, "\"uid\"");
  const payload_outcome ou = run(users, "randomuser");
  EXPECT_EQ(ou.records, 1u);
  EXPECT_EQ(ou.rejected_records, 1u);
  EXPECT_EQ(keys(), std::vector<std::string>{"7a0eed16-9430-4d68-901f-c0d4c1c3bf00"});
  l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason, "missing record key (/login/uuid)");
  EXPECT_NE(l[0].bytes.find("O\\\"Connor"), std::string::npos) << l[0].bytes;

  reset();
  const payload_outcome oe = run(R"([{"id":""},{"id":null},{"id":"ok"}])", "coingecko");
  EXPECT_EQ(oe.records, 1u);
  EXPECT_EQ(oe.rejected_records, 2u);
  EXPECT_EQ(dead_.records().size(), 2u);

  // ISS: a required field missing.
  reset();
  const payload_outcome oi = run(
      R"({"iss_position": {"longitude": "-85.5523"}, "message": "success", "timestamp": 1700000000})",
      "iss");
  EXPECT_EQ(oi.records, 0u);
  EXPECT_EQ(oi.rejected_records, 1u);
  l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].reason, "missing required field 'latitude' (/iss_position/latitude)");
}

TEST_F(TransformBadInput, EmptyBody) {
  for (const char* source : {"iss", "randomuser", "coingecko"}) {
    for (const std::string body : {"", " ", "\n\t \r\n"}) {
      reset();
      expect_payload_rejected(run(body, source), body, source);
      const auto l = letters();
      ASSERT_EQ(l.size(), 1u);
      EXPECT_EQ(l[0].bytes, body);
    }
  }
}

TEST_F(TransformBadInput, TopLevelScalar) {
  for (const char* source : {"iss", "randomuser", "coingecko"}) {
    for (const std::string body : {"42", "\"x\"", "true", "null", "-1.5e3", " 42 "}) {
      reset();
      expect_payload_rejected(run(body, source), body, source);
      const auto l = letters();
      ASSERT_EQ(l.size(), 1u);
      EXPECT_EQ(l[0].bytes, body);
    }
  }
  reset();
  (void)run("42", "coingecko");
  EXPECT_EQ(letters().at(0).reason,
            "the records are a number, expected an object or an array of objects");
  reset();
  (void)run("\"x\"", "iss");
  EXPECT_EQ(letters().at(0).reason,
            "the records are a string, expected an object or an array of objects");
}

TEST_F(TransformBadInput, RootArrayOfNumbersRejectsEachElement) {
  const payload_outcome o = run("[1, 2.5, -3]", "coingecko");
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(o.records, 0u);
  EXPECT_EQ(o.rejected_records, 3u);
  const auto l = letters();
  ASSERT_EQ(l.size(), 3u);
  const char* bytes[] = {"1", "2.5", "-3"};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(l[i].reason, "record is a number, not an object");
    EXPECT_EQ(l[i].bytes, bytes[i]);
    EXPECT_EQ(l[i].source, "coingecko");
  }
}

TEST_F(TransformBadInput, MixedRootArrayKeepsTheObjects) {
  const payload_outcome o =
      run(R"([{"id":"a"}, 7, "x", null, true, [1, {"id":"nested"}], {"id":"b"}, {}])", "coingecko");
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.rejected_records, 6u);
  EXPECT_EQ(keys(), (std::vector<std::string>{"a", "b"}));
  const auto l = letters();
  ASSERT_EQ(l.size(), 6u);
  EXPECT_EQ(l[0].reason, "record is a number, not an object");
  EXPECT_EQ(l[1].reason, "record is a string, not an object");
  EXPECT_EQ(l[1].bytes, "\"x\"");
  EXPECT_EQ(l[2].reason, "record is null, not an object");
  EXPECT_EQ(l[3].reason, "record is a boolean, not an object");
  EXPECT_EQ(l[4].reason, "record is an array, not an object");
  EXPECT_EQ(l[4].bytes, R"([1, {"id":"nested"}])");
  EXPECT_EQ(l[5].reason, "missing record key (/id)");
  EXPECT_EQ(l[5].bytes, "{}");
}

TEST_F(TransformBadInput, RecordsPointerNotFound) {
  const std::string bodies[] = {
      R"({"error":"Uh oh, something has gone wrong. Please tell us on GitHub."})",
      R"({"info":{"seed":"abc","results":0}})",
      R"({})",
  };
  for (const std::string& body : bodies) {
    reset();
    expect_payload_rejected(run(body, "randomuser"), body, "randomuser");
    const auto l = letters();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].reason, "records pointer '/results' not found in the payload");
    EXPECT_EQ(l[0].bytes, body);
  }
  // Found, but not records.
  reset();
  const std::string body = R"({"results": 5})";
  expect_payload_rejected(run(body, "randomuser"), body, "randomuser");
  EXPECT_EQ(letters().at(0).reason,
            "the records are a number, expected an object or an array of objects");
  // The root is not an object at all.
  reset();
  const std::string arr = R"([{"login":{"uuid":"u1"}}])";
  expect_payload_rejected(run(arr, "randomuser"), arr, "randomuser");
}

TEST_F(TransformBadInput, TrailingGarbageAfterARootArray) {
  const std::string full = data_file("coingecko-markets.json");
  for (const char* tail : {" x", "]", " [1]", ",{}", "{}", " []", "\"s\"", " 1", "]]"}) {
    reset();
    const std::string body = full + tail;
    expect_payload_rejected(run(body, "coingecko"), body, "coingecko");
  }
}

TEST_F(TransformBadInput, TrailingGarbageAfterARootObject) {
  const std::pair<const char*, const char*> cases[] = {{"iss-now.json", "iss"},
                                                       {"randomuser.json", "randomuser"}};
  for (const auto& [file, source] : cases) {
    const std::string full = data_file(file);
    for (const char* tail : {" x", "}", " {}", ",{}", " []", "]", " 1", "}}"}) {
      reset();
      const std::string body = full + tail;
      const payload_outcome o = run(body, source);
      SCOPED_TRACE(std::string(file) + " + '" + tail + "'");
      expect_payload_rejected(o, body, source);
    }
  }
}

TEST_F(TransformBadInput, NonSuccessHttpStatusIsSkippedAndCounted) {
  const std::string body = data_file("coingecko-markets.json");
  for (const int status : {100, 199, 301, 304, 404, 429, 500, 503}) {
    reset();
    const payload_outcome o = run(body, id("coingecko"), static_cast<std::uint16_t>(status));
    EXPECT_TRUE(o.skipped_status) << status;
    EXPECT_FALSE(o.payload_rejected) << status;
    EXPECT_EQ(o.records, 0u) << status;
    EXPECT_TRUE(out_.records().empty()) << status;
    // Not data: counted by the stage (skipped_status), not dead-lettered.
    EXPECT_TRUE(dead_.records().empty()) << status;
  }
  for (const int status : {200, 203, 299}) {
    reset();
    const payload_outcome o = run(body, id("coingecko"), static_cast<std::uint16_t>(status));
    EXPECT_FALSE(o.skipped_status) << status;
    EXPECT_EQ(o.records, 3u) << status;
  }
}

TEST_F(TransformBadInput, UnknownSourceIsDeadLettered) {
  const std::string body = data_file("iss-now.json");
  for (const source_id source : {source_id{3}, source_id{1000}, kUnknownSource}) {
    reset();
    const payload_outcome o = run(body, source);
    EXPECT_TRUE(o.payload_rejected);
    EXPECT_EQ(o.records, 0u);
    EXPECT_TRUE(out_.records().empty());
    const auto l = letters();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].source, "");
    EXPECT_EQ(l[0].bytes, body);
    EXPECT_EQ(l[0].reason, "payload from a source with no transform configured");
    EXPECT_EQ(dead_.records()[0].source, source);
  }
}

TEST_F(TransformBadInput, DeadLetterIsValidJsonWhateverTheBytes) {
  // Control characters, quotes, backslashes, NUL, DEL and invalid UTF-8 (a stray continuation
  // byte, an overlong encoding, a surrogate, a cut 3-byte sequence, 0xff).
  const std::string body("\x00\x01\x1f\"\\{\x7f\x80\xc0\xaf\xed\xa0\x80\xe2\x82\xff\xc3\xa9\n", 19);
  expect_payload_rejected(run(body, "coingecko"), body, "coingecko");
  const auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(l[0].bytes, std::string("\x00\x01\x1f\"\\{\x7f", 7) + fffd + fffd + fffd + fffd + fffd +
                            fffd + fffd + fffd + fffd + "\xc3\xa9\n");
  const std::string_view raw = dead_.value(dead_.records()[0]);
  EXPECT_TRUE(simdjson::validate_utf8(raw.data(), raw.size()));
  EXPECT_NE(raw.find("\\u0000\\u0001\\u001f\\\"\\\\{"), std::string_view::npos) << raw;
}

TEST_F(TransformBadInput, DeadLetterBytesAreTruncatedToTheLimit) {
  transform_limits limits;
  limits.dead_letter_max_bytes = 64;
  make_engine(limits);
  // 200 bytes of invalid JSON; byte 63..64 is a two-byte character cut by the limit.
  std::string body = "{\"name\":\"" + std::string(54, 'a') + "\xc3\xa9" + std::string(200, 'b');
  body.resize(200);
  const payload_outcome o = run(body, "coingecko");
  expect_payload_rejected(o, body, "coingecko");
  auto l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].truncated);
  EXPECT_EQ(l[0].size, 200);
  EXPECT_EQ(l[0].bytes, body.substr(0, 63) + "\xEF\xBF\xBD");

  // A rejected record larger than the limit.
  reset();
  const std::string big =
      R"([{"id":"a","current_price":"abc","name":")" + std::string(100, 'n') + R"("},{"id":"b"}])";
  const payload_outcome orec = run(big, "coingecko");
  EXPECT_EQ(orec.records, 1u);
  l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_TRUE(l[0].truncated);
  EXPECT_EQ(l[0].size, 142);
  EXPECT_EQ(l[0].bytes, big.substr(1, 64));

  // Exactly at the limit: not truncated.
  reset();
  const std::string exact(64, '!');
  (void)run(exact, "coingecko");
  l = letters();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_FALSE(l[0].truncated);
  EXPECT_EQ(l[0].bytes, exact);
}

TEST_F(TransformBadInput, PayloadAboveTheSizeLimitIsDeadLettered) {
  transform_limits limits;
  limits.max_payload_bytes = 1024;
  make_engine(limits);
  const std::string body = data_file("coingecko-markets.json");
  ASSERT_GT(body.size(), 1024u);
  expect_payload_rejected(run(body, "coingecko"), body, "coingecko");
  // A small payload still works afterwards.
  reset();
  EXPECT_EQ(run(data_file("iss-now.json"), "iss").records, 1u);
}

TEST_F(TransformBadInput, BodyMarkedIncompleteByTheReceiverIsNeverTransformed) {
  // Even when the bytes received so far happen to be valid JSON.
  const std::string body = data_file("coingecko-markets.json");
  for (const payload_error error : {payload_error::truncated, payload_error::too_large}) {
    reset();
    payload_batch in;
    payload p = in.payloads()[in.add(body, id("coingecko"), 200, kReceivedNs, 7)];
    p.error = error;
    const payload_outcome o = engine_->run(p, in.body(p), out_, dead_, sequence_);
    expect_payload_rejected(o, body, "coingecko");
    const auto l = letters();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].bytes, body);
    EXPECT_NE(l[0].reason.find(error == payload_error::truncated ? "truncated" : "limit"),
              std::string::npos)
        << l[0].reason;
  }
}

TEST_F(TransformBadInput, GoodPayloadAfterABadOneIsUnaffected) {
  const std::string good = data_file("coingecko-markets.json");
  (void)run(good.substr(0, good.size() / 2), "coingecko");
  (void)run("\xff", "coingecko");
  (void)run(good, "coingecko");
  EXPECT_EQ(keys(), (std::vector<std::string>{"bitcoin", "ethereum", "example-staked-token"}));
  EXPECT_EQ(dead_.records().size(), 2u);
  EXPECT_EQ(sequence_, 3u);
  for (std::size_t i = 0; i < out_.records().size(); ++i) EXPECT_EQ(out_.records()[i].sequence, i);
}

// Found by tests/fuzz/fuzz_transform: a number or boolean literal is written into records as it
// is, so a spec whose literal text is not JSON (the loader never makes one) must not compile.
TEST(TransformProgram, LiteralThatIsNotJsonIsRefused) {
  auto spec_with = [](literal_value v) {
    source_spec s;
    s.name = "lit";
    field_spec f;
    f.name = "f";
    f.constant = std::move(v);
    s.fields.push_back(std::move(f));
    return s;
  };
  transform_program p;
  const status bad_number =
      transform_program::compile(spec_with({literal_value::kind::number, "\"#$,&'()"}), p);
  EXPECT_FALSE(bad_number.is_ok());
  EXPECT_NE(bad_number.message().find("sources.lit.fields[0] (f).const"), std::string::npos)
      << bad_number.message();
  EXPECT_FALSE(transform_program::compile(spec_with({literal_value::kind::boolean, "yes"}), p));
  EXPECT_FALSE(transform_program::compile(spec_with({literal_value::kind::number, "01"}), p));
  EXPECT_FALSE(transform_program::compile(spec_with({literal_value::kind::number, "1."}), p));
  EXPECT_TRUE(transform_program::compile(spec_with({literal_value::kind::number, "-1.5e+7"}), p));
  EXPECT_TRUE(transform_program::compile(spec_with({literal_value::kind::boolean, "false"}), p));
}

// Found by tests/fuzz/fuzz_transform: config texts (field names, string literals, templates) are
// written into records escaped but not re-encoded, so one that is not UTF-8 (the TOML loader never
// makes one) must not compile: the record would not be JSON. Control characters are fine: they
// are escaped.
TEST(TransformProgram, ConfigTextThatIsNotUtf8IsRefused) {
  auto field_with = [](auto&& set) {
    source_spec s;
    s.name = "txt";
    field_spec f;
    f.name = "f";
    f.constant = literal_value{literal_value::kind::string, "ok"};
    set(f);
    s.fields.push_back(std::move(f));
    return s;
  };
  transform_program p;
  const status bad_const = transform_program::compile(
      field_with([](field_spec& f) {
        f.constant = literal_value{literal_value::kind::string, "ab\xFE"};
      }),
      p);
  ASSERT_FALSE(bad_const.is_ok());
  EXPECT_NE(bad_const.message().find("sources.txt.fields[0] (f).const: the string is not valid "
                                     "UTF-8 (byte 0xFE at offset 2)"),
            std::string::npos)
      << bad_const.message();

  const status bad_name =
      transform_program::compile(field_with([](field_spec& f) { f.name = "n\xC3"; }), p);
  ASSERT_FALSE(bad_name.is_ok());
  EXPECT_NE(bad_name.message().find("sources.txt.fields[0]: the name is not valid UTF-8 (byte "
                                    "0xC3 at offset 1)"),
            std::string::npos)
      << bad_name.message();

  EXPECT_FALSE(transform_program::compile(field_with([](field_spec& f) {
                                            f.constant.reset();
                                            f.template_text =
                                                "id-\xED\xA0\x80-{/id}";  // an encoded surrogate
                                          }),
                                          p));
  EXPECT_FALSE(transform_program::compile(
      field_with([](field_spec& f) {
        f.default_value = literal_value{literal_value::kind::string, "\x80"};
      }),
      p));
  source_spec filtered = field_with([](field_spec&) {});
  filtered.filters.push_back(
      {"/x", filter_op::eq, literal_value{literal_value::kind::string, "\xFF"}});
  EXPECT_FALSE(transform_program::compile(filtered, p));

  EXPECT_TRUE(transform_program::compile(
      field_with([](field_spec& f) {
        f.name = "caf\xC3\xA9 \x01";
        f.constant = literal_value{literal_value::kind::string, "\xE2\x82\xAC\t\x1F"};
      }),
      p));
}

}  // namespace
}  // namespace edgepipe
