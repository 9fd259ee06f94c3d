// The sinks see a record once it is written where a process crash keeps it (a completed write or
// the page cache), before the group commit syncs it; what waits for the sync is only what must
// be durable (segment deletion, upstream acknowledgements). Ids the sinks may have seen are
// leased ahead of use, so a restart after a crash never gives them to other records.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_cursor.hpp"
#include "stages/spool/spool_format.hpp"
#include "stages/spool/spool_id_lease.hpp"
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
    const std::string value = "{\"i\":" + std::to_string(base + i) + "}";
    r.value_offset = static_cast<std::uint32_t>(b.arena().size());
    r.value_length = static_cast<std::uint32_t>(value.size());
    b.arena().append(value);
    b.records().push_back(r);
  }
}

spool_config config_in(const temp_dir& dir, fsync_policy policy) {
  spool_config c;
  c.dir = dir / "spool";
  c.fsync = policy;
  c.segment_bytes = 1 << 20;
  c.max_bytes = 8 << 20;
  return c;
}

/// Reads records from `from` below the visible end: their ids, and the unused ids stepped over.
std::vector<std::uint64_t> read_ids(const spool& sp, std::uint64_t from,
                                    std::uint64_t* unused = nullptr) {
  spool_cursor cur(sp, kSources);
  cur.seek(from);
  std::vector<std::uint64_t> ids;
  record_batch b;
  for (;;) {
    spool_frame_position pos;
    skip_reason why = skip_reason::none;
    const auto r = cur.next(sp.committed_end(), b, pos, why);
    if (r == spool_cursor::result::none) break;
    if (r == spool_cursor::result::skipped) {
      EXPECT_EQ(why, skip_reason::unused) << "ids " << pos.first_id << "+" << pos.records;
      if (unused != nullptr) *unused += pos.records;
      continue;
    }
    for (std::uint32_t i = 0; i < pos.records; ++i) ids.push_back(pos.first_id + i);
  }
  return ids;
}

TEST(SpoolVisible, AnExposedFrameIsVisibleBeforeItsSyncAndOnlyTheSyncMakesItDurable) {
  temp_dir dir;
  const spool_config c = config_in(dir, fsync_policy::interval);
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  record_batch b;
  fill(b, 100, 0);
  ASSERT_TRUE(a.append(b).is_ok());
  EXPECT_EQ(sp.committed_end(), 0u);  // in the write buffer: a crash would lose it
  ASSERT_TRUE(a.expose().is_ok());
  EXPECT_EQ(sp.committed_end(), 100u);  // in the page cache: the sinks may take it
  EXPECT_EQ(sp.durable_end(), 0u);      // not synced yet
  EXPECT_EQ(read_ids(sp, 0).size(), 100u);
  // A sink confirming it does not let its segment go: deletion waits for durability.
  sp.confirm(0, 100);
  EXPECT_EQ(sp.confirmed_by_all(), 100u);
  EXPECT_EQ(sp.min_watermark(), 0u);
  // Exposed and then synced: the sync needs no padded write of the buffer being filled.
  ASSERT_TRUE(a.begin_sync().is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 100u);
  EXPECT_EQ(sp.min_watermark(), 100u);
  // More appended after the exposure: exposed again from where the last one stopped.
  fill(b, 50, 100);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.expose().is_ok());
  EXPECT_EQ(sp.committed_end(), 150u);
  EXPECT_EQ(sp.durable_end(), 100u);
  const auto ids = read_ids(sp, 0);
  ASSERT_EQ(ids.size(), 150u);
  EXPECT_EQ(ids.back(), 149u);
  ASSERT_TRUE(a.close(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 150u);
  // A clean stop leases exactly the ids given: the next run goes on without a gap.
  spool again(c);
  ASSERT_TRUE(again.open({"s"}).is_ok());
  EXPECT_EQ(again.next_record_id(), 150u);
  EXPECT_EQ(read_ids(again, 0).size(), 150u);
}

/// A child process appends 300 records, exposes them (the sinks could have taken them), and is
/// killed (SIGKILL) before any sync.
void kill_after_exposure(const spool_config& c) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    spool sp(c);
    if (!sp.open({"s"}).is_ok()) ::_exit(2);
    spool_appender a(sp, kSources);
    if (!a.start().is_ok()) ::_exit(3);
    record_batch b;
    for (int i = 0; i < 3; ++i) {
      fill(b, 100, i * 100);
      if (!a.append(b).is_ok()) ::_exit(4);
    }
    if (!a.expose().is_ok() || sp.committed_end() != 300 || sp.durable_end() != 0) ::_exit(5);
    ::kill(::getpid(), SIGKILL);
    ::_exit(6);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exit " << WEXITSTATUS(wstatus);
}

TEST(SpoolVisible, TheUnusedIdsStayAGapAcrossLaterRestarts) {
  temp_dir dir;
  const spool_config c = config_in(dir, fsync_policy::interval);
  kill_after_exposure(c);
  std::uint64_t next = 0;
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    next = sp.next_record_id();
    spool_appender a(sp, kSources);
    ASSERT_TRUE(a.start().is_ok());
    record_batch b;
    fill(b, 10, 1000);
    ASSERT_TRUE(a.append(b).is_ok());
    ASSERT_TRUE(a.close(true).is_ok());
    EXPECT_EQ(sp.backlog(0), 310u);  // records, not ids
  }
  // The next start knows the old segment ends at 300, not where the next one begins.
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.recovery().records, 310u);
  EXPECT_EQ(sp.backlog(0), 310u);
  std::uint64_t unused = 0;
  const auto ids = read_ids(sp, 0, &unused);
  ASSERT_EQ(ids.size(), 310u);
  EXPECT_EQ(ids[299], 299u);
  EXPECT_EQ(ids[300], next);
  EXPECT_EQ(unused, next - 300);
}

TEST(SpoolVisible, KillAfterExposureKeepsTheRecordsAndAPowerCutNeverReusesTheirIds) {
  temp_dir dir;
  const spool_config c = config_in(dir, fsync_policy::interval);
  kill_after_exposure(c);
  // kill -9: the page cache kept every exposed record.
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    EXPECT_EQ(sp.recovery().records, 300u);
    EXPECT_EQ(read_ids(sp, 0).size(), 300u);
    // The ids leased by the killed run are not given again, even though all of them are here:
    // the run cannot tell a kill from a power cut.
    EXPECT_GT(sp.next_record_id(), 300u);
    EXPECT_EQ(sp.next_record_id(), sp.id_lease().leased_end());
  }
  // A power cut instead: the unsynced frames never reached the disk. Simulated by cutting the
  // segment back to its header and dropping this run's clean-stop lease.
  std::string seg;
  for (const auto& e : fs::directory_iterator(c.dir))
    if (e.path().extension() == ".seg") seg = e.path().string();
  ASSERT_FALSE(seg.empty());
  std::string head(64 * 1024, '\0');
  {
    std::ifstream in(seg, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
  }
  const auto header = spool_format::parse_segment_header(head);
  ASSERT_TRUE(header.has_value());
  fs::resize_file(seg, header->header_bytes);  // the header only: every frame is gone
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.recovery().records, 0u);
  const std::uint64_t next = sp.next_record_id();
  EXPECT_GE(next, 300u);  // ids 0..299, which a sink may hold, are never given again
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  record_batch b;
  fill(b, 10, 1000);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.close(true).is_ok());
  // A sink that had confirmed nothing steps over the unused ids without counting a loss.
  std::uint64_t unused = 0;
  const auto ids = read_ids(sp, 0, &unused);
  ASSERT_EQ(ids.size(), 10u);
  EXPECT_EQ(ids.front(), next);
  EXPECT_EQ(unused, next);
}

}  // namespace
}  // namespace edgepipe
