// [pipeline] cpus: the CPU list syntax (platform/cpu_list.hpp), the loader's checks (CPUs the
// process may not run on, a stage pinned outside the set), and that threads made after the
// process is moved inherit its set (platform/thread.hpp), which is how a pipeline's threads
// follow [pipeline] cpus (app/run_pipeline.cpp).
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

#include "config/config_loader.hpp"
#include "config_test_util.hpp"
#include "platform/cpu_list.hpp"
#include "platform/thread.hpp"
#include "stages/pipeline/stage_checks.hpp"

namespace edgepipe {
namespace {

std::vector<int> parsed(std::string_view text) {
  std::vector<int> cpus{-1};
  std::string error;
  EXPECT_TRUE(parse_cpu_list(text, cpus, error)) << text << ": " << error;
  return cpus;
}

std::string parse_error(std::string_view text) {
  std::vector<int> cpus;
  std::string error;
  EXPECT_FALSE(parse_cpu_list(text, cpus, error)) << "accepted: \"" << text << "\"";
  return error;
}

using testing::kMinimal;
using testing::load_error;

TEST(CpuList, ParsesNumbersRangesAndLists) {
  EXPECT_EQ(parsed("0"), (std::vector<int>{0}));
  EXPECT_EQ(parsed("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parsed("0,2"), (std::vector<int>{0, 2}));
  EXPECT_EQ(parsed("0-1,4"), (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(parsed("1023"), (std::vector<int>{1023}));
  EXPECT_EQ(parsed("5-5"), (std::vector<int>{5}));
}

TEST(CpuList, AllowsWhitespaceAroundItems) {
  EXPECT_EQ(parsed(" 0 , 2 "), (std::vector<int>{0, 2}));
  EXPECT_EQ(parsed("0 - 1,\t4"), (std::vector<int>{0, 1, 4}));
}

TEST(CpuList, SortsAndMergesDuplicates) {
  EXPECT_EQ(parsed("4,0-2,1,2"), (std::vector<int>{0, 1, 2, 4}));
  EXPECT_EQ(parsed("3,3"), (std::vector<int>{3}));
}

TEST(CpuList, AllMeansNoRestriction) {
  EXPECT_TRUE(parsed("all").empty());
  EXPECT_TRUE(parsed(" all ").empty());
}

TEST(CpuList, MalformedListsAreRefusedNamingTheValueAndTheSyntax) {
  for (const char* bad : {"0-", "a", "3-1", "", "1,,2", "-1", "1024", "0-1024", ",", "1,", "0 1",
                          "1-2-3", "+1", "All"}) {
    const std::string e = parse_error(bad);
    EXPECT_NE(e.find("\"" + std::string(bad) + "\""), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find("\"0-1,4\""), std::string::npos) << "says the syntax: " << e;
  }
  EXPECT_NE(parse_error("3-1").find("backwards"), std::string::npos);
  EXPECT_NE(parse_error("1,,2").find("empty item"), std::string::npos);
}

TEST(CpuList, FormatsRangesBack) {
  EXPECT_EQ(format_cpu_list({0}), "0");
  EXPECT_EQ(format_cpu_list({0, 1}), "0-1");
  EXPECT_EQ(format_cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
  EXPECT_EQ(format_cpu_list({}), "");
}

TEST(PipelineCpus, DefaultIsAutoAndAListOrAllTurnsItOff) {
  pipeline_config c;
  ASSERT_TRUE(load_config_text(kMinimal, "edge.toml", pipeline_stage_checks(), c).is_ok());
  EXPECT_TRUE(c.cpus.empty());
  EXPECT_TRUE(c.cpus_auto);
  ASSERT_TRUE(load_config_text(std::string(kMinimal) + "[pipeline]\ncpus = \" auto \"\n",
                               "edge.toml", pipeline_stage_checks(), c)
                  .is_ok());
  EXPECT_TRUE(c.cpus_auto);
  ASSERT_TRUE(load_config_text(std::string(kMinimal) + "[pipeline]\ncpus = \"all\"\n", "edge.toml",
                               pipeline_stage_checks(), c)
                  .is_ok());
  EXPECT_FALSE(c.cpus_auto);
  EXPECT_TRUE(c.cpus.empty());
  const int cpu = allowed_cpus().front();
  ASSERT_TRUE(load_config_text(std::string(kMinimal) + "[pipeline]\ncpus = \"" +
                                   std::to_string(cpu) + "\"\nsource_cpu = " + std::to_string(cpu) +
                                   "\n",
                               "edge.toml", pipeline_stage_checks(), c)
                  .is_ok());
  EXPECT_EQ(c.cpus, std::vector<int>{cpu});
  EXPECT_FALSE(c.cpus_auto);
}

TEST(PipelineCpus, MalformedListIsRefusedNamingKeyAndValue) {
  const std::string e = load_error(std::string(kMinimal) + "[pipeline]\ncpus = \"1,,2\"\n");
  EXPECT_NE(e.find("edge.toml:"), std::string::npos) << e;
  EXPECT_NE(e.find("pipeline.cpus"), std::string::npos) << e;
  EXPECT_NE(e.find("\"1,,2\""), std::string::npos) << e;
  EXPECT_NE(load_error(std::string(kMinimal) + "[pipeline]\ncpus = 0\n").find("expected a string"),
            std::string::npos);
}

TEST(PipelineCpus, CpuTheProcessMayNotRunOnIsRefused) {
  ASSERT_NE(allowed_cpus().back(), 1023) << "needs a machine where CPU 1023 is not available";
  const std::string e = load_error(std::string(kMinimal) + "[pipeline]\ncpus = \"0,1023\"\n");
  EXPECT_NE(e.find("pipeline.cpus"), std::string::npos) << e;
  EXPECT_NE(e.find("CPU 1023 is not available to this process (it may run on " +
                   format_cpu_list(allowed_cpus()) + ")"),
            std::string::npos)
      << e;
}

TEST(PipelineCpus, ThreadPinnedOutsideTheSetIsRefusedNamingItsKey) {
  const std::string set = std::string(kMinimal) + "[pipeline]\ncpus = \"0\"\n";
  const std::string source = load_error(set + "source_cpu = 1\n");
  EXPECT_NE(source.find("pipeline.source_cpu"), std::string::npos) << source;
  EXPECT_NE(source.find("outside pipeline.cpus = \"0\""), std::string::npos) << source;
  EXPECT_NE(load_error(set + "transform_cpu = 1\n").find("pipeline.transform_cpu"),
            std::string::npos);
  const std::string sink = load_error(set +
                                      "[sinks.pinned]\ntype = \"file\"\npath = "
                                      "\"p.jsonl\"\ncpu = 1\n");
  EXPECT_NE(sink.find("sinks.pinned.cpu"), std::string::npos) << sink;
  EXPECT_EQ(load_error(set + "source_cpu = 0\n"), "");
}

// Threads made after a move inherit the set (a pipeline's, made after [pipeline] cpus is
// applied). The CPU is the first this process may use (0 unless the test runs under taskset).
TEST(PipelineCpus, ThreadsCreatedAfterAMoveRunOnlyOnTheSet) {
  const std::vector<int> before = allowed_cpus();
  ASSERT_FALSE(before.empty());
  const int cpu = before.front();
  ASSERT_EQ(move_process_to_cpus({cpu}), 0);
  cpu_set_t seen;
  CPU_ZERO(&seen);
  std::thread([&] {
    std::thread([&] { sched_getaffinity(0, sizeof(seen), &seen); }).join();
  }).join();
  EXPECT_EQ(CPU_COUNT(&seen), 1);
  EXPECT_TRUE(CPU_ISSET(static_cast<std::size_t>(cpu), &seen));
  EXPECT_EQ(startup_cpus(), before) << "the start affinity is the one before the move";
  ASSERT_EQ(move_process_to_cpus(before), 0);
  EXPECT_EQ(allowed_cpus(), before);
}

}  // namespace
}  // namespace edgepipe
