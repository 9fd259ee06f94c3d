// The file sink when its file cannot be written: the records it held are failed (counted, and
// settled as failed so the spool sends them again), and once the file can be written again the
// sink reopens it after a backoff instead of failing every later batch forever.
#include "stages/sinks/file/file_sink.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "test_util.hpp"

namespace edgepipe {
namespace {

namespace fs = std::filesystem;

struct outcomes final : delivery_listener {
  std::map<delivery_outcome, std::uint64_t> count;
  void settled(std::uint64_t, delivery_outcome o) override { ++count[o]; }
  void settled_range(std::uint64_t, std::uint64_t n, delivery_outcome o) override { count[o] += n; }
};

void fill(record_batch& b, std::uint64_t first, int n) {
  b.clear();
  for (int i = 0; i < n; ++i) {
    record r;
    r.value_offset = static_cast<std::uint32_t>(b.arena().size());
    b.arena().append("{\"n\":" + std::to_string(first + static_cast<std::uint64_t>(i)) + "}");
    r.value_length = static_cast<std::uint32_t>(b.arena().size() - r.value_offset);
    r.sequence = first + static_cast<std::uint64_t>(i);
    r.source = 0;
    b.records().push_back(r);
  }
}

TEST(FileSink, AFailedFileIsReopenedAfterABackoffAndWritingGoesOn) {
  testing::temp_dir dir;
  const std::string path = dir / "out.jsonl";
  fs::create_symlink("/dev/full", path);  // every write fails with ENOSPC
  file_sink_config cfg;
  cfg.path = path;
  cfg.rotate_bytes = 0;
  file_sink sink("out", cfg, {"src"});
  outcomes seen;
  sink.set_listener(&seen);
  ASSERT_TRUE(sink.open().is_ok());
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  sink.write(batch, counters);
  sink.flush(counters);
  EXPECT_EQ(counters.failed.get(), 10u);
  EXPECT_EQ(seen.count[delivery_outcome::failed], 10u);
  EXPECT_EQ(counters.records_out.get(), 0u);

  // The disk is back (the file is a regular file again): the sink must write again.
  fs::remove(path);
  std::uint64_t next = 10;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (counters.records_out.get() == 0 && std::chrono::steady_clock::now() < deadline) {
    fill(batch, next, 5);
    next += 5;
    sink.write(batch, counters);
    sink.flush(counters);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the loop's poll interval
  }
  ASSERT_GT(counters.records_out.get(), 0u) << "the sink stayed failed";
  EXPECT_EQ(seen.count[delivery_outcome::delivered], counters.records_out.get());
  EXPECT_EQ(seen.count[delivery_outcome::failed] + seen.count[delivery_outcome::delivered],
            next);  // every record settled one way or the other
  ASSERT_TRUE(sink.close().is_ok());
  // Only whole lines, each one delivered.
  const auto lines = testing::read_lines(path);
  EXPECT_EQ(lines.size(), counters.records_out.get());
  for (const auto& l : lines) EXPECT_EQ(l.rfind("{\"n\":", 0), 0u) << l;
}

}  // namespace
}  // namespace edgepipe
