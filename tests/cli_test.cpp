// End-to-end through the real binary, as a user would run it: synth -> replay -> file sink,
// config errors and their exit code, JSON Lines input, torn traces, pacing and SIGTERM drain.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>

#include <filesystem>

#include "platform/cpu_list.hpp"
#include "platform/thread.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::json_double;
using testing::json_int;
using testing::read_lines;
using testing::run_edgepipe;
using testing::temp_dir;

TEST(Cli, VersionAndHelp) {
  auto r = run_edgepipe("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("edgepipe"), std::string::npos);
  r = run_edgepipe("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("replay"), std::string::npos);
}

// A mistyped command is named with the commands expected at its place (CLI11 alone said "A
// subcommand is required").
TEST(Cli, AnUnknownCommandIsNamedWithTheExpectedOnes) {
  auto r = run_edgepipe("rnu --config x.toml");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'edgepipe rnu' (expected one of: run, replay,"),
            std::string::npos)
      << r.err;
  r = run_edgepipe("spool stat /tmp");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'edgepipe spool stat' (expected one of: inspect, replay)"),
            std::string::npos)
      << r.err;
  // A command's positional argument is not taken for a command.
  r = run_edgepipe("spool inspect /nonexistent-edgepipe-spool");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST(Cli, SchemaOfPostgresCdcSourceNeedsATable) {
  // No transform to derive from: without --table, exit 2 naming the file and source and the
  // missing option, not an empty schema.
  const auto r = run_edgepipe("schema -c " EDGEPIPE_SOURCE_DIR "/config/cdc.toml --source pg");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("config/cdc.toml: sources.pg: type = \"postgres_cdc\""), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("give --table schema.table"), std::string::npos) << r.err;
}

TEST(Cli, SchemaTableOptionIsRefusedForOtherSourcesAndMalformedNames) {
  auto r = run_edgepipe("schema --source coingecko --table public.t");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("--table and --key are for type = \"postgres_cdc\" sources only"),
            std::string::npos)
      << r.err;
  // Checked before any connection is tried.
  r = run_edgepipe("schema -c " EDGEPIPE_SOURCE_DIR "/config/cdc.toml --source pg --table a.b.c");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sources.pg: --table 'a.b.c' is not schema.table or table"),
            std::string::npos)
      << r.err;
}

TEST(Cli, SynthReplayToFileEndToEnd) {
  temp_dir dir;
  auto r = run_edgepipe("synth --api coingecko --payloads 20 --out cg.trace --seed 3", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_edgepipe("replay --trace cg.trace --sink file:out/cg.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_int(r.out, "payloads"), 20);
  EXPECT_EQ(json_int(r.out, "records"), 5000);
  EXPECT_EQ(json_int(r.out, "rejected"), 0);
  EXPECT_EQ(json_int(r.out, "file"), 5000) << r.out;  // delivered to the file sink
  const auto lines = read_lines(dir / "out/cg.jsonl");
  ASSERT_EQ(lines.size(), 5000u);
  simdjson::dom::parser parser;
  for (const auto& line : lines) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view id;
    ASSERT_EQ(doc["id"].get(id), simdjson::SUCCESS) << line;
    EXPECT_FALSE(id.empty());
  }
  // Counters are printed at exit (stderr), one line per stage.
  EXPECT_NE(r.err.find("\"stage\":\"transform\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("latency_ns"), std::string::npos) << r.err;
}

// `replay --sink file:/dev/stdout | jq` and `> FILE`: stdout gets every record, in order, the
// same bytes a file gets, and then the summary line. 5,000 CoinGecko records are ~2 MB, many
// times what a pipe holds, so the reader (popen) takes them in parts. Redirected to a file, the
// summary comes after the records (it was written over the first of them when the sink opened
// the file again, at offset 0).
TEST(Cli, ReplayToStdoutThroughAPipeOrRedirectedToAFile) {
  temp_dir dir;
  auto r = run_edgepipe("synth --api coingecko --payloads 20 --out cg.trace --seed 3", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_edgepipe("replay --trace cg.trace --spool none --sink file:out/cg.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string file = testing::read_file(dir / "out/cg.jsonl");
  ASSERT_FALSE(file.empty());
  const auto records_then_summary = [&](const std::string& out) {
    ASSERT_GT(out.size(), file.size());
    EXPECT_TRUE(out.compare(0, file.size(), file) == 0);  // every record, in order
    const std::string summary = out.substr(file.size());
    EXPECT_EQ(json_int(summary, "records"), 5000) << summary;
    EXPECT_EQ(json_int(summary, "file"), 5000) << summary;  // all delivered
  };
  r = run_edgepipe("replay --trace cg.trace --sink file:/dev/stdout", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  records_then_summary(r.out);
  r = run_edgepipe("replay --trace cg.trace --sink file:/dev/stdout > redirected.jsonl",
                   dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  records_then_summary(testing::read_file(dir / "redirected.jsonl"));
}

// `replay --sink file:/dev/stdout | head -c 4096`: once the reader has left, the replay stops
// and says why (exit 1, the sink named) instead of sending the records again until Ctrl-C and
// the drain timeout.
TEST(Cli, ReplayStopsWhenTheReaderOfItsStdoutLeaves) {
  temp_dir dir;
  auto r = run_edgepipe("synth --api coingecko --payloads 40 --out cg.trace --seed 3", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;  // ~4 MB of records: far more than a pipe holds
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string cwd = dir.path().string();
  const std::string err_file = dir / "stderr.txt";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // only async-signal-safe calls until exec
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (::chdir(cwd.c_str()) != 0 || err < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err, 2) < 0)
      ::_exit(127);
    ::execl(EDGEPIPE_BINARY, EDGEPIPE_BINARY, "replay", "--trace", "cg.trace", "--sink",
            "file:/dev/stdout", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[4096];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = ::read(out[0], buf + got, sizeof buf - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(out[0]);  // the reader leaves
  int wstatus = 0;
  const bool ended = testing::wait_until(
      [&] { return ::waitpid(child, &wstatus, WNOHANG) == child; }, std::chrono::seconds(60));
  if (!ended) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &wstatus, 0);
  }
  const std::string err = testing::read_file(err_file);
  ASSERT_TRUE(ended) << "still running a minute after its reader left\n" << err;
  EXPECT_EQ(got, sizeof buf);
  ASSERT_TRUE(WIFEXITED(wstatus)) << err;
  EXPECT_EQ(WEXITSTATUS(wstatus), 1) << err;
  EXPECT_NE(err.find("replay stopped: sinks.file: /dev/stdout is a pipe whose reader closed it "
                     "(EPIPE): nothing can read it again; what the sinks have not confirmed "
                     "stays in the spool"),
            std::string::npos)
      << err;
}

TEST(Cli, SameSeedSameTraceAndSameRecords) {
  temp_dir dir;
  ASSERT_EQ(run_edgepipe("synth --api randomuser --payloads 50 --out a.trace --seed 9", dir.path())
                .exit_code,
            0);
  ASSERT_EQ(run_edgepipe("synth --api randomuser --payloads 50 --out b.trace --seed 9", dir.path())
                .exit_code,
            0);
  EXPECT_EQ(testing::read_file(dir / "a.trace"), testing::read_file(dir / "b.trace"));
  ASSERT_EQ(run_edgepipe("replay --trace a.trace --sink file:a.jsonl", dir.path()).exit_code, 0);
  ASSERT_EQ(run_edgepipe("replay --trace b.trace --sink file:b.jsonl", dir.path()).exit_code, 0);
  EXPECT_EQ(testing::read_file(dir / "a.jsonl"), testing::read_file(dir / "b.jsonl"));
  EXPECT_EQ(read_lines(dir / "a.jsonl").size(), 50u);
}

TEST(Cli, JsonLinesNeedASourceAndThenReplay) {
  temp_dir dir;
  ASSERT_EQ(run_edgepipe("synth --api iss --payloads 30 --out iss.jsonl --format jsonl", dir.path())
                .exit_code,
            0);
  auto r = run_edgepipe("replay --trace iss.jsonl --sink file:o.jsonl", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--source"), std::string::npos) << r.err;
  r = run_edgepipe("replay --trace iss.jsonl --source iss --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_int(r.out, "records"), 30);
  EXPECT_EQ(read_lines(dir / "o.jsonl").size(), 30u);
}

TEST(Cli, BadPayloadsGoToTheDeadLetterFileWithReasons) {
  temp_dir dir;
  testing::write_file(dir / "mixed.jsonl",
                      "{\"message\":\"success\",\"timestamp\":1700000000,\"iss_position\":"
                      "{\"latitude\":\"1.5\",\"longitude\":\"2.5\"}}\n"
                      "{\"message\":\"success\",\"timestamp\":17000\n"
                      "{\"message\":\"success\",\"timestamp\":1700000005,\"iss_position\":"
                      "{\"latitude\":\"north\",\"longitude\":\"2.5\"}}\n");
  testing::write_file(dir / "c.toml",
                      testing::read_file(EDGEPIPE_SOURCE_DIR "/config/default.toml") +
                          "\n[replay]\ntrace = \"mixed.jsonl\"\nsource = \"iss\"\n");
  auto r = run_edgepipe("replay -c c.toml --trace mixed.jsonl --source iss --sink file:o.jsonl",
                        dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_int(r.out, "records"), 1);
  EXPECT_EQ(json_int(r.out, "rejected"), 2);
  EXPECT_EQ(json_int(r.out, "dead_letters"), 2);
  const auto dead = read_lines(dir / "edgepipe-out/dead-letter.jsonl");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].find("invalid JSON"), std::string::npos) << dead[0];
  EXPECT_NE(dead[0].find("\"source\":\"iss\""), std::string::npos) << dead[0];
  EXPECT_NE(dead[1].find("cannot cast"), std::string::npos) << dead[1];
  EXPECT_NE(dead[1].find("north"), std::string::npos) << dead[1];
}

TEST(Cli, ConfigErrorsExitWithTwoAndNameFileKeyValue) {
  temp_dir dir;
  testing::write_file(dir / "bad.toml", "[pipeline]\nring_capacity = 1\n");
  auto r = run_edgepipe("check -c bad.toml", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.toml:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pipeline.ring_capacity"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("= 1"), std::string::npos) << r.err;
  r = run_edgepipe("replay -c bad.toml --trace x.trace", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  r = run_edgepipe("check -c missing.toml", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  r = run_edgepipe("replay --trace nothing.trace", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing.trace"), std::string::npos) << r.err;
  r = run_edgepipe("replay --trace nothing.trace --speed fast", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  r = run_edgepipe("replay --trace nothing.trace --sink ftp://x", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  r = run_edgepipe("synth --api twitter --payloads 1 --out x", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  testing::write_file(dir / "good.toml",
                      testing::read_file(EDGEPIPE_SOURCE_DIR "/config/default.toml"));
  r = run_edgepipe("check -c good.toml", dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(Cli, TornTraceReplaysCompleteFramesAndReportsTheTail) {
  temp_dir dir;
  ASSERT_EQ(run_edgepipe("synth --api iss --payloads 10 --out t.trace", dir.path()).exit_code, 0);
  std::filesystem::resize_file(dir / "t.trace", std::filesystem::file_size(dir / "t.trace") - 5);
  auto r = run_edgepipe("replay --trace t.trace --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_int(r.out, "records"), 9);
  EXPECT_GT(json_int(r.out, "torn_tail_bytes"), 0);
}

TEST(Cli, PacedReplayFollowsTheTraceClock) {
  temp_dir dir;
  // ISS payloads are 5 s apart in synthetic traces: 4 of them at 100x span >= 0.15 s.
  ASSERT_EQ(run_edgepipe("synth --api iss --payloads 4 --out t.trace", dir.path()).exit_code, 0);
  auto r = run_edgepipe("replay --trace t.trace --speed 100x --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pos = r.out.find("\"seconds\":");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_GE(std::stod(r.out.substr(pos + 10)), 0.14) << r.out;
  EXPECT_EQ(json_int(r.out, "records"), 4);
}

// [pipeline] cpus = "auto" (the default) at full speed: the replay starts on one CPU, is busy
// at once and is moved to all of them (the summary says so). Needs two CPUs to move to.
TEST(Cli, AutoCpusSpreadAFullSpeedReplay) {
  if (allowed_cpus().size() < 2) GTEST_SKIP() << "needs two CPUs";
  temp_dir dir;
  ASSERT_EQ(run_edgepipe("synth --api coingecko --payloads 800 --seed 1 --out t.trace", dir.path())
                .exit_code,
            0);
  auto r = run_edgepipe("replay --trace t.trace --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"cpus\":{\"mode\":\"auto\",\"now\":\"" + format_cpu_list(allowed_cpus()) +
                       "\",\"spread\":"),
            std::string::npos)
      << r.out;
  EXPECT_GE(json_int(r.out, "spread"), 1) << r.out;
  // Spread, a waiting stage spins briefly before it blocks.
  EXPECT_NE(r.out.find("\"spinning\":true}"), std::string::npos) << r.out;
}

// A one-CPU list: every thread there, and a waiting stage blocks at once (the stage that would
// hand it input cannot run while it spins).
TEST(Cli, OneCpuListRunsThereWithoutSpinning) {
  temp_dir dir;
  ASSERT_EQ(
      run_edgepipe("synth --api iss --payloads 20 --seed 1 --out t.trace", dir.path()).exit_code,
      0);
  const std::string cpu = std::to_string(allowed_cpus().back());
  testing::write_file(dir / "one.toml",
                      "include = \"embedded:default\"\n[pipeline]\ncpus = \"" + cpu + "\"\n");
  auto r = run_edgepipe("replay -c one.toml --trace t.trace --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"cpus\":{\"mode\":\"list\",\"now\":\"" + cpu + "\","), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"spinning\":false}"), std::string::npos) << r.out;
  EXPECT_EQ(json_int(r.out, "records"), 20) << r.out;
}

// A pinned stage is the operator's placement: "auto" leaves every thread where it starts.
TEST(Cli, AutoCpusIsOffWhenAStageIsPinned) {
  temp_dir dir;
  ASSERT_EQ(
      run_edgepipe("synth --api iss --payloads 20 --seed 1 --out t.trace", dir.path()).exit_code,
      0);
  testing::write_file(dir / "pinned.toml",
                      "include = \"embedded:default\"\n[pipeline]\nsource_cpu = " +
                          std::to_string(allowed_cpus().front()) + "\n");
  auto r = run_edgepipe("replay -c pinned.toml --trace t.trace --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"cpus\":{\"mode\":\"all\""), std::string::npos) << r.out;
  EXPECT_EQ(json_int(r.out, "spread"), 0) << r.out;
  // "all": waits spin first when there is more than one CPU to run on.
  const bool several = allowed_cpus().size() != 1;
  EXPECT_NE(r.out.find(several ? "\"spinning\":true}" : "\"spinning\":false}"), std::string::npos)
      << r.out;
}

TEST(Cli, PacedReplayWithTheSpoolReportsTheLatencyPercentiles) {
  temp_dir dir;
  // 200 ISS payloads 5 s apart at 2000x: paced, one every 2.5 ms, through the default config's
  // spool (fsync = "interval") to a file sink. The summary's fields, not their values (timing).
  ASSERT_EQ(
      run_edgepipe("synth --api iss --payloads 200 --seed 1 --out t.trace", dir.path()).exit_code,
      0);
  auto r = run_edgepipe("replay --trace t.trace --speed 2000x --sink file:o.jsonl", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_int(r.out, "records"), 200);
  const auto lat = r.out.find("\"latency_us\":{");
  ASSERT_NE(lat, std::string::npos) << r.out;
  const std::string l = r.out.substr(lat);
  const long long p50 = json_int(l, "p50"), p99 = json_int(l, "p99"), max = json_int(l, "max");
  EXPECT_GT(p50, 0) << r.out;
  EXPECT_LE(p50, p99) << r.out;
  EXPECT_LE(p99, max) << r.out;
  EXPECT_NE(r.out.find("\"confirm_latency_us\":{\"p50\":"), std::string::npos) << r.out;
  EXPECT_GT(json_double(r.out, "cpu_seconds"), 0.0) << r.out;  // what the run cost
  // The default [pipeline] cpus = "auto": what it ran on at the end (one CPU at this rate, or
  // all of them on a busy machine; the fields, not the choice).
  EXPECT_NE(r.out.find("\"cpus\":{\"mode\":\"auto\",\"now\":\""), std::string::npos) << r.out;
  EXPECT_GE(json_int(r.out, "narrowed"), 0) << r.out;
  // Every record went through the spool and was taken from its memory tail.
  EXPECT_EQ(json_int(r.out, "appended"), 200) << r.out;
  EXPECT_EQ(json_int(r.out, "from_memory"), 200) << r.out;
  EXPECT_EQ(read_lines(dir / "o.jsonl").size(), 200u);
}

TEST(Cli, SigtermDrainsEverythingAlreadyRead) {
  temp_dir dir;
  // 600 ISS payloads 5 s apart at 20x: ~150 s if left alone; we stop it early.
  ASSERT_EQ(run_edgepipe("synth --api iss --payloads 600 --out t.trace", dir.path()).exit_code, 0);
  const std::string cmd = "cd '" + dir.path().string() +
                          "' && exec '" EDGEPIPE_BINARY
                          "' replay --trace t.trace --speed 20x --sink file:o.jsonl "
                          ">summary.json 2>stderr.txt & echo $!";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  int pid = 0;
  ASSERT_EQ(fscanf(p, "%d", &pid), 1);
  pclose(p);
  // Wait until some records have reached the file, then ask it to stop.
  ASSERT_TRUE(testing::wait_until([&] { return read_lines(dir / "o.jsonl").size() >= 2; }));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_TRUE(testing::wait_until([&] { return kill(pid, 0) != 0; }));
  const std::string summary = testing::read_file(dir / "summary.json");
  const long long records = json_int(summary, "records");
  EXPECT_GE(records, 2) << summary;
  EXPECT_LT(records, 600) << summary;
  EXPECT_EQ(json_int(summary, "file"), records) << summary;  // delivered == read
  EXPECT_EQ(static_cast<long long>(read_lines(dir / "o.jsonl").size()), records);
}

TEST(Cli, RunPlaysTheConfiguredTraceRotatesFilesAndWritesEnvelopes) {
  temp_dir dir;
  ASSERT_EQ(
      run_edgepipe("synth --api randomuser --payloads 200 --out ru.trace", dir.path()).exit_code,
      0);
  std::string config = testing::read_file(EDGEPIPE_SOURCE_DIR "/config/default.toml");
  const auto pos = config.find("[sinks.file]");
  ASSERT_NE(pos, std::string::npos);
  config.insert(pos, R"([replay]
trace = "ru.trace"
speed = "max"

[http]
listen = "127.0.0.1:0"

[sinks.env]
type = "file"
path = "out/envelopes.jsonl"
format = "envelope"
rotate_bytes = 16384

)");
  testing::write_file(dir / "edge.toml", config);
  auto r = run_edgepipe("run -c edge.toml", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Rotation: out/envelopes.jsonl.1, .2, ... plus the live file hold all 200 records.
  std::size_t lines = read_lines(dir / "out/envelopes.jsonl").size();
  int rotated = 0;
  for (int i = 1; std::filesystem::exists(dir / ("out/envelopes.jsonl." + std::to_string(i)));
       ++i) {
    ++rotated;
    EXPECT_LE(std::filesystem::file_size(dir / ("out/envelopes.jsonl." + std::to_string(i))),
              16384u + 4096u);
    lines += read_lines(dir / ("out/envelopes.jsonl." + std::to_string(i))).size();
  }
  EXPECT_GE(rotated, 2);
  EXPECT_EQ(lines, 200u);
  const auto first = read_lines(dir / "out/envelopes.jsonl.1").at(0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(first).get(doc), simdjson::SUCCESS) << first;
  std::string_view source, key, id;
  ASSERT_EQ(doc["source"].get(source), simdjson::SUCCESS);
  EXPECT_EQ(source, "randomuser");
  ASSERT_EQ(doc["key"].get(key), simdjson::SUCCESS);
  ASSERT_EQ(doc["value"]["id"].get(id), simdjson::SUCCESS);
  EXPECT_EQ(key, id);  // the key is login.uuid, as is the id field
  std::int64_t sequence = -1;
  ASSERT_EQ(doc["sequence"].get(sequence), simdjson::SUCCESS);
  EXPECT_EQ(sequence, 0);
  // The default file sink got the same 200 records.
  EXPECT_EQ(read_lines(dir / "edgepipe-out/records.jsonl").size(), 200u);
}

TEST(Cli, RunWithoutAnythingToPlayIsAConfigError) {
  temp_dir dir;
  testing::write_file(dir / "edge.toml",
                      testing::read_file(EDGEPIPE_SOURCE_DIR "/config/default.toml"));
  auto r = run_edgepipe("run -c edge.toml", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing to run"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgepipe
