// libmongoc and libbson, loaded at run time (platform/shared_library) by the first MongoDB sink
// made, not linked into the binary. Linked, they cost every edgepipe process ~5.8 MiB of resident
// memory before main() runs (0.7 MiB anonymous, 5.1 MiB of library pages), whether or not a
// MongoDB sink is configured: libmongoc's load-time constructor runs mongoc_init(), which
// initialises OpenSSL and Cyrus SASL (loading every SASL plugin). A pipeline to Kafka or files
// does not pay that now (benchmarks/README.md), and a node without libmongoc runs every other sink.
//
// Use: load_libmongoc() before the first call (make_mongo_sink does, before the sink's libbson
// members exist; mongo_connection::open() again, for a connection built alone); a .cpp of
// this folder includes this header last, and its libmongoc/libbson calls then go through the
// table (the macros at the end give each function's name to its table entry, so the code reads as
// plain libmongoc). Only the functions listed in EDGEPIPE_LIBMONGOC_FUNCTIONS are available: a
// call of another one fails to link, and is added to the list.
// Threading: load_libmongoc() from any thread (once, under std::call_once); libmongoc() after a
// successful load, from any thread (the table is never written again).
#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include "core/status.hpp"
#include "platform/shared_library.hpp"

#define EDGEPIPE_LIBMONGOC_FUNCTIONS(X)                \
  X(bson_append_array_begin)                           \
  X(bson_append_array_end)                             \
  X(bson_append_bool)                                  \
  X(bson_append_document_begin)                        \
  X(bson_append_document_end)                          \
  X(bson_append_double)                                \
  X(bson_append_int32)                                 \
  X(bson_append_int64)                                 \
  X(bson_append_null)                                  \
  X(bson_append_oid)                                   \
  X(bson_append_utf8)                                  \
  X(bson_concat)                                       \
  X(bson_copy_to_excluding_noinit)                     \
  X(bson_destroy)                                      \
  X(bson_has_field)                                    \
  X(bson_init)                                         \
  X(bson_init_from_json)                               \
  X(bson_iter_as_int64)                                \
  X(bson_iter_init_find)                               \
  X(bson_iter_key)                                     \
  X(bson_iter_next)                                    \
  X(bson_iter_recurse)                                 \
  X(bson_iter_type)                                    \
  X(bson_iter_utf8)                                    \
  X(bson_new)                                          \
  X(bson_oid_init)                                     \
  X(bson_reinit)                                       \
  X(bson_set_error)                                    \
  X(bson_uint32_to_string)                             \
  X(bson_utf8_validate)                                \
  X(mongoc_bulk_operation_destroy)                     \
  X(mongoc_bulk_operation_execute)                     \
  X(mongoc_bulk_operation_insert_with_opts)            \
  X(mongoc_bulk_operation_replace_one_with_opts)       \
  X(mongoc_client_command_simple)                      \
  X(mongoc_client_destroy)                             \
  X(mongoc_client_get_collection)                      \
  X(mongoc_client_get_database)                        \
  X(mongoc_client_new_from_uri_with_error)             \
  X(mongoc_client_set_error_api)                       \
  X(mongoc_collection_create_bulk_operation_with_opts) \
  X(mongoc_collection_destroy)                         \
  X(mongoc_database_destroy)                           \
  X(mongoc_database_write_command_with_opts)           \
  X(mongoc_init)                                       \
  X(mongoc_uri_destroy)                                \
  X(mongoc_uri_get_appname)                            \
  X(mongoc_uri_has_option)                             \
  X(mongoc_uri_new_with_error)                         \
  X(mongoc_uri_set_appname)                            \
  X(mongoc_uri_set_option_as_int32)                    \
  X(mongoc_write_concern_append)                       \
  X(mongoc_write_concern_destroy)                      \
  X(mongoc_write_concern_new)                          \
  X(mongoc_write_concern_set_w)                        \
  X(mongoc_write_concern_set_wmajority)                \
  X(mongoc_write_concern_set_wtimeout_int64)

namespace edgepipe {

/// One pointer per function of EDGEPIPE_LIBMONGOC_FUNCTIONS, with the library's own signature.
struct libmongoc_api {
  EDGEPIPE_LIBMONGOC_FUNCTIONS(EDGEPIPE_LIBRARY_ENTRY)
};

/// The library (its SONAME at build time), its functions, its initialisation
/// (stages/sinks/mongodb/libmongoc.cpp).
extern const shared_library_spec<libmongoc_api> kLibmongoc;

/// Loads the library, resolves the table and runs its initialisation, once per process; later
/// calls return the first call's result. The error names the library, its Debian package and
/// dlerror()'s reason, or the first function not found.
inline status load_libmongoc() {
  const std::string& error = load_shared_library(kLibmongoc);
  return error.empty() ? status::ok() : status::error(error);
}
/// The table. Only after load_libmongoc() succeeded.
inline const libmongoc_api& libmongoc() noexcept {
  return loaded_shared_library<libmongoc_api>::table;
}

}  // namespace edgepipe

// Every call of a listed function in a file that includes this header (last) goes through the
// table from here on (not where EDGEPIPE_LIBMONGOC_NO_CALL_MACROS is defined first: a test that
// names the table's entries).
#ifndef EDGEPIPE_LIBMONGOC_NO_CALL_MACROS
#define EDGEPIPE_LIBMONGOC_CALL(f) (::edgepipe::libmongoc().f)
#define bson_append_array_begin EDGEPIPE_LIBMONGOC_CALL(bson_append_array_begin)
#define bson_append_array_end EDGEPIPE_LIBMONGOC_CALL(bson_append_array_end)
#define bson_append_bool EDGEPIPE_LIBMONGOC_CALL(bson_append_bool)
#define bson_append_document_begin EDGEPIPE_LIBMONGOC_CALL(bson_append_document_begin)
#define bson_append_document_end EDGEPIPE_LIBMONGOC_CALL(bson_append_document_end)
#define bson_append_double EDGEPIPE_LIBMONGOC_CALL(bson_append_double)
#define bson_append_int32 EDGEPIPE_LIBMONGOC_CALL(bson_append_int32)
#define bson_append_int64 EDGEPIPE_LIBMONGOC_CALL(bson_append_int64)
#define bson_append_null EDGEPIPE_LIBMONGOC_CALL(bson_append_null)
#define bson_append_oid EDGEPIPE_LIBMONGOC_CALL(bson_append_oid)
#define bson_append_utf8 EDGEPIPE_LIBMONGOC_CALL(bson_append_utf8)
#define bson_concat EDGEPIPE_LIBMONGOC_CALL(bson_concat)
#define bson_copy_to_excluding_noinit EDGEPIPE_LIBMONGOC_CALL(bson_copy_to_excluding_noinit)
#define bson_destroy EDGEPIPE_LIBMONGOC_CALL(bson_destroy)
#define bson_has_field EDGEPIPE_LIBMONGOC_CALL(bson_has_field)
#define bson_init EDGEPIPE_LIBMONGOC_CALL(bson_init)
#define bson_init_from_json EDGEPIPE_LIBMONGOC_CALL(bson_init_from_json)
#define bson_iter_as_int64 EDGEPIPE_LIBMONGOC_CALL(bson_iter_as_int64)
#define bson_iter_init_find EDGEPIPE_LIBMONGOC_CALL(bson_iter_init_find)
#define bson_iter_key EDGEPIPE_LIBMONGOC_CALL(bson_iter_key)
#define bson_iter_next EDGEPIPE_LIBMONGOC_CALL(bson_iter_next)
#define bson_iter_recurse EDGEPIPE_LIBMONGOC_CALL(bson_iter_recurse)
#define bson_iter_type EDGEPIPE_LIBMONGOC_CALL(bson_iter_type)
#define bson_iter_utf8 EDGEPIPE_LIBMONGOC_CALL(bson_iter_utf8)
#define bson_new EDGEPIPE_LIBMONGOC_CALL(bson_new)
#define bson_oid_init EDGEPIPE_LIBMONGOC_CALL(bson_oid_init)
#define bson_reinit EDGEPIPE_LIBMONGOC_CALL(bson_reinit)
#define bson_set_error EDGEPIPE_LIBMONGOC_CALL(bson_set_error)
#define bson_uint32_to_string EDGEPIPE_LIBMONGOC_CALL(bson_uint32_to_string)
#define bson_utf8_validate EDGEPIPE_LIBMONGOC_CALL(bson_utf8_validate)
#define mongoc_bulk_operation_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_bulk_operation_destroy)
#define mongoc_bulk_operation_execute EDGEPIPE_LIBMONGOC_CALL(mongoc_bulk_operation_execute)
#define mongoc_bulk_operation_insert_with_opts \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_bulk_operation_insert_with_opts)
#define mongoc_bulk_operation_replace_one_with_opts \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_bulk_operation_replace_one_with_opts)
#define mongoc_client_command_simple EDGEPIPE_LIBMONGOC_CALL(mongoc_client_command_simple)
#define mongoc_client_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_client_destroy)
#define mongoc_client_get_collection EDGEPIPE_LIBMONGOC_CALL(mongoc_client_get_collection)
#define mongoc_client_get_database EDGEPIPE_LIBMONGOC_CALL(mongoc_client_get_database)
#define mongoc_client_new_from_uri_with_error \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_client_new_from_uri_with_error)
#define mongoc_client_set_error_api EDGEPIPE_LIBMONGOC_CALL(mongoc_client_set_error_api)
#define mongoc_collection_create_bulk_operation_with_opts \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_collection_create_bulk_operation_with_opts)
#define mongoc_collection_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_collection_destroy)
#define mongoc_database_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_database_destroy)
#define mongoc_database_write_command_with_opts \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_database_write_command_with_opts)
#define mongoc_init EDGEPIPE_LIBMONGOC_CALL(mongoc_init)
#define mongoc_uri_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_destroy)
#define mongoc_uri_get_appname EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_get_appname)
#define mongoc_uri_has_option EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_has_option)
#define mongoc_uri_new_with_error EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_new_with_error)
#define mongoc_uri_set_appname EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_set_appname)
#define mongoc_uri_set_option_as_int32 EDGEPIPE_LIBMONGOC_CALL(mongoc_uri_set_option_as_int32)
#define mongoc_write_concern_append EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_append)
#define mongoc_write_concern_destroy EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_destroy)
#define mongoc_write_concern_new EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_new)
#define mongoc_write_concern_set_w EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_set_w)
#define mongoc_write_concern_set_wmajority \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_set_wmajority)
#define mongoc_write_concern_set_wtimeout_int64 \
  EDGEPIPE_LIBMONGOC_CALL(mongoc_write_concern_set_wtimeout_int64)
#endif  // EDGEPIPE_LIBMONGOC_NO_CALL_MACROS
