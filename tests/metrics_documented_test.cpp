// Every metric the daemon exports is documented (issue 17, item 12): runs a pipeline with a
// spool, takes its /metrics text and looks up each metric family's full name in
// docs/operations.md.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "config/config_loader.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/metrics_text.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

TEST(Metrics, EveryExportedMetricIsDocumentedInOperationsMd) {
  temp_dir dir;
  std::string trace;
  for (int i = 0; i < 50; ++i)
    trace += "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
             ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"2.5\"}}\n";
  testing::write_file(dir / "iss.jsonl", trace);
  pipeline_config c;
  ASSERT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.sinks.clear();
  sink_config s;
  s.name = "a";
  s.type = "file";
  s.file.path = dir / "a.jsonl";
  c.sinks.push_back(s);
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = dir / "spool";
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  ASSERT_TRUE(validate_config(c, pipeline_stage_checks()).is_ok());
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  p.join();
  const std::string text = prometheus_text(p);
  const std::string docs =
      testing::read_file(std::string(EDGEPIPE_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_FALSE(docs.empty());
  std::set<std::string> names;
  std::istringstream in(text);
  std::string line;
  const std::regex family(R"(^(edgepipe_[a-z0-9_]+?)(_bucket|_sum|_count)?\{)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, family)) continue;
    std::string name = m[1].str();
    // Histogram series name their family without the suffix.
    if (m[2].matched && text.find("# TYPE " + name + " histogram") == std::string::npos)
      name += m[2].str();
    names.insert(name);
  }
  EXPECT_GT(names.size(), 20u);
  for (const std::string& n : names)
    EXPECT_NE(docs.find("`" + n + "`"), std::string::npos) << n << " is not in docs/operations.md";
}

}  // namespace
}  // namespace edgepipe
