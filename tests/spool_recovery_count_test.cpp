// Recovery counts exactly (issue 17, item 12): a damaged middle segment header is a gap of that
// segment's records; the segment before it keeps its own end (recovery, `spool inspect`'s
// read-only open, and every later start, when the damaged file is named .corrupt).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

const std::vector<std::string> kSources = {"alpha"};

void fill(record_batch& b, int n, int base) {
  b.clear();
  for (int i = 0; i < n; ++i) {
    record r;
    const std::string key = "k" + std::to_string(base + i);
    r.key_offset = static_cast<std::uint32_t>(b.arena().size());
    r.key_length = static_cast<std::uint32_t>(key.size());
    b.arena().append(key);
    const std::string value = "{\"pad\":\"" + std::string(200, 'x') + "\"}";
    r.value_offset = static_cast<std::uint32_t>(b.arena().size());
    r.value_length = static_cast<std::uint32_t>(value.size());
    b.arena().append(value);
    b.records().push_back(r);
  }
}

std::vector<fs::path> segment_files(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SpoolRecoveryCount, ADamagedMiddleSegmentIsAGapNotPartOfTheOneBefore) {
  temp_dir dir;
  spool_config c;
  c.dir = dir / "spool";
  c.fsync = fsync_policy::off;
  c.segment_bytes = 64 << 10;
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    spool_appender a(sp, kSources);
    ASSERT_TRUE(a.start().is_ok());
    record_batch b;
    for (int i = 0; i < 30; ++i) {  // 30 x 50 records of ~230 bytes: ~6 segments
      fill(b, 50, i * 50);
      ASSERT_TRUE(a.append(b).is_ok());
    }
    ASSERT_TRUE(a.close(true).is_ok());
  }
  const auto files = segment_files(c.dir);
  ASSERT_GE(files.size(), 4u);
  std::vector<spool_segment> before;
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}, /*read_only=*/true).is_ok());
    before = sp.segments();
  }
  ASSERT_EQ(before.size(), files.size());
  const std::uint64_t total = before.back().end_id - before.front().first_id;
  const std::uint64_t lost = before[1].end_id - before[1].first_id;
  {
    std::fstream f(files[1], std::ios::in | std::ios::out | std::ios::binary);
    f.write("garbage!", 8);  // the second segment's header no longer reads back
  }
  for (const bool read_only : {true, false, false}) {  // inspect, the start, a later start
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}, read_only).is_ok());
    const auto segs = sp.segments();
    ASSERT_EQ(segs.size(), before.size() - 1);
    EXPECT_EQ(segs[0].first_id, before[0].first_id);
    EXPECT_EQ(segs[0].end_id, before[0].end_id) << "read_only " << read_only;
    EXPECT_EQ(sp.recovery().records, total - lost) << "read_only " << read_only;
    EXPECT_EQ(sp.next_record_id(), before.back().end_id);
  }
  EXPECT_TRUE(fs::exists(files[1].string() + ".corrupt"));
}

}  // namespace
}  // namespace edgepipe
