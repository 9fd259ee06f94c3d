// The spool on its own: frame format and checksums, recovery (torn tails cut and counted, ids that
// never go backwards), cursors reading back in order with sources mapped by name, ledgers,
// deletion of confirmed segments, drop_oldest accounting, and the delivery tracker's go-back-N.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/crc32.hpp"
#include "platform/clock.hpp"
#include "stages/sinks/delivery_tracker.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_cursor.hpp"
#include "stages/spool/spool_format.hpp"
#include "stages/spool/spool_memory_tail.hpp"
#include "stages/spool/spool_newest_record.hpp"
#include "stages/spool/spool_stage.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

namespace fs = std::filesystem;
using testing::temp_dir;

/// `n` records with keys "k<base+i>" and small JSON values, alternating sources 0 and 1.
void fill(record_batch& b, int n, int base = 0) {
  b.clear();
  for (int i = 0; i < n; ++i) {
    record r;
    const std::string key = "k" + std::to_string(base + i);
    r.key_offset = static_cast<std::uint32_t>(b.arena().size());
    r.key_length = static_cast<std::uint32_t>(key.size());
    b.arena().append(key);
    const std::string value = "{\"i\":" + std::to_string(base + i) + ",\"pad\":\"" +
                              std::string(static_cast<std::size_t>(40 + i % 7), 'x') + "\"}";
    r.value_offset = static_cast<std::uint32_t>(b.arena().size());
    r.value_length = static_cast<std::uint32_t>(value.size());
    b.arena().append(value);
    r.event_time_ms = 1700000000000 + i;
    r.ingest_unix_ns = 1700000000000000000 + i;
    r.source = static_cast<source_id>(i % 2);
    b.records().push_back(r);
  }
}

spool_config config_in(const temp_dir& dir) {
  spool_config c;
  c.dir = dir / "spool";
  c.fsync = fsync_policy::off;
  c.segment_bytes = 1 << 20;
  c.max_bytes = 8 << 20;
  return c;
}

const std::vector<std::string> kSources = {"alpha", "beta"};

/// Appends `batches` batches of `per` records and closes cleanly.
void write_spool(const spool_config& c, int batches, int per,
                 const std::vector<std::string>& sinks = {"s"}) {
  spool sp(c);
  ASSERT_TRUE(sp.open(sinks).is_ok());
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  record_batch b;
  for (int i = 0; i < batches; ++i) {
    fill(b, per, i * per);
    ASSERT_TRUE(a.append(b).is_ok());
  }
  ASSERT_TRUE(a.close(true).is_ok());
}

/// Reads every committed record back; returns their keys in order.
std::vector<std::string> read_all(const spool& sp, std::uint64_t from,
                                  const std::vector<std::string>& sources = kSources,
                                  std::vector<source_id>* src = nullptr) {
  spool_cursor cur(sp, sources);
  cur.seek(from);
  std::vector<std::string> keys;
  record_batch b;
  for (;;) {
    spool_frame_position pos;
    skip_reason why;
    const auto r = cur.next(sp.committed_end(), b, pos, why);
    if (r == spool_cursor::result::none) break;
    if (r == spool_cursor::result::skipped) continue;
    for (const record& rec : b.records()) {
      keys.emplace_back(b.key(rec));
      if (src) src->push_back(rec.source);
    }
  }
  return keys;
}

/// A spool in a fresh directory with `policy`, opened for one sink "s", its appender started.
struct started_spool {
  explicit started_spool(fsync_policy policy, std::uint64_t segment_bytes = 1 << 20)
      : c(config_in(dir)),
        sp((c.fsync = policy, c.segment_bytes = segment_bytes, c)),
        a(sp, kSources) {
    EXPECT_TRUE(sp.open({"s"}).is_ok());
    EXPECT_TRUE(a.start().is_ok());
  }
  temp_dir dir;
  spool_config c;
  spool sp;
  spool_appender a;
};

std::string last_segment(const spool_config& c) {
  std::string last;
  for (const auto& e : fs::directory_iterator(c.dir))
    if (e.path().extension() == ".seg" && e.path().string() > last) last = e.path().string();
  return last;
}

TEST(SpoolFormat, FrameRoundTripsAndEveryByteIsChecked) {
  record_batch in;
  fill(in, 10);
  byte_arena frame;
  const std::size_t size = spool_format::encode_frame_prefix(in, 42, frame);
  frame.append(in.arena().data(), in.arena().size());
  ASSERT_EQ(size, frame.size());
  spool_format::frame_header h;
  ASSERT_EQ(spool_format::check_frame(frame.view(0, frame.size()), h),
            spool_format::frame_check::ok);
  EXPECT_EQ(h.first_record_id, 42u);
  EXPECT_EQ(h.record_count, 10u);
  record_batch out;
  spool_format::decode_frame(frame.view(0, frame.size()), h, {0, 1}, out);
  ASSERT_EQ(out.records().size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(out.key(out.records()[i]), in.key(in.records()[i]));
    EXPECT_EQ(out.value(out.records()[i]), in.value(in.records()[i]));
    EXPECT_EQ(out.records()[i].sequence, 42 + i);
    EXPECT_EQ(out.records()[i].event_time_ms, in.records()[i].event_time_ms);
    EXPECT_EQ(out.records()[i].source, in.records()[i].source);
  }
  EXPECT_EQ(spool_format::check_frame(frame.view(0, frame.size() - 1), h),
            spool_format::frame_check::need_more);
  for (std::size_t at : {std::size_t{5}, std::size_t{30}, frame.size() - 1}) {
    byte_arena bad;
    bad.append(frame.data(), frame.size());
    bad.data()[at] ^= 0x10;
    EXPECT_EQ(spool_format::check_frame(bad.view(0, bad.size()), h), spool_format::frame_check::bad)
        << "flipped byte " << at;
  }
}

TEST(SpoolFormat, RecordStreamsTravelInTheFrameAndBadOnesReadBackEmpty) {
  record_batch in;
  const std::uint32_t a = in.add_stream("edgepipe.public.orders");
  const std::uint32_t b = in.add_stream("edgepipe.public.items");
  for (int i = 0; i < 3; ++i) {
    record r;
    r.key_offset = arena_offset(in.arena().size());
    in.arena().append(std::string_view("{\"id\":1}"));
    r.key_length = 8;
    r.stream = i == 0 ? 0u : (i == 1 ? a : b);
    in.records().push_back(r);  // value_length 0: a tombstone
  }
  EXPECT_EQ(in.stream(in.records()[0]), "");
  EXPECT_EQ(in.stream(in.records()[1]), "edgepipe.public.orders");
  byte_arena frame;
  spool_format::encode_frame_prefix(in, 7, frame);
  frame.append(in.arena().data(), in.arena().size());
  spool_format::frame_header h;
  ASSERT_EQ(spool_format::check_frame(frame.view(0, frame.size()), h),
            spool_format::frame_check::ok);
  record_batch out;
  spool_format::decode_frame(frame.view(0, frame.size()), h, {0}, out);
  ASSERT_EQ(out.records().size(), 3u);
  EXPECT_EQ(out.stream(out.records()[0]), "");
  EXPECT_EQ(out.stream(out.records()[1]), "edgepipe.public.orders");
  EXPECT_EQ(out.stream(out.records()[2]), "edgepipe.public.items");
  EXPECT_EQ(out.value(out.records()[2]), "");
  record wild;
  wild.stream = static_cast<std::uint32_t>(out.arena().size());  // its length would read past
  EXPECT_EQ(out.stream(wild), "");
}

TEST(SpoolFormat, VersionOneSegmentHeadersAreStillRead) {
  spool_format::segment_header h;
  h.first_record_id = 5;
  h.sources = {"iss"};
  byte_arena bytes;
  spool_format::encode_segment_header(h, bytes);
  ASSERT_TRUE(spool_format::parse_segment_header(bytes.view(0, bytes.size())).has_value());
  // Rewrite the version to 1 and fix the CRC: what an older edgepipe wrote.
  const std::uint32_t one = 1;
  std::memcpy(bytes.data() + 8, &one, 4);
  const std::uint32_t crc = edgepipe::crc32(0, bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  const auto v1 = spool_format::parse_segment_header(bytes.view(0, bytes.size()));
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->first_record_id, 5u);
  const std::uint32_t future = spool_format::kVersion + 1;
  std::memcpy(bytes.data() + 8, &future, 4);
  const std::uint32_t crc2 = edgepipe::crc32(0, bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc2, 4);
  EXPECT_FALSE(spool_format::parse_segment_header(bytes.view(0, bytes.size())).has_value());
}

TEST(SpoolFormat, SegmentNamesAndHeaders) {
  EXPECT_EQ(spool_format::segment_file_name(42), "00000000000000000042.seg");
  EXPECT_EQ(spool_format::parse_segment_file_name("00000000000000000042.seg"), 42u);
  EXPECT_FALSE(spool_format::parse_segment_file_name("42.seg"));
  EXPECT_FALSE(spool_format::parse_segment_file_name("00000000000000000042.seg.tmp"));
  spool_format::segment_header h;
  h.first_record_id = 7;
  h.sources = {"coingecko", "iss"};
  byte_arena out;
  spool_format::encode_segment_header(h, out);
  auto back = spool_format::parse_segment_header(out.view(0, out.size()));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->first_record_id, 7u);
  EXPECT_EQ(back->sources, h.sources);
  out.data()[20] ^= 1;
  EXPECT_FALSE(spool_format::parse_segment_header(out.view(0, out.size())));
}

TEST(Spool, ReadsBackEverythingInOrderAcrossSegmentRolls) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 150, 200);  // ~3 MB: three segments of 1 MiB
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_GE(sp.segments().size(), 3u);
  EXPECT_EQ(sp.committed_end(), 30000u);
  EXPECT_EQ(sp.recovery().torn_tail_bytes, 0u);
  const auto keys = read_all(sp, 0);
  ASSERT_EQ(keys.size(), 30000u);
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(keys[i], "k" + std::to_string(i));
  // From the middle of a frame: records before it are left out.
  const auto tail = read_all(sp, 5010);
  ASSERT_EQ(tail.size(), 30000u - 5010u);
  EXPECT_EQ(tail.front(), "k5010");
}

TEST(Spool, SourcesAreMappedByNameNotByIndex) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 1, 4);
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  std::vector<source_id> src;
  // The pipeline now lists the sources the other way round, plus a new one.
  read_all(sp, 0, {"gamma", "beta", "alpha"}, &src);
  EXPECT_EQ(src, (std::vector<source_id>{2, 1, 2, 1}));
  src.clear();
  read_all(sp, 0, {"alpha"}, &src);
  EXPECT_EQ(src, (std::vector<source_id>{0, kUnknownSource, 0, kUnknownSource}));
}

// A cursor reads a segment's header alone when it opens it (4 KiB first): a header larger than
// that (a long source list) is read whole, across segment rolls.
TEST(Spool, SegmentHeadersLongerThanTheFirstReadAreReadWhole) {
  temp_dir dir;
  const auto c = config_in(dir);
  std::vector<std::string> sources = {"alpha", "beta"};
  for (int i = 0; i < 100; ++i)
    sources.push_back("source-" + std::to_string(i) + std::string(60, 'n'));
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    spool_appender a(sp, sources);
    ASSERT_TRUE(a.start().is_ok());
    record_batch b;
    for (int i = 0; i < 60; ++i) {
      fill(b, 200, i * 200);
      ASSERT_TRUE(a.append(b).is_ok());
    }
    ASSERT_TRUE(a.close(true).is_ok());
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  ASSERT_GE(sp.segments().size(), 2u);
  EXPECT_GT(fs::file_size(sp.segments().front().path), 4096u);
  std::vector<source_id> src;
  const auto keys = read_all(sp, 0, sources, &src);
  ASSERT_EQ(keys.size(), 12000u);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(keys[i], "k" + std::to_string(i));
    ASSERT_EQ(src[i], static_cast<source_id>(i % 2));
  }
}

TEST(Spool, TornTailIsCutCountedAndIdsNeverGoBack) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 10, 100);
  const std::string seg = last_segment(c);
  const auto full = fs::file_size(seg);
  // A power cut mid-frame: the last 100 bytes are gone and 37 bytes of garbage follow.
  fs::resize_file(seg, full - 100);
  {
    std::ofstream out(seg, std::ios::app | std::ios::binary);
    out << std::string(37, '\x5a');
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.recovery().records, 900u);  // the last frame (100 records) is torn
  EXPECT_GT(sp.recovery().torn_tail_bytes, 37u);
  EXPECT_EQ(fs::file_size(seg) + sp.recovery().torn_tail_bytes, full - 100 + 37);
  EXPECT_EQ(read_all(sp, 0).size(), 900u);
  // The next run's ids continue after every id the id lease says was given (the torn frame's
  // records may have reached a sink: their ids are not given again), in a segment of its own.
  EXPECT_EQ(sp.committed_end(), 1000u);
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  EXPECT_EQ(a.next_id(), 1000u);
}

TEST(Spool, LedgerRestoresTheWatermarkAndKeepsIdsAheadOfIt) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 10, 100, {"kafka", "mongo"});
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"kafka", "mongo"}).is_ok());
    sp.confirm(0, 700);
    sp.confirm(0, 500);  // never backwards
    ASSERT_TRUE(sp.persist_ledger(0).is_ok());
    EXPECT_EQ(sp.watermark(0), 700u);
  }
  // The segment loses its tail below the ledger's watermark (power cut after the ledger moved).
  const std::string seg = last_segment(c);
  fs::resize_file(seg, fs::file_size(seg) / 2);
  spool sp(c);
  ASSERT_TRUE(sp.open({"kafka", "mongo", "new"}).is_ok());
  // Past every record the spool still has: moved on to the first id the next run gives (the id
  // lease, written at the clean stop, says ids below 1000 were given).
  EXPECT_EQ(sp.watermark(0), 1000u);
  EXPECT_EQ(sp.watermark(1), 0u);  // no ledger: from the oldest segment
  EXPECT_EQ(sp.watermark(2), 0u);
  EXPECT_GE(sp.next_record_id(), 700u);  // ids never reused
  EXPECT_EQ(parse_ledger("edgepipe spool ledger v1\nconfirmed_end=123\n"), 123u);
  EXPECT_FALSE(parse_ledger("garbage"));
}

TEST(Spool, LedgerIsRewrittenInPlaceWithTheLatestWatermark) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 10, 100, {"kafka"});
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"kafka"}).is_ok());
    sp.confirm(0, 300);
    ASSERT_TRUE(sp.persist_ledger(0).is_ok());
    sp.confirm(0, 900);
    ASSERT_TRUE(sp.persist_ledger(0).is_ok());
    ASSERT_TRUE(sp.persist_ledger(0).is_ok());  // unchanged: nothing written
  }
  const fs::path ledger = fs::path(c.dir) / "kafka.ledger";
  std::ifstream in(ledger);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "edgepipe spool ledger v1\nsink=kafka\nconfirmed_end=900\n");
  EXPECT_FALSE(fs::exists(fs::path(c.dir) / "kafka.ledger.tmp"));
  spool sp(c);
  ASSERT_TRUE(sp.open({"kafka"}).is_ok());
  EXPECT_EQ(sp.watermark(0), 900u);
}

TEST(Spool, LedgerKeepsTheSinkStateWithTheWatermarkInOneFile) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 10, 100, {"file"});
  {
    spool sp(c);
    ASSERT_TRUE(sp.open({"file"}).is_ok());
    EXPECT_EQ(sp.ledger_state(0), "");
    sp.confirm(0, 300);
    ASSERT_TRUE(sp.persist_ledger(0, "file.bytes=10\n").is_ok());
    // Same watermark, new state: written (a rotation records the new file this way).
    ASSERT_TRUE(sp.persist_ledger(0, "file.bytes=20\n").is_ok());
    EXPECT_EQ(sp.ledger_state(0), "file.bytes=20\n");
    EXPECT_FALSE(sp.persist_ledger(0, std::string(spool::kMaxLedgerStateBytes + 1, 'x')).is_ok());
  }
  EXPECT_EQ(testing::read_file((fs::path(c.dir) / "file.ledger").string()),
            "edgepipe spool ledger v1\nsink=file\nconfirmed_end=300\nfile.bytes=20\n");
  spool sp(c);
  ASSERT_TRUE(sp.open({"file"}).is_ok());
  EXPECT_EQ(sp.watermark(0), 300u);
  EXPECT_EQ(sp.ledger_state(0), "file.bytes=20\n");
  EXPECT_EQ(parse_ledger_state("edgepipe spool ledger v1\nconfirmed_end=1\n"), "");
}

TEST(Spool, ConfirmedSegmentsAreDeletedAndDropOldestCountsPerSink) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 150, 200, {"fast", "slow"});
  spool sp(c);
  ASSERT_TRUE(sp.open({"fast", "slow"}).is_ok());
  const auto segs = sp.segments();
  ASSERT_GE(segs.size(), 3u);
  sp.confirm(0, sp.committed_end());
  EXPECT_EQ(sp.delete_confirmed_segments(), 0u);  // "slow" has confirmed nothing
  sp.confirm(1, segs[1].end_id);                  // "slow" has the first two segments
  EXPECT_GT(sp.delete_confirmed_segments(), 0u);
  EXPECT_EQ(sp.segments().size(), segs.size() - 2);
  EXPECT_FALSE(fs::exists(segs[0].path));
  // drop_oldest: "slow" loses what it had not confirmed in the dropped segment, "fast" nothing.
  const auto oldest = sp.segments().front();
  ASSERT_TRUE(sp.drop_oldest_segment());
  EXPECT_EQ(sp.dropped_records(0), 0u);
  EXPECT_EQ(sp.dropped_records(1), oldest.end_id - oldest.first_id);
  EXPECT_EQ(sp.dropped_end(), oldest.end_id);
  // A cursor still at the start reports the dropped range as skipped, then reads on.
  spool_cursor cur(sp, kSources);
  cur.seek(0);
  record_batch b;
  spool_frame_position pos;
  skip_reason why;
  ASSERT_EQ(cur.next(sp.committed_end(), b, pos, why), spool_cursor::result::skipped);
  EXPECT_EQ(why, skip_reason::dropped);
  EXPECT_EQ(pos.first_id + pos.records, oldest.end_id);
  ASSERT_EQ(cur.next(sp.committed_end(), b, pos, why), spool_cursor::result::frame);
  EXPECT_EQ(b.records().front().sequence, oldest.end_id);
}

// A dropped segment whose file cannot be deleted still takes its space: the spool must not
// count it as freed (it would write on past max_bytes), and it deletes the file once it can.
TEST(Spool, ADroppedSegmentThatCannotBeDeletedStillCountsAgainstTheLimit) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 150, 200, {"slow"});
  spool sp(c);
  ASSERT_TRUE(sp.open({"slow"}).is_ok());
  ASSERT_GE(sp.segments().size(), 3u);
  const auto oldest = sp.segments().front();
  const std::uint64_t before = sp.total_bytes();
  // Make the delete fail: a non-empty directory where the segment file was.
  fs::remove(oldest.path);
  fs::create_directory(oldest.path);
  std::ofstream(oldest.path + "/pinned") << "x";
  ASSERT_TRUE(sp.drop_oldest_segment());
  EXPECT_EQ(sp.total_bytes(), before) << "the undeleted segment's bytes were counted as freed";
  EXPECT_EQ(sp.undeleted_bytes(), oldest.bytes);
  // Once it can be deleted, the next drop deletes it and the bytes are freed.
  fs::remove_all(oldest.path);
  std::ofstream(oldest.path) << "x";
  const auto next = sp.segments().front();
  ASSERT_TRUE(sp.drop_oldest_segment());
  EXPECT_EQ(sp.undeleted_bytes(), 0u);
  EXPECT_FALSE(fs::exists(oldest.path));
  EXPECT_EQ(sp.total_bytes(), before - oldest.bytes - next.bytes);
}

// Read-only (`spool inspect`, `spool replay`) a spool is never created: a missing directory and a
// file in its place are told apart.
TEST(Spool, ReadOnlyOpenSaysWhetherTheDirectoryIsMissingOrAFile) {
  temp_dir dir;
  spool_config c = config_in(dir);
  c.dir = dir / "missing";
  spool missing(c);
  const status gone = missing.open({}, true);
  ASSERT_FALSE(gone.is_ok());
  EXPECT_NE(gone.message().find(c.dir + " does not exist"), std::string::npos) << gone.message();
  EXPECT_FALSE(fs::exists(c.dir));
  c.dir = dir / "a-file";
  testing::write_file(c.dir, "x");
  spool file(c);
  const status not_dir = file.open({}, true);
  ASSERT_FALSE(not_dir.is_ok());
  EXPECT_NE(not_dir.message().find(c.dir + " is not a directory"), std::string::npos)
      << not_dir.message();
}

TEST(Spool, CorruptFrameInAnOlderSegmentIsSkippedToTheNextSegment) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 60, 200);
  spool probe(c);
  ASSERT_TRUE(probe.open({}, true).is_ok());
  const auto segs = probe.segments();
  ASSERT_GE(segs.size(), 2u);
  {
    std::fstream f(segs[0].path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(segs[0].bytes / 2));
    f.put('\x00').put('\x01').put('\x02');
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  spool_cursor cur(sp, kSources);
  cur.seek(0);
  record_batch b;
  std::uint64_t read = 0, skipped = 0;
  for (;;) {
    spool_frame_position pos;
    skip_reason why;
    const auto r = cur.next(sp.committed_end(), b, pos, why);
    if (r == spool_cursor::result::none) break;
    if (r == spool_cursor::result::skipped) {
      EXPECT_EQ(why, skip_reason::corrupt);
      skipped += pos.records;
    } else {
      read += b.records().size();
    }
  }
  EXPECT_EQ(cur.corrupt_frames(), 1u);
  EXPECT_GT(skipped, 0u);
  EXPECT_EQ(read + skipped, sp.committed_end());
}

TEST(Spool, HeaderlessLastSegmentIsRemovedAtRecovery) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 5, 100);
  testing::write_file((fs::path(c.dir) / spool_format::segment_file_name(500)).string(), "EPSP");
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.recovery().removed_segments, 1u);
  EXPECT_EQ(sp.committed_end(), 500u);
  EXPECT_FALSE(fs::exists(fs::path(c.dir) / spool_format::segment_file_name(500)));
}

TEST(Spool, BackgroundSyncPublishesOnlyWhatItCoveredWhileAppendsGoOn) {
  started_spool s(fsync_policy::every_batch);
  spool& sp = s.sp;
  spool_appender& a = s.a;
  record_batch b;
  fill(b, 100, 0);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.begin_sync().is_ok());
  EXPECT_TRUE(a.sync_in_flight());
  fill(b, 100, 100);
  ASSERT_TRUE(a.append(b).is_ok());     // appended while the disk flushes
  ASSERT_TRUE(a.begin_sync().is_ok());  // asked for again: starts when the first completes
  EXPECT_LE(sp.durable_end(), 100u);    // nothing published before its sync completed
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 100u);  // the first sync covered the first batch only
  EXPECT_TRUE(a.sync_in_flight());    // the wanted one started
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 200u);
  EXPECT_FALSE(a.sync_in_flight());
  EXPECT_EQ(a.fsyncs(), 2u);
  // A segment roll with a sync in flight completes it first, in order.
  ASSERT_TRUE(a.begin_sync().is_ok());
  ASSERT_TRUE(a.roll().is_ok());
  fill(b, 50, 200);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.close(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 250u);
  EXPECT_EQ(read_all(sp, 0).size(), 250u);
}

TEST(Spool, BusySyncsCoverWholeWriteBuffersOnlyAndTheIdleSyncCoversTheRest) {
  started_spool s(fsync_policy::interval, 64 << 20);
  spool& sp = s.sp;
  spool_appender& a = s.a;
  record_batch b;
  // Less than one 1 MiB write buffer: a busy sync has no whole buffer to cover, so it covers all.
  fill(b, 1000, 0);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.begin_sync(/*full_buffers_only=*/true).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 1000u);
  EXPECT_FALSE(a.has_uncovered());
  // ~2.5 MiB more: two whole buffers went to the disk, the third is being filled.
  for (int i = 1; i <= 25; ++i) {
    fill(b, 1000, i * 1000);
    ASSERT_TRUE(a.append(b).is_ok());
  }
  ASSERT_TRUE(a.begin_sync(true).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  const std::uint64_t busy_end = sp.durable_end();
  EXPECT_GT(busy_end, 1000u);      // the frames in the submitted buffers
  EXPECT_LT(busy_end, 26000u);     // not those in the buffer being filled
  EXPECT_EQ(busy_end % 1000, 0u);  // whole frames only
  EXPECT_TRUE(a.has_uncovered());
  EXPECT_EQ(read_all(sp, 0).size(), sp.committed_end());  // what is visible reads back
  // The input is idle: the deadline's sync covers the rest.
  ASSERT_TRUE(a.begin_sync(false).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 26000u);
  EXPECT_FALSE(a.has_uncovered());
  // A busy sync asked for while one is in flight, then an idle one: the wanted sync covers all.
  fill(b, 1000, 26000);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.begin_sync(true).is_ok());
  fill(b, 1000, 27000);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.begin_sync(true).is_ok());
  ASSERT_TRUE(a.begin_sync(false).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 28000u);
  ASSERT_TRUE(a.close(true).is_ok());
  const auto keys = read_all(sp, 0);
  ASSERT_EQ(keys.size(), 28000u);
  for (std::size_t i = 0; i < keys.size(); i += 997) EXPECT_EQ(keys[i], "k" + std::to_string(i));
}

TEST(Spool, RolledSegmentsAreSyncedInTheBackgroundAndPublishedInOrder) {
  started_spool s(fsync_policy::interval);
  spool& sp = s.sp;
  spool_appender& a = s.a;
  const spool_config& c = s.c;
  record_batch b;
  fill(b, 100, 0);
  ASSERT_TRUE(a.append(b).is_ok());
  // A roll with a background sync in flight, and one without: neither waits for the disk, and
  // nothing of the old segment is published before its last sync completes.
  ASSERT_TRUE(a.begin_sync().is_ok());
  ASSERT_TRUE(a.roll().is_ok());
  EXPECT_EQ(sp.durable_end(), 0u);
  EXPECT_TRUE(a.sync_in_flight());  // the spool thread keeps polling it
  fill(b, 100, 100);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.begin_sync().is_ok());  // the new segment's, beside the old one's
  ASSERT_TRUE(a.poll(true).is_ok());
  ASSERT_TRUE(a.poll(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 200u);
  EXPECT_FALSE(a.sync_in_flight());
  fill(b, 100, 200);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.roll().is_ok());  // no sync in flight: the old segment's final one starts now
  for (int i = 3; i < 8; ++i) {   // rolls in a row: each waits for the one before, if need be
    fill(b, 100, i * 100);
    ASSERT_TRUE(a.append(b).is_ok());
    ASSERT_TRUE(a.roll().is_ok());
    EXPECT_LE(sp.durable_end(), static_cast<std::uint64_t>(i * 100));
  }
  // Confirmed segments are deleted in the background (the janitor), never the active one.
  std::size_t segments_before = 0;
  for (const auto& e : fs::directory_iterator(c.dir))
    segments_before += e.path().extension() == ".seg";
  ASSERT_TRUE(a.poll(true).is_ok());
  sp.confirm(0, 400);
  EXPECT_GT(a.delete_confirmed_segments(), 0u);
  ASSERT_TRUE(a.poll(true).is_ok());  // the unlinks have completed
  std::size_t segments_after = 0;
  for (const auto& e : fs::directory_iterator(c.dir))
    segments_after += e.path().extension() == ".seg";
  EXPECT_EQ(segments_after, segments_before - 3);  // ids 0-99, 100-299, 300-399
  ASSERT_TRUE(a.close(true).is_ok());
  EXPECT_EQ(sp.durable_end(), 800u);
  EXPECT_GE(a.fsyncs(), 8u);
  const auto keys = read_all(sp, 400);
  ASSERT_EQ(keys.size(), 400u);
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(keys[i], "k" + std::to_string(400 + i));
  // Every segment but the last ends where its frames end or in zero padding that readers stop
  // at; reopening the spool recovers all of it without counting anything torn.
  spool again(c);
  ASSERT_TRUE(again.open({"s"}).is_ok());
  EXPECT_EQ(again.recovery().torn_tail_bytes, 0u);
  EXPECT_EQ(read_all(again, 400).size(), 400u);
}

TEST(Spool, EmptyLastSegmentsAreRemovedAndTheBacklogBeforeThemSurvives) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 5, 100);
  // Two starts that failed after opening their segment (e.g. a sink that could not connect):
  // each left a header-only segment at id 500. A third start must neither reuse the backlog's
  // segment nor lose its records.
  for (int run = 0; run < 2; ++run) {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    EXPECT_EQ(sp.committed_end(), 500u);
    spool_appender a(sp, kSources);
    ASSERT_TRUE(a.start().is_ok());
    EXPECT_EQ(a.next_id(), 500u);
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.committed_end(), 500u);
  EXPECT_EQ(read_all(sp, 0).size(), 500u);
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  record_batch b;
  fill(b, 50, 500);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.close(true).is_ok());
  const auto keys = read_all(sp, 0);
  ASSERT_EQ(keys.size(), 550u);
  EXPECT_EQ(keys.front(), "k0");
  EXPECT_EQ(keys.back(), "k549");
}

// Found by tests/fuzz/fuzz_spool_recovery: the backlog's last frame is torn and an empty
// segment starts past it (at 500). The first recovery keeps ids from 500 on; the empty segment
// was its only record of that, so removing it let a second start (after one that failed before
// writing its own segment) hand out ids 400..499 again.
TEST(Spool, RecordIdsDoNotGoBackWhenARecoveredEmptySegmentCarriedTheFloor) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 5, 100);
  const std::string backlog = last_segment(c);
  fs::resize_file(backlog, fs::file_size(backlog) - 10);  // the frame of ids 400..499 torn
  {
    spool_format::segment_header h;
    h.first_record_id = 500;
    h.sources = kSources;
    byte_arena head;
    spool_format::encode_segment_header(h, head);
    std::ofstream(c.dir + "/" + spool_format::segment_file_name(500), std::ios::binary)
        .write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  for (int start = 0; start < 2; ++start) {
    spool sp(c);
    ASSERT_TRUE(sp.open({"s"}).is_ok());
    EXPECT_EQ(sp.next_record_id(), 500u) << "start " << start;
    EXPECT_EQ(sp.recovery().records, 400u) << "start " << start;
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  EXPECT_EQ(a.next_id(), 500u);
  record_batch b;
  fill(b, 10, 500);
  ASSERT_TRUE(a.append(b).is_ok());
  ASSERT_TRUE(a.close(true).is_ok());
  const auto keys = read_all(sp, 0);
  ASSERT_EQ(keys.size(), 410u);
  EXPECT_EQ(keys[399], "k399");
  EXPECT_EQ(keys[400], "k500");
}

spool_frame_position frame_at(std::uint64_t first, std::uint32_t n) {
  spool_frame_position p;
  p.segment_first_id = 0;
  p.offset = first * 10;
  p.first_id = first;
  p.records = n;
  return p;
}

// Direct I/O pads the active segment's last block with zeros and rewrites it as the segment
// grows: a cursor that read that block before must read it again, not take the zeros it holds
// for a damaged frame.
TEST(Spool, CursorRereadsTheActiveSegmentsRewrittenLastBlock) {
  temp_dir dir;
  auto c = config_in(dir);
  c.direct_io = true;
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  spool_appender a(sp, kSources);
  ASSERT_TRUE(a.start().is_ok());
  spool_cursor cur(sp, kSources);
  cur.seek(0);
  record_batch b;
  record_batch out;
  std::uint64_t read = 0;
  for (int round = 0; round < 5; ++round) {
    fill(b, 3 + round, static_cast<int>(read));  // small frames: each ends mid-block
    ASSERT_TRUE(a.append(b).is_ok());
    ASSERT_TRUE(a.commit(true, true).is_ok());
    spool_frame_position pos;
    skip_reason why = skip_reason::none;
    ASSERT_EQ(cur.next(sp.committed_end(), out, pos, why), spool_cursor::result::frame)
        << "round " << round;
    EXPECT_EQ(pos.first_id, read);
    read += out.records().size();
  }
  EXPECT_EQ(cur.corrupt_frames(), 0u);
  EXPECT_EQ(read, sp.committed_end());
}

TEST(Spool, ZeroPaddingAfterTheLastFrameIsCutButNotCountedAsTorn) {
  temp_dir dir;
  const auto c = config_in(dir);
  write_spool(c, 5, 100);
  const std::string seg = last_segment(c);
  const auto good = fs::file_size(seg);
  {
    // What a crash leaves after a direct-I/O write of a partial block.
    std::ofstream out(seg, std::ios::app | std::ios::binary);
    out << std::string(4096 - good % 4096, '\0');
  }
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  EXPECT_EQ(sp.committed_end(), 500u);
  EXPECT_EQ(sp.recovery().torn_tail_bytes, 0u);
  EXPECT_EQ(fs::file_size(seg), good);
  EXPECT_EQ(read_all(sp, 0).size(), 500u);
}

TEST(SpoolMemoryTail, HandsOutCommittedFramesByIdAndReturnsBatchesToThePool) {
  batch_pool<record_batch> pool;
  spool_memory_tail tail(pool, 3 * 4096);
  auto put = [&](std::uint64_t first, std::uint32_t n, std::size_t bytes) {
    record_batch* b = pool.acquire();
    b->arena().append(std::string(bytes, 'x'));
    b->records().resize(n);
    b->set_readers(1);
    tail.put(b, frame_at(first, n));
  };
  put(0, 10, 4096);
  put(10, 10, 4096);
  spool_frame_position where;
  EXPECT_EQ(tail.acquire(0, 10, 15, where), nullptr);  // not committed yet
  EXPECT_EQ(tail.acquire(0, 5, 100, where), nullptr);  // not a frame start
  record_batch* held = tail.acquire(0, 10, 20, where);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(where.first_id, 10u);
  EXPECT_EQ(where.records, 10u);
  put(20, 10, 4096);
  put(30, 10, 4096);  // over 3 x 4096: the oldest goes
  EXPECT_EQ(tail.acquire(0, 0, 100, where), nullptr);
  EXPECT_EQ(tail.bytes(), 3u * 4096);
  tail.evict_done(30);  // every sink has 0..30: entries 10 and 20 go
  EXPECT_EQ(tail.bytes(), 4096u);
  EXPECT_EQ(held->records().size(), 10u);  // still ours: the sink's reference keeps it alive
  const std::size_t created = pool.created();
  tail.release(held);
  tail.clear();
  // Every batch is back in the pool: taking 4 creates none.
  std::vector<record_batch*> again(4);
  for (record_batch*& b : again) b = pool.acquire();
  EXPECT_EQ(pool.created(), created);
  for (record_batch* b : again) pool.release(b);
  EXPECT_EQ(tail.hits(), 1u);
}

TEST(SpoolMemoryTail, AFullTailSaysWhenEvictingWouldLeaveAFollowingSinkBehind) {
  batch_pool<record_batch> pool;
  spool_memory_tail tail(pool, 2 * 4096, /*sinks=*/2);
  auto put = [&](std::uint64_t first) {
    record_batch* b = pool.acquire();
    b->arena().append(std::string(4096, 'x'));
    b->records().resize(10);
    b->set_readers(1);
    tail.put(b, frame_at(first, 10));
  };
  put(0);
  put(10);
  std::uint64_t wanted_end = 0;
  // Neither sink has asked for anything yet: nobody follows, the oldest may go.
  EXPECT_FALSE(tail.would_evict_wanted(4096, wanted_end));
  spool_frame_position where;
  record_batch* b = tail.acquire(0, 0, 20, where);  // sink 0 takes frame 0, wants 10 next
  ASSERT_NE(b, nullptr);
  tail.release(b);
  EXPECT_FALSE(tail.would_evict_wanted(4096, wanted_end));  // frame 0 is taken
  EXPECT_EQ(tail.acquire(1, 0, 5, where), nullptr);         // sink 1 wants frame 0: not committed
  EXPECT_TRUE(tail.would_evict_wanted(4096, wanted_end));
  EXPECT_EQ(wanted_end, 10u);  // what must be committed before it can take it
  EXPECT_TRUE(tail.would_evict_wanted(2 * 4096, wanted_end));  // both entries would go
  EXPECT_EQ(wanted_end, 20u);
  EXPECT_FALSE(tail.would_evict_wanted(3 * 4096, wanted_end));  // never held: nothing goes
  b = tail.acquire(1, 0, 20, where);  // sink 1 takes it: nothing wanted would go
  ASSERT_NE(b, nullptr);
  tail.release(b);
  EXPECT_FALSE(tail.would_evict_wanted(4096, wanted_end));
  EXPECT_TRUE(tail.would_evict_wanted(2 * 4096, wanted_end));  // frame 10 is both sinks' next
  // A sink that fell behind the tail (it asks for a frame before the oldest, now on the disk
  // only) is not waited for.
  put(20);  // the spool did not wait: frame 0 goes
  EXPECT_EQ(tail.acquire(0, 0, 30, where), nullptr);
  EXPECT_EQ(tail.acquire(1, 0, 30, where), nullptr);
  EXPECT_FALSE(tail.would_evict_wanted(2 * 4096, wanted_end));
  tail.clear();
}

TEST(SpoolMemoryTail, ABatchGoesOnceEverySinkHasTakenItOrConfirmedIt) {
  batch_pool<record_batch> pool;
  spool_memory_tail tail(pool, 1 << 20, /*sinks=*/2);
  tail.expect(0, 0);
  tail.expect(1, 0);
  for (std::uint64_t first : {std::uint64_t{0}, std::uint64_t{10}, std::uint64_t{20}}) {
    record_batch* b = pool.acquire();
    b->arena().append(std::string(1000, 'x'));
    b->records().resize(10);
    b->set_readers(1);
    tail.put(b, frame_at(first, 10));
  }
  spool_frame_position where;
  auto take = [&](std::size_t sink, std::uint64_t first) {
    record_batch* b = tail.acquire(sink, first, 30, where);
    ASSERT_NE(b, nullptr);
    tail.release(b);
  };
  take(0, 0);
  tail.evict_done(0);
  EXPECT_EQ(tail.bytes(), 3000u);  // sink 1 has not taken frame 0
  take(1, 0);
  take(1, 10);
  tail.evict_done(0);
  EXPECT_EQ(tail.bytes(), 2000u);  // frame 0 went; sink 0 still wants frame 10
  tail.evict_done(20);             // confirmed by both (sink 0 took it before a restart, say)
  EXPECT_EQ(tail.bytes(), 1000u);
  take(0, 20);  // frame 20 stays until both have it
  tail.evict_done(0);
  EXPECT_EQ(tail.bytes(), 1000u);
  tail.clear();
}

TEST(SpoolMemoryTail, WaitForTakeReturnsWhenASinkTakesABatch) {
  batch_pool<record_batch> pool;
  spool_memory_tail tail(pool, 4096, 1);
  record_batch* b = pool.acquire();
  b->arena().append(std::string(100, 'x'));
  b->records().resize(1);
  b->set_readers(1);
  tail.put(b, frame_at(0, 1));
  const std::uint64_t seen = tail.hits();  // read before the sink may take: no take is missed
  std::thread sink([&] {
    spool_frame_position where;
    record_batch* got = tail.acquire(0, 0, 1, where);
    if (got != nullptr) tail.release(got);
  });
  const auto t0 = std::chrono::steady_clock::now();
  while (tail.hits() == seen) tail.wait_for_take(seen, std::chrono::seconds(10));
  sink.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  tail.clear();
}

// Backpressure is bounded: a sink that stops taking batches from the memory tail (an outage, a
// stall) holds the spool thread up once, for at most the follower wait, and is then left
// behind (it would read the disk); a sink that keeps up gets every batch from memory.
TEST(SpoolStage, ASinkThatStopsTakingFromTheTailIsLeftBehindAfterOneBoundedWait) {
  temp_dir dir;
  spool_config c = config_in(dir);
  c.memory_bytes = 4096;  // a few batches of 10 records
  spool sp(c);
  ASSERT_TRUE(sp.open({"stalled", "keeps_up"}).is_ok());
  batch_pool<record_batch> pool;
  stage_counters counters("spool");
  spool_stage stage(sp, kSources, 4, pool, counters);
  ASSERT_TRUE(stage.open().is_ok());
  std::thread spool_thread([&] { stage.run(); });
  constexpr int kBatches = 60;
  constexpr std::uint64_t kRecords = kBatches * 10;
  spool_memory_tail& tail = stage.memory_tail();
  // "keeps_up" (sink 1) takes every committed frame; "stalled" (sink 0) takes the first, then
  // never asks again.
  auto take_from = [&](std::size_t sink, std::uint64_t until) {
    std::uint64_t next = 0;
    std::uint64_t from_memory = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (next < until && std::chrono::steady_clock::now() < deadline) {
      const std::uint64_t committed = sp.committed_end();
      if (committed <= next) {
        sp.commit_waiter().wait([&] { return sp.committed_end() > next; },
                                std::chrono::milliseconds(10));
        continue;
      }
      spool_frame_position where;
      record_batch* b = tail.acquire(sink, next, committed, where);
      if (b == nullptr) break;  // fell off the tail: it would read the disk now
      next += where.records;
      from_memory += where.records;
      tail.release(b);
    }
    return from_memory;
  };
  std::uint64_t stalled_got = 0;
  std::uint64_t keeps_up_got = 0;
  std::thread stalled([&] { stalled_got = take_from(0, 10); });
  std::thread keeps_up([&] { keeps_up_got = take_from(1, kRecords); });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kBatches; ++i) {
    record_batch* b = pool.acquire();
    fill(*b, 10, i * 10);
    b->set_readers(1);
    ASSERT_TRUE(stage.input().push(b));
  }
  stage.input().close();
  spool_thread.join();
  stalled.join();
  keeps_up.join();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(stage.appender().appended_records(), kRecords);
  EXPECT_EQ(stalled_got, 10u);
  EXPECT_EQ(keeps_up_got, kRecords);  // never fell off: the spool waited for it when needed
  EXPECT_EQ(stage.followers_left_behind(), 1u);  // "stalled", once
  EXPECT_GE(stage.follower_waits(), 1u);
  EXPECT_GE(stage.follower_wait_ns(), 200'000'000u);  // the wait for "stalled" ran out
  EXPECT_LT(took, std::chrono::seconds(20));
}

// A full batch (the transform is busy) is not copied into the page cache at once: the next batch
// would take it over. When none follows, it still becomes visible (after kExposeDeferNs), and a
// batch cut short (its producer went idle) becomes visible without any wait. No sync helps here.
TEST(SpoolStage, AFullBatchWithNoBatchAfterItStillBecomesVisible) {
  temp_dir dir;
  spool_config c = config_in(dir);
  c.fsync = fsync_policy::interval;
  c.fsync_interval_ms = 600'000;  // only an exposure makes records visible
  spool sp(c);
  ASSERT_TRUE(sp.open({"file"}).is_ok());
  batch_pool<record_batch> pool;
  stage_counters counters("spool");
  spool_stage stage(sp, kSources, 4, pool, counters);
  stage.set_full_batch(10, std::size_t{1} << 20);
  ASSERT_TRUE(stage.open().is_ok());
  std::thread spool_thread([&] { stage.run(); });
  auto push = [&](int n, int base) {
    record_batch* b = pool.acquire();
    fill(*b, n, base);
    b->set_readers(1);
    return stage.input().push(b);
  };
  auto visible = [&](std::uint64_t end) {
    return sp.commit_waiter().wait([&] { return sp.committed_end() >= end; },
                                   std::chrono::seconds(30));
  };
  ASSERT_TRUE(push(10, 0));  // full
  EXPECT_TRUE(visible(10)) << sp.committed_end();
  ASSERT_TRUE(push(3, 10));  // cut short
  EXPECT_TRUE(visible(13)) << sp.committed_end();
  EXPECT_EQ(sp.durable_end(), 0u) << "visible by exposure, not by a sync";
  stage.input().close();
  spool_thread.join();
}

TEST(DeliveryTracker, WatermarkMovesOnlyOverFullyConfirmedFrames) {
  delivery_tracker t(100);
  t.sent(frame_at(100, 10));
  t.sent(frame_at(110, 10));
  t.settle_range(110, 10, delivery_outcome::delivered);  // out of order: Kafka partitions
  EXPECT_EQ(t.confirmed_end(), 100u);
  t.settle_range(100, 9, delivery_outcome::delivered);
  t.settle(109, delivery_outcome::duplicate);
  EXPECT_EQ(t.confirmed_end(), 120u);
  t.skipped(120, 5);
  EXPECT_EQ(t.confirmed_end(), 125u);
  EXPECT_TRUE(t.empty());
  t.settle(5, delivery_outcome::delivered);  // not ours: counted, ignored
  EXPECT_EQ(t.unknown_answers(), 1u);
}

TEST(DeliveryTracker, LatencyIsCountedWhenAFrameIsConfirmedNotWhenItIsSent) {
  latency_histogram latency;
  delivery_tracker t(0, &latency);
  const std::uint64_t received = mono_now_ns() - 50'000'000;  // 50 ms ago
  t.sent(frame_at(0, 10), received);
  t.sent(frame_at(10, 5), received);
  t.skipped(15, 3);  // no records of ours: no latency
  EXPECT_EQ(latency.read().total(), 0u) << "nothing is confirmed yet";
  t.settle_range(0, 10, delivery_outcome::delivered);
  EXPECT_EQ(t.confirmed_end(), 10u);
  auto h = latency.read();
  EXPECT_EQ(h.total(), 10u) << "one count per record of the confirmed frame";
  EXPECT_GE(h.quantile(0.5), 50'000'000u) << "measured to the confirmation, from receipt";
  t.settle_range(10, 5, delivery_outcome::failed);
  EXPECT_EQ(t.confirmed_end(), 10u);
  EXPECT_EQ(latency.read().total(), 10u) << "a failed frame is not confirmed";
  (void)t.rewind();
  t.sent(frame_at(10, 5), received);
  t.settle_range(10, 5, delivery_outcome::dead_lettered);
  EXPECT_EQ(t.confirmed_end(), 15u);
  EXPECT_EQ(latency.read().total(), 15u) << "the retry's confirmation counts, once";
}

TEST(DeliveryTracker, AFrameAnsweredBeforeAnEarlierOneCountsItsLatencyAtItsOwnAnswer) {
  latency_histogram latency;
  delivery_tracker t(0, &latency);
  const std::uint64_t old_receipt = mono_now_ns() - 500'000'000;  // 500 ms ago
  const std::uint64_t new_receipt = mono_now_ns();
  t.sent(frame_at(0, 4), old_receipt);
  t.sent(frame_at(4, 6), new_receipt);
  // The second frame's messages went to a partition whose batch left first.
  t.settle_range(4, 6, delivery_outcome::delivered);
  EXPECT_EQ(t.confirmed_end(), 0u) << "the watermark waits for the first frame";
  auto h = latency.read();
  EXPECT_EQ(h.total(), 6u) << "the answered frame counts now, not when the watermark passes it";
  EXPECT_LT(h.quantile(1.0), 400'000'000u) << "measured from its own receipt";
  t.settle_range(0, 3, delivery_outcome::delivered);
  EXPECT_EQ(latency.read().total(), 6u) << "a frame with an answer missing does not count";
  t.settle(3, delivery_outcome::delivered);
  EXPECT_EQ(t.confirmed_end(), 10u);
  h = latency.read();
  EXPECT_EQ(h.total(), 10u) << "each frame counts once";
  EXPECT_GE(h.quantile(1.0), 450'000'000u) << "the first frame from its own receipt";
}

TEST(DeliveryTracker, AFailureHoldsTheWatermarkAndRewindsToTheFirstUnconfirmedFrame) {
  delivery_tracker t(0);
  t.sent(frame_at(0, 10));
  t.sent(frame_at(10, 10));
  t.sent(frame_at(20, 10));
  t.settle_range(0, 10, delivery_outcome::delivered);
  t.settle_range(10, 4, delivery_outcome::delivered);
  t.settle(14, delivery_outcome::failed);
  t.settle_range(15, 5, delivery_outcome::dead_lettered);
  EXPECT_TRUE(t.failure_pending());
  EXPECT_EQ(t.unanswered(), 10u);  // frame 20.. still out
  t.settle_range(20, 10, delivery_outcome::delivered);
  EXPECT_EQ(t.confirmed_end(), 10u);  // held at the failed frame
  EXPECT_EQ(t.unanswered(), 0u);
  const auto from = t.rewind();
  EXPECT_EQ(from.first_id, 10u);  // go back to it; 20.. is sent again (in order)
  EXPECT_EQ(from.offset, 100u);
  EXPECT_FALSE(t.failure_pending());
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.failures(), 1u);
  EXPECT_EQ(t.dead_lettered(), 5u);
}

TEST(SpoolNewestRecord, TheNewestAcceptedRecordOfASourceAcrossSegmentsNoneForAnother) {
  temp_dir dir;
  const spool_config c = config_in(dir);
  write_spool(c, 3000, 10);  // 30,000 records, several 1 MiB segments
  spool sp(c);
  ASSERT_TRUE(sp.open({"s"}).is_ok());
  ASSERT_GT(sp.segments().size(), 2u);
  const auto any = [](std::string_view) { return true; };
  std::string value;
  bool found = false;
  ASSERT_TRUE(newest_record_value(sp, "alpha", any, value, found).is_ok());
  ASSERT_TRUE(found);
  EXPECT_TRUE(value.starts_with("{\"i\":29998,")) << value << " (alpha: even records)";
  ASSERT_TRUE(newest_record_value(sp, "beta", any, value, found).is_ok());
  ASSERT_TRUE(found);
  EXPECT_TRUE(value.starts_with("{\"i\":29999,")) << value;
  // Only an old record is accepted: found in the first segment, behind the newer ones.
  const auto old_one = [](std::string_view v) { return v.starts_with("{\"i\":100,"); };
  ASSERT_TRUE(newest_record_value(sp, "alpha", old_one, value, found).is_ok());
  ASSERT_TRUE(found);
  EXPECT_TRUE(value.starts_with("{\"i\":100,")) << value;
  ASSERT_TRUE(newest_record_value(sp, "gamma", any, value, found).is_ok());
  EXPECT_FALSE(found);
}

}  // namespace
}  // namespace edgepipe
