// What one /api/status document costs to build, beside what one /metrics text costs, on the
// same pipeline (default config: 3 sources, spool, one file sink, 20 dead letters kept). Both
// run on the HTTP thread, never on the pipeline's: this is the CPU a poller takes per request.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "config/config_loader.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/metrics_text.hpp"
#include "stages/report/status_json.hpp"

namespace {

using namespace edgepipe;

struct fixture {
  std::filesystem::path dir;
  std::unique_ptr<pipeline> p;
  std::unique_ptr<status_report> report;

  fixture() {
    dir = std::filesystem::temp_directory_path() / "edgepipe-status-bench";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::ofstream t(dir / "iss.jsonl");
    for (int i = 0; i < 2000; ++i)
      t << "{\"message\":\"success\",\"timestamp\":" << 1700000000 + i
        << ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"-1.25\"}}\n";
    for (int i = 0; i < 30; ++i) t << "<b>not json " << i << "</b>\n";
    t.close();
    pipeline_config c;
    (void)load_default_config(pipeline_stage_checks(), c);
    c.sinks.front().file.path = (dir / "out.jsonl").string();
    c.dead_letter.path = (dir / "dead.jsonl").string();
    c.spool.dir = (dir / "spool").string();
    replay_config rc;
    rc.trace = (dir / "iss.jsonl").string();
    rc.source = "iss";
    c.replay = rc;
    p = std::make_unique<pipeline>(c);
    if (!p->build()) std::abort();
    report = std::make_unique<status_report>(*p, "replay");
    p->start();
    while (!p->finished()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~fixture() {
    p->join();
    std::filesystem::remove_all(dir);
  }
};

fixture& shared() {
  static fixture f;
  return f;
}

void BM_MetricsText(benchmark::State& state) {
  auto& f = shared();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string s = prometheus_text(*f.p);
    bytes = s.size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MetricsText);

void BM_StatusJson(benchmark::State& state) {
  auto& f = shared();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string s = f.report->json();
    bytes = s.size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StatusJson);

}  // namespace

BENCHMARK_MAIN();
