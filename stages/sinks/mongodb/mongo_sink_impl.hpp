// The MongoDB sink's class (make_mongo_sink in mongo_sink.hpp makes it), shared by the files that
// define its parts; nothing outside stages/sinks/mongodb/ includes this header. What the sink does
// and why: the top of mongo_sink.cpp.
//   mongo_sink.cpp          the stage's calls (open, try_setup, write, resume, ledger_state,
//                           flush, close), the origin of derived `_id`s put in the ledger, a
//                           batch's records sorted into collections (streams, sources),
//                           make_mongo_sink.
//   mongo_bulk_write.cpp    one collection's records: bulks of at most bulk_documents (or
//                           upsert_bulk_size), each attempt executed and its reply sorted into
//                           delivered, duplicates, retried with backoff, failed and dead letters.
//   mongo_dead_letters.cpp  the dead-letter JSONL file: a refused record's line appended, the
//                           batch's dead letters settled once the file is synced.
// Those that call libmongoc include stages/sinks/mongodb/libmongoc.hpp last (the calls go through
// the table loaded at run time); nothing in this header calls libmongoc.
//
// Threading: open() runs on the main thread before the pipeline starts and creates the one
// mongoc_client_t; after that, write/flush/close run only on the sink thread, which is the only
// user of the client, its collections and every buffer here (a mongoc_client_t is not
// thread-safe, so it is never shared). mongoc_init() runs once per process (std::call_once).
#pragma once

#include <mongoc/mongoc.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/byte_arena.hpp"
#include "io/dead_letter_file.hpp"
#include "stages/sinks/mongodb/mongo_connection.hpp"
#include "stages/sinks/mongodb/mongo_document.hpp"
#include "stages/sinks/mongodb/mongo_reply.hpp"
#include "stages/sinks/mongodb/mongo_sink.hpp"

namespace edgepipe::mongo_detail {

class mongo_sink final : public sink {
 public:
  // mongo_sink.cpp
  mongo_sink(std::string name, mongo_sink_config config, std::vector<std::string> source_names);
  ~mongo_sink() override;
  const std::string& name() const override;
  status open() override;
  bool try_setup() override;
  void write(const record_batch& batch, stage_counters& counters) override;
  void resume(std::string_view ledger_state) override;
  std::string_view ledger_state() override;
  void flush(stage_counters&) override;
  status close() override;

 private:
  struct collection_slot {
    std::string name;
    mongoc_collection_t* handle = nullptr;
  };

  // mongo_sink.cpp: the origin in the ledger, the records sorted into collections. Those
  // declared inline run per batch and are called in one file only: inline, as they were in the
  // class body, so that the compiler still inlines them into their one caller. always_inline:
  // those GCC inlined while the class was file-local (one caller, internal linkage) but no
  // longer does with external linkage.
  [[gnu::always_inline]] inline bool origin_in_ledger();
  [[gnu::always_inline]] inline bool write_streams(const record_batch& batch,
                                                   stage_counters& counters);
  [[gnu::always_inline]] inline collection_slot& collection_for_stream(std::string_view name);
  collection_slot& collection_for(source_id src);

  // mongo_bulk_write.cpp: one collection's records (group_) in bulks, retried, their replies
  // read (inline as above: into write_group()).
  void write_chunked(const record_batch& batch, collection_slot& coll, stage_counters& counters);
  void write_group(const record_batch& batch, collection_slot& coll, stage_counters& counters);
  [[gnu::always_inline]] inline void execute(mongoc_bulk_operation_t* bulk,
                                             const record_batch& batch, const collection_slot& coll,
                                             stage_counters& counters);
  inline void deliver_all(const record_batch& batch, stage_counters& counters);
  inline void log_batch_error(const collection_slot& coll, const char* message, bool transient);

  // mongo_dead_letters.cpp: the dead-letter file (inline as above: into settle_dead_letters()
  // and dead_letter()).
  void settle_dead_letters();
  [[gnu::always_inline]] inline void report_dead_letter_error(const status& s);
  void dead_letter(const record_batch& batch, const record& r, const std::string& collection,
                   std::string_view reason, std::int64_t code);
  inline std::string_view source_name(source_id src) const;

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

}  // namespace edgepipe::mongo_detail
