#include "stages/spool/spool_ledger_thread.hpp"

#include "platform/thread.hpp"

namespace edgepipe {

spool_ledger_thread::~spool_ledger_thread() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void spool_ledger_thread::request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
    if (!thread_.joinable())
      thread_ = start_stage_thread({"spool-ledger", std::nullopt}, [this] { run(); });
  }
  wake_.notify_one();
}

void spool_ledger_thread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return requested_ || stop_; });
    const bool stopping = stop_;
    requested_ = false;
    lock.unlock();
    work_();  // a request made meanwhile sets requested_ again: nothing is missed
    lock.lock();
    if (stopping) return;
  }
}

}  // namespace edgepipe
