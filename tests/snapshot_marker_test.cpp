// The snapshot marker of the postgres_cdc source: a file that is there from just before the
// slot is created until the snapshot's events are durable (a start that finds it redoes the
// snapshot). Written and removed durably; errors name the file and errno.
#include "stages/sources/postgres_cdc/snapshot_marker.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgepipe::pgcdc {
namespace {

namespace fs = std::filesystem;

struct temp_dir {
  temp_dir() {
    path = fs::temp_directory_path() /
           ("edgepipe-marker-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  fs::path path;
};

TEST(SnapshotMarker, IsWrittenNamingTheSlotAndRemovedAndAMissingOneIsNotAnError) {
  temp_dir dir;
  const std::string marker = (dir.path / "pg.cdc-snapshot-pending").string();
  EXPECT_FALSE(snapshot_marker_exists(marker));
  ASSERT_TRUE(write_snapshot_marker(marker, "edgepipe"));
  EXPECT_TRUE(snapshot_marker_exists(marker));
  std::ifstream in(marker);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("edgepipe"), std::string::npos) << text.str();
  ASSERT_TRUE(write_snapshot_marker(marker, "edgepipe")) << "written again over itself";
  ASSERT_TRUE(remove_snapshot_marker(marker));
  EXPECT_FALSE(snapshot_marker_exists(marker));
  EXPECT_TRUE(remove_snapshot_marker(marker)) << "already gone";
}

TEST(SnapshotMarker, AWriteThatCannotBeDoneIsAnErrorNamingTheFile) {
  temp_dir dir;
  const std::string marker = (dir.path / "no-such-dir" / "pg.cdc-snapshot-pending").string();
  const status s = write_snapshot_marker(marker, "edgepipe");
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(marker), std::string::npos) << s.message();
  EXPECT_FALSE(snapshot_marker_exists(marker));
}

}  // namespace
}  // namespace edgepipe::pgcdc
