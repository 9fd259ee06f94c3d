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
// (mongo_reply) have files of their own. The class, which thread calls what, and which file holds
// which part: mongo_sink_impl.hpp. This file: the stage's calls, the origin of derived `_id`s in
// the ledger, a batch's records sorted into collections; the bulk write and its outcomes:
// mongo_bulk_write.cpp; the dead-letter file: mongo_dead_letters.cpp.
#include "stages/sinks/mongodb/mongo_sink.hpp"

#include <mongoc/mongoc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/log.hpp"
#include "stages/sinks/mongodb/mongo_origin.hpp"
#include "stages/sinks/mongodb/mongo_sink_impl.hpp"
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {
namespace mongo_detail {
namespace {

// Dead-letter files rotate at 64 MiB; the newest 8 rotated files are kept (docs/operations.md).
constexpr std::uint64_t kDeadLetterRotateBytes = std::uint64_t{64} << 20;
constexpr unsigned kDeadLetterKeepFiles = 8;

}  // namespace

mongo_sink::mongo_sink(std::string name, mongo_sink_config config,
                       std::vector<std::string> source_names)
    : name_(std::move(name)),
      config_(std::move(config)),
      source_names_(std::move(source_names)),
      conn_(name_, config_, source_names_),
      documents_(source_names_),
      selector_(bson_new()),
      dead_letters_(config_.dead_letter_path.empty() ? "dead-letter-" + name_ + ".jsonl"
                                                     : config_.dead_letter_path,
                    kDeadLetterRotateBytes, kDeadLetterKeepFiles) {}

mongo_sink::~mongo_sink() {
  for (auto& c : collections_)
    if (c.handle != nullptr) mongoc_collection_destroy(c.handle);
  for (auto& [n, c] : stream_collections_)
    if (c.handle != nullptr) mongoc_collection_destroy(c.handle);
  bson_destroy(selector_);
  dead_letters_.close();
}

const std::string& mongo_sink::name() const { return name_; }

// runs on: main thread
status mongo_sink::open() {
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
bool mongo_sink::try_setup() {
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
void mongo_sink::write(const record_batch& batch, stage_counters& counters) {
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
void mongo_sink::resume(std::string_view ledger_state) {
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

std::string_view mongo_sink::ledger_state() { return origin_line_; }

// runs on: sink thread. Writes are confirmed synchronously by write(); only the
// dead-letter file needs flushing.
void mongo_sink::flush(stage_counters&) {}

// runs on: sink thread
status mongo_sink::close() {
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

/// A new origin is in the ledger before any document carries it. False (logged once per
/// episode) while the ledger cannot be written: the records fail and are retried.
bool mongo_sink::origin_in_ledger() {
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
bool mongo_sink::write_streams(const record_batch& batch, stage_counters& counters) {
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

mongo_sink::collection_slot& mongo_sink::collection_for_stream(std::string_view name) {
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

mongo_sink::collection_slot& mongo_sink::collection_for(source_id src) {
  const std::size_t slot = config_.collection.empty() ? (src == kUnknownSource ? 0 : src + 1u) : 0;
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

}  // namespace mongo_detail

namespace {

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
  return std::make_unique<mongo_detail::mongo_sink>(name, config, source_names);
}

}  // namespace edgepipe
