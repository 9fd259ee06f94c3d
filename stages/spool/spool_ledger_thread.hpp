// The spool's ledger thread ("spool-ledger"): writes the sinks' ledgers in the background
// (spool::persist_ledger_async), so that a sink thread never waits on the disk in its steady
// state. A ledger write is a temp file, an fdatasync, a rename and a directory fsync: 6-26 ms on
// this VM's disk, every ledger_interval, and the records that reached the sink meanwhile waited
// for it (the 99th percentile of the paced latency with the spool on).
// Threading: request() from any thread; the thread runs `work` once per batch of requests. It is
// started by the first request and stopped (after one last pass) and joined by the destructor.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace edgepipe {

class spool_ledger_thread {
 public:
  explicit spool_ledger_thread(std::function<void()> work) : work_(std::move(work)) {}
  ~spool_ledger_thread();
  spool_ledger_thread(const spool_ledger_thread&) = delete;
  spool_ledger_thread& operator=(const spool_ledger_thread&) = delete;

  /// runs on: any thread. Wakes the thread (starting it the first time); returns at once.
  void request();

 private:
  void run();

  std::function<void()> work_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;  // mutex_
  bool stop_ = false;       // mutex_
  std::thread thread_;      // started under mutex_
};

}  // namespace edgepipe
