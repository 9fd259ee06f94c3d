#include "stages/sinks/kafka/kafka_txn_committer.hpp"

#include <utility>

#include "platform/thread.hpp"

namespace edgepipe {
namespace {

// runs on: the helper thread. Commit; a failure that is neither fatal nor retriable needs the
// abort (librdkafka's rule: an abortable error must be followed by abort_transaction).
kafka_txn_committer::result commit_or_abort(rd_kafka_t* rk, int timeout_ms) {
  kafka_txn_committer::result r;
  rd_kafka_error_t* e = rd_kafka_commit_transaction(rk, timeout_ms);
  if (e == nullptr) {
    r.committed = true;
    return r;
  }
  r.code = rd_kafka_error_code(e);
  r.fatal = rd_kafka_error_is_fatal(e) != 0;
  r.message = std::string("commit_transaction: ") + rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  if (r.fatal) return r;
  r.message += " (aborted, its records are sent again from the spool)";
  if (rd_kafka_error_t* a = rd_kafka_abort_transaction(rk, timeout_ms)) {
    // Not completed (brokers down): the producer is made again; its init_transactions aborts
    // the transaction on the broker.
    r.fatal = true;
    if (rd_kafka_error_is_fatal(a) != 0) r.code = rd_kafka_error_code(a);
    r.message += std::string("; abort_transaction: ") + rd_kafka_error_string(a) +
                 "; the producer is made again";
    rd_kafka_error_destroy(a);
  }
  return r;
}

}  // namespace

kafka_txn_committer::kafka_txn_committer(std::string thread_name, void (*on_done)(void*),
                                         void* on_done_ctx)
    : thread_name_(std::move(thread_name)), on_done_(on_done), on_done_ctx_(on_done_ctx) {}

kafka_txn_committer::~kafka_txn_committer() {
  {
    const std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void kafka_txn_committer::start(rd_kafka_t* rk, int timeout_ms) {
  if (!thread_.joinable()) thread_ = start_stage_thread({thread_name_, {}}, [this] { run(); });
  {
    const std::lock_guard<std::mutex> lock(mu_);
    job_ = rk;
    timeout_ms_ = timeout_ms;
    done_.reset();
  }
  has_job_ = true;
  cv_.notify_all();
}

std::optional<kafka_txn_committer::result> kafka_txn_committer::poll() {
  if (!has_job_) return std::nullopt;
  std::optional<result> r;
  {
    const std::lock_guard<std::mutex> lock(mu_);
    r = std::move(done_);
    done_.reset();
  }
  if (r) has_job_ = false;
  return r;
}

kafka_txn_committer::result kafka_txn_committer::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_.has_value(); });
  result r = std::move(*done_);
  done_.reset();
  has_job_ = false;
  return r;
}

void kafka_txn_committer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || job_ != nullptr; });
    if (job_ == nullptr) return;  // stop_ and nothing pending
    rd_kafka_t* rk = job_;
    const int timeout_ms = timeout_ms_;
    job_ = nullptr;
    lock.unlock();
    result r = commit_or_abort(rk, timeout_ms);
    lock.lock();
    done_ = std::move(r);
    cv_.notify_all();
    if (on_done_ != nullptr) on_done_(on_done_ctx_);  // under mu_: the object outlives the call
  }
}

}  // namespace edgepipe
