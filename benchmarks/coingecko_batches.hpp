// What the transform stage ships for a synthetic CoinGecko markets trace: `payloads` synth
// payloads (seed 1) run through the embedded default config's `coingecko` transform, in
// 1024-record batches. Shared by the benchmarks that need realistic record batches
// (io_bench, spool_bench, spool_recovery). `on_payload` sees each body and its receive time
// before it is transformed (io_bench writes them to a trace). Exits on a config error.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_loader.hpp"
#include "core/batch.hpp"
#include "io/synth_payloads.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/transform/transform_engine.hpp"

namespace edgepipe::bench {

inline std::vector<std::unique_ptr<record_batch>> coingecko_record_batches(
    std::size_t payloads,
    const std::function<void(std::string_view body, std::int64_t received_unix_ns)>& on_payload =
        {}) {
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "coingecko_record_batches: %s\n", m.c_str());
    std::exit(1);
  };
  pipeline_config config;
  if (status s = load_default_config(pipeline_stage_checks(), config); !s) fail(s.message());
  std::vector<transform_program> programs;
  source_id cg = kUnknownSource;
  for (std::size_t i = 0; i < config.sources.size(); ++i) {
    transform_program p;
    if (status s = transform_program::compile(config.sources[i], p); !s) fail(s.message());
    programs.push_back(std::move(p));
    if (config.sources[i].name == "coingecko") cg = static_cast<source_id>(i);
  }
  if (cg == kUnknownSource) fail("the default config has no coingecko source");
  transform_engine engine(std::move(programs), transform_limits{});
  record_batch dead;
  std::uint64_t seq = 0;
  synth_generator gen(synth_api::coingecko, 1);
  std::string body;
  payload_batch one;
  std::vector<std::unique_ptr<record_batch>> batches;
  batches.push_back(std::make_unique<record_batch>());
  for (std::size_t i = 0; i < payloads; ++i) {
    const auto received = static_cast<std::int64_t>(gen.next(body));
    if (on_payload) on_payload(body, received);
    one.clear();
    one.add(body, cg, 200, received, 0);
    engine.run(one.payloads()[0], one.body(one.payloads()[0]), *batches.back(), dead, seq);
    if (batches.back()->records().size() >= 1024)
      batches.push_back(std::make_unique<record_batch>());
  }
  if (batches.back()->records().empty()) batches.pop_back();
  return batches;
}

}  // namespace edgepipe::bench
