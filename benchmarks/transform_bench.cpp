// The transform engine against simdjson on the same padded bytes, per seed API.
//
//   BM_transform/<api>[/variant]      transform_engine::run over every payload of an in-memory
//                                     trace with the embedded default config's program for <api>;
//                                     the output batch is cleared and reused every iteration.
//                                     Variants switch one feature off to show what it costs:
//                                       keep_casts     every field's cast set to `keep`
//                                       no_event_time  no event_time pointer
//                                       no_key         no record key
//                                       one_field      only the `id` field (key and event time
//                                                      kept): the walk + emit floor
//   BM_simdjson_dom_parse/<api>       simdjson::dom::parser::parse of the same bytes (the
//                                     ceiling named in the targets; stage 1 + full tape build)
//   BM_simdjson_ondemand_skip/<api>   On-Demand iterate and step over every record without
//                                     reading a field (stage 1 + structural skip)
//   BM_simdjson_ondemand_walk/<api>   hand-written On-Demand: find_field (in document order)
//                                     and read the same fields the config reads, no output
//   BM_simdjson_ondemand_write/coingecko
//                                     the hand-written walk plus the same output the engine
//                                     writes (key, event time, 12-field JSON object): a lower
//                                     bound for a specialised transform
//
// Every benchmark reports bytes/s (payload bodies, padding excluded) and records/s (records the
// config produces from those payloads), so rows are directly comparable.
//
// Trace sizes: EDGEPIPE_BENCH_COINGECKO_PAYLOADS (default 40 x 250 coins, ~7.9 MB),
// EDGEPIPE_BENCH_ISS_PAYLOADS (default 20000, ~2.3 MB),
// EDGEPIPE_BENCH_RANDOMUSER_PAYLOADS (default 5000, ~6 MB). Seed 1, like `edgepipe synth`.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.hpp"
#include "core/batch.hpp"
#include "io/synth_payloads.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/iso8601.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"
#include "stages/transform/transform_engine.hpp"
#include "stages/transform/transform_program.hpp"

#define EDGEPIPE_STR2(x) #x
#define EDGEPIPE_STR(x) EDGEPIPE_STR2(x)

namespace {

using namespace edgepipe;
namespace od = simdjson::ondemand;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "transform_bench: %s\n", message.c_str());
  std::exit(1);
}

std::size_t env_size(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return static_cast<std::size_t>(std::strtoull(v, nullptr, 10));
}

// ---- the in-memory traces ----------------------------------------------------------------------

struct corpus {
  synth_api api = synth_api::coingecko;
  source_id source = kUnknownSource;  // index of the API's source in the default config
  payload_batch batch;                // bodies, each followed by kPayloadPadding zero bytes
  std::size_t body_bytes = 0;
  std::size_t records = 0;  // what the default config produces (checked at start-up)
};

const pipeline_config& default_config() {
  static const pipeline_config config = [] {
    pipeline_config c;
    if (status s = load_default_config(pipeline_stage_checks(), c); !s) die(s.message());
    return c;
  }();
  return config;
}

source_id source_index(std::string_view name) {
  const auto& sources = default_config().sources;
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (sources[i].name == name) return static_cast<source_id>(i);
  die("the default config has no source '" + std::string(name) + "'");
}

std::size_t default_payloads(synth_api api) {
  switch (api) {
    case synth_api::coingecko:
      return env_size("EDGEPIPE_BENCH_COINGECKO_PAYLOADS", 40);
    case synth_api::iss:
      return env_size("EDGEPIPE_BENCH_ISS_PAYLOADS", 20000);
    case synth_api::randomuser:
      return env_size("EDGEPIPE_BENCH_RANDOMUSER_PAYLOADS", 5000);
  }
  return 0;
}

using spec_tweak = std::function<void(source_spec&)>;

std::vector<transform_program> compile_default(const spec_tweak& tweak = {},
                                               source_id tweaked = kUnknownSource) {
  std::vector<transform_program> programs;
  const auto& sources = default_config().sources;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    source_spec spec = sources[i];
    if (tweak && i == tweaked) tweak(spec);
    transform_program p;
    if (status s = transform_program::compile(spec, p); !s) die(s.message());
    programs.push_back(std::move(p));
  }
  return programs;
}

std::unique_ptr<transform_engine> make_engine(const spec_tweak& tweak = {},
                                              source_id tweaked = kUnknownSource) {
  transform_limits limits;
  limits.max_payload_bytes = default_config().max_payload_bytes;
  return std::make_unique<transform_engine>(compile_default(tweak, tweaked), limits);
}

struct run_result {
  std::size_t records = 0;
  std::size_t rejected = 0;
  std::size_t out_bytes = 0;
};

// Every benchmark's body is one pass over a corpus in a pass_* function that is never inlined, so
// perf/callgrind_bench.sh can collect exactly these (--toggle-collect='*pass_*') and divide by
// the number of calls: instructions per pass and per record, independent of machine load.
#define EDGEPIPE_PASS __attribute__((noinline))

run_result transform_corpus(transform_engine& engine, const corpus& c, record_batch& out,
                            record_batch& dead, std::uint64_t& sequence) {
  out.clear();
  dead.clear();
  run_result r;
  for (const payload& p : c.batch.payloads()) {
    const payload_outcome o = engine.run(p, c.batch.body(p), out, dead, sequence);
    r.records += o.records;
    r.rejected += o.rejected_records + (o.payload_rejected ? 1u : 0u);
  }
  r.out_bytes = out.bytes();
  return r;
}

EDGEPIPE_PASS run_result pass_transform(transform_engine& engine, const corpus& c,
                                        record_batch& out, record_batch& dead,
                                        std::uint64_t& sequence) {
  return transform_corpus(engine, c, out, dead, sequence);
}

const corpus& get_corpus(synth_api api) {
  static std::map<synth_api, std::unique_ptr<corpus>> cache;
  auto& slot = cache[api];
  if (slot) return *slot;
  slot = std::make_unique<corpus>();
  corpus& c = *slot;
  c.api = api;
  c.source = source_index(synth_api_name(api));
  synth_generator gen(api, 1);
  std::string body;
  const std::size_t n = default_payloads(api);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t received = gen.next(body);
    c.batch.add(body, c.source, 200, static_cast<std::int64_t>(received), received);
    c.body_bytes += body.size();
  }
  // Count the records the real config makes, and insist that nothing is rejected.
  auto engine = make_engine();
  record_batch out, dead;
  std::uint64_t seq = 0;
  const run_result r = transform_corpus(*engine, c, out, dead, seq);  // not a pass_: uncounted
  if (r.rejected != 0 || r.records == 0)
    die("the default config rejects " + std::to_string(r.rejected) + " of the synthetic " +
        std::string(synth_api_name(api)) + " records (" + std::to_string(r.records) + " ok)");
  c.records = r.records;
  std::fprintf(stderr, "corpus %s: %zu payloads, %zu bytes, %zu records\n",
               std::string(synth_api_name(api)).c_str(), c.batch.payloads().size(), c.body_bytes,
               c.records);
  return c;
}

void report(benchmark::State& state, const corpus& c) {
  const auto iters = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(c.body_bytes));
  state.counters["records/s"] =
      benchmark::Counter(iters * static_cast<double>(c.records), benchmark::Counter::kIsRate);
}

// ---- our transform -----------------------------------------------------------------------------

void BM_transform(benchmark::State& state, synth_api api, spec_tweak tweak) {
  const corpus& c = get_corpus(api);
  auto engine = make_engine(tweak, c.source);
  record_batch out, dead;
  std::uint64_t seq = 0;
  run_result r;
  for (auto _ : state) {
    r = pass_transform(*engine, c, out, dead, seq);
    benchmark::DoNotOptimize(out.arena().data());
    benchmark::ClobberMemory();
  }
  if (r.records != c.records && !tweak) state.SkipWithError("record count changed");
  report(state, c);
  state.counters["out_bytes/rec"] =
      static_cast<double>(r.out_bytes) / static_cast<double>(r.records ? r.records : 1);
}

// ---- simdjson DOM ------------------------------------------------------------------------------

// Returns the number of root arrays seen, or -1 on a parse error.
EDGEPIPE_PASS long pass_dom(simdjson::dom::parser& parser, const corpus& c) {
  long arrays = 0;
  for (const payload& p : c.batch.payloads()) {
    const std::string_view body = c.batch.body(p);
    simdjson::dom::element root;
    // The body carries kPayloadPadding bytes: no copy (realloc_if_needed = false).
    if (parser.parse(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(), false)
            .get(root))
      return -1;
    arrays += root.is_array() ? 1 : 0;
  }
  return arrays;
}

void BM_simdjson_dom_parse(benchmark::State& state, synth_api api) {
  const corpus& c = get_corpus(api);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    const long n = pass_dom(parser, c);
    if (n < 0) return state.SkipWithError("dom parse failed");
    benchmark::DoNotOptimize(n);
  }
  report(state, c);
}

// ---- simdjson On-Demand, hand-written ----------------------------------------------------------

using simdjson::error_code;
using simdjson::SUCCESS;

od::document iterate(od::parser& parser, const corpus& c, const payload& p, error_code& err) {
  const std::string_view body = c.batch.body(p);
  od::document doc;
  err = parser.iterate(body.data(), body.size(), body.size() + kPayloadPadding).get(doc);
  return doc;
}

// Number or null (CoinGecko's nullable numbers). Returns false on any other error.
bool read_number(od::object& o, std::string_view key, double& out, bool& is_null) {
  od::value v;
  if (o.find_field(key).get(v)) return false;
  if (v.get_double().get(out) == SUCCESS) {
    is_null = false;
    return true;
  }
  bool n = false;
  if (v.is_null().get(n) || !n) return false;
  is_null = true;
  return true;
}

bool read_string(od::object& o, std::string_view key, std::string_view& out) {
  return o.find_field(key).get_string().get(out) == SUCCESS;
}

struct coin_fields {
  std::string_view id, symbol, name, last_updated;
  double num[8] = {};
  bool null[8] = {};
  std::int64_t rank = 0;
  bool rank_null = false;
};

// The 12 fields of the coingecko program, in document order.
bool read_coin(od::object& o, coin_fields& f) {
  static constexpr std::string_view kNums[] = {"current_price", "market_cap"};
  static constexpr std::string_view kNums2[] = {
      "total_volume", "high_24h", "low_24h", "price_change_percentage_24h", "circulating_supply"};
  if (!read_string(o, "id", f.id) || !read_string(o, "symbol", f.symbol) ||
      !read_string(o, "name", f.name))
    return false;
  for (std::size_t i = 0; i < 2; ++i)
    if (!read_number(o, kNums[i], f.num[i], f.null[i])) return false;
  {
    od::value v;
    if (o.find_field("market_cap_rank").get(v)) return false;
    if (v.get_int64().get(f.rank) == SUCCESS) {
      f.rank_null = false;
    } else {
      bool n = false;
      if (v.is_null().get(n) || !n) return false;
      f.rank_null = true;
    }
  }
  for (std::size_t i = 0; i < 5; ++i)
    if (!read_number(o, kNums2[i], f.num[2 + i], f.null[2 + i])) return false;
  return read_string(o, "last_updated", f.last_updated);
}

// Mirrors the engine's output for one coin: key, event time, {"id":...,...}.
void write_coin(const coin_fields& f, record_batch& out, std::uint64_t& seq) {
  static constexpr std::string_view kNames[] = {
      ",\"current_price\":",     ",\"market_cap\":", ",\"total_volume\":",
      ",\"high_24h\":",          ",\"low_24h\":",    ",\"price_change_percentage_24h\":",
      ",\"circulating_supply\":"};
  byte_arena& a = out.arena();
  record r;
  r.key_offset = static_cast<std::uint32_t>(a.size());
  r.key_length = static_cast<std::uint32_t>(f.id.size());
  a.append(f.id);
  if (const auto ms = parse_iso8601_ms(f.last_updated)) r.event_time_ms = *ms;
  r.value_offset = static_cast<std::uint32_t>(a.size());
  a.append("{\"id\":", 6);
  append_json_string(a, f.id);
  a.append(",\"symbol\":", 10);
  append_json_string(a, f.symbol);
  a.append(",\"name\":", 8);
  append_json_string(a, f.name);
  auto num = [&](std::string_view prefix, std::size_t i) {
    a.append(prefix);
    if (f.null[i]) {
      a.append("null", 4);
    } else {
      append_double(a, f.num[i]);
    }
  };
  num(kNames[0], 0);
  num(kNames[1], 1);
  a.append(",\"market_cap_rank\":", 19);
  if (f.rank_null) {
    a.append("null", 4);
  } else {
    append_int(a, f.rank);
  }
  for (std::size_t i = 2; i < 7; ++i) num(kNames[i], i);
  a.append(",\"last_updated\":", 16);
  append_json_string(a, f.last_updated);
  a.push_back('}');
  r.value_length = static_cast<std::uint32_t>(a.size() - r.value_offset);
  r.sequence = seq++;
  out.records().push_back(r);
}

// Returns records seen, or -1 on error.
template <bool kWrite>
long walk_coingecko(od::parser& parser, const corpus& c, const payload& p, record_batch& out,
                    std::uint64_t& seq) {
  error_code err;
  od::document doc = iterate(parser, c, p, err);
  if (err) return -1;
  od::array arr;
  if (doc.get_array().get(arr)) return -1;
  long n = 0;
  coin_fields f;
  for (auto element : arr) {
    od::object o;
    if (element.get_object().get(o)) return -1;
    if (!read_coin(o, f)) return -1;
    if constexpr (kWrite) write_coin(f, out, seq);
    ++n;
  }
  return n;
}

long walk_iss(od::parser& parser, const corpus& c, const payload& p) {
  error_code err;
  od::document doc = iterate(parser, c, p, err);
  if (err) return -1;
  od::object o;
  if (doc.get_object().get(o)) return -1;
  std::string_view message;
  std::int64_t ts = 0;
  double lat = 0, lon = 0;
  // Open Notify does not keep its members in a fixed order (nor does the synthetic trace), so
  // every lookup is unordered, as in the engine.
  if (o.find_field_unordered("message").get_string().get(message)) return -1;
  if (o.find_field_unordered("timestamp").get_int64().get(ts)) return -1;
  od::object pos;
  if (o.find_field_unordered("iss_position").get_object().get(pos)) return -1;
  if (pos.find_field_unordered("latitude").get_double_in_string().get(lat)) return -1;
  if (pos.find_field_unordered("longitude").get_double_in_string().get(lon)) return -1;
  benchmark::DoNotOptimize(lat + lon + static_cast<double>(ts));
  return message == "success" ? 1 : 0;
}

long walk_randomuser(od::parser& parser, const corpus& c, const payload& p) {
  error_code err;
  od::document doc = iterate(parser, c, p, err);
  if (err) return -1;
  od::array results;
  if (doc.find_field("results").get_array().get(results)) return -1;
  long n = 0;
  for (auto element : results) {
    od::object u;
    if (element.get_object().get(u)) return -1;
    std::string_view gender, title, first, last, street, city, country, email, uuid, postcode;
    std::int64_t number = 0;
    double lat = 0, lon = 0;
    if (u.find_field("gender").get_string().get(gender)) return -1;
    od::object name, loc, st, coords, login;
    if (u.find_field("name").get_object().get(name)) return -1;
    if (name.find_field("title").get_string().get(title) ||
        name.find_field("first").get_string().get(first) ||
        name.find_field("last").get_string().get(last))
      return -1;
    if (u.find_field("location").get_object().get(loc)) return -1;
    if (loc.find_field("street").get_object().get(st)) return -1;
    if (st.find_field("number").get_int64().get(number) ||
        st.find_field("name").get_string().get(street))
      return -1;
    if (loc.find_field("city").get_string().get(city) ||
        loc.find_field("country").get_string().get(country))
      return -1;
    od::value pc;
    if (loc.find_field("postcode").get(pc)) return -1;
    postcode = pc.raw_json_token();  // a number or a string, hashed as text by the config
    if (loc.find_field("coordinates").get_object().get(coords)) return -1;
    if (coords.find_field("latitude").get_double_in_string().get(lat) ||
        coords.find_field("longitude").get_double_in_string().get(lon))
      return -1;
    if (u.find_field("email").get_string().get(email)) return -1;
    if (u.find_field("login").get_object().get(login)) return -1;
    if (login.find_field("uuid").get_string().get(uuid)) return -1;
    benchmark::DoNotOptimize(gender.size() + title.size() + first.size() + last.size() +
                             street.size() + city.size() + country.size() + email.size() +
                             uuid.size() + postcode.size());
    benchmark::DoNotOptimize(lat + lon + static_cast<double>(number));
    ++n;
  }
  return n;
}

// Returns the records walked, or -1 on an error.
EDGEPIPE_PASS long pass_walk(od::parser& parser, const corpus& c, bool write, record_batch& out,
                             std::uint64_t& seq) {
  out.clear();
  long records = 0;
  for (const payload& p : c.batch.payloads()) {
    long n = -1;
    switch (c.api) {
      case synth_api::coingecko:
        n = write ? walk_coingecko<true>(parser, c, p, out, seq)
                  : walk_coingecko<false>(parser, c, p, out, seq);
        break;
      case synth_api::iss:
        n = walk_iss(parser, c, p);
        break;
      case synth_api::randomuser:
        n = walk_randomuser(parser, c, p);
        break;
    }
    if (n < 0) return -1;
    records += n;
  }
  return records;
}

void BM_simdjson_ondemand_walk(benchmark::State& state, synth_api api, bool write) {
  const corpus& c = get_corpus(api);
  od::parser parser(default_config().max_payload_bytes);
  record_batch out;
  std::uint64_t seq = 0;
  long records = 0;
  for (auto _ : state) {
    records = pass_walk(parser, c, write, out, seq);
    if (records < 0) return state.SkipWithError("on-demand walk failed");
    benchmark::DoNotOptimize(out.arena().data());
  }
  if (static_cast<std::size_t>(records) != c.records) state.SkipWithError("record count differs");
  report(state, c);
  if (write)
    state.counters["out_bytes/rec"] =
        static_cast<double>(out.bytes()) / static_cast<double>(records ? records : 1);
}

// Stage 1 + stepping over each record: the least any On-Demand consumer of these bytes pays.
// Returns the elements stepped over, or -1 on an error.
EDGEPIPE_PASS long pass_skip(od::parser& parser, const corpus& c) {
  long elements = 0;
  for (const payload& p : c.batch.payloads()) {
    error_code err;
    od::document doc = iterate(parser, c, p, err);
    od::json_type t{};
    if (err || doc.type().get(t)) return -1;
    if (t == od::json_type::array) {
      od::array arr;
      if (doc.get_array().get(arr)) return -1;
      for (auto e : arr) {
        if (e.error()) return -1;
        ++elements;  // the iterator skips the unread element on increment
      }
    } else {
      od::object o;
      if (doc.get_object().get(o)) return -1;
      std::size_t fields = 0;
      if (o.count_fields().get(fields)) return -1;
      elements += static_cast<long>(fields);
    }
  }
  return elements;
}

void BM_simdjson_ondemand_skip(benchmark::State& state, synth_api api) {
  const corpus& c = get_corpus(api);
  od::parser parser(default_config().max_payload_bytes);
  for (auto _ : state) {
    const long n = pass_skip(parser, c);
    if (n < 0) return state.SkipWithError("on-demand skip failed");
    benchmark::DoNotOptimize(n);
  }
  report(state, c);
}

void register_all() {
  const synth_api apis[] = {synth_api::coingecko, synth_api::iss, synth_api::randomuser};
  auto reg = [](const std::string& name, auto&& fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMillisecond);
  };
  for (const synth_api api : apis) {
    const std::string n(synth_api_name(api));
    reg("BM_transform/" + n, [api](benchmark::State& s) { BM_transform(s, api, {}); });
    reg("BM_simdjson_dom_parse/" + n,
        [api](benchmark::State& s) { BM_simdjson_dom_parse(s, api); });
    reg("BM_simdjson_ondemand_skip/" + n,
        [api](benchmark::State& s) { BM_simdjson_ondemand_skip(s, api); });
    reg("BM_simdjson_ondemand_walk/" + n,
        [api](benchmark::State& s) { BM_simdjson_ondemand_walk(s, api, false); });
  }
  reg("BM_simdjson_ondemand_write/coingecko",
      [](benchmark::State& s) { BM_simdjson_ondemand_walk(s, synth_api::coingecko, true); });

  // Feature costs on the CoinGecko program.
  const std::pair<const char*, spec_tweak> variants[] = {
      {"keep_casts",
       [](source_spec& s) {
         for (auto& f : s.fields) f.cast = value_cast::keep;
       }},
      {"no_event_time", [](source_spec& s) { s.event_time_pointer.clear(); }},
      {"no_key", [](source_spec& s) { s.key_pointer.clear(); }},
      {"one_field",
       [](source_spec& s) {
         s.fields.resize(1);  // "id"
       }},
  };
  for (const auto& [name, tweak] : variants) {
    reg(std::string("BM_transform/coingecko/") + name,
        [t = tweak](benchmark::State& s) { BM_transform(s, synth_api::coingecko, t); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // builtin_implementation() would name the library's own build; the macro names this binary's.
  std::printf("simdjson %s: stage 1 (runtime dispatch) = %s, On-Demand stage 2 compiled as = %s\n",
              EDGEPIPE_STR(SIMDJSON_VERSION), simdjson::get_active_implementation()->name().c_str(),
              EDGEPIPE_STR(SIMDJSON_BUILTIN_IMPLEMENTATION));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
