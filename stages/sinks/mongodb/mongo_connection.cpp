#include "stages/sinks/mongodb/mongo_connection.hpp"

#include <cstdlib>
// Last: the libmongoc calls below go through the table loaded at run time.
#include "stages/sinks/mongodb/libmongoc.hpp"

namespace edgepipe {

namespace {

constexpr std::int32_t kDefaultSelectionTimeoutMs = 3000;

/// The URI without "user:password@", for messages.
std::string redact_uri(const std::string& uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const auto host_start = scheme + 3;
  const auto end = uri.find_first_of("/?", host_start);
  const auto at = uri.rfind('@', end == std::string::npos ? uri.size() : end);
  if (at == std::string::npos || at < host_start) return uri;
  return uri.substr(0, host_start) + uri.substr(at + 1);
}

std::string index_name(const mongo_index_spec& idx) {
  std::string n;
  for (const auto& [field, dir] : idx.keys) {
    if (!n.empty()) n += '_';
    n += field;
    n += '_';
    n += std::to_string(dir);
  }
  return n;
}

}  // namespace

mongo_connection::mongo_connection(std::string sink_name, const mongo_sink_config& config,
                                   const std::vector<std::string>& source_names)
    : sink_name_(std::move(sink_name)),
      config_(config),
      source_names_(source_names),
      redacted_uri_(redact_uri(config.uri)) {
  bson_init(&bulk_opts_);
  bson_init(&upsert_opts_);
  bson_init(&no_validate_opts_);
  BSON_APPEND_BOOL(&no_validate_opts_, "validate", false);
}

mongo_connection::~mongo_connection() {
  if (client_ != nullptr) mongoc_client_destroy(client_);
  if (write_concern_ != nullptr) mongoc_write_concern_destroy(write_concern_);
  bson_destroy(&bulk_opts_);
  bson_destroy(&upsert_opts_);
  bson_destroy(&no_validate_opts_);
}

// runs on: main thread
status mongo_connection::open() {
  // Loaded by make_mongo_sink already (the constructors use libbson); here for a connection
  // built on its own.
  if (status s = load_libmongoc(); !s) return s.prefixed("sink " + sink_name_ + ": ");
  bson_error_t err;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(config_.uri.c_str(), &err);
  if (uri == nullptr)
    return status::error("sink " + sink_name_ + ": invalid MongoDB URI " + redacted_uri_ + ": " +
                         err.message);
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                   kDefaultSelectionTimeoutMs);
  if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, kDefaultSelectionTimeoutMs);
  // libmongoc waits 300 s on a silent socket by default: far too long for an edge node.
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                   config_.write_timeout_ms + 10000);
  if (mongoc_uri_get_appname(uri) == nullptr) mongoc_uri_set_appname(uri, "edgepipe");
  client_ = mongoc_client_new_from_uri_with_error(uri, &err);
  mongoc_uri_destroy(uri);
  if (client_ == nullptr)
    return status::error("sink " + sink_name_ + ": cannot create a MongoDB client for " +
                         redacted_uri_ + ": " + err.message);
  mongoc_client_set_error_api(client_, MONGOC_ERROR_API_VERSION_2);

  // Write concern, sent with every bulk write.
  write_concern_ = mongoc_write_concern_new();
  if (config_.write_concern == "majority") {
    mongoc_write_concern_set_wmajority(write_concern_, config_.write_timeout_ms);
  } else {
    const long w = std::strtol(config_.write_concern.c_str(), nullptr, 10);
    mongoc_write_concern_set_w(write_concern_, static_cast<std::int32_t>(w));
    unacknowledged_ = w == 0;
    if (!unacknowledged_)
      mongoc_write_concern_set_wtimeout_int64(write_concern_, config_.write_timeout_ms);
  }
  BSON_APPEND_BOOL(&bulk_opts_, "ordered", false);
  if (!mongoc_write_concern_append(write_concern_, &bulk_opts_))
    return status::error("sink " + sink_name_ + ": invalid write concern '" +
                         config_.write_concern + "'");
  BSON_APPEND_BOOL(&upsert_opts_, "upsert", true);
  return status::ok();
}

status mongo_connection::ping() {
  bson_error_t err;
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "ping", 1);
  bson_t reply;
  const bool ok = mongoc_client_command_simple(client_, "admin", &cmd, nullptr, &reply, &err);
  bson_destroy(&cmd);
  bson_destroy(&reply);
  if (!ok)
    return status::error("sink " + sink_name_ + ": MongoDB at " + redacted_uri_ +
                         " did not answer a ping: " + err.message);
  return status::ok();
}

status mongo_connection::create_all_indexes() {
  if (config_.indexes.empty()) return status::ok();
  if (!config_.collection.empty()) return create_indexes(config_.collection);
  for (const auto& source : source_names_)
    if (!source.empty())
      if (status s = create_indexes(source); !s) return s;
  return status::ok();
}

status mongo_connection::create_indexes(const std::string& collection) {
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "createIndexes", collection.c_str());
  bson_t indexes;
  BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
  for (std::size_t i = 0; i < config_.indexes.size(); ++i) {
    const auto& idx = config_.indexes[i];
    const std::string key = std::to_string(i);
    bson_t spec, keys;
    bson_append_document_begin(&indexes, key.c_str(), -1, &spec);
    BSON_APPEND_DOCUMENT_BEGIN(&spec, "key", &keys);
    for (const auto& [field, dir] : idx.keys) BSON_APPEND_INT32(&keys, field.c_str(), dir);
    bson_append_document_end(&spec, &keys);
    BSON_APPEND_UTF8(&spec, "name", index_name(idx).c_str());
    if (idx.unique) BSON_APPEND_BOOL(&spec, "unique", true);
    bson_append_document_end(&indexes, &spec);
  }
  bson_append_array_end(&cmd, &indexes);
  bson_t reply;
  bson_error_t err;
  mongoc_database_t* db = mongoc_client_get_database(client_, config_.database.c_str());
  const bool ok = mongoc_database_write_command_with_opts(db, &cmd, nullptr, &reply, &err);
  mongoc_database_destroy(db);
  bson_destroy(&cmd);
  bson_destroy(&reply);
  if (!ok)
    return status::error("sink " + sink_name_ + ": cannot create indexes on " + config_.database +
                         "." + collection + " at " + redacted_uri_ + ": " + err.message);
  return status::ok();
}

}  // namespace edgepipe
