#include "io/trace_format.hpp"

#include "core/batch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

std::vector<std::tuple<std::string, std::string, std::int64_t, std::uint16_t>> read_all(
    const std::string& path, trace_reader& r, std::size_t max_body = 1 << 20) {
  std::vector<std::tuple<std::string, std::string, std::int64_t, std::uint16_t>> frames;
  EXPECT_TRUE(r.open(path, max_body).is_ok());
  trace_frame f;
  while (r.next(f))
    frames.emplace_back(std::string(f.source), std::string(f.body), f.received_unix_ns,
                        f.http_status);
  EXPECT_EQ(r.error(), "");
  return frames;
}

TEST(TraceFormat, RoundTripsFramesExactly) {
  temp_dir dir;
  trace_writer w;
  ASSERT_TRUE(w.open(dir / "t.trace").is_ok());
  std::string big(3 << 20, 'x');  // spans several reader chunks
  ASSERT_TRUE(w.write({"iss", R"({"a":1})", 1700000000123456789, 200}));
  ASSERT_TRUE(w.write({"coingecko", big, 1700000005000000000, 429}));
  ASSERT_TRUE(w.write({"randomuser", "", 1700000010000000000, 200}));
  ASSERT_TRUE(w.close().is_ok());

  trace_reader r;
  auto frames = read_all(dir / "t.trace", r, 8 << 20);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(r.kind(), trace_kind::frames);
  EXPECT_EQ(frames[0], std::make_tuple(std::string("iss"), std::string(R"({"a":1})"),
                                       std::int64_t{1700000000123456789}, std::uint16_t{200}));
  EXPECT_EQ(std::get<1>(frames[1]), big);
  EXPECT_EQ(std::get<3>(frames[1]), 429);
  EXPECT_EQ(std::get<1>(frames[2]), "");
}

// Zero-copy reading (stages/sources/replay_source): bodies kept in the window stay where they are,
// the window goes to the caller when it is full, and what was read ahead is read again.
struct kept_body {
  std::size_t window;  // index into windows
  std::size_t offset;
  std::size_t length;
};

void expect_kept_bodies(const std::vector<std::unique_ptr<byte_arena>>& windows,
                        const std::vector<kept_body>& kept, const std::vector<std::string>& want) {
  ASSERT_EQ(kept.size(), want.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const byte_arena& w = *windows[kept[i].window];
    ASSERT_LE(kept[i].offset + kept[i].length + kPayloadPadding, w.capacity()) << "frame " << i;
    EXPECT_EQ(w.view(kept[i].offset, kept[i].length), want[i]) << "frame " << i;
  }
}

TEST(TraceFormat, KeptBodiesStayInPlaceAcrossWindowHandOffs) {
  for (const bool json_lines : {false, true}) {
    temp_dir dir;
    std::vector<std::string> bodies;
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
      // Mostly small, some larger than the whole window (which then grows unpinned).
      const std::size_t n = i % 50 == 7 ? 300'000 : rng() % 9000;
      std::string b = "{\"i\":" + std::to_string(i) + ",\"pad\":\"";
      b.append(n, static_cast<char>('a' + i % 26));
      bodies.push_back(b + "\"}");
    }
    const std::string path = dir / (json_lines ? "t.jsonl" : "t.trace");
    if (json_lines) {
      std::ofstream out(path, std::ios::binary);
      for (const auto& b : bodies) out << b << "\n";
    } else {
      trace_writer w;
      ASSERT_TRUE(w.open(path).is_ok());
      for (const auto& b : bodies) ASSERT_TRUE(w.write({"iss", b, 1, 200}));
      ASSERT_TRUE(w.close().is_ok());
    }
    trace_reader r;
    ASSERT_TRUE(r.open(path, 1 << 20).is_ok());
    std::vector<std::unique_ptr<byte_arena>> windows;
    std::vector<kept_body> kept;
    std::size_t handoffs = 0;
    auto take = [&](bool give_back) {
      windows.push_back(std::make_unique<byte_arena>());
      r.take_window(*windows.back(), give_back);
    };
    // Stand-in arenas for the ones the kept bodies go to: index of the window being filled.
    r.enable_handoff(64 << 10, kPayloadPadding, [&] {
      ++handoffs;
      take(false);
    });
    trace_frame f;
    std::size_t given_back = 0;
    while (r.next(f)) {
      // Now and then ship early, giving the frame back (as pacing does): it must come again.
      if (kept.size() % 17 == 5 && given_back < kept.size()) {
        given_back = kept.size() + 1;
        take(true);
        continue;
      }
      kept.push_back({windows.size(), r.keep(f.body, kPayloadPadding), f.body.size()});
      if (kept.size() % 23 == 0) take(false);  // an early ship that consumes the frame
    }
    take(false);
    EXPECT_EQ(r.error(), "");
    EXPECT_EQ(r.counters().frames, bodies.size());
    EXPECT_GT(handoffs, 10u);
    expect_kept_bodies(windows, kept, bodies);
  }
}

// A paced replay hands the window off before waiting for each payload (replay_source::pace:
// the batch so far goes, the frame not due yet comes again): the reader then reads a little
// ahead, not a whole chunk again for each payload (each re-read copied 256 KiB per payload).
// At full speed hand-offs (a full window, an idle transform) read whole chunks.
TEST(TraceFormat, AfterAPacedHandOffTheReaderReadsLittleAhead) {
  temp_dir dir;
  trace_writer w;
  ASSERT_TRUE(w.open(dir / "t.trace").is_ok());
  const std::string body = "{\"iss_position\":{\"latitude\":\"1.0\"},\"message\":\"success\"}";
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(w.write({"iss", body, i + 1, 200}));
  ASSERT_TRUE(w.close().is_ok());
  for (const bool paced : {true, false}) {
    trace_reader r;
    ASSERT_TRUE(r.open(dir / "t.trace", 1 << 20).is_ok());
    r.enable_handoff(1 << 20, kPayloadPadding, [] { FAIL() << "the window never fills here"; });
    byte_arena taken;
    trace_frame f;
    std::size_t kept = 0, most_ahead = 0;
    bool due = false;
    while (r.next(f)) {
      ASSERT_EQ(f.body, body);
      if (paced && !due) {  // not due yet: ship what is kept, wait, read the frame again
        r.take_window(taken, /*give_back_last=*/true, /*read_little_next=*/true);
        due = true;
        continue;
      }
      if (kept > 0) most_ahead = std::max(most_ahead, r.unread_window_bytes());
      (void)r.keep(f.body, kPayloadPadding);
      ++kept;
      due = false;
      if (!paced) r.take_window(taken);  // full speed: shipped, the frame consumed
    }
    EXPECT_EQ(r.error(), "");
    EXPECT_EQ(kept, 3000u);
    if (paced)
      EXPECT_LE(most_ahead, std::size_t{16} << 10);
    else
      EXPECT_GT(most_ahead, std::size_t{200} << 10);
  }
}

TEST(TraceFormat, TornTailIsCountedNotFatal) {
  temp_dir dir;
  trace_writer w;
  ASSERT_TRUE(w.open(dir / "t.trace").is_ok());
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(w.write({"iss", "{\"i\":" + std::to_string(i) + "}", i + 1, 200}));
  ASSERT_TRUE(w.close().is_ok());
  const auto size = std::filesystem::file_size(dir / "t.trace");
  std::filesystem::resize_file(dir / "t.trace", size - 3);
  trace_reader r;
  auto frames = read_all(dir / "t.trace", r);
  EXPECT_EQ(frames.size(), 9u);
  EXPECT_GT(r.counters().torn_tail_bytes, 0u);
  EXPECT_NE(r.warnings().find("torn tail"), std::string::npos);
}

TEST(TraceFormat, CorruptFrameIsSkippedByResynchronising) {
  temp_dir dir;
  trace_writer w;
  ASSERT_TRUE(w.open(dir / "t.trace").is_ok());
  ASSERT_TRUE(w.write({"iss", "{\"first\":1}", 1, 200}));
  ASSERT_TRUE(w.write({"iss", "{\"second\":2}", 2, 200}));
  ASSERT_TRUE(w.write({"iss", "{\"third\":3}", 3, 200}));
  ASSERT_TRUE(w.close().is_ok());
  std::string bytes = testing::read_file(dir / "t.trace");
  const auto pos = bytes.find("second");
  bytes[pos] = 'S';  // body no longer matches its CRC
  testing::write_file(dir / "t.trace", bytes);
  trace_reader r;
  auto frames = read_all(dir / "t.trace", r);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(std::get<1>(frames[0]), "{\"first\":1}");
  EXPECT_EQ(std::get<1>(frames[1]), "{\"third\":3}");
  EXPECT_EQ(r.counters().corrupt_frames, 1u);
}

TEST(TraceFormat, ReadsJsonLinesWithCrlfBlankLinesAndNoFinalNewline) {
  temp_dir dir;
  testing::write_file(dir / "t.jsonl", "{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}");
  trace_reader r;
  auto frames = read_all(dir / "t.jsonl", r);
  EXPECT_EQ(r.kind(), trace_kind::json_lines);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(std::get<1>(frames[0]), "{\"a\":1}");
  EXPECT_EQ(std::get<1>(frames[2]), "{\"c\":3}");
  EXPECT_EQ(std::get<2>(frames[0]), 0);
}

TEST(TraceFormat, OversizedBodiesAreSkippedAndCounted) {
  temp_dir dir;
  trace_writer w;
  ASSERT_TRUE(w.open(dir / "t.trace").is_ok());
  ASSERT_TRUE(w.write({"iss", std::string(5000, 'y'), 1, 200}));
  ASSERT_TRUE(w.write({"iss", "{}", 2, 200}));
  ASSERT_TRUE(w.close().is_ok());
  trace_reader r;
  auto frames = read_all(dir / "t.trace", r, 1024);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(r.counters().oversized, 1u);

  testing::write_file(dir / "t.jsonl", std::string(300000, 'z') + "\n{\"ok\":1}\n");
  trace_reader j;
  auto lines = read_all(dir / "t.jsonl", j, 1024);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(std::get<1>(lines[0]), "{\"ok\":1}");
  EXPECT_EQ(j.counters().oversized, 1u);
}

TEST(TraceFormat, MissingFileIsAnErrorNamingThePath) {
  trace_reader r;
  const status s = r.open("/nonexistent/edgepipe.trace", 1024);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("/nonexistent/edgepipe.trace"), std::string::npos);
}

}  // namespace
}  // namespace edgepipe
