// Exactly-once Kafka: commits one transaction of a transactional producer on a helper thread
// while the sink thread fills the next transaction on the other producer
// (kafka_transactions.cpp).
// rd_kafka_commit_transaction() blocks until every message of the transaction is acknowledged
// and the coordinator wrote its markers; here that wait no longer stops the sink thread.
//
// Threading: one helper thread, "kafka-commit", started on the first commit and joined by the
// destructor. start() and poll()/wait() are called by the sink thread only; at most one job at
// a time (start() requires idle()). The job's producer belongs to the helper from start() until
// the sink thread took the result: the sink thread does not poll it meanwhile, so the producer's
// delivery-report and error callbacks for that job run on the helper thread (inside the flush of
// commit_transaction), and must only touch state that belongs to the committing transaction.
// `on_done(ctx)`, when given, runs on the helper thread once a job's result is ready (the sink
// passes sink::wake_stage, so the sink thread collects it at once instead of at its next poll):
// it must be cheap, never block and never call back into the committer.
#pragma once

#include <librdkafka/rdkafka.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace edgepipe {

class kafka_txn_committer {
 public:
  /// The outcome of one job.
  struct result {
    bool committed = false;  // true: the transaction is committed
    bool fatal = false;      // the producer is unusable (fenced, or the abort did not complete)
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;  // of the first failed call
    std::string message;                                    // empty when committed
  };

  explicit kafka_txn_committer(std::string thread_name, void (*on_done)(void*) = nullptr,
                               void* on_done_ctx = nullptr);
  ~kafka_txn_committer();
  kafka_txn_committer(const kafka_txn_committer&) = delete;
  kafka_txn_committer& operator=(const kafka_txn_committer&) = delete;

  /// Commits the open transaction of `rk`; when the commit fails and is not fatal, aborts it
  /// (timeout_ms for each call). Requires idle().
  void start(rd_kafka_t* rk, int timeout_ms);
  /// No job started, or its result already taken.
  bool idle() const noexcept { return !has_job_; }
  /// The job's result when it is finished (taken: idle() afterwards), else nullopt. Non-blocking.
  std::optional<result> poll();
  /// Blocks until the job is finished and takes its result. Requires !idle().
  result wait();

 private:
  void run();

  std::string thread_name_;
  void (*on_done_)(void*) = nullptr;
  void* on_done_ctx_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  rd_kafka_t* job_ = nullptr;  // under mu_: the producer to commit, null when none pending
  int timeout_ms_ = 0;
  std::optional<result> done_;  // under mu_
  bool stop_ = false;           // under mu_
  bool has_job_ = false;        // sink thread only
};

}  // namespace edgepipe
