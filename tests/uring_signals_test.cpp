// A signal that interrupts a thread waiting for an io_uring completion is not an I/O error: the
// readers and writers of io/ (the spool's segments, trace replay and capture, the file sink) wait
// again. Found by tests/fuzz/fuzz_spool_recovery: libFuzzer's SIGALRM landed in a segment scan's
// io_uring_wait_cqe, the scan failed with "Interrupted system call" and the spool refused to open.
// Each test blocks the I/O on a FIFO (a read with no data yet, a write into a full pipe), so the
// thread under test waits in io_uring_wait_cqe while signals arrive, then lets the I/O finish.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "io/uring_file_reader.hpp"
#include "io/uring_file_writer.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

using testing::temp_dir;

std::atomic<int> g_signals{0};

void count_signal(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

/// SIGUSR1 with a handler and without SA_RESTART (as a handler installed by a library or a test
/// harness may be) for the life of the object.
class signal_handler {
 public:
  signal_handler() {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGUSR1, &sa, &old_);
  }
  ~signal_handler() { ::sigaction(SIGUSR1, &old_, nullptr); }
  signal_handler(const signal_handler&) = delete;
  signal_handler& operator=(const signal_handler&) = delete;

 private:
  struct sigaction old_ {};
};

/// Signals `thread` until it has taken `count` of them, or `done` (it gave up: the failure the
/// tests look for), or 2 s have passed (a runtime that defers handlers, e.g. ThreadSanitizer's,
/// may not count them while the thread sits in the kernel).
void signal_until(pthread_t thread, const std::atomic<bool>& done, int count) {
  const int start = g_signals.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!done.load() && g_signals.load() - start < count &&
         std::chrono::steady_clock::now() < deadline) {
    ::pthread_kill(thread, SIGUSR1);
    std::this_thread::yield();
  }
}

TEST(UringSignals, AReaderWaitingForItsReadIsNotFailedByASignal) {
  temp_dir dir;
  const std::string fifo = dir / "in.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int writer_end = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // so the reader's open returns
  ASSERT_GE(writer_end, 0);
  signal_handler handler;

  std::atomic<bool> done{false};
  status result;
  std::string got;
  std::thread reader_thread([&] {
    uring_file_reader reader;
    result = reader.open(fifo, 64);
    if (result) result = reader.fill(5);  // no data yet: waits for the completion
    if (result) got = std::string(reader.available());
    done.store(true);
  });
  signal_until(reader_thread.native_handle(), done, 200);
  ASSERT_EQ(::write(writer_end, "hello", 5), 5);
  reader_thread.join();
  ::close(writer_end);
  ASSERT_TRUE(result.is_ok()) << result.message();
  EXPECT_EQ(got, "hello");
}

TEST(UringSignals, AWriterWaitingForItsWriteIsNotFailedByASignal) {
  temp_dir dir;
  const std::string fifo = dir / "out.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader_end = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader_end, 0);
  // Fill the pipe, so the writer's one write (PIPE_BUF bytes: all or nothing) has to wait.
  std::size_t filled = 0;
  const std::string block(4096, 'f');
  for (;;) {
    const ssize_t n = ::write(reader_end, block.data(), block.size());
    if (n <= 0) break;
    filled += static_cast<std::size_t>(n);
  }
  ASSERT_EQ(errno, EAGAIN);
  signal_handler handler;

  const std::string bytes(4096, 'x');
  std::atomic<bool> done{false};
  status result;
  std::thread writer_thread([&] {
    uring_file_writer writer;
    uring_file_writer_options o;
    o.direct = false;
    o.buffer_bytes = bytes.size();
    result = writer.open(fifo, o);
    if (result && !writer.write(bytes)) result = status::error(writer.error());
    if (result) result = writer.flush();  // the pipe is full: waits for the completion
    if (result) result = writer.close(false);
    done.store(true);
  });
  signal_until(writer_thread.native_handle(), done, 200);
  std::size_t drained = 0;
  char buf[65536];
  while (drained < filled + bytes.size()) {
    const ssize_t n = ::read(reader_end, buf, sizeof buf);
    if (n > 0) {
      drained += static_cast<std::size_t>(n);
    } else if (done.load()) {
      break;  // the writer finished (or gave up) and the pipe is empty
    } else {
      std::this_thread::yield();
    }
  }
  writer_thread.join();
  ::close(reader_end);
  ASSERT_TRUE(result.is_ok()) << result.message();
  EXPECT_EQ(drained, filled + bytes.size());
}

}  // namespace
}  // namespace edgepipe
