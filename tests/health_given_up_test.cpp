// /health's second line (stages/report/health: records_given_up): the records a pipeline gave up
// on a path configured to give data up are counted and shown under the status line, per sink;
// a pipeline that gave nothing up answers the status line alone.
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.hpp"
#include "io/file_faults.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/operator_routes.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

/// A replay of `payloads` ISS bodies to file sinks "a" and "b", without a spool.
pipeline_config unspooled_config(const temp_dir& dir, int payloads) {
  std::string trace;
  for (int i = 0; i < payloads; ++i)
    trace += "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
             ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"-1.25\"}}\n";
  testing::write_file(dir / "iss.jsonl", trace);
  pipeline_config c;
  EXPECT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.sinks.clear();
  for (const char* name : {"a", "b"}) {
    sink_config s;
    s.name = name;
    s.type = "file";
    s.file.path = dir / (std::string(name) + ".jsonl");
    c.sinks.push_back(s);
  }
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = "";
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  EXPECT_TRUE(validate_config(c, pipeline_stage_checks()).is_ok());
  return c;
}

TEST(HealthGivenUp, ASinksFailedRecordsWithoutASpoolAreShownUnderTheStatusLine) {
  temp_dir dir;
  const pipeline_config c = unspooled_config(dir, 50);
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
  // After join the status line says why it is not ready; the second line is what was lost.
  const http_reply r = operator_reply(p, "/health");
  EXPECT_EQ(r.status, 503);
  const auto second = r.body.find('\n') + 1;
  EXPECT_EQ(r.body.rfind("not ready: ", 0), 0u) << r.body;
  EXPECT_EQ(r.body.substr(second),
            "given up: sinks.a: " + std::to_string(failed) + " failed without a spool\n");
}

TEST(HealthGivenUp, NothingGivenUpIsTheStatusLineAlone) {
  temp_dir dir;
  pipeline p(unspooled_config(dir, 50));
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  p.join();
  const std::string body = operator_reply(p, "/health").body;
  EXPECT_EQ(body.rfind("not ready: ", 0), 0u) << body;
  EXPECT_EQ(body.find('\n'), body.size() - 1) << "one line only: " << body;
}

}  // namespace
}  // namespace edgepipe
