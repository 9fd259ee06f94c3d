// Dead-letter files (issue 17, item 3): a line counts only once synced; an unwritable file is an
// error naming the file with its errno (and is tried again at the next append), a full disk is
// ENOSPC; files rotate and only `keep_files` rotated ones are kept.
#include "io/dead_letter_file.hpp"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "test_util.hpp"

namespace edgepipe {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::temp_dir;
using testing::write_file;

TEST(DeadLetterFile, AnUnwritablePathIsAnErrorWithTheFileAndErrnoAndIsRetried) {
  temp_dir dir;
  // The directory the file goes in is a file: ENOTDIR (root ignores permissions, not this).
  write_file(dir / "dl", "not a directory");
  const std::string path = (dir.path() / "dl" / "dead.jsonl").string();
  dead_letter_file f(path, 0, 4);
  status s = f.append("{\"a\":1}\n");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_TRUE(s.code() == ENOTDIR || s.code() == EEXIST) << s.code() << " " << s.message();
  fs::remove(dir / "dl");
  ASSERT_TRUE(f.append("{\"a\":2}\n").is_ok());
  ASSERT_TRUE(f.sync().is_ok());
  EXPECT_EQ(read_file(path), "{\"a\":2}\n");
}

TEST(DeadLetterFile, FilesRotateAndOnlyKeepFilesRotatedOnesStay) {
  temp_dir dir;
  const std::string path = dir / "dead.jsonl";
  dead_letter_file f(path, 100, 2);
  const std::string line(39, 'x');
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(f.append(line + "\n").is_ok());
  ASSERT_TRUE(f.sync().is_ok());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  EXPECT_LE(fs::file_size(path), 100u);
  EXPECT_EQ(f.files_deleted(), 3u);  // 12 lines, 2 per file: 6 files, 3 kept
}

TEST(DeadLetterFile, AFullDiskIsEnospcAndNothingAppendedSinceTheLastSyncCounts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs (ENOSPC test)";
  temp_dir dir;
  ASSERT_EQ(::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=64k"), 0)
      << std::strerror(errno);
  struct unmount {
    std::string at;
    ~unmount() { (void)::umount2(at.c_str(), MNT_DETACH); }
  } u{dir.path()};
  dead_letter_file f(dir / "dead.jsonl", 0, 2);
  const std::string line(1000, 'y');
  status s;
  int appended = 0;
  while ((s = f.append(line + "\n")).is_ok() && appended < 1000) ++appended;
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ENOSPC) << s.message();
  EXPECT_NE(s.message().find("dead.jsonl"), std::string::npos) << s.message();
  const status synced = f.sync();
  EXPECT_FALSE(synced.is_ok());  // the lines before the error are not known to be durable
  EXPECT_EQ(synced.code(), ENOSPC);
}

}  // namespace
}  // namespace edgepipe
