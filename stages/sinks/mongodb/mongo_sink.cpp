// MongoDB sink (libmongoc): one unordered bulk write per batch and per collection, checked
// reply by reply. Every document's `_id` is derived from its record (the key; for keyless
// records fed from the spool the source and the spool's record id: mongo_document), so a record
// sent again cannot be stored twice: in `insert` mode a duplicate-key error (11000) means
// "already there" and counts as delivered and as a duplicate (edgepipe_sink_duplicates_skipped_
// total); in `upsert` mode each keyed record replaces the document with its `_id` (keyless ones
// are inserted, a duplicate-key answer again meaning "already there"). The bulk is
// unordered, so every document gets its own answer (FerretDB 1.24 as MongoDB: a writeError per
// duplicate, by index, and nInserted for the rest); a reply that confirms fewer documents than
// it has no error for is retried whole (idempotent by `_id`).
// Transient errors (network, server selection, write concern, retryable labels/codes) are
// retried with exponential backoff; permanent per-document errors go to the sink's own
// dead-letter JSONL file and count as failed.
// Records with a stream of their own (postgres_cdc events) go to the collection named by it
// (`<prefix>.<schema>.<table>`) and are always upserts by key (`_id` = the event's key JSON),
// so a row's document is its latest event and a resend cannot duplicate it; a tombstone (no
// value) has nothing to store and is confirmed as is (docs/cdc.md, "MongoDB").
// The connection (mongo_connection), the documents (mongo_document) and the reading of replies
// (mongo_reply) have files of their own; this file is the bulk write and its outcomes.
// Threading: open() runs on the main thread before the pipeline starts and creates the one
// mongoc_client_t; after that, write/flush/close run only on the sink thread, which is the only
// user of the client, its collections and every buffer here (a mongoc_client_t is not
// thread-safe, so it is never shared). mongoc_init() runs once per process (std::call_once).
#include "stages/sinks/mongodb/mongo_sink.hpp"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/byte_arena.hpp"
#include "io/dead_letter_file.hpp"
#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sinks/mongodb/mongo_connection.hpp"
#include "stages/sinks/mongodb/mongo_document.hpp"
#include "stages/sinks/mongodb/mongo_origin.hpp"
#include "stages/sinks/mongodb/mongo_reply.hpp"
#include "stages/transform/json_numbers.hpp"
#include "stages/transform/json_text.hpp"
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kDeadLetterMaxBytes = 4096;
// Dead-letter files rotate at 64 MiB; the newest 8 rotated files are kept (docs/operations.md).
constexpr std::uint64_t kDeadLetterRotateBytes = std::uint64_t{64} << 20;
constexpr unsigned kDeadLetterKeepFiles = 8;
constexpr int kMaxBackoffMs = 30000;
class mongo_sink final : public sink {
 public:
  mongo_sink(std::string name, mongo_sink_config config, std::vector<std::string> source_names)
      : name_(std::move(name)),
        config_(std::move(config)),
        source_names_(std::move(source_names)),
        conn_(name_, config_, source_names_),
        documents_(source_names_),
        selector_(bson_new()),
        dead_letters_(config_.dead_letter_path.empty() ? "dead-letter-" + name_ + ".jsonl"
                                                       : config_.dead_letter_path,
                      kDeadLetterRotateBytes, kDeadLetterKeepFiles) {}

  ~mongo_sink() override {
    for (auto& c : collections_)
      if (c.handle != nullptr) mongoc_collection_destroy(c.handle);
    for (auto& [n, c] : stream_collections_)
      if (c.handle != nullptr) mongoc_collection_destroy(c.handle);
    bson_destroy(selector_);
    dead_letters_.close();
  }

  const std::string& name() const override { return name_; }

  // runs on: main thread
  status open() override {
    if (status s = conn_.open(); !s) return s;
    status answered = conn_.ping();
    if (!answered && !may_start_down_) return answered;
    if (!answered) {
      log_line(log_level::warn, "sink:" + name_,
               answered.message() +
                   ": starting anyway, records wait in the spool; indexes are "
                   "created once MongoDB answers");
      defer_setup();
      return status::ok();
    }
    return conn_.create_all_indexes();
  }

  // runs on: sink thread. MongoDB was down at start: does it answer now?
  bool try_setup() override {
    if (!conn_.ping()) return false;
    if (status s = conn_.create_all_indexes(); !s) {
      log_line(log_level::warn, "sink:" + name_, s.message() + " (tried again later)");
      return false;
    }
    log_line(log_level::info, "sink:" + name_,
             "MongoDB at " + conn_.redacted_uri() + " answers: indexes ready, delivering");
    return true;
  }

  // runs on: sink thread
  void write(const record_batch& batch, stage_counters& counters) override {
    const auto& records = batch.records();
    if (records.empty()) return;
    if (conn_.client() == nullptr || !setup_ready() || !origin_in_ledger()) {
      counters.failed.add(records.size());
      for (const record& r : records) settle(r.sequence, delivery_outcome::failed);
      return;
    }
    // Without a spool (no listener) record ids are not stable across runs: keyless records
    // get a client-side ObjectId once per batch, so at least a retry cannot insert them twice.
    // From the spool their `_id` is derived from the record id instead (mongo_document).
    if (!has_listener()) {
      oids_.resize(records.size());
      for (std::size_t i = 0; i < records.size(); ++i)
        if (records[i].key_length == 0) bson_oid_init(&oids_[i], nullptr);
    }

    if (write_streams(batch, counters)) {
      settle_dead_letters();
      return;  // every record had a stream
    }
    if (!config_.collection.empty()) {
      group_.clear();
      for (std::size_t i = 0; i < records.size(); ++i)
        if (records[i].stream == 0) group_.push_back(static_cast<std::uint32_t>(i));
      write_chunked(batch, collection_for(kUnknownSource), counters);
      settle_dead_letters();
      return;
    }
    // Per-source collections: one bulk per distinct source in the batch.
    sources_.clear();
    for (const record& r : records)
      if (r.stream == 0 && std::find(sources_.begin(), sources_.end(), r.source) == sources_.end())
        sources_.push_back(r.source);
    for (const source_id src : sources_) {
      group_.clear();
      for (std::size_t i = 0; i < records.size(); ++i)
        if (records[i].source == src && records[i].stream == 0)
          group_.push_back(static_cast<std::uint32_t>(i));
      write_chunked(batch, collection_for(src), counters);
    }
    settle_dead_letters();
  }

  // runs on: sink thread. The origin of derived `_id`s: the ledger's, or a new one that goes
  // into the ledger before the first document uses it.
  void resume(std::string_view ledger_state) override {
    std::string_view origin = parse_mongo_origin(ledger_state);
    std::string made;
    if (origin.empty()) {
      made = new_mongo_origin();
      origin = made;
      origin_due_ = true;
    }
    origin_line_ = mongo_origin_line(origin);
    documents_.set_origin(origin);
  }
  std::string_view ledger_state() override { return origin_line_; }

  // runs on: sink thread. Writes are confirmed synchronously by write(); only the
  // dead-letter file needs flushing.
  void flush(stage_counters&) override {}

  // runs on: sink thread
  status close() override {
    dead_letters_.close();
    if (duplicates_ != 0 || dead_lettered_ != 0 || failed_ != 0)
      std::fprintf(stderr,
                   "edgepipe: sink %s: %llu delivered, %llu of them duplicates (already stored), "
                   "%llu dead-lettered to %s, %llu failed after retries\n",
                   name_.c_str(), static_cast<unsigned long long>(delivered_),
                   static_cast<unsigned long long>(duplicates_),
                   static_cast<unsigned long long>(dead_lettered_), dead_letters_.path().c_str(),
                   static_cast<unsigned long long>(failed_));
    return status::ok();
  }

 private:
  struct collection_slot {
    std::string name;
    mongoc_collection_t* handle = nullptr;
  };

  /// A new origin is in the ledger before any document carries it. False (logged once per
  /// episode) while the ledger cannot be written: the records fail and are retried.
  bool origin_in_ledger() {
    if (!origin_due_) return true;
    if (status s = checkpoint(); !s) {
      if (!origin_error_logged_)
        log_line(log_level::error, "sink:" + name_,
                 s.message() +
                     ": the origin of derived _ids is not in the ledger yet; records "
                     "wait in the spool");
      origin_error_logged_ = true;
      return false;
    }
    origin_due_ = false;
    origin_error_logged_ = false;
    return true;
  }

  /// Records with their own stream: one upsert bulk per stream (collection) in the batch;
  /// tombstones confirmed without a write. True when no record of the batch is left.
  bool write_streams(const record_batch& batch, stage_counters& counters) {
    const auto& records = batch.records();
    streams_.clear();
    bool plain = false;
    for (const record& r : records) {
      if (r.stream == 0) {
        plain = true;
        continue;
      }
      const std::string_view name = batch.stream(r);
      if (std::find(streams_.begin(), streams_.end(), name) == streams_.end())
        streams_.push_back(name);
    }
    for (const std::string_view name : streams_) {
      group_.clear();
      for (std::size_t i = 0; i < records.size(); ++i) {
        const record& r = records[i];
        if (r.stream == 0 || batch.stream(r) != name) continue;
        if (r.value_length == 0) {  // a tombstone: the delete event already replaced the row
          counters.records_out.add();
          ++delivered_;
          settle(r.sequence, delivery_outcome::delivered);
          continue;
        }
        group_.push_back(static_cast<std::uint32_t>(i));
      }
      if (name.empty()) {  // a stream offset that does not read back: fail, retried
        counters.failed.add(group_.size());
        for (const std::uint32_t i : group_) settle(records[i].sequence, delivery_outcome::failed);
        continue;
      }
      write_chunked(batch, collection_for_stream(name), counters);
    }
    return !plain;
  }

  collection_slot& collection_for_stream(std::string_view name) {
    auto it = stream_collections_.find(std::string(name));
    if (it == stream_collections_.end()) {
      collection_slot c;
      c.name = std::string(name);
      c.handle =
          mongoc_client_get_collection(conn_.client(), config_.database.c_str(), c.name.c_str());
      it = stream_collections_.emplace(c.name, std::move(c)).first;
    }
    return it->second;
  }

  collection_slot& collection_for(source_id src) {
    const std::size_t slot =
        config_.collection.empty() ? (src == kUnknownSource ? 0 : src + 1u) : 0;
    if (slot >= collections_.size()) collections_.resize(slot + 1);
    collection_slot& c = collections_[slot];
    if (c.handle == nullptr) {
      c.name = !config_.collection.empty()                                 ? config_.collection
               : src < source_names_.size() && !source_names_[src].empty() ? source_names_[src]
                                                                           : "unknown";
      c.handle =
          mongoc_client_get_collection(conn_.client(), config_.database.c_str(), c.name.c_str());
    }
    return c;
  }

  std::string_view source_name(source_id src) const {
    return src < source_names_.size() ? std::string_view(source_names_[src])
                                      : std::string_view("unknown");
  }

  /// Splits group_ into bulks of at most bulk_documents (upsert mode: upsert_bulk_size).
  void write_chunked(const record_batch& batch, collection_slot& coll, stage_counters& counters) {
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
  void write_group(const record_batch& batch, collection_slot& coll, stage_counters& counters) {
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
        for (const std::uint32_t i : pending_)
          settle(records[i].sequence, delivery_outcome::failed);
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
  void execute(mongoc_bulk_operation_t* bulk, const record_batch& batch,
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

  void deliver_all(const record_batch& batch, stage_counters& counters) {
    std::uint64_t bytes = 0;
    for (const std::uint32_t i : ops_) {
      bytes += batch.records()[i].value_length;
      settle(batch.records()[i].sequence, delivery_outcome::delivered);
    }
    counters.records_out.add(ops_.size());
    counters.bytes_out.add(bytes);
    delivered_ += ops_.size();
  }

  void log_batch_error(const collection_slot& coll, const char* message, bool transient) {
    std::fprintf(stderr, "edgepipe: sink %s: bulk write to %s.%s at %s failed (%s): %s\n",
                 name_.c_str(), config_.database.c_str(), coll.name.c_str(),
                 conn_.redacted_uri().c_str(), transient ? "transient, will retry" : "permanent",
                 message);
  }

  /// Settles the batch's dead letters once their file is synced: dead-lettered, or, when it
  /// could not be written or synced, failed (they stay in the spool and come again).
  void settle_dead_letters() {
    if (dead_letter_pending_.empty() && !dead_letter_write_failed_) return;
    status s = dead_letters_.sync();
    if (s && dead_letter_write_failed_) s = dead_letter_error_;
    dead_letter_write_failed_ = false;
    const auto outcome = s ? delivery_outcome::dead_lettered : delivery_outcome::failed;
    for (const std::uint64_t seq : dead_letter_pending_) settle(seq, outcome);
    if (s) {
      dead_lettered_ += dead_letter_pending_.size();
      if (dead_letter_errors_logged_) {
        dead_letter_errors_logged_ = false;
        log_line(log_level::info, "sink:" + name_,
                 "dead-letter file " + dead_letters_.path() + " is written again");
      }
    } else {
      failed_ += dead_letter_pending_.size();
      report_dead_letter_error(s);
    }
    dead_letter_pending_.clear();
  }

  void report_dead_letter_error(const status& s) {
    ++dead_letter_errors_;
    if (dead_letter_errors_logged_) return;  // once per episode
    dead_letter_errors_logged_ = true;
    log_line(log_level::error, "sink:" + name_,
             s.message() + " (errno " + std::to_string(s.code()) +
                 "): dead letters stay in the spool and are retried");
  }

  /// Appends the record's dead letter; it is settled by settle_dead_letters() (failed there
  /// when this append failed).
  void dead_letter(const record_batch& batch, const record& r, const std::string& collection,
                   std::string_view reason, std::int64_t code) {
    const std::string_view value = batch.value(r);
    line_.clear();
    line_.append("{\"reason\":");
    append_json_string_lossy(line_, reason);
    line_.append(",\"sink\":");
    append_json_string_lossy(line_, name_);
    line_.append(",\"source\":");
    append_json_string_lossy(line_, source_name(r.source));
    line_.append(",\"collection\":");
    append_json_string_lossy(line_, config_.database + "." + collection);
    line_.append(",\"code\":");
    append_int(line_, code);
    line_.append(",\"key\":");
    if (r.key_length != 0) {
      append_json_string_lossy(line_, batch.key(r).substr(0, kDeadLetterMaxBytes));
    } else {
      line_.append("null");
    }
    line_.append(",\"sequence\":");
    append_int(line_, static_cast<std::int64_t>(r.sequence));
    line_.append(",\"size\":");
    append_int(line_, static_cast<std::int64_t>(value.size()));
    line_.append(value.size() > kDeadLetterMaxBytes ? ",\"truncated\":true,\"bytes\":"
                                                    : ",\"truncated\":false,\"bytes\":");
    append_json_string_lossy(line_, value.substr(0, kDeadLetterMaxBytes));
    line_.append("}\n");
    dead_letter_pending_.push_back(r.sequence);
    if (dead_letter_write_failed_) return;  // failed with the rest of the batch's
    if (status st = dead_letters_.append(line_.view(0, line_.size())); !st) {
      dead_letter_write_failed_ = true;
      dead_letter_error_ = st;
    }
  }

  enum op_result : std::uint8_t { op_ok, op_duplicate, op_retry, op_dead };

  std::string name_;
  mongo_sink_config config_;
  std::vector<std::string> source_names_;
  mongo_connection conn_;
  mongo_document_builder documents_;
  bson_t* selector_;  // reused {_id: ...} for upserts
  std::vector<collection_slot> collections_;
  std::unordered_map<std::string, collection_slot> stream_collections_;  // by stream name
  std::vector<std::string_view> streams_;  // distinct streams of the current batch
  // Reused per batch: no allocation once warmed up.
  std::vector<bson_oid_t> oids_;
  std::vector<source_id> sources_;
  std::vector<std::uint32_t> pending_, retry_, ops_;
  std::vector<std::uint32_t> group_;  // one collection's records in the current batch
  std::vector<op_result> op_state_;
  std::vector<mongo_reply::write_error> errors_;
  byte_arena line_;
  dead_letter_file dead_letters_;
  std::vector<std::uint64_t> dead_letter_pending_;  // sequences appended, not yet settled
  bool dead_letter_write_failed_ = false;           // an append of this batch failed
  status dead_letter_error_;
  bool dead_letter_errors_logged_ = false;
  std::uint64_t dead_letter_errors_ = 0;
  std::uint64_t delivered_ = 0, duplicates_ = 0, dead_lettered_ = 0, failed_ = 0;
  std::string origin_line_;  // the ledger state: "mongo.spool=<origin>\n" (spool mode)
  bool origin_due_ = false;  // a new origin, not yet in the ledger
  bool origin_error_logged_ = false;
};

/// What make_mongo_sink gives when libmongoc cannot be loaded: a sink whose open() says why, so
/// the pipeline refuses to start naming the sink, the library and the reason.
class mongo_sink_unavailable final : public sink {
 public:
  mongo_sink_unavailable(std::string name, const status& why)
      : name_(std::move(name)), why_(why.prefixed("sink " + name_ + ": ")) {}
  const std::string& name() const override { return name_; }
  status open() override { return why_; }
  void write(const record_batch& batch, stage_counters& counters) override {
    counters.failed.add(batch.records().size());  // never opened: nothing is sent
    for (const record& r : batch.records()) settle(r.sequence, delivery_outcome::failed);
  }
  void flush(stage_counters& counters) override { (void)counters; }
  status close() override { return status::ok(); }

 private:
  std::string name_;
  status why_;
};

}  // namespace

std::unique_ptr<sink> make_mongo_sink(const std::string& name, const mongo_sink_config& config,
                                      const std::vector<std::string>& source_names) {
  // Before the sink exists: its members hold libbson documents from their construction.
  if (status s = load_libmongoc(); !s) return std::make_unique<mongo_sink_unavailable>(name, s);
  return std::make_unique<mongo_sink>(name, config, source_names);
}

}  // namespace edgepipe
