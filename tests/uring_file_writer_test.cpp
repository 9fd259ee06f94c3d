// io/uring_file_writer: buffered and O_DIRECT modes write exactly the bytes given, whatever the
// mix of write sizes, flushes and background syncs (direct I/O pads and rewrites the last block;
// close() cuts the padding).
#include "io/uring_file_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

/// Deterministic bytes with no long runs of zeros (so padding left in place would show).
std::string pattern(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

class UringFileWriter : public ::testing::TestWithParam<bool> {};

TEST_P(UringFileWriter, WritesExactlyTheBytesAcrossFlushesSyncsAndBufferEdges) {
  temp_dir dir;
  const std::string path = dir / "out.bin";
  uring_file_writer w;
  uring_file_writer_options o;
  o.buffer_bytes = 64 * 1024;  // small buffers: many full-buffer submissions and edges
  o.direct = GetParam();
  ASSERT_TRUE(w.open(path, o).is_ok());
  if (GetParam() && !w.direct())
    GTEST_LOG_(INFO) << "the temp file system does not take O_DIRECT: checked buffered";
  std::string expected;
  std::mt19937 rng(7);
  for (int i = 0; i < 400; ++i) {
    const std::string chunk = pattern(1 + rng() % 9000, static_cast<unsigned>(i));
    ASSERT_TRUE(w.write(chunk));
    expected += chunk;
    switch (rng() % 5) {
      case 0:
        ASSERT_TRUE(w.flush().is_ok());
        break;
      case 1:
        ASSERT_TRUE(w.start_sync().is_ok());
        break;
      case 2:
        ASSERT_TRUE(w.poll_sync(false).is_ok());
        break;
      default:
        break;
    }
    EXPECT_EQ(w.bytes_written(), expected.size());
  }
  ASSERT_TRUE(w.sync().is_ok());
  EXPECT_GE(w.syncs_completed(), 1u);
  EXPECT_FALSE(w.sync_in_flight());
  // A flushed file reads back whole before close (direct: up to the padding).
  EXPECT_EQ(testing::read_file(path).substr(0, expected.size()), expected);
  ASSERT_TRUE(w.close(true).is_ok());
  EXPECT_EQ(std::filesystem::file_size(path), expected.size());
  EXPECT_EQ(testing::read_file(path), expected);
}

TEST_P(UringFileWriter, BackgroundSyncCompletesWhileWritesGoOn) {
  temp_dir dir;
  const std::string path = dir / "bg.bin";
  uring_file_writer w;
  uring_file_writer_options o;
  o.direct = GetParam();
  ASSERT_TRUE(w.open(path, o).is_ok());
  const std::string a = pattern(5000, 1);
  const std::string b = pattern(300000, 2);
  ASSERT_TRUE(w.write(a));
  ASSERT_TRUE(w.start_sync().is_ok());
  EXPECT_TRUE(w.sync_in_flight() || w.syncs_completed() == 1);
  ASSERT_TRUE(w.write(b));              // goes on while the disk flushes
  ASSERT_TRUE(w.start_sync().is_ok());  // waits for the first, starts the second
  ASSERT_TRUE(w.poll_sync(true).is_ok());
  EXPECT_EQ(w.syncs_completed(), 2u);
  ASSERT_TRUE(w.close().is_ok());
  EXPECT_EQ(testing::read_file(path), a + b);
}

// Buffered flushes of a fill up to kInlineWriteBytes are pwrite()s on the caller's thread, larger
// ones go through the ring: both, mixed with full buffers in flight and background syncs, leave
// exactly the bytes given.
TEST(UringFileWriterBuffered, SmallFlushesWrittenInlineAndLargeOnesOnTheRingKeepTheBytes) {
  temp_dir dir;
  const std::string path = dir / "mixed.bin";
  uring_file_writer w;
  uring_file_writer_options o;
  o.buffer_bytes = 512 * 1024;
  ASSERT_TRUE(w.open(path, o).is_ok());
  std::string expected;
  std::mt19937 rng(11);
  std::size_t small = 0, large = 0;
  std::size_t checked = 0;  // bytes of the file compared so far
  for (int i = 0; i < 300; ++i) {
    // Fills below and above the inline limit, now and then past a whole buffer.
    const std::size_t n =
        i % 7 == 3 ? 600'000 : 1 + rng() % (3 * uring_file_writer::kInlineWriteBytes);
    const std::string chunk = pattern(n, static_cast<unsigned>(i));
    ASSERT_TRUE(w.write(chunk));
    expected += chunk;
    (n <= uring_file_writer::kInlineWriteBytes ? small : large) += 1;
    if (rng() % 3 == 0) {  // submitted, not waited for: the file may still lag
      ASSERT_TRUE(w.start_sync().is_ok());
      continue;
    }
    ASSERT_TRUE(w.flush().is_ok());  // every write completed: the file holds all of it
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(checked));
    std::string tail(expected.size() - checked, '\0');
    in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
    ASSERT_EQ(in.gcount(), static_cast<std::streamsize>(tail.size()));
    ASSERT_EQ(tail, expected.substr(checked));
    checked = expected.size();
  }
  EXPECT_GT(small, 50u);
  EXPECT_GT(large, 50u);
  ASSERT_TRUE(w.close(true).is_ok());
  EXPECT_EQ(testing::read_file(path), expected);
}

// A path that names one of the process's descriptors (here a symlink to /proc/self/fd/N, as
// /dev/stdout is) is written through that descriptor, sharing its offset: what the process
// writes on it afterwards (the replay's summary on stdout) follows the writer's bytes instead of
// landing over them, as a second open of the file (offset 0) did.
TEST(UringFileWriterBuffered, APathNamingOurDescriptorSharesItsOffset) {
  temp_dir dir;
  const std::string file = dir / "out.jsonl";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "before\n", 7), 7);
  const std::string link = dir / "stdout";
  std::filesystem::create_symlink("/proc/self/fd/" + std::to_string(fd), link);
  const std::string body = pattern(3 * 1024 * 1024 + 5, 7);  // several buffers
  {
    uring_file_writer w;
    uring_file_writer_options o;
    o.truncate = false;
    ASSERT_TRUE(w.open(link, o).is_ok());
    EXPECT_TRUE(w.stream());
    ASSERT_TRUE(w.write(body));
    ASSERT_TRUE(w.sync().is_ok());  // a regular file behind it: fdatasync'd
    ASSERT_TRUE(w.close(true).is_ok());
  }
  ASSERT_EQ(::write(fd, "after\n", 6), 6);
  ::close(fd);
  EXPECT_TRUE(testing::read_file(file) == "before\n" + body + "after\n");
  EXPECT_TRUE(std::filesystem::is_symlink(link));
}

INSTANTIATE_TEST_SUITE_P(Modes, UringFileWriter, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "direct" : "buffered"; });

}  // namespace
}  // namespace edgepipe
