// A replay's exit code when the disk fails it (io/file_faults, armed through EDGEPIPE_FILE_FAULTS
// in the child):
// - A read error is not the end of a trace (issue 17, item 4): replaying a trace whose reads
//   fail with EIO past its first chunk delivers what was read, then exits 1 naming the file,
//   the offset and the errno.
// - A sink's failed write without a spool gives its records up: exit 1 naming the sink and the
//   count. With the spool the same failure is sent again and everything lands (exit 0).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::read_lines;
using testing::run_edgepipe;
using testing::temp_dir;

TEST(ReplayReadError, EioInTheTraceExitsOneWithFileOffsetAndErrno) {
  temp_dir dir;
  ASSERT_EQ(run_edgepipe("synth --api coingecko --payloads 4 --out cg.trace --seed 5", dir.path())
                .exit_code,
            0);
  auto clean = run_edgepipe("replay --trace cg.trace --sink file:clean.jsonl", dir.path());
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  // Every read past the first chunk fails.
  ::setenv("EDGEPIPE_FILE_FAULTS", "op=read,err=EIO,path=cg.trace,from=1", 1);
  auto r = run_edgepipe("replay --trace cg.trace --sink file:faulted.jsonl", dir.path());
  ::unsetenv("EDGEPIPE_FILE_FAULTS");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cg.trace"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("at offset"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errno 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Input/output error"), std::string::npos) << r.err;
  // What was read before the error is delivered (the trace's first records, in order); the
  // rest is not, and the exit code says so.
  const auto want = read_lines((dir.path() / "clean.jsonl").string());
  const auto got = read_lines((dir.path() / "faulted.jsonl").string());
  ASSERT_GT(got.size(), 0u);
  ASSERT_LT(got.size(), want.size());
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
}

TEST(ReplayReadError, RecordsASinkFailedWithoutASpoolExitOneNamingTheSinkAndCount) {
  temp_dir dir;
  ASSERT_EQ(
      run_edgepipe("synth --api iss --payloads 20 --out iss.trace --seed 5", dir.path()).exit_code,
      0);
  // The sink's first write fails with EIO, the later ones go through.
  ::setenv("EDGEPIPE_FILE_FAULTS", "op=write,err=EIO,path=out-,count=1", 1);
  auto lost =
      run_edgepipe("replay --trace iss.trace --spool none --sink file:out-lost.jsonl", dir.path());
  auto kept =
      run_edgepipe("replay --trace iss.trace --spool spool --sink file:out-kept.jsonl", dir.path());
  ::unsetenv("EDGEPIPE_FILE_FAULTS");
  EXPECT_EQ(lost.exit_code, 1) << lost.err;
  EXPECT_NE(lost.err.find("replay gave records up: sinks.file: "), std::string::npos) << lost.err;
  EXPECT_NE(lost.err.find(" failed without a spool"), std::string::npos) << lost.err;
  const auto failed_at = lost.out.find("\"failed\":{");
  ASSERT_NE(failed_at, std::string::npos) << lost.out;
  EXPECT_GT(testing::json_int(lost.out.substr(failed_at), "file"), 0) << lost.out;
  EXPECT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(read_lines((dir.path() / "out-kept.jsonl").string()).size(), 20u);
  EXPECT_EQ(kept.err.find("gave records up"), std::string::npos) << kept.err;
}

}  // namespace
}  // namespace edgepipe
