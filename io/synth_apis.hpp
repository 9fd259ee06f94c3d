// The three synthetic APIs of io/synth_payloads, one .cpp each: what the generator keeps between
// bodies and the function that writes the next body.
// Threading: one generator (and its state) per thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/synth_common.hpp"

namespace edgepipe::synth_detail {

// ---- coingecko /api/v3/coins/markets?vs_currency=usd (synth_coingecko.cpp) --------------------

struct coin {
  std::string id, symbol, name, image;
  u64 base_pico = 0;                                   // the price the random walk reverts to
  i64 decimals = 2;                                    // price decimals the API shows for this coin
  u64 circ_milli = 0, total_milli = 0, max_milli = 0;  // 1/1000 coins; 0 prints null
  i64 vol_ppm = 0;                                     // price step per poll
  i64 dev_ppm = 0;                                     // current price relative to base
  i64 change_e7 = 0;   // 24 h change as a fraction * 1e7 == percent * 1e5, as the API prints it
  u64 volume_ppm = 0;  // 24 h volume relative to market cap
  u64 ath_pico = 0, atl_pico = 0;
  i64 ath_ms = 0, atl_ms = 0;
  u64 roi_cost_pico = 0;  // 0 prints "roi": null
  std::string_view roi_currency;
  bool ranked = true, has_24h = true, fdv_known = true;
};

/// The 250 coins of the first body.
std::vector<coin> make_coins(rng& r);
/// One poll: every coin steps its random walk, then the market array is written.
void put_coingecko(std::string& out, std::vector<coin>& coins, rng& r, i64 now_ms);

// ---- iss iss-now.json (synth_iss.cpp) --------------------------------------------------------

constexpr i64 kIssPeriodMs = 5'561'000;      // one orbit, ~92.7 min
constexpr i64 kIssLatAmplitudeE4 = 516'000;  // orbital inclination, 1e-4 degrees
constexpr i64 kIssLonMicrodegPerS = 60'558;  // orbital motion minus the Earth's rotation
constexpr i64 kFullCircleMicrodeg = 360'000'000;

struct iss_orbit {
  u32 phase = 0;      // argument of latitude at the start, 2^32 per turn
  i64 lon0_udeg = 0;  // longitude at the start, [0, 360) degrees
};

void put_iss(std::string& out, const iss_orbit& orbit, rng& r, u64 t_ns);

// ---- randomuser /api/?results=1 (synth_randomuser.cpp) ---------------------------------------

void put_randomuser(std::string& out, rng& r, i64 now_ms);

}  // namespace edgepipe::synth_detail
