// Fuzz target: the transform (stages/transform: transform_program + transform_engine).
// Input layout: [payload bytes][spec bytes][u16 little-endian: length of spec bytes].
//  1. The payload runs through each seed spec of config/default.toml (the compiled-in default
//     config), as a 2xx response and as a truncated one (dead-lettered whole).
//  2. A source spec is built from the spec bytes (pointers, templates, literals, casts, hashes,
//     filters, any of them malformed). compile() must reject a bad spec with an error, never
//     crash; a spec that compiles runs over the payload.
// Checked besides ASan/UBSan: every record value the engine writes is valid JSON (sinks send it
// as it is), and keys and values lie inside the output batch.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.hpp"
#include "core/batch.hpp"
#include "fuzz_util.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"

namespace {

using namespace edgepipe;

constexpr std::int64_t kReceivedNs = 1'700'000'123'456'789'000;

const std::vector<transform_program>& seed_programs() {
  static const std::vector<transform_program> programs = [] {
    pipeline_config config;
    if (status s = load_default_config(pipeline_stage_checks(), config); !s) {
      std::fprintf(stderr, "default config: %s\n", s.message().c_str());
      std::abort();
    }
    std::vector<transform_program> out;
    for (const source_spec& spec : config.sources) {
      transform_program p;
      if (status s = transform_program::compile(spec, p); !s) {
        std::fprintf(stderr, "seed spec %s: %s\n", spec.name.c_str(), s.message().c_str());
        std::abort();
      }
      out.push_back(std::move(p));
    }
    return out;
  }();
  return programs;
}

void check_output(const record_batch& out) {
  static simdjson::dom::parser parser;
  for (const record& r : out.records()) {
    if (std::uint64_t{r.key_offset} + r.key_length > out.arena().size() ||
        std::uint64_t{r.value_offset} + r.value_length > out.arena().size())
      edgepipe::fuzz::fail("record key/value outside the batch arena");
    const std::string_view value = out.value(r);
    simdjson::dom::element doc;
    if (parser.parse(value.data(), value.size()).get(doc) != simdjson::SUCCESS) {
      std::fprintf(stderr, "invalid JSON value: %.*s\n", static_cast<int>(value.size()),
                   value.data());
      edgepipe::fuzz::fail("the transform wrote a record value that is not valid JSON");
    }
  }
}

/// Runs `programs` (fresh engine: learned field orders never carry over between inputs, so a
/// crash reproduces from its input alone) over `body` as source `source`.
void run(std::vector<transform_program> programs, source_id source, std::string_view body,
         payload_error error) {
  transform_engine engine(std::move(programs), transform_limits{});
  payload_batch in;
  in.begin_body();
  in.append_body(body.data(), body.size());
  in.finish_body(source, 200, kReceivedNs, 1, error);
  record_batch out;
  record_batch dead;
  std::uint64_t sequence = 0;
  for (const payload& p : in.payloads()) engine.run(p, in.body(p), out, dead, sequence);
  check_output(out);
}

// Member names that occur in the seed payloads (tests/data), so fuzzer-built pointers find
// values; anything else comes from the bytes.
constexpr const char* kNames[] = {
    "results",     "name",     "first",         "last",         "title",        "login",
    "uuid",        "email",    "dob",           "date",         "age",          "location",
    "coordinates", "latitude", "longitude",     "iss_position", "timestamp",    "message",
    "id",          "symbol",   "current_price", "market_cap",   "last_updated", "price_change_24h",
    "0",           "1",        "info",          "seed",         "registered",   "picture",
    "nat",         "street",   "number"};

std::string pick_pointer(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return "";
    case 1:
      return in.ConsumeRandomLengthString(24);  // anything, malformed or not
    default: {
      std::string p;
      const int segments = in.ConsumeIntegralInRange<int>(1, 4);
      for (int i = 0; i < segments; ++i) {
        p += '/';
        const auto k = in.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames));
        p += k < std::size(kNames) ? std::string(kNames[k]) : in.ConsumeRandomLengthString(12);
      }
      return p;
    }
  }
}

literal_value pick_literal(FuzzedDataProvider& in) {
  literal_value v;
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      v.type = literal_value::kind::null;
      break;
    case 1:
      v.type = literal_value::kind::string;
      v.text = in.ConsumeRandomLengthString(16);
      break;
    case 2:
      v.type = literal_value::kind::number;
      v.text = std::to_string(in.ConsumeIntegral<std::int32_t>());
      break;
    case 3:
      v.type = literal_value::kind::boolean;
      v.text = in.ConsumeBool() ? "true" : "false";
      break;
    default:  // a number or boolean whose text is anything: compile must refuse or cope
      v.type = in.ConsumeBool() ? literal_value::kind::number : literal_value::kind::boolean;
      v.text = in.ConsumeRandomLengthString(12);
      break;
  }
  return v;
}

source_spec spec_from(FuzzedDataProvider& in) {
  source_spec spec;
  spec.name = "fuzz";
  if (in.ConsumeBool()) spec.records_pointer = pick_pointer(in);
  if (in.ConsumeBool()) spec.key_pointer = pick_pointer(in);
  if (in.ConsumeBool()) spec.event_time_pointer = pick_pointer(in);
  const int fields = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < fields; ++i) {
    field_spec f;
    f.name = in.ConsumeBool() ? std::string(kNames[static_cast<std::size_t>(i) % std::size(kNames)])
                              : in.ConsumeRandomLengthString(12);
    const int sources = in.ConsumeIntegralInRange<int>(0, 7);  // bits: from, template, const
    if (sources & 1) f.from = pick_pointer(in);
    if (sources & 2) {
      std::string t = in.ConsumeRandomLengthString(8);
      if (in.ConsumeBool()) t += "{" + pick_pointer(in) + "}";
      t += in.ConsumeRandomLengthString(8);
      f.template_text = t;
    }
    if (sources & 4) f.constant = pick_literal(in);
    f.cast = static_cast<value_cast>(in.ConsumeIntegralInRange<int>(0, 5));
    f.hash = static_cast<digest_kind>(in.ConsumeIntegralInRange<int>(0, 2));
    f.required = in.ConsumeBool();
    if (in.ConsumeBool()) f.default_value = pick_literal(in);
    spec.fields.push_back(std::move(f));
  }
  const int filters = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < filters; ++i) {
    filter_spec f;
    f.pointer = pick_pointer(in);
    f.op = static_cast<filter_op>(in.ConsumeIntegralInRange<int>(0, 7));
    if (in.ConsumeBool()) f.value = pick_literal(in);
    spec.filters.push_back(std::move(f));
  }
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& seeds = seed_programs();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t spec_len = 0;
  if (bytes.size() >= 2) {
    spec_len = static_cast<std::uint8_t>(bytes[bytes.size() - 2]) |
               std::size_t{static_cast<std::uint8_t>(bytes[bytes.size() - 1])} << 8;
    bytes.remove_suffix(2);
    if (spec_len > bytes.size()) spec_len = bytes.size();
  }
  const std::string_view payload_bytes = bytes.substr(0, bytes.size() - spec_len);
  const std::string_view spec_bytes = bytes.substr(bytes.size() - spec_len);

  for (std::size_t i = 0; i < seeds.size(); ++i) {
    run(seeds, static_cast<source_id>(i), payload_bytes, payload_error::none);
  }
  run(seeds, 0, payload_bytes, payload_error::truncated);

  FuzzedDataProvider in(reinterpret_cast<const std::uint8_t*>(spec_bytes.data()),
                        spec_bytes.size());
  const source_spec spec = spec_from(in);
  transform_program program;
  if (transform_program::compile(spec, program)) {
    std::vector<transform_program> one;
    one.push_back(std::move(program));
    run(std::move(one), 0, payload_bytes, payload_error::none);
  }
  return 0;
}
