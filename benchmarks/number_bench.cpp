// The `double` cast of the transform (stages/transform/transform_engine.cpp write_field,
// value_cast::double_): today every number token is parsed with parse_double (std::from_chars) and
// written back with append_double (std::to_chars shortest), which callgrind shows as ~35% of the
// CoinGecko transform's instructions. This benchmark measures that round trip on the real number
// tokens of the CoinGecko trace against a prototype fast path that produces byte-identical output
// without converting at all:
//
//   a plain JSON decimal (-?(0|[1-9][0-9]*)(\.[0-9]+)?, no exponent) with at most 15 significant
//   digits round-trips through a double unchanged (DBL_DIG = 15), so its shortest round-trip
//   digits are its own significant digits; std::to_chars then only chooses between fixed and
//   scientific notation (whichever is shorter, fixed on a tie), which is a matter of counting.
//   Anything else (exponents, 16+ digits, non-JSON spellings) falls back to the current path.
//
// At start-up the prototype is checked against parse_double + append_double on every token of the
// trace and on a few million random decimals; any difference aborts the program (exit 1).
//
//   BM_double_cast/current      parse_double + append_double (what the engine does now)
//   BM_double_cast/fastpath     the prototype, with the fallback for the tokens it does not take
//   BM_int_cast/current         parse_int + append_int (market_cap_rank)
//   BM_int_cast/fastpath        verbatim copy of canonical integer tokens, fallback otherwise
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.hpp"
#include "core/byte_arena.hpp"
#include "io/synth_payloads.hpp"
#include "stages/transform/json_numbers.hpp"

namespace {

using namespace edgepipe;
namespace od = simdjson::ondemand;

// ---- the prototype -----------------------------------------------------------------------------

/// The engine's current double cast; false when the engine would reject the value.
bool append_double_current(byte_arena& out, std::string_view t) {
  const auto d = parse_double(t);
  if (!d) return false;
  append_double(out, *d);
  return true;
}

bool append_double_fast(byte_arena& out, std::string_view t) {
  return append_double_token(out, t) || append_double_current(out, t);
}

bool append_int_current(byte_arena& out, std::string_view t) {
  const auto v = parse_int(t);
  if (!v) return false;
  append_int(out, *v);
  return true;
}

bool append_int_fast(byte_arena& out, std::string_view t) {
  return append_int_token(out, t) || append_int_current(out, t);
}

// ---- tokens ------------------------------------------------------------------------------------

struct token_set {
  std::string storage;  // tokens back to back
  std::vector<std::string_view> doubles;
  std::vector<std::string_view> ints;
  std::size_t fast_doubles = 0;  // how many the prototype takes without falling back
};

std::string_view trim_token(std::string_view t) {
  while (!t.empty() &&
         (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t'))
    t.remove_suffix(1);
  return t;
}

const token_set& tokens() {
  static const token_set set = [] {
    token_set s;
    static constexpr std::string_view kDoubles[] = {
        "current_price",     "market_cap", "total_volume",
        "high_24h",          "low_24h",    "price_change_percentage_24h",
        "circulating_supply"};
    std::vector<std::pair<bool, std::pair<std::size_t, std::size_t>>> spans;  // int?, (off, len)
    synth_generator gen(synth_api::coingecko, 1);
    std::string body;
    od::parser parser;
    const char* env = std::getenv("EDGEPIPE_BENCH_COINGECKO_PAYLOADS");
    const std::size_t payloads = env ? std::strtoull(env, nullptr, 10) : 40;
    for (std::size_t i = 0; i < payloads; ++i) {
      gen.next(body);
      simdjson::padded_string padded(body);
      od::document doc = parser.iterate(padded);
      for (auto coin : doc.get_array()) {
        od::object o = coin.get_object();
        for (auto field : o) {
          const std::string_view key = field.unescaped_key();
          od::value v = field.value();
          if (v.type() != od::json_type::number) continue;
          bool is_double = false;
          for (auto k : kDoubles) is_double |= k == key;
          const bool is_int = key == "market_cap_rank";
          if (!is_double && !is_int) continue;
          const std::string_view t = trim_token(v.raw_json_token());
          spans.push_back({is_int, {s.storage.size(), t.size()}});
          s.storage.append(t);
        }
      }
    }
    for (const auto& [is_int, span] : spans) {
      const std::string_view t(s.storage.data() + span.first, span.second);
      (is_int ? s.ints : s.doubles).push_back(t);
    }
    byte_arena scratch;
    for (auto t : s.doubles) {
      scratch.clear();
      s.fast_doubles += append_double_token(scratch, t) ? 1u : 0u;
    }
    return s;
  }();
  return set;
}

// ---- verification ------------------------------------------------------------------------------

std::uint64_t rng_state = 0x9e3779b97f4a7c15ull;
std::uint64_t next_random() {
  std::uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <class Fast, class Slow>
std::size_t compare(std::string_view t, Fast fast, Slow slow, bool print) {
  byte_arena a, b;
  const bool fa = fast(a, t);
  const bool sb = slow(b, t);
  if (fa == sb && a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0) return 0;
  if (print)
    std::fprintf(stderr,
                 "number_bench: MISMATCH for '%.*s': fast '%.*s' (%d), current '%.*s' (%d)\n",
                 static_cast<int>(t.size()), t.data(), static_cast<int>(a.size()), a.data(), fa,
                 static_cast<int>(b.size()), b.data(), sb);
  return 1;
}

void verify() {
  const token_set& s = tokens();
  std::size_t bad = 0;
  for (auto t : s.doubles) bad += compare(t, append_double_fast, append_double_current, bad < 10);
  for (auto t : s.ints) bad += compare(t, append_int_fast, append_int_current, bad < 10);
  // Random decimals: 0-20 integer digits (leading zeros included), 0-20 fraction digits.
  std::string t;
  const std::size_t n = 2'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    t.clear();
    const std::uint64_t r = next_random();
    if (r & 1) t.push_back('-');
    const auto int_digits = static_cast<int>((r >> 1) % 21);
    const auto frac_digits = static_cast<int>((r >> 8) % 21);
    const bool zero_heavy = ((r >> 16) & 3) == 0;  // many zeros: 1000000, 0.000012
    for (int k = 0; k < int_digits; ++k) {
      const std::uint64_t d = next_random() % 10;
      t.push_back(static_cast<char>('0' + (zero_heavy && d < 7 ? 0 : d)));
    }
    if (int_digits == 0) t.push_back('0');
    if (frac_digits > 0 || ((r >> 20) & 7) == 0) {
      t.push_back('.');
      for (int k = 0; k < frac_digits; ++k) {
        const std::uint64_t d = next_random() % 10;
        t.push_back(static_cast<char>('0' + (zero_heavy && d < 7 ? 0 : d)));
      }
    }
    if (((r >> 24) & 15) == 0) {  // some exponents, some junk
      t += ((r >> 28) & 1) ? "e-7" : " ";
    }
    bad += compare(t, append_double_fast, append_double_current, bad < 10);
    bad += compare(t, append_int_fast, append_int_current, bad < 10);
  }
  std::printf(
      "number_bench: %zu double tokens (%.1f%% on the fast path), %zu int tokens; "
      "verified against parse_double/append_double and parse_int/append_int on those and "
      "%zu random decimals: %zu mismatches\n",
      s.doubles.size(),
      100.0 * static_cast<double>(s.fast_doubles) /
          static_cast<double>(s.doubles.empty() ? 1 : s.doubles.size()),
      s.ints.size(), n, bad);
  if (bad != 0) std::exit(1);
}

// ---- benchmarks --------------------------------------------------------------------------------

template <bool (*Fn)(byte_arena&, std::string_view), bool kInts>
void BM_cast(benchmark::State& state) {
  const token_set& s = tokens();
  const auto& list = kInts ? s.ints : s.doubles;
  byte_arena out;
  out.reserve(list.size() * 32);
  for (auto _ : state) {
    out.clear();
    for (auto t : list) benchmark::DoNotOptimize(Fn(out, t));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(list.size()));
}

BENCHMARK_TEMPLATE(BM_cast, append_double_current, false)->Name("BM_double_cast/current");
BENCHMARK_TEMPLATE(BM_cast, append_double_fast, false)->Name("BM_double_cast/fastpath");
BENCHMARK_TEMPLATE(BM_cast, append_int_current, true)->Name("BM_int_cast/current");
BENCHMARK_TEMPLATE(BM_cast, append_int_fast, true)->Name("BM_int_cast/fastpath");

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  verify();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
