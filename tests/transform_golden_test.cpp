// Golden tests for the transform stage: the three bundled transforms of config/default.toml run
// over hand-written API payloads (tests/data/) and must produce exactly the hand-written records
// of tests/golden/ (value JSON text, key and event time), plus spec features exercised on
// transforms built in code.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.hpp"
#include "config/pipeline_config.hpp"
#include "config/source_spec.hpp"
#include "core/batch.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"

namespace edgepipe {
namespace {

// Receipt time of every test payload: 2023-11-14T22:15:23.456789Z.
constexpr std::int64_t kReceivedNs = 1'700'000'123'456'789'000;
constexpr std::int64_t kReceivedMs = 1'700'000'123'456;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string data_file(const std::string& name) {
  return read_file(std::string(EDGEPIPE_TEST_DATA) + "/" + name);
}

std::vector<std::string> golden_lines(const std::string& name) {
  std::istringstream in(read_file(std::string(EDGEPIPE_TEST_DATA) + "/../golden/" + name));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Independent of the code under test: keys in the test data are plain printable text.
std::string quote(std::string_view s) {
  std::string q = "\"";
  for (const char c : s) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "control character in a test key";
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  return q + "\"";
}

// One output record in the golden files' line format; the value text is embedded verbatim.
std::string envelope(const record_batch& batch, const record& r) {
  return std::string("{\"key\":") + (r.key_length == 0 ? "null" : quote(batch.key(r))) +
         ",\"event_time_ms\":" + std::to_string(r.event_time_ms) +
         ",\"value\":" + std::string(batch.value(r)) + "}";
}

// An engine over a set of programs, and the batches one run writes into.
struct harness {
  std::unique_ptr<transform_engine> engine;
  record_batch out;
  record_batch dead;
  std::uint64_t sequence = 0;

  explicit harness(std::vector<transform_program> programs, transform_limits limits = {}) {
    engine = std::make_unique<transform_engine>(std::move(programs), limits);
  }

  payload_outcome run(std::string_view body, source_id source, std::uint16_t http_status = 200) {
    payload_batch in;
    const std::size_t i = in.add(body, source, http_status, kReceivedNs, 42);
    const payload p = in.payloads()[i];
    return engine->run(p, in.body(p), out, dead, sequence);
  }

  /// The body in place, followed by kPayloadPadding bytes of `fill` instead of zeros (as a
  /// replayed body is followed by the next frame's header): simdjson and the engine may read
  /// the padding but must never let it change a result.
  payload_outcome run_padded_with(std::string_view body, source_id source, char fill) {
    payload_batch in;
    std::string arena(body);
    arena.append(kPayloadPadding, fill);
    in.arena().append(arena);
    const std::size_t i = in.add_in_place(0, body.size(), source, 200, kReceivedNs, 42);
    const payload p = in.payloads()[i];
    return engine->run(p, in.body(p), out, dead, sequence);
  }

  std::vector<std::string> envelopes() const {
    std::vector<std::string> v;
    for (const record& r : out.records()) v.push_back(envelope(out, r));
    return v;
  }
  std::vector<std::string> values() const {
    std::vector<std::string> v;
    for (const record& r : out.records()) v.emplace_back(out.value(r));
    return v;
  }
  std::string dead_letters() const {
    std::string s;
    for (const record& r : dead.records()) s += std::string(dead.value(r)) + "\n";
    return s;
  }
};

// The bundled default config, compiled: programs in config order, ids by name.
class TransformGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(load_default_config(pipeline_stage_checks(), config_).is_ok());
    ASSERT_TRUE(validate_config(config_, pipeline_stage_checks()).is_ok());
    std::vector<transform_program> programs;
    for (const source_spec& s : config_.sources) {
      transform_program p;
      const status st = transform_program::compile(s, p);
      ASSERT_TRUE(st.is_ok()) << st.message();
      programs.push_back(std::move(p));
    }
    h_ = std::make_unique<harness>(std::move(programs));
  }

  source_id id(const std::string& name) const {
    for (std::size_t i = 0; i < config_.sources.size(); ++i)
      if (config_.sources[i].name == name) return static_cast<source_id>(i);
    ADD_FAILURE() << "the default config has no source '" << name << "'";
    return kUnknownSource;
  }

  pipeline_config config_;
  std::unique_ptr<harness> h_;
};

TEST_F(TransformGolden, DefaultConfigBundlesTheThreeSeedTransforms) {
  ASSERT_EQ(config_.sources.size(), 3u);
  id("iss");
  id("randomuser");
  id("coingecko");
}

TEST_F(TransformGolden, IssNowIsFlattenedAndCast) {
  const payload_outcome o = h_->run(data_file("iss-now.json"), id("iss"));
  EXPECT_EQ(o.records, 1u);
  EXPECT_EQ(o.rejected_records, 0u);
  EXPECT_EQ(o.filtered, 0u);
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(h_->envelopes(), golden_lines("iss-now.jsonl"));
  EXPECT_EQ(h_->dead_letters(), "");
  ASSERT_EQ(h_->out.records().size(), 1u);
  const record& r = h_->out.records()[0];
  EXPECT_EQ(r.source, id("iss"));
  EXPECT_EQ(r.ingest_unix_ns, kReceivedNs);
  EXPECT_EQ(r.ingest_mono_ns, 42u);
  EXPECT_EQ(r.sequence, 0u);
}

TEST_F(TransformGolden, IssNowWithoutSuccessMessageIsFiltered) {
  const std::string bodies[] = {
      R"({"iss_position": {"longitude": "-85.5523", "latitude": "-8.7373"}, "message": "failure", "timestamp": 1700000000})",
      R"({"iss_position": {"longitude": "-85.5523", "latitude": "-8.7373"}, "timestamp": 1700000000})",
      R"({"iss_position": {"longitude": "-85.5523", "latitude": "-8.7373"}, "message": null, "timestamp": 1700000000})",
  };
  for (const std::string& body : bodies) {
    const payload_outcome o = h_->run(body, id("iss"));
    EXPECT_EQ(o.records, 0u) << body;
    EXPECT_EQ(o.filtered, 1u) << body;
    EXPECT_EQ(o.rejected_records, 0u) << body;
    EXPECT_FALSE(o.payload_rejected) << body;
  }
  EXPECT_TRUE(h_->out.records().empty());
  EXPECT_EQ(h_->dead_letters(), "");
  EXPECT_EQ(h_->sequence, 0u);
}

TEST_F(TransformGolden, RandomUserResultsBecomeKeyedRecordsWithHashedPostcodes) {
  const payload_outcome o = h_->run(data_file("randomuser.json"), id("randomuser"));
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.rejected_records, 0u);
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(h_->envelopes(), golden_lines("randomuser.jsonl"));
  EXPECT_EQ(h_->dead_letters(), "");
  for (const record& r : h_->out.records()) EXPECT_EQ(r.event_time_ms, kReceivedMs);
}

TEST_F(TransformGolden, CoinGeckoMarketsKeepNullsAndUseLastUpdatedAsEventTime) {
  const payload_outcome o = h_->run(data_file("coingecko-markets.json"), id("coingecko"));
  EXPECT_EQ(o.records, 3u);
  EXPECT_EQ(o.rejected_records, 0u);
  EXPECT_FALSE(o.payload_rejected);
  EXPECT_EQ(h_->envelopes(), golden_lines("coingecko-markets.jsonl"));
  EXPECT_EQ(h_->dead_letters(), "");
}

// A dead-letter listing with each line's "reason" value cut out.
std::string without_reason(std::string letters) {
  const std::string key = "\"reason\":\"";
  for (std::size_t at = letters.find(key); at != std::string::npos; at = letters.find(key, at)) {
    const std::size_t end = letters.find("\",\"source\":", at);
    if (end == std::string::npos) break;
    letters.erase(at + key.size(), end - at - key.size());
    at += key.size();
  }
  return letters;
}

// Replayed bodies are read in place from the trace (stages/sources/replay_source): what follows a
// body is the next frame, not zeros. Whole and truncated payloads of every bundled source give the
// same records, rejections and dead letters whatever the padding holds.
TEST_F(TransformGolden, PaddingContentNeverChangesAResult) {
  const std::pair<std::string, std::string> inputs[] = {
      {"iss", data_file("iss-now.json")},
      {"randomuser", data_file("randomuser.json")},
      {"coingecko", data_file("coingecko-markets.json")},
  };
  const char fills[] = {'9', '"', '\\', 'e', ']', '}', ',', ' ', '\xff', 'E'};
  std::size_t cases = 0;
  for (const auto& [source, full] : inputs) {
    std::vector<std::string_view> bodies{full};
    for (std::size_t cut = 1; cut < full.size(); cut += 1 + full.size() / 97)
      bodies.push_back(std::string_view(full).substr(0, cut));
    for (std::string_view body : bodies) {
      harness zeros(h_->engine->programs());
      const payload_outcome want = zeros.run(body, id(source));
      for (const char fill : fills) {
        harness padded(h_->engine->programs());
        const payload_outcome got = padded.run_padded_with(body, id(source), fill);
        ++cases;
        ASSERT_EQ(got.records, want.records)
            << source << " cut " << body.size() << " fill " << fill;
        ASSERT_EQ(got.rejected_records, want.rejected_records) << source << " cut " << body.size();
        ASSERT_EQ(got.payload_rejected, want.payload_rejected) << source << " cut " << body.size();
        ASSERT_EQ(padded.envelopes(), zeros.envelopes()) << source << " cut " << body.size();
        // Only the wording of simdjson's error for a truncated document may differ (it looks
        // at the byte after the end): same rejection, same offending bytes.
        ASSERT_EQ(without_reason(padded.dead_letters()), without_reason(zeros.dead_letters()))
            << source << " cut " << body.size() << " fill " << static_cast<int>(fill);
      }
    }
  }
  EXPECT_GT(cases, 2000u);
}

TEST_F(TransformGolden, OutputRecordsAreValidJson) {
  (void)h_->run(data_file("iss-now.json"), id("iss"));
  (void)h_->run(data_file("randomuser.json"), id("randomuser"));
  (void)h_->run(data_file("coingecko-markets.json"), id("coingecko"));
  ASSERT_EQ(h_->out.records().size(), 6u);
  simdjson::dom::parser parser;
  for (const std::string& v : h_->values()) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(v).get(e), simdjson::SUCCESS) << v;
    EXPECT_TRUE(e.is_object()) << v;
  }
}

TEST_F(TransformGolden, PayloadsShareOneBatchWithIncreasingSequences) {
  (void)h_->run(data_file("coingecko-markets.json"), id("coingecko"));
  (void)h_->run(data_file("iss-now.json"), id("iss"));
  (void)h_->run(data_file("randomuser.json"), id("randomuser"));
  std::vector<std::string> expected = golden_lines("coingecko-markets.jsonl");
  for (const auto& l : golden_lines("iss-now.jsonl")) expected.push_back(l);
  for (const auto& l : golden_lines("randomuser.jsonl")) expected.push_back(l);
  EXPECT_EQ(h_->envelopes(), expected);
  const auto& recs = h_->out.records();
  ASSERT_EQ(recs.size(), 6u);
  for (std::size_t i = 0; i < recs.size(); ++i) EXPECT_EQ(recs[i].sequence, i);
  EXPECT_EQ(recs[0].source, id("coingecko"));
  EXPECT_EQ(recs[3].source, id("iss"));
  EXPECT_EQ(recs[5].source, id("randomuser"));
  EXPECT_EQ(h_->sequence, 6u);
}

TEST_F(TransformGolden, EngineIsReusableAcrossManyPayloads) {
  const std::string body = data_file("coingecko-markets.json");
  for (int i = 0; i < 50; ++i) (void)h_->run(body, id("coingecko"));
  const auto golden = golden_lines("coingecko-markets.jsonl");
  const auto got = h_->envelopes();
  ASSERT_EQ(got.size(), 150u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], golden[i % 3]);
}

// ---- Spec features on transforms built in code ------------------------------------------------

literal_value str_lit(std::string s) { return {literal_value::kind::string, std::move(s)}; }
literal_value num_lit(std::string s) { return {literal_value::kind::number, std::move(s)}; }
literal_value bool_lit(bool b) { return {literal_value::kind::boolean, b ? "true" : "false"}; }
literal_value null_lit() { return {literal_value::kind::null, ""}; }

field_spec from(std::string name, std::string pointer, value_cast cast = value_cast::keep) {
  field_spec f;
  f.name = std::move(name);
  f.from = std::move(pointer);
  f.cast = cast;
  return f;
}
field_spec templ(std::string name, std::string text) {
  field_spec f;
  f.name = std::move(name);
  f.template_text = std::move(text);
  return f;
}
field_spec constant(std::string name, literal_value v) {
  field_spec f;
  f.name = std::move(name);
  f.constant = std::move(v);
  return f;
}
filter_spec filter(std::string pointer, filter_op op, std::optional<literal_value> v = {}) {
  filter_spec f;
  f.pointer = std::move(pointer);
  f.op = op;
  f.value = std::move(v);
  return f;
}

// Compiles one spec into an engine with that single transform (source id 0).
struct spec_run {
  explicit spec_run(const source_spec& spec) {
    transform_program p;
    const status st = transform_program::compile(spec, p);
    EXPECT_TRUE(st.is_ok()) << st.message();
    std::vector<transform_program> programs;
    programs.push_back(std::move(p));
    h = std::make_unique<harness>(std::move(programs));
  }
  payload_outcome run(std::string_view body) { return h->run(body, 0); }
  std::vector<std::string> values() const { return h->values(); }
  std::unique_ptr<harness> h;
};

source_spec spec_of(std::vector<field_spec> fields) {
  source_spec s;
  s.name = "custom";
  s.fields = std::move(fields);
  return s;
}

std::string reasons(const harness& h) {
  std::string s;
  simdjson::dom::parser parser;
  for (const record& r : h.dead.records()) {
    simdjson::dom::element e;
    std::string_view reason;
    if (parser.parse(std::string(h.dead.value(r))).get(e) || e["reason"].get(reason)) {
      ADD_FAILURE() << "bad dead letter: " << h.dead.value(r);
      continue;
    }
    s += std::string(reason) + "\n";
  }
  return s;
}

TEST(TransformSpec, TemplatesEscapeBracesAndRenderMissingPartsEmpty) {
  source_spec s = spec_of({
      templ("braces", "{{{/a}}} and {{literal}}"),
      templ("full", "{/name/first} {/name/middle} {/name/last}"),
      templ("numbers", "{/n}/{/b}/{/obj}"),
      templ("plain", "no pointers here"),
  });
  spec_run t(s);
  const payload_outcome o = t.run(
      R"({"a":"x","name":{"first":"Ada","last":"Lovelace","middle":null},"n":1.50,"b":true,"obj":{"k":[1, 2]}})");
  EXPECT_EQ(o.records, 1u);
  EXPECT_EQ(t.values(), std::vector<std::string>{
                            R"({"braces":"{x} and {literal}","full":"Ada  Lovelace",)"
                            R"("numbers":"1.50/true/{\"k\":[1, 2]}","plain":"no pointers here"})"});
}

TEST(TransformSpec, RequiredTemplateWithAMissingPartRejectsTheRecord) {
  field_spec f = templ("name", "{/first} {/last}");
  f.required = true;
  spec_run t(spec_of({f}));
  const payload_outcome o = t.run(R"([{"first":"Ada","last":"Lovelace"},{"first":"Grace"}])");
  EXPECT_EQ(o.records, 1u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(t.values(), std::vector<std::string>{R"({"name":"Ada Lovelace"})"});
  EXPECT_NE(reasons(*t.h).find("'name'"), std::string::npos) << reasons(*t.h);
}

TEST(TransformSpec, RequiredAndDefaults) {
  field_spec req = from("id", "/id");
  req.required = true;
  field_spec with_default = from("city", "/city");
  with_default.default_value = str_lit("unknown");
  field_spec req_default = from("score", "/score");
  req_default.required = true;
  req_default.default_value = num_lit("0");
  field_spec flag = from("flag", "/flag");
  flag.default_value = bool_lit(false);
  spec_run t(spec_of({req, with_default, req_default, flag}));
  const payload_outcome o = t.run(R"([
    {"id":"a","city":"Oslo","score":7,"flag":true},
    {"id":"b"},
    {"id":"c","city":null,"score":null,"flag":null},
    {"city":"Bergen"},
    {"id":null,"city":"Bergen"}
  ])");
  EXPECT_EQ(o.records, 3u);
  EXPECT_EQ(o.rejected_records, 2u);
  EXPECT_EQ(t.values(), (std::vector<std::string>{
                            R"({"id":"a","city":"Oslo","score":7,"flag":true})",
                            R"({"id":"b","city":"unknown","score":0,"flag":false})",
                            R"({"id":"c","city":"unknown","score":0,"flag":false})",
                        }));
  EXPECT_EQ(reasons(*t.h), "missing required field 'id' (/id)\nnull required field 'id' (/id)\n");
}

TEST(TransformSpec, Constants) {
  spec_run t(spec_of({constant("s", str_lit("he said \"hi\"")), constant("n", num_lit("2.5")),
                      constant("t", bool_lit(true)), constant("z", null_lit()), from("v", "/v")}));
  EXPECT_EQ(t.run(R"({"v":1})").records, 1u);
  EXPECT_EQ(t.values(),
            std::vector<std::string>{R"({"s":"he said \"hi\"","n":2.5,"t":true,"z":null,"v":1})"});
}

TEST(TransformSpec, CastsBetweenStringsAndNumbers) {
  spec_run t(spec_of({
      from("num_to_string", "/price", value_cast::string),
      from("string_to_double", "/price_text", value_cast::double_),
      from("double_kept", "/price"),
      from("exp_to_double", "/big", value_cast::double_),
      from("bool_to_string", "/flag", value_cast::string),
      from("object_to_string", "/obj", value_cast::string),
  }));
  EXPECT_EQ(t.run(R"({"price":12.50,"price_text":" 3.25 ","big":1E3,"flag":false,"obj":{"a":1}})")
                .records,
            1u);
  EXPECT_EQ(t.values(),
            std::vector<std::string>{
                R"({"num_to_string":"12.50","string_to_double":3.25,"double_kept":12.50,)"
                R"("exp_to_double":1000,"bool_to_string":"false",)"
                R"("object_to_string":"{\"a\":1}"})"});
}

TEST(TransformSpec, IntCasts) {
  spec_run t(spec_of({from("i", "/v", value_cast::int_)}));
  const payload_outcome o = t.run(
      R"([{"v":"12"},{"v":12.0},{"v":-7},{"v":" 40 "},{"v":1e3},{"v":12.5},{"v":"twelve"},{"v":true}])");
  EXPECT_EQ(o.records, 5u);
  EXPECT_EQ(o.rejected_records, 3u);
  EXPECT_EQ(t.values(), (std::vector<std::string>{R"({"i":12})", R"({"i":12})", R"({"i":-7})",
                                                  R"({"i":40})", R"({"i":1000})"}));
  EXPECT_EQ(reasons(*t.h),
            "cannot cast field 'i' (/v) value '12.5' to int\n"
            "cannot cast field 'i' (/v) value 'twelve' to int\n"
            "cannot cast field 'i' (/v) value 'true' to int\n");
}

TEST(TransformSpec, BoolCasts) {
  spec_run t(spec_of({from("b", "/v", value_cast::bool_)}));
  const payload_outcome o = t.run(
      R"([{"v":"true"},{"v":1},{"v":false},{"v":"0"},{"v":"false"},{"v":0},{"v":"yes"},{"v":2}])");
  EXPECT_EQ(o.records, 6u);
  EXPECT_EQ(o.rejected_records, 2u);
  EXPECT_EQ(t.values(),
            (std::vector<std::string>{R"({"b":true})", R"({"b":true})", R"({"b":false})",
                                      R"({"b":false})", R"({"b":false})", R"({"b":false})"}));
}

TEST(TransformSpec, TimestampCastsFromSecondsMillisecondsAndIso8601) {
  // 1700000000 s = 2023-11-14T22:13:20Z = 2023-11-15T00:13:20+02:00 = 2023-11-14T16:43:20-05:30.
  spec_run t(spec_of({from("t", "/v", value_cast::timestamp)}));
  const payload_outcome o = t.run(R"([
    {"v":1700000000},
    {"v":"1700000000"},
    {"v":1700000000.5},
    {"v":1700000000123},
    {"v":"2023-11-14T22:13:20Z"},
    {"v":"2023-11-15T00:13:20.250+02:00"},
    {"v":"2023-11-14T16:43:20.999-05:30"},
    {"v":"2023-11-14"},
    {"v":"yesterday"}
  ])");
  EXPECT_EQ(o.records, 8u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(t.values(),
            (std::vector<std::string>{R"({"t":1700000000000})", R"({"t":1700000000000})",
                                      R"({"t":1700000000500})", R"({"t":1700000000123})",
                                      R"({"t":1700000000000})", R"({"t":1700000000250})",
                                      R"({"t":1700000000999})", R"({"t":1699920000000})"}));
}

TEST(TransformSpec, EventTimeFromIso8601WithOffsetAndKeyFromNumber) {
  source_spec s = spec_of({from("n", "/n")});
  s.key_pointer = "/n";
  s.event_time_pointer = "/at";
  spec_run t(s);
  const payload_outcome o = t.run(R"([
    {"n":42,"at":"2023-11-15T00:13:20.250+02:00"},
    {"n":"k2","at":1700000000},
    {"n":"k3"},
    {"n":"k4","at":"not a time"}
  ])");
  EXPECT_EQ(o.records, 3u);
  EXPECT_EQ(o.rejected_records, 1u);
  EXPECT_EQ(t.h->envelopes(),
            (std::vector<std::string>{
                R"({"key":"42","event_time_ms":1700000000250,"value":{"n":42}})",
                R"({"key":"k2","event_time_ms":1700000000000,"value":{"n":"k2"}})",
                R"({"key":"k3","event_time_ms":1700000123456,"value":{"n":"k3"}})",
            }));
  EXPECT_NE(reasons(*t.h).find("event_time (/at)"), std::string::npos) << reasons(*t.h);
}

TEST(TransformSpec, Sha256AndMd5Hashing) {
  field_spec a = from("a", "/s");
  a.hash = digest_kind::sha256;
  field_spec b = from("b", "/n");
  b.hash = digest_kind::sha256;
  field_spec c = from("c", "/s");
  c.hash = digest_kind::md5;
  field_spec d = from("d", "/missing");
  d.hash = digest_kind::sha256;
  spec_run t(spec_of({a, b, c, d}));
  EXPECT_EQ(t.run(R"({"s":"hello","n":42})").records, 1u);
  // python3: hashlib.sha256(b"hello"), hashlib.sha256(b"42"), hashlib.md5(b"hello")
  EXPECT_EQ(t.values(),
            std::vector<std::string>{
                R"({"a":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",)"
                R"("b":"73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049",)"
                R"("c":"5d41402abc4b2a76b9719d911017c592","d":null})"});
}

// OpenSSL is touched only for the digests a config uses: fetching one initialises OpenSSL's
// default library context and provider (~2 MiB of resident pages, benchmarks/README.md).
TEST(TransformSpec, OnlyTheDigestsAFieldHashesWithAreFetched) {
  spec_run plain(spec_of({from("a", "/s"), from("b", "/n")}));
  EXPECT_FALSE(plain.h->engine->digests().prepared(digest_kind::md5));
  EXPECT_FALSE(plain.h->engine->digests().prepared(digest_kind::sha256));

  field_spec hashed = from("c", "/s");
  hashed.hash = digest_kind::md5;
  spec_run md5_only(spec_of({from("a", "/s"), hashed}));
  EXPECT_TRUE(md5_only.h->engine->digests().prepared(digest_kind::md5));  // before any record
  EXPECT_FALSE(md5_only.h->engine->digests().prepared(digest_kind::sha256));
}

TEST(TransformSpec, Filters) {
  source_spec s = spec_of({from("id", "/id")});
  s.filters = {
      filter("/status", filter_op::eq, str_lit("active")),
      filter("/region", filter_op::ne, str_lit("test")),
      filter("/score", filter_op::gt, num_lit("10")),
      filter("/email", filter_op::exists),
      filter("/deleted_at", filter_op::missing),
  };
  spec_run t(s);
  const payload_outcome o = t.run(R"([
    {"id":1,"status":"active","region":"eu","score":11,"email":"a@x"},
    {"id":2,"status":"inactive","region":"eu","score":11,"email":"a@x"},
    {"id":3,"status":"active","region":"test","score":11,"email":"a@x"},
    {"id":4,"status":"active","score":10,"email":"a@x"},
    {"id":5,"status":"active","score":"12.5","email":"a@x","deleted_at":null},
    {"id":6,"status":"active","score":11},
    {"id":7,"status":"active","score":11,"email":null},
    {"id":8,"status":"active","score":11,"email":"a@x","deleted_at":"2024-01-01"},
    {"id":9,"score":11,"email":"a@x"},
    {"id":10,"status":"active","score":"lots","email":"a@x"}
  ])");
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.filtered, 8u);
  EXPECT_EQ(o.rejected_records, 0u);
  EXPECT_EQ(t.values(), (std::vector<std::string>{R"({"id":1})", R"({"id":5})"}));
  EXPECT_EQ(t.h->dead_letters(), "");
}

TEST(TransformSpec, NumericEqualityFilterComparesValues) {
  source_spec s = spec_of({from("id", "/id")});
  s.filters = {filter("/v", filter_op::eq, num_lit("2"))};
  spec_run t(s);
  const payload_outcome o = t.run(R"([{"id":1,"v":2.0},{"id":2,"v":"2"},{"id":3,"v":3},{"id":4}])");
  EXPECT_EQ(o.records, 2u);
  EXPECT_EQ(o.filtered, 2u);
  EXPECT_EQ(t.values(), (std::vector<std::string>{R"({"id":1})", R"({"id":2})"}));
}

TEST(TransformSpec, ObjectTakenRawAndThroughANestedPointer) {
  // Both orders: the nested pointer listed before and after the object itself.
  spec_run t(
      spec_of({from("id", "/id"), from("times", "/roi/times", value_cast::double_),
               from("roi", "/roi"), from("currency", "/roi/currency"), from("after", "/after")}));
  const payload_outcome o = t.run(R"([
    {"id":"a","roi":{"times": 65.1234, "currency":"btc", "percentage":6512.34},"after":1},
    {"id":"b","roi":null,"after":2},
    {"id":"c","roi":{"percentage":-25},"after":3},
    {"id":"d","roi":[1,{"times":2}],"after":4},
    {"id":"e","after":5}
  ])");
  EXPECT_EQ(o.records, 5u);
  EXPECT_EQ(
      t.values(),
      (std::vector<std::string>{
          R"({"id":"a","times":65.1234,"roi":{"times": 65.1234, "currency":"btc", "percentage":6512.34},"currency":"btc","after":1})",
          R"({"id":"b","times":null,"roi":null,"currency":null,"after":2})",
          R"({"id":"c","times":null,"roi":{"percentage":-25},"currency":null,"after":3})",
          R"({"id":"d","times":null,"roi":[1,{"times":2}],"currency":null,"after":4})",
          R"({"id":"e","times":null,"roi":null,"currency":null,"after":5})",
      }));
}

TEST(TransformSpec, PointerEscapes) {
  spec_run t(spec_of({from("slash", "/a~1b"), from("tilde", "/m~0n"), from("both", "/x~01"),
                      from("nested", "/p~1q/r~0s"), from("empty", "/")}));
  EXPECT_EQ(t.run(R"({"a/b":1,"m~n":2,"x~1":3,"x/":99,"p/q":{"r~s":"deep"},"":"blank"})").records,
            1u);
  EXPECT_EQ(t.values(), std::vector<std::string>{
                            R"({"slash":1,"tilde":2,"both":3,"nested":"deep","empty":"blank"})"});
}

TEST(TransformSpec, OutputFollowsFieldOrderNotPayloadOrder) {
  source_spec s = spec_of(
      {from("x", "/x"), from("ya", "/y/a"), from("z", "/z"), from("yb", "/y/b"), from("k", "/k")});
  s.key_pointer = "/k";
  spec_run t(s);
  const payload_outcome o = t.run(R"([
    {"k":"r1","z":1,"y":{"b":2,"a":3},"x":"s"},
    {"y":{"a":5,"b":6},"x":"t","z":4,"k":"r2"},
    {"x":"u","k":"r3"}
  ])");
  EXPECT_EQ(o.records, 3u);
  EXPECT_EQ(
      t.h->envelopes(),
      (std::vector<std::string>{
          R"({"key":"r1","event_time_ms":1700000123456,"value":{"x":"s","ya":3,"z":1,"yb":2,"k":"r1"}})",
          R"({"key":"r2","event_time_ms":1700000123456,"value":{"x":"t","ya":5,"z":4,"yb":6,"k":"r2"}})",
          R"({"key":"r3","event_time_ms":1700000123456,"value":{"x":"u","ya":null,"z":null,"yb":null,"k":"r3"}})",
      }));
}

TEST(TransformSpec, RecordsPointerIntoANestedArrayOrObject) {
  source_spec s = spec_of({from("v", "/v")});
  s.records_pointer = "/data/items";
  spec_run t(s);
  EXPECT_EQ(t.run(R"({"meta":{"n":2},"data":{"items":[{"v":1},{"v":2}]},"tail":[1]})").records, 2u);
  EXPECT_EQ(t.run(R"({"data":{"items":{"v":3}}})").records, 1u);
  EXPECT_EQ(t.values(), (std::vector<std::string>{R"({"v":1})", R"({"v":2})", R"({"v":3})"}));
}

TEST(TransformSpec, CompileRejectsBadSpecs) {
  transform_program p;
  EXPECT_FALSE(transform_program::compile(spec_of({}), p).is_ok());
  EXPECT_FALSE(transform_program::compile(spec_of({from("a", "no-slash")}), p).is_ok());
  EXPECT_FALSE(transform_program::compile(spec_of({from("a", "/a~2")}), p).is_ok());
  EXPECT_FALSE(transform_program::compile(spec_of({templ("a", "{/a")}), p).is_ok());
  EXPECT_FALSE(transform_program::compile(spec_of({templ("a", "x}")}), p).is_ok());
  EXPECT_FALSE(transform_program::compile(spec_of({from("a", "/a"), from("a", "/b")}), p).is_ok());
  field_spec both = from("a", "/a");
  both.constant = num_lit("1");
  EXPECT_FALSE(transform_program::compile(spec_of({both}), p).is_ok());
  field_spec hashed_int = from("a", "/a", value_cast::int_);
  hashed_int.hash = digest_kind::md5;
  EXPECT_FALSE(transform_program::compile(spec_of({hashed_int}), p).is_ok());
  source_spec gt_string = spec_of({from("a", "/a")});
  gt_string.filters = {filter("/a", filter_op::gt, str_lit("x"))};
  EXPECT_FALSE(transform_program::compile(gt_string, p).is_ok());
  source_spec no_operand = spec_of({from("a", "/a")});
  no_operand.filters = {filter("/a", filter_op::eq)};
  EXPECT_FALSE(transform_program::compile(no_operand, p).is_ok());
}

}  // namespace
}  // namespace edgepipe
