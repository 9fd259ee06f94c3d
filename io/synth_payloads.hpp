// Synthetic API response bodies shaped like the three seed APIs (coingecko markets, iss-now,
// randomuser), for `edgepipe synth` traces, tests and profiling. Output is a pure function of
// (api, seed): all randomness and arithmetic is our own integer code, so a trace made on one
// machine is byte-identical on another.
// Threading: one generator per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace edgepipe {

enum class synth_api { coingecko, iss, randomuser };

/// Parses "coingecko" | "iss" | "randomuser".
std::optional<synth_api> parse_synth_api(std::string_view name) noexcept;
std::string_view synth_api_name(synth_api api) noexcept;  // also the source name used in traces

/// Makes one API response body after another. Deterministic for a given (api, seed) on any
/// platform: own splitmix64/xoshiro256** PRNG and fixed-point integer math, no std::
/// distributions and no floating point.
/// runs on: any single thread (not thread-safe; one generator per thread).
class synth_generator {
 public:
  synth_generator(synth_api api, std::uint64_t seed);
  ~synth_generator();
  synth_generator(synth_generator&&) noexcept;
  synth_generator& operator=(synth_generator&&) noexcept;

  /// Replaces `out` with the next body (no allocation once `out` has grown to a typical size)
  /// and returns the simulated receive time of that response in Unix nanoseconds: the
  /// seed APIs' poll intervals (iss every 5 s, randomuser every 10 s, coingecko every 60 s),
  /// starting at 2026-01-01T00:00:00Z, with a little deterministic jitter (+-50 ms).
  std::uint64_t next(std::string& out);
  std::uint64_t payloads_made() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace edgepipe
