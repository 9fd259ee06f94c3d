#include "io/synth_payloads.hpp"

#include <algorithm>

#include "io/synth_apis.hpp"

namespace edgepipe {

namespace {

using namespace synth_detail;

u64 poll_interval_ns(synth_api api) noexcept {
  switch (api) {
    case synth_api::iss:
      return 5'000'000'000;
    case synth_api::randomuser:
      return 10'000'000'000;
    case synth_api::coingecko:
      break;
  }
  return 60'000'000'000;
}

}  // namespace

std::optional<synth_api> parse_synth_api(std::string_view name) noexcept {
  for (const synth_api api : {synth_api::coingecko, synth_api::iss, synth_api::randomuser}) {
    if (name == synth_api_name(api)) return api;
  }
  return std::nullopt;
}

std::string_view synth_api_name(synth_api api) noexcept {
  switch (api) {
    case synth_api::iss:
      return "iss";
    case synth_api::randomuser:
      return "randomuser";
    case synth_api::coingecko:
      break;
  }
  return "coingecko";
}

struct synth_generator::state {
  // Each api gets its own stream, so one seed gives unrelated coingecko and iss traces.
  state(synth_api a, u64 seed) : api(a), r(seed ^ (0x5eed'0000'0000'0000 + static_cast<u64>(a))) {
    if (api == synth_api::coingecko) coins = make_coins(r);
    if (api == synth_api::iss) {
      orbit.phase = static_cast<u32>(r.next() >> 32);
      orbit.lon0_udeg = r.between(0, kFullCircleMicrodeg - 1);
    }
  }
  synth_api api;
  rng r;
  u64 made = 0;
  std::vector<coin> coins;
  iss_orbit orbit;
};

synth_generator::synth_generator(synth_api api, std::uint64_t seed)
    : state_(std::make_unique<state>(api, seed)) {}
synth_generator::~synth_generator() = default;
synth_generator::synth_generator(synth_generator&&) noexcept = default;
synth_generator& synth_generator::operator=(synth_generator&&) noexcept = default;

std::uint64_t synth_generator::next(std::string& out) {
  state& st = *state_;
  // Jitter never moves the first response before the start.
  const i64 offset =
      static_cast<i64>(st.made * poll_interval_ns(st.api)) + st.r.between(-50'000'000, 50'000'000);
  const u64 t_ns = kStartNs + static_cast<u64>(std::max<i64>(offset, 0));
  const i64 now_ms = static_cast<i64>(t_ns / 1'000'000);
  out.clear();
  switch (st.api) {
    case synth_api::coingecko:
      put_coingecko(out, st.coins, st.r, now_ms);
      break;
    case synth_api::iss:
      put_iss(out, st.orbit, st.r, t_ns);
      break;
    case synth_api::randomuser:
      put_randomuser(out, st.r, now_ms);
      break;
  }
  ++st.made;
  return t_ns;
}

std::uint64_t synth_generator::payloads_made() const noexcept { return state_->made; }

}  // namespace edgepipe
