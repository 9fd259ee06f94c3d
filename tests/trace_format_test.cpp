#include "io/trace_format.hpp"

#include <gtest/gtest.h>

#include <filesystem>

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
