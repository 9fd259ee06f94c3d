// The MongoDB sink's bulk writes (the class, its threads and its other files: mongo_sink_impl.hpp;
// what the sink does and why: the top of mongo_sink.cpp): one collection's records in bulks of
// at most bulk_documents (upserts: upsert_bulk_size), one unordered bulk per attempt; its reply
// sorted into delivered, duplicates (already stored), retried with exponential backoff, failed
// and dead letters (mongo_dead_letters.cpp). Threading: the sink thread only.
#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "stages/sinks/mongodb/mongo_reply.hpp"
#include "stages/sinks/mongodb/mongo_sink_impl.hpp"
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe::mongo_detail {
namespace {

constexpr int kMaxBackoffMs = 30000;

}  // namespace

/// Splits group_ into bulks of at most bulk_documents (upsert mode: upsert_bulk_size).
void mongo_sink::write_chunked(const record_batch& batch, collection_slot& coll,
                               stage_counters& counters) {
  const bool upserts = config_.mode == mongo_mode::upsert ||
                       (!group_.empty() && batch.records()[group_.front()].stream != 0);
  const std::size_t limit =
      static_cast<std::size_t>(upserts ? config_.upsert_bulk_size : config_.bulk_documents);
  for (std::size_t start = 0; start < group_.size(); start += limit) {
    const std::size_t end = std::min(group_.size(), start + limit);
    pending_.assign(group_.begin() + static_cast<std::ptrdiff_t>(start),
                    group_.begin() + static_cast<std::ptrdiff_t>(end));
    write_group(batch, coll, counters);
  }
}

/// One unordered bulk per attempt for the records in pending_ (indices into the batch).
void mongo_sink::write_group(const record_batch& batch, collection_slot& coll,
                             stage_counters& counters) {
  const auto& records = batch.records();
  int backoff_ms = config_.retry_backoff_ms;
  for (int attempt = 0; !pending_.empty(); ++attempt) {
    mongoc_bulk_operation_t* bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll.handle, conn_.bulk_opts());
    ops_.clear();
    for (const std::uint32_t i : pending_) {
      const record& r = records[i];
      bson_t tmp;
      bson_error_t err;
      bool checked = false;
      const bson_oid_t* oid = has_listener() ? nullptr : &oids_[i];
      const bson_t* doc = documents_.build(batch, i, oid, tmp, err, checked);
      bool added = false;
      if (doc != nullptr) {
        if ((config_.mode == mongo_mode::upsert || r.stream != 0) && r.key_length != 0) {
          bson_reinit(selector_);
          documents_.append_id(selector_, r, batch.key(r), oid);
          added = mongoc_bulk_operation_replace_one_with_opts(bulk, selector_, doc,
                                                              conn_.upsert_opts(), &err);
        } else {
          added = mongoc_bulk_operation_insert_with_opts(
              bulk, doc, checked ? conn_.no_validate_opts() : nullptr, &err);
        }
      }
      bson_destroy(&tmp);
      if (added) {
        ops_.push_back(i);
      } else {
        dead_letter(batch, r, coll.name, err.message, static_cast<std::int64_t>(err.code));
        counters.failed.add();
      }
    }
    retry_.clear();
    if (!ops_.empty()) execute(bulk, batch, coll, counters);
    mongoc_bulk_operation_destroy(bulk);
    pending_.swap(retry_);
    if (pending_.empty()) break;
    if (attempt >= config_.max_retries || abandoned()) {
      std::fprintf(stderr,
                   "edgepipe: sink %s: giving up on %zu document(s) for %s.%s after %d "
                   "retries%s\n",
                   name_.c_str(), pending_.size(), config_.database.c_str(), coll.name.c_str(),
                   attempt, has_listener() ? " (they stay in the spool and are retried)" : "");
      counters.failed.add(pending_.size());
      for (const std::uint32_t i : pending_) settle(records[i].sequence, delivery_outcome::failed);
      failed_ += pending_.size();
      pending_.clear();
      break;
    }
    counters.retries.add(pending_.size());
    // Backoff in short steps so a shutdown deadline (request_abandon) is noticed promptly.
    const auto resume = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms);
    while (!abandoned() && std::chrono::steady_clock::now() < resume)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(backoff_ms, 50)));
    backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
  }
}

/// Executes the bulk, then sorts ops_ into delivered / retry_ / dead letters.
void mongo_sink::execute(mongoc_bulk_operation_t* bulk, const record_batch& batch,
                         const collection_slot& coll, stage_counters& counters) {
  const auto& records = batch.records();
  bson_t reply;
  bson_error_t err;
  const bool ok = mongoc_bulk_operation_execute(bulk, &reply, &err) != 0;
  if (conn_.unacknowledged() && ok) {  // w=0: nothing to check, the driver sent it
    deliver_all(batch, counters);
    bson_destroy(&reply);
    return;
  }
  // Per-document errors, by operation index.
  op_state_.assign(ops_.size(), op_ok);
  const bool any_write_errors = mongo_reply::read_write_errors(&reply, ops_.size(), errors_);
  for (const auto& e : errors_) {
    // Keyless records are inserted in both modes: their `_id` already there is a resend.
    if (e.code == mongo_reply::kDuplicateKey &&
        (config_.mode == mongo_mode::insert || records[ops_[e.index]].key_length == 0)) {
      op_state_[e.index] = op_duplicate;
    } else if (mongo_reply::retryable_code(e.code)) {
      op_state_[e.index] = op_retry;
    } else {
      op_state_[e.index] = op_dead;
      dead_letter(batch, records[ops_[e.index]], coll.name, e.message, e.code);
      counters.failed.add();
    }
  }
  // Batch-level trouble: a write concern error, or a failure that is not per-document.
  const bool wc_error = mongo_reply::has_write_concern_error(&reply);
  const bool batch_failed = !ok && !any_write_errors;
  if (batch_failed || wc_error) {
    const bool transient = mongo_reply::transient_failure(&reply, err, wc_error);
    log_batch_error(coll, wc_error ? "write concern error" : err.message, transient);
    // Nothing from this attempt counts: retry (ids make it idempotent) or fail all of them.
    for (std::size_t k = 0; k < ops_.size(); ++k) {
      if (op_state_[k] == op_dead) continue;
      if (transient) {
        retry_.push_back(ops_[k]);
      } else {
        counters.failed.add();
        ++failed_;
        settle(records[ops_[k]].sequence, delivery_outcome::failed);
      }
    }
    bson_destroy(&reply);
    return;
  }
  // Confirmed: the reply's counts must cover every document without an error.
  const std::int64_t confirmed = mongo_reply::confirmed_documents(&reply);
  std::uint64_t delivered = 0, bytes = 0, duplicates = 0, plain = 0;
  for (std::size_t k = 0; k < ops_.size(); ++k) {
    const record& r = records[ops_[k]];
    switch (op_state_[k]) {
      case op_ok:
        ++plain;
        ++delivered;
        bytes += r.value_length;
        break;
      case op_duplicate:
        ++duplicates;
        ++delivered;
        bytes += r.value_length;
        break;
      case op_retry:
        retry_.push_back(ops_[k]);
        break;
      default:
        break;
    }
  }
  if (static_cast<std::uint64_t>(confirmed) < plain) {
    // The server acknowledged fewer documents than it did not complain about: treat the
    // shortfall as unconfirmed and retry the lot (ids make a retry idempotent).
    log_batch_error(coll, "reply confirms fewer documents than sent", true);
    for (std::size_t k = 0; k < ops_.size(); ++k)
      if (op_state_[k] == op_ok) retry_.push_back(ops_[k]);
    delivered -= plain;
    for (std::size_t k = 0; k < ops_.size(); ++k)
      if (op_state_[k] == op_ok) bytes -= records[ops_[k]].value_length;
  }
  counters.records_out.add(delivered);
  counters.bytes_out.add(bytes);
  counters.duplicates.add(duplicates);
  delivered_ += delivered;
  if (has_listener()) {
    const bool shortfall = static_cast<std::uint64_t>(confirmed) < plain;
    for (std::size_t k = 0; k < ops_.size(); ++k) {
      const std::uint64_t id = records[ops_[k]].sequence;
      if (op_state_[k] == op_ok && !shortfall) settle(id, delivery_outcome::delivered);
      if (op_state_[k] == op_duplicate) settle(id, delivery_outcome::duplicate);
    }
  }
  duplicates_ += duplicates;
  bson_destroy(&reply);
}

void mongo_sink::deliver_all(const record_batch& batch, stage_counters& counters) {
  std::uint64_t bytes = 0;
  for (const std::uint32_t i : ops_) {
    bytes += batch.records()[i].value_length;
    settle(batch.records()[i].sequence, delivery_outcome::delivered);
  }
  counters.records_out.add(ops_.size());
  counters.bytes_out.add(bytes);
  delivered_ += ops_.size();
}

void mongo_sink::log_batch_error(const collection_slot& coll, const char* message, bool transient) {
  std::fprintf(stderr, "edgepipe: sink %s: bulk write to %s.%s at %s failed (%s): %s\n",
               name_.c_str(), config_.database.c_str(), coll.name.c_str(),
               conn_.redacted_uri().c_str(), transient ? "transient, will retry" : "permanent",
               message);
}

}  // namespace edgepipe::mongo_detail
