// Synthetic Open Notify iss-now.json bodies (io/synth_apis.hpp).
#include "io/synth_apis.hpp"

#include <array>

namespace edgepipe::synth_detail {

void put_iss(std::string& out, const iss_orbit& orbit, rng& r, u64 t_ns) {
  const i64 elapsed_ms = static_cast<i64>((t_ns - kStartNs) / 1'000'000);
  const u32 turn =
      orbit.phase + static_cast<u32>(((elapsed_ms % kIssPeriodMs) << 32) / kIssPeriodMs);
  const i64 lat_e4 = kIssLatAmplitudeE4 * sin_q30(turn) / kQ30;
  const i64 lon_udeg =
      (orbit.lon0_udeg + elapsed_ms * kIssLonMicrodegPerS / 1000) % kFullCircleMicrodeg -
      kFullCircleMicrodeg / 2;

  // The real endpoint does not keep its key order; most bodies use the documented one.
  static constexpr std::array<std::array<int, 3>, 6> kOrders = {
      {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {0, 2, 1}, {1, 2, 0}, {2, 1, 0}}};
  const auto& order = kOrders[r.chance(750) ? 0 : r.below(kOrders.size())];
  const bool lon_first = r.chance(250);
  out += '{';
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i != 0) out += ", ";
    switch (order[i]) {
      case 0:
        out += R"("message": "success")";
        break;
      case 1:
        out += R"("timestamp": )";
        put_uint(out, t_ns / 1'000'000'000);
        break;
      default:
        out += lon_first ? R"("iss_position": {"longitude": )" : R"("iss_position": {"latitude": )";
        put_coordinate(out, lon_first ? lon_udeg / 100 : lat_e4);
        out += lon_first ? R"(, "latitude": )" : R"(, "longitude": )";
        put_coordinate(out, lon_first ? lat_e4 : lon_udeg / 100);
        out += '}';
        break;
    }
  }
  out += '}';
}

}  // namespace edgepipe::synth_detail
