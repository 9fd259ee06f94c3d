// The pipeline in-process (also run under ThreadSanitizer in CI): every record read reaches the
// sinks, fan-out to several sinks delivers the same records, and stop means drain.
#include "stages/pipeline/pipeline.hpp"
#include "stages/report/metrics_text.hpp"
#include "stages/report/operator_routes.hpp"
#include "stages/report/run_summary.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "config/config_loader.hpp"
#include "io/file_faults.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::read_lines;
using testing::temp_dir;

std::string iss_body(int i) {
  return "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
         ",\"iss_position\":{\"latitude\":\"" + std::to_string(i % 50) +
         ".5\",\"longitude\":\"-1.25\"}}";
}

/// Writes `payloads` ISS bodies, one per line, to dir/iss.jsonl (plus `extra` lines).
void write_iss_trace(const temp_dir& dir, int payloads, const std::string& extra = "") {
  std::string trace;
  for (int i = 0; i < payloads; ++i) trace += iss_body(i) + "\n";
  testing::write_file(dir / "iss.jsonl", trace + extra);
}

/// Builds, runs and joins a pipeline on `c`; returns its summary ("" if it did not build).
std::string run_to_end(const pipeline_config& c) {
  pipeline p(c);
  const status built = p.build();
  EXPECT_TRUE(built.is_ok()) << built.message();
  if (!built) return "";
  p.start();
  p.join();
  return summary_json(p, 1.0);
}

pipeline_config small_config(const temp_dir& dir, std::size_t ring_capacity) {
  pipeline_config c;
  EXPECT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.ring_capacity = ring_capacity;
  c.batch_records = 7;  // tiny batches: many hand-offs, many stalls
  c.sinks.clear();
  for (const char* name : {"a", "b"}) {
    sink_config s;
    s.name = name;
    s.type = "file";
    s.file.path = dir / (std::string(name) + ".jsonl");
    c.sinks.push_back(s);
  }
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = dir / "spool";
  c.spool.fsync = fsync_policy::off;  // the spool's threads are under test, not the disk
  return c;
}

TEST(Pipeline, FansOutEveryRecordToEverySinkWithTinyRings) {
  temp_dir dir;
  constexpr int kPayloads = 3000;
  write_iss_trace(dir, kPayloads, "{not json}\n");
  pipeline_config c = small_config(dir, 2);
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  ASSERT_TRUE(validate_config(c, pipeline_stage_checks()).is_ok());
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  p.join();
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), static_cast<std::size_t>(kPayloads));
  EXPECT_EQ(read_lines(dir / "a.jsonl"), read_lines(dir / "b.jsonl"));
  EXPECT_EQ(read_lines(dir / "dead.jsonl").size(), 1u);
  const auto* a = p.counters().find("sink:a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->records_out.get(), static_cast<std::uint64_t>(kPayloads));
  EXPECT_GT(a->latency_ns.read().total(), 0u);
  const std::string summary = summary_json(p, 1.0);
  EXPECT_EQ(testing::json_int(summary, "records"), kPayloads) << summary;
  EXPECT_EQ(testing::json_int(summary, "rejected"), 1) << summary;
  // The process's CPU time since the sources started: the stages ran, so some was spent.
  EXPECT_GT(testing::json_double(summary, "cpu_seconds"), 0.0) << summary;
}

// /metrics shows the rings that carry data: with a spool, transform -> spool and the dead-letter
// ring, not the sinks' input rings (the sinks read the spool); without one, transform -> sink.
TEST(Pipeline, MetricsExportTheRingsThatCarryData) {
  for (const bool spooled : {true, false}) {
    temp_dir dir;
    write_iss_trace(dir, 200, "{not json}\n");
    pipeline_config c = small_config(dir, 4);
    if (!spooled) c.spool.dir.clear();
    c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
    pipeline p(c);
    ASSERT_TRUE(p.build().is_ok());
    p.start();
    p.join();
    const std::string m = prometheus_text(p);
    auto has = [&](const std::string& line) { return m.find(line + "\n") != std::string::npos; };
    EXPECT_TRUE(has("edgepipe_ring_capacity{edge=\"transform->dead-letter\"} 4")) << m;
    EXPECT_TRUE(has("edgepipe_ring_capacity{edge=\"transform->spool\"} 4") == spooled) << m;
    EXPECT_TRUE(has("edgepipe_ring_capacity{edge=\"transform->a\"} 4") == !spooled) << m;
    EXPECT_TRUE(m.find("edgepipe_ring_stalls_total{edge=\"transform->spool\"}") !=
                    std::string::npos ||
                !spooled);
    EXPECT_EQ(m.find("edge=\"transform->b\"") != std::string::npos, !spooled) << m;
    EXPECT_TRUE(has("edgepipe_payloads_invalid_total{source=\"iss\"} 1")) << m;
  }
}

// /metrics is scraped on the operator endpoint's thread while the stage threads run: what it
// reads must be published for that (ThreadSanitizer found the spool appender's plain
// appended_records/appended_bytes counters read here while the spool thread wrote them).
TEST(Pipeline, MetricsCanBeScrapedWhileThePipelineRuns) {
  temp_dir dir;
  constexpr int kPayloads = 3000;
  write_iss_trace(dir, kPayloads);
  pipeline_config c = small_config(dir, 2);
  c.spool.fsync = fsync_policy::every_batch;  // the fsync counter moves too
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  int scrapes = 0;
  const bool finished = testing::wait_until(
      [&] {
        (void)prometheus_text(p);
        ++scrapes;
        return p.finished();
      },
      std::chrono::seconds(60));
  p.join();
  ASSERT_TRUE(finished);
  EXPECT_GT(scrapes, 1);
  const std::string m = prometheus_text(p);
  EXPECT_NE(m.find("edgepipe_spool_appended_records_total " + std::to_string(kPayloads) + "\n"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("edgepipe_spool_fsyncs_total 0\n"), std::string::npos) << m;
}

TEST(Pipeline, FansOutFromMemoryWithoutASpool) {
  temp_dir dir;
  constexpr int kPayloads = 2000;
  write_iss_trace(dir, kPayloads);
  pipeline_config c = small_config(dir, 2);
  c.spool.dir.clear();
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  EXPECT_FALSE(p.spooled());
  p.start();
  p.join();
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), static_cast<std::size_t>(kPayloads));
  EXPECT_EQ(read_lines(dir / "a.jsonl"), read_lines(dir / "b.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir / "spool"));
  // Nothing given up: /health answers its status line alone.
  const std::string health = operator_reply(p, "/health").body;
  EXPECT_EQ(health.find('\n'), health.size() - 1) << "one line only: " << health;
}

// Without a spool a sink's failed records are given up: /health counts them per sink under its
// status line (stages/report/health: records_given_up).
TEST(Pipeline, ASinksFailedRecordsWithoutASpoolAreShownUnderHealthsStatusLine) {
  temp_dir dir;
  write_iss_trace(dir, 50);
  pipeline_config c = small_config(dir, 64);
  c.batch_records = 256;
  c.spool.dir.clear();
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  // Sink a's first write fails with EIO; b writes everything.
  file_faults::plan plan;
  plan.what = file_faults::op::write;
  plan.path_part = "/a.jsonl";
  plan.count = 1;
  file_faults::arm(plan);
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  p.join();
  file_faults::disarm();
  const std::uint64_t failed = p.sinks()[0]->counters().failed.get();
  ASSERT_GT(failed, 0u);
  EXPECT_EQ(p.sinks()[1]->counters().failed.get(), 0u);
  const http_reply r = operator_reply(p, "/health");
  EXPECT_EQ(r.status, 503);  // stopped; the second line is what was lost
  EXPECT_EQ(r.body.rfind("not ready: ", 0), 0u) << r.body;
  EXPECT_EQ(r.body.substr(r.body.find('\n') + 1),
            "given up: sinks.a: " + std::to_string(failed) + " failed without a spool\n");
}

TEST(Pipeline, SpoolIsEmptyAfterACleanRunAndIdsContinueAcrossRuns) {
  temp_dir dir;
  constexpr int kPayloads = 500;
  write_iss_trace(dir, kPayloads);
  pipeline_config c = small_config(dir, 4);
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  for (int run = 0; run < 2; ++run) {
    pipeline p(c);
    ASSERT_TRUE(p.build().is_ok());
    EXPECT_TRUE(p.spooled());
    p.start();
    p.join();
    const std::string summary = summary_json(p, 1.0);
    EXPECT_EQ(testing::json_int(summary, "appended"), kPayloads) << summary;
    EXPECT_EQ(testing::json_int(summary, "backlog"), 0) << summary;
    // Both latencies are reported: received -> handed, and received -> confirmed (the spool's).
    EXPECT_NE(summary.find("\"latency_us\":{\"p50\":"), std::string::npos) << summary;
    EXPECT_NE(summary.find("\"confirm_latency_us\":{\"p50\":"), std::string::npos) << summary;
    for (const auto& sk : p.sinks())
      EXPECT_EQ(sk->counters().confirm_latency_ns.read().total(),
                sk->counters().latency_ns.read().total())
          << "every record handed over was confirmed once";
  }
  std::size_t segments = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "spool"))
    segments += e.path().extension() == ".seg";
  EXPECT_EQ(segments, 0u);
  EXPECT_NE(testing::read_file(dir / "spool/a.ledger").find("confirmed_end=1000"),
            std::string::npos);
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), static_cast<std::size_t>(2 * kPayloads));
}

// Sinks that keep up take their frames from the spool's memory tail; with no tail
// (memory_bytes = 0) they read every frame back from disk. Both deliver the same lines.
TEST(Pipeline, SinksReadFromTheMemoryTailOrFromDiskWithTheSameResult) {
  temp_dir dir;
  constexpr int kPayloads = 700;
  write_iss_trace(dir, kPayloads);
  std::vector<std::string> lines[2];
  for (int run = 0; run < 2; ++run) {
    temp_dir out;
    pipeline_config c = small_config(out, 4);
    c.spool.fsync = fsync_policy::every_batch;  // background syncs, direct I/O padding
    c.spool.memory_bytes = run == 0 ? 0 : std::uint64_t{32} << 20;
    c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
    const std::string summary = run_to_end(c);
    EXPECT_EQ(testing::json_int(summary, "backlog"), 0) << summary;
    if (run == 0)
      EXPECT_EQ(testing::json_int(summary, "from_memory"), 0) << summary;
    else
      EXPECT_GT(testing::json_int(summary, "from_memory"), 0) << summary;
    lines[run] = read_lines(out / "a.jsonl");
    EXPECT_EQ(lines[run].size(), static_cast<std::size_t>(kPayloads));
    EXPECT_EQ(lines[run], read_lines(out / "b.jsonl"));
  }
  EXPECT_EQ(lines[0], lines[1]);
}

// Backpressure before spilling: with a memory tail of a few batches the sinks would fall off
// it and read most frames back from disk; the spool thread waits for them instead, so every
// record reaches both sinks from memory and nothing is read back.
TEST(Pipeline, SinksThatFallBehindATinyMemoryTailAreWaitedForNotSpilledToDisk) {
  temp_dir dir;
  constexpr int kPayloads = 3000;
  write_iss_trace(dir, kPayloads);
  pipeline_config c = small_config(dir, 4);
  c.spool.memory_bytes = 1024;  // one batch of 7 records (~700 bytes)
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  const std::string summary = run_to_end(c);
  ASSERT_NE(summary.find("\"b\":{\"backlog\""), std::string::npos) << summary;
  const std::string b = summary.substr(summary.find("\"b\":{\"backlog\""));
  EXPECT_EQ(testing::json_int(summary, "from_memory"), kPayloads) << summary;
  EXPECT_EQ(testing::json_int(b, "from_memory"), kPayloads) << summary;
  EXPECT_GT(testing::json_int(summary, "follower_waits"), 0) << summary;
  EXPECT_EQ(testing::json_int(summary, "sinks_left_behind"), 0) << summary;
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), static_cast<std::size_t>(kPayloads));
  EXPECT_EQ(read_lines(dir / "a.jsonl"), read_lines(dir / "b.jsonl"));
}

TEST(Pipeline, StopDrainsWhatWasRead) {
  temp_dir dir;
  write_iss_trace(dir, 200000);
  pipeline_config c = small_config(dir, 4);
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  const auto* src = p.counters().find("source:replay");
  ASSERT_TRUE(testing::wait_until([&] { return src->records_in.get() > 1000; }));
  p.request_stop();
  p.join();
  const auto* t = p.counters().find("transform");
  const auto* a = p.counters().find("sink:a");
  const auto* b = p.counters().find("sink:b");
  // Everything the source read went through the transform and reached both sinks.
  EXPECT_EQ(t->records_in.get(), src->records_in.get());
  EXPECT_EQ(a->records_out.get(), t->records_out.get());
  EXPECT_EQ(b->records_out.get(), t->records_out.get());
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), a->records_out.get());
}

}  // namespace
}  // namespace edgepipe
