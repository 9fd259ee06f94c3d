// The file sink when its file cannot be written: the records it held are failed (counted, and
// settled as failed so the spool sends them again), and once the file can be written again the
// sink reopens it after a backoff instead of failing every later batch forever. And fed from the
// spool, each record once (issue 22): a restart cuts the file back to what its ledger state
// confirmed and skips the records the file holds; a rotation is in the ledger before the new
// file is written. The ledger is modelled by a listener that keeps the sink's ledger_state().
#include "stages/sinks/file/file_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "stages/sinks/file/file_sink_state.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

namespace fs = std::filesystem;

struct outcomes final : delivery_listener {
  std::map<delivery_outcome, std::uint64_t> count;
  void settled(std::uint64_t, delivery_outcome o) override { ++count[o]; }
  void settled_range(std::uint64_t, std::uint64_t n, delivery_outcome o) override { count[o] += n; }
};

/// The spool's side: counts outcomes and keeps the sink state of the last ledger written.
struct ledger_model final : delivery_listener {
  explicit ledger_model(sink& s) : target(s) {}
  sink& target;
  std::map<delivery_outcome, std::uint64_t> count;
  std::string ledger;             // the ledger's sink state, as a restart would read it
  bool fail_checkpoints = false;  // the ledger cannot be written (a full disk)
  int checkpoints = 0;
  void settled(std::uint64_t, delivery_outcome o) override { ++count[o]; }
  void settled_range(std::uint64_t, std::uint64_t n, delivery_outcome o) override { count[o] += n; }
  status checkpoint() override {
    if (fail_checkpoints) return status::error("ledger: No space left on device", 28);
    ++checkpoints;
    write_ledger();
    return status::ok();
  }
  void write_ledger() { ledger = std::string(target.ledger_state()); }
};

file_sink_config out_jsonl_in(const testing::temp_dir& dir) {
  file_sink_config c;
  c.path = dir / "out.jsonl";
  return c;
}

/// A file sink on out.jsonl in a fresh directory with its ledger modelled, as the sink stage
/// holds it; start() opens it and resumes it as at a first start.
struct started_file_sink {
  started_file_sink() { sink.set_listener(&spool); }
  status start() {
    status st = sink.open();
    if (st) sink.resume("");
    return st;
  }
  testing::temp_dir dir;
  file_sink_config cfg = out_jsonl_in(dir);
  file_sink sink{"out", cfg, {"src"}};
  ledger_model spool{sink};
};

/// Every line of PATH.1, PATH.2, ... then PATH, as the numbers they hold ({"n":X}).
std::vector<std::uint64_t> numbers_in(const std::string& path) {
  std::vector<std::string> files;
  for (int i = 1; fs::exists(path + "." + std::to_string(i)); ++i)
    files.push_back(path + "." + std::to_string(i));
  files.push_back(path);
  std::vector<std::uint64_t> out;
  for (const auto& f : files) {
    const std::string text = testing::read_file(f);
    EXPECT_TRUE(text.empty() || text.back() == '\n') << f << " ends in a torn line";
    for (const auto& l : testing::read_lines(f)) {
      EXPECT_EQ(l.rfind("{\"n\":", 0), 0u) << f << ": " << l;
      out.push_back(std::stoull(l.substr(5)));
    }
  }
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t n) {
  std::vector<std::uint64_t> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

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

TEST(FileSink, ARestartCutsBackToTheLedgerAndWritesEachRecordOnce) {
  testing::temp_dir dir;
  file_sink_config cfg;
  cfg.path = dir / "out.jsonl";
  cfg.rotate_bytes = 0;
  record_batch batch;
  std::string ledger;
  {
    file_sink a("out", cfg, {"src"});
    ledger_model spool(a);
    a.set_listener(&spool);
    ASSERT_TRUE(a.open().is_ok());
    a.resume("");  // a first start
    stage_counters counters("sink:out");
    fill(batch, 0, 10);
    a.write(batch, counters);
    a.flush(counters);
    spool.write_ledger();  // the periodic ledger write: 0..9 confirmed
    fill(batch, 10, 10);
    a.write(batch, counters);
    a.flush(counters);  // in the file, not in the ledger
    fill(batch, 20, 5);
    a.write(batch, counters);  // not even confirmed
    ledger = spool.ledger;
  }  // kill -9: what was submitted reaches the file, and a write cut short leaves half a line
  {
    std::ofstream torn(cfg.path, std::ios::app);
    torn << "{\"n\":2";
  }
  const std::string before = testing::read_file(cfg.path);
  ASSERT_EQ(std::count(before.begin(), before.end(), '\n'), 25);  // 25 lines and a torn one
  const auto state = parse_file_sink_state(ledger);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->records_end, 10u);

  file_sink b("out", cfg, {"src"});
  ledger_model spool(b);
  b.set_listener(&spool);
  ASSERT_TRUE(b.open().is_ok());
  b.resume(ledger);
  stage_counters counters("sink:out");
  fill(batch, 5, 25);  // the spool resends from its watermark, which may trail the file's state
  b.write(batch, counters);
  b.flush(counters);
  ASSERT_TRUE(b.close().is_ok());
  EXPECT_EQ(numbers_in(cfg.path), iota(30));
  EXPECT_EQ(spool.count[delivery_outcome::duplicate], 5u);  // 5..9: held already
  EXPECT_EQ(spool.count[delivery_outcome::delivered], 20u);
  EXPECT_EQ(counters.duplicates.get(), 5u);
  EXPECT_EQ(counters.records_out.get(), 25u);
}

TEST(FileSink, RecordsSentAgainAfterARewindAreNotWrittenTwice) {
  started_file_sink t;
  ASSERT_TRUE(t.start().is_ok());
  auto& [dir, cfg, sink, spool] = t;
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  sink.write(batch, counters);
  sink.flush(counters);
  fill(batch, 5, 10);  // a frame partly delivered before a failure comes again whole
  sink.write(batch, counters);
  sink.flush(counters);
  ASSERT_TRUE(sink.close().is_ok());
  EXPECT_EQ(numbers_in(cfg.path), iota(15));
  EXPECT_EQ(counters.duplicates.get(), 5u);
}

TEST(FileSink, PrepareNamesTheFileInTheLedgerBeforeTheFirstRecordArrives) {
  // sink::prepare() runs on the sink thread before the sources start: the ledger write that the
  // first write() needed (an fdatasync) is no longer paid by the first records.
  started_file_sink t;
  ASSERT_TRUE(t.start().is_ok());
  auto& [dir, cfg, sink, spool] = t;
  sink.prepare();
  EXPECT_EQ(spool.checkpoints, 1);
  const auto state = parse_file_sink_state(spool.ledger);
  ASSERT_TRUE(state.has_value()) << spool.ledger;
  EXPECT_NE(state->inode, 0u);
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  sink.write(batch, counters);
  sink.flush(counters);
  EXPECT_EQ(spool.checkpoints, 1) << "the first write wrote the ledger again";
  ASSERT_TRUE(sink.close().is_ok());
  EXPECT_EQ(numbers_in(cfg.path), iota(10));
}

TEST(FileSink, APrepareThatCannotWriteTheLedgerLeavesItToTheFirstWrite) {
  started_file_sink t;
  ASSERT_TRUE(t.start().is_ok());
  auto& [dir, cfg, sink, spool] = t;
  spool.fail_checkpoints = true;  // a full disk at start
  sink.prepare();
  spool.fail_checkpoints = false;
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  sink.write(batch, counters);  // writes the ledger first, as without prepare()
  sink.flush(counters);
  EXPECT_EQ(spool.checkpoints, 1);
  EXPECT_EQ(counters.records_out.get(), 10u);
  ASSERT_TRUE(sink.close().is_ok());
  EXPECT_EQ(numbers_in(cfg.path), iota(10));
}

TEST(FileSink, ACrashRightAfterARotationCutsTheRotatedFile) {
  testing::temp_dir dir;
  file_sink_config cfg;
  cfg.path = dir / "out.jsonl";
  cfg.rotate_bytes = 60;  // lines are 8 or 9 bytes
  record_batch batch;
  std::string ledger;
  {
    file_sink a("out", cfg, {"src"});
    ledger_model spool(a);
    a.set_listener(&spool);
    ASSERT_TRUE(a.open().is_ok());
    a.resume("");
    stage_counters counters("sink:out");
    fill(batch, 0, 4);
    a.write(batch, counters);
    a.flush(counters);
    spool.write_ledger();  // 0..3 confirmed, in out.jsonl
    EXPECT_GE(spool.checkpoints, 1);
    // The process dies between the rotation and the ledger write that names the new file.
    spool.fail_checkpoints = true;
    fill(batch, 4, 10);
    a.write(batch, counters);
    ASSERT_TRUE(fs::exists(cfg.path + ".1"));
    EXPECT_EQ(fs::file_size(cfg.path), 0u) << "written before the ledger named the file";
    EXPECT_GT(counters.failed.get(), 0u);
    ledger = spool.ledger;
  }
  EXPECT_GT(numbers_in(cfg.path).size(), 4u);  // out.jsonl.1 holds records past the ledger

  file_sink b("out", cfg, {"src"});
  ledger_model spool(b);
  b.set_listener(&spool);
  ASSERT_TRUE(b.open().is_ok());
  b.resume(ledger);
  stage_counters counters("sink:out");
  fill(batch, 4, 16);  // the spool resends from the ledger's watermark
  b.write(batch, counters);
  b.flush(counters);
  ASSERT_TRUE(b.close().is_ok());
  EXPECT_EQ(numbers_in(cfg.path), iota(20));
  EXPECT_GE(spool.checkpoints, 2);  // each new file named in the ledger before it is written
  const auto state = parse_file_sink_state(b.ledger_state());  // the next ledger write's
  ASSERT_TRUE(state);
  EXPECT_EQ(state->records_end, 20u);
  EXPECT_EQ(state->bytes, fs::file_size(cfg.path));
}

// A path that is not a regular file is a stream: a rotation would rename it (as root, a device
// node: `--sink file:/dev/null` once renamed /dev/null to /dev/null.1 and left a regular file in
// its place). Through a symlink to /dev/null here, so that a rename would move the link, never
// the device.
TEST(FileSink, ADeviceIsWrittenAsAStreamNeitherRotatedNorCut) {
  testing::temp_dir dir;
  const fs::path link = dir / "null";
  fs::create_symlink("/dev/null", link);
  file_sink_config cfg;
  cfg.path = link;
  cfg.rotate_bytes = 60;  // lines are 8 or 9 bytes: a regular file would rotate twice
  file_sink s("out", cfg, {"src"});
  ledger_model spool(s);
  s.set_listener(&spool);
  ASSERT_TRUE(s.open().is_ok());
  // A ledger that confirmed 7 records and 40 bytes of the device: nothing is cut (a device
  // cannot be), and the 7 records count as written.
  char state[128];
  const std::size_t n = format_file_sink_state({1, 40, 7}, state, sizeof state);
  ASSERT_GT(n, 0u);
  s.resume(std::string_view(state, n));
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 20);
  s.write(batch, counters);
  s.flush(counters);
  ASSERT_TRUE(s.close().is_ok());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), fs::path("/dev/null"));
  std::error_code ec;
  EXPECT_FALSE(fs::exists(fs::symlink_status(link.string() + ".1", ec)));  // not rotated
  EXPECT_EQ(counters.failed.get(), 0u);
  EXPECT_EQ(counters.duplicates.get(), 7u);  // below the ledger's watermark
  EXPECT_EQ(counters.records_out.get(), 20u);
  EXPECT_EQ(spool.count[delivery_outcome::delivered], 13u);
}

// `--sink file:/dev/stdout > out.jsonl`: the path names the process's descriptor (through a
// symlink to /proc/self/fd/N here, as /dev/stdout is) and a regular file is behind it. It is a
// stream all the same: a rotation would rename the path (as root, /dev/stdout itself) and put a
// regular file in its place.
TEST(FileSink, OurDescriptorRedirectedToAFileIsAStreamNeitherRotatedNorCut) {
  testing::temp_dir dir;
  const std::string file = dir / "out.jsonl";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  const fs::path link = dir / "stdout";
  fs::create_symlink("/proc/self/fd/" + std::to_string(fd), link);
  file_sink_config cfg;
  cfg.path = link;
  cfg.rotate_bytes = 60;  // lines are 8 or 9 bytes: a regular file would rotate
  file_sink s("out", cfg, {"src"});
  ASSERT_TRUE(s.open().is_ok());
  stage_counters counters("sink:out");
  record_batch batch;
  for (const std::uint64_t first :
       {std::uint64_t{0}, std::uint64_t{10}}) {  // two flushes, each past rotate_bytes
    fill(batch, first, 10);
    s.write(batch, counters);
    s.flush(counters);
  }
  ASSERT_TRUE(s.close().is_ok());
  ::close(fd);
  EXPECT_TRUE(fs::is_symlink(link));
  std::error_code ec;
  EXPECT_FALSE(fs::exists(fs::symlink_status(link.string() + ".1", ec)));  // not rotated
  EXPECT_EQ(numbers_in(file), iota(20));
  EXPECT_EQ(counters.records_out.get(), 20u);
}

/// A named pipe at `fifo` and its read end (blocking reads), opened first without blocking: the
/// sink refuses a pipe nobody reads. -1 on failure.
int fifo_with_reader(const fs::path& fifo) {
  if (::mkfifo(fifo.c_str(), 0600) != 0) return -1;
  const int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (rd >= 0) (void)::fcntl(rd, F_SETFL, ::fcntl(rd, F_GETFL) & ~O_NONBLOCK);
  return rd;
}

// A pipe is a stream: every record reaches the reader, in order, although each 1 MiB buffer
// is larger than the pipe holds (64 KiB) and the reader takes it in small reads.
TEST(FileSink, APipeGetsEveryRecordInOrder) {
  testing::temp_dir dir;
  const fs::path fifo = dir / "out.fifo";
  const int rd = fifo_with_reader(fifo);
  ASSERT_GE(rd, 0);
  std::string got;
  // Started once the sink has opened its end (a reader of a pipe with no writer yet reads its
  // end at once). A jthread declared before the sink: when the test ends early the sink is
  // destroyed first, which closes its end, and the reader then ends and is joined.
  std::jthread reader;
  file_sink_config cfg;
  cfg.path = fifo;
  cfg.rotate_bytes = 1000;  // not rotated: a pipe is a stream
  cfg.fsync = true;         // nothing to fdatasync on a pipe: no error
  file_sink s("out", cfg, {"src"});
  ASSERT_TRUE(s.open().is_ok());
  reader = std::jthread([&] {
    char buf[1000];
    for (;;) {
      const ssize_t n = ::read(rd, buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
  });
  stage_counters counters("sink:out");
  record_batch batch;
  constexpr int kBatches = 40, kPerBatch = 20000;  // ~10 MB
  std::string want;
  for (int b = 0; b < kBatches; ++b) {
    fill(batch, static_cast<std::uint64_t>(b) * kPerBatch, kPerBatch);
    for (const record& r : batch.records()) want.append(batch.value(r)).push_back('\n');
    s.write(batch, counters);
  }
  s.flush(counters);
  ASSERT_TRUE(s.close().is_ok());
  reader.join();  // the sink's end closed: the reader saw the end of the pipe
  ::close(rd);
  EXPECT_EQ(counters.failed.get(), 0u);
  EXPECT_EQ(counters.records_out.get(), std::uint64_t{kBatches} * kPerBatch);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);  // every line, in order
  EXPECT_FALSE(fs::exists(fifo.string() + ".1"));
}

// A pipe that no process reads is refused at open, naming it, rather than blocking there.
TEST(FileSink, APipeNobodyReadsIsRefusedAtOpen) {
  testing::temp_dir dir;
  const fs::path fifo = dir / "out.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  file_sink_config cfg;
  cfg.path = fifo;
  file_sink s("out", cfg, {"src"});
  const status st = s.open();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find(fifo.string() + ": a pipe that no process reads"), std::string::npos)
      << st.message();
}

// The reader went away: the write fails (EPIPE, named), the records count as failed, and the
// process lives on (SIGPIPE ignored, as `edgepipe run` and `replay` do).
TEST(FileSink, APipeWhoseReaderLeftFailsItsRecords) {
  testing::temp_dir dir;
  const fs::path fifo = dir / "out.fifo";
  const int rd = fifo_with_reader(fifo);
  ASSERT_GE(rd, 0);
  const auto old_handler = ::signal(SIGPIPE, SIG_IGN);
  file_sink_config cfg;
  cfg.path = fifo;
  file_sink s("out", cfg, {"src"});
  outcomes seen;
  s.set_listener(&seen);
  ASSERT_TRUE(s.open().is_ok());
  ::close(rd);
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  s.write(batch, counters);
  s.flush(counters);
  (void)s.close();
  ::signal(SIGPIPE, old_handler);
  EXPECT_EQ(counters.failed.get(), 10u);
  EXPECT_EQ(seen.count[delivery_outcome::failed], 10u);
  EXPECT_EQ(counters.records_out.get(), 0u);
  EXPECT_EQ(s.fault(), "");  // a named pipe may get a reader again: the sink keeps trying
}

// A pipe without a name (a shell's `|`, here reached as /dev/stdout would be, through
// /proc/self/fd) whose reader left can never be read again: the sink says so in fault(), for
// good, and fails its records from then on. (That it also stops reopening the path shows only
// in the log: the descriptor is closed here, so a reopen would fail too.)
TEST(FileSink, AnUnnamedPipeWhoseReaderLeftIsAFaultForGood) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const auto old_handler = ::signal(SIGPIPE, SIG_IGN);
  file_sink_config cfg;
  cfg.path = "/proc/self/fd/" + std::to_string(fds[1]);
  file_sink s("out", cfg, {"src"});
  outcomes seen;
  s.set_listener(&seen);
  ASSERT_TRUE(s.open().is_ok());
  ::close(fds[1]);  // the sink holds its own end
  stage_counters counters("sink:out");
  record_batch batch;
  fill(batch, 0, 10);
  s.write(batch, counters);
  s.flush(counters);
  char buf[4096];
  EXPECT_GT(::read(fds[0], buf, sizeof buf), 0);  // the reader got them, then leaves
  EXPECT_EQ(s.fault(), "");
  ::close(fds[0]);
  fill(batch, 10, 10);
  s.write(batch, counters);
  s.flush(counters);
  EXPECT_EQ(s.fault(),
            cfg.path + " is a pipe whose reader closed it (EPIPE): nothing can read it again");
  fill(batch, 20, 10);  // failed at once, and the fault stays
  s.write(batch, counters);
  s.flush(counters);
  (void)s.close();
  ::signal(SIGPIPE, old_handler);
  EXPECT_NE(s.fault(), "");
  EXPECT_EQ(counters.records_out.get(), 10u);
  EXPECT_EQ(counters.failed.get(), 20u);
  EXPECT_EQ(seen.count[delivery_outcome::delivered], 10u);
  EXPECT_EQ(seen.count[delivery_outcome::failed], 20u);
}

TEST(FileSinkState, RoundTripsAndRejectsMalformedText) {
  char buf[128];
  const file_sink_state s{123456789, 42, 9000};
  const std::size_t n = format_file_sink_state(s, buf, sizeof buf);
  ASSERT_GT(n, 0u);
  const std::string text(buf, n);
  EXPECT_EQ(text, "file.inode=123456789\nfile.bytes=42\nfile.records_end=9000\n");
  const auto back = parse_file_sink_state(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->inode, 123456789u);
  EXPECT_EQ(back->bytes, 42u);
  EXPECT_EQ(back->records_end, 9000u);
  EXPECT_EQ(format_file_sink_state(s, buf, 20), 0u);  // too small
  EXPECT_FALSE(parse_file_sink_state(""));
  EXPECT_FALSE(parse_file_sink_state("file.inode=1\nfile.bytes=2\n"));
  EXPECT_FALSE(parse_file_sink_state("file.inode=1\nfile.bytes=x\nfile.records_end=3\n"));
  EXPECT_FALSE(parse_file_sink_state("xfile.inode=1\nfile.bytes=2\nfile.records_end=3\n"));
}

}  // namespace
}  // namespace edgepipe
