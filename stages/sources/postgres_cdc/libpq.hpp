// libpq, loaded at run time (platform/shared_library) by a postgres_cdc source when it connects,
// not linked into the binary: with libcurl, it brings in libldap, gnutls, p11-kit and Kerberos,
// whose load-time constructors cost every process ~4 MiB of resident memory
// (benchmarks/README.md). A pipeline without a CDC source does not pay it, and a node without
// libpq runs everything but the CDC sources.
//
// Use: load_libpq() once before the first call (pg_connection::open does); a .cpp that calls
// libpq includes this header last, and its calls then go through the table. Only the functions of
// EDGEPIPE_LIBPQ_FUNCTIONS are available: a call of another fails to link, and is added to the
// list.
// Threading: load_libpq() from any thread (once, under std::call_once); libpq() after a successful
// load, from any thread (the table is never written again).
#pragma once

#include <libpq-fe.h>

#include "core/status.hpp"
#include "platform/shared_library.hpp"

#define EDGEPIPE_LIBPQ_FUNCTIONS(X) \
  X(PQclear)                        \
  X(PQconnectdbParams)              \
  X(PQconsumeInput)                 \
  X(PQerrorMessage)                 \
  X(PQescapeIdentifier)             \
  X(PQescapeLiteral)                \
  X(PQexec)                         \
  X(PQexecParams)                   \
  X(PQfinish)                       \
  X(PQflush)                        \
  X(PQfreemem)                      \
  X(PQgetCopyData)                  \
  X(PQgetResult)                    \
  X(PQgetisnull)                    \
  X(PQgetlength)                    \
  X(PQgetvalue)                     \
  X(PQntuples)                      \
  X(PQputCopyData)                  \
  X(PQresultStatus)                 \
  X(PQsendQuery)                    \
  X(PQsetSingleRowMode)             \
  X(PQsocket)                       \
  X(PQstatus)

namespace edgepipe::pgcdc {

/// One pointer per function of EDGEPIPE_LIBPQ_FUNCTIONS, with the library's own signature.
struct libpq_api {
  EDGEPIPE_LIBPQ_FUNCTIONS(EDGEPIPE_LIBRARY_ENTRY)
};

/// The library (its SONAME at build time), its functions, its initialisation
/// (stages/sources/postgres_cdc/libpq.cpp).
extern const shared_library_spec<libpq_api> kLibpq;

/// Loads the library, resolves the table and runs its initialisation, once per process; later
/// calls return the first call's result. The error names the library, its Debian package and
/// dlerror()'s reason, or the first function not found.
inline status load_libpq() {
  const std::string& error = load_shared_library(kLibpq);
  return error.empty() ? status::ok() : status::error(error);
}
/// The table. Only after load_libpq() succeeded.
inline const libpq_api& libpq() noexcept { return loaded_shared_library<libpq_api>::table; }

}  // namespace edgepipe::pgcdc

// Every call of a listed function in a file that includes this header (last) goes through the
// table from here on (not where EDGEPIPE_LIBPQ_NO_CALL_MACROS is defined first: the loader and a
// test that name the table's entries).
#ifndef EDGEPIPE_LIBPQ_NO_CALL_MACROS
#define EDGEPIPE_LIBPQ_CALL(f) (::edgepipe::pgcdc::libpq().f)
#define PQclear EDGEPIPE_LIBPQ_CALL(PQclear)
#define PQconnectdbParams EDGEPIPE_LIBPQ_CALL(PQconnectdbParams)
#define PQconsumeInput EDGEPIPE_LIBPQ_CALL(PQconsumeInput)
#define PQerrorMessage EDGEPIPE_LIBPQ_CALL(PQerrorMessage)
#define PQescapeIdentifier EDGEPIPE_LIBPQ_CALL(PQescapeIdentifier)
#define PQescapeLiteral EDGEPIPE_LIBPQ_CALL(PQescapeLiteral)
#define PQexec EDGEPIPE_LIBPQ_CALL(PQexec)
#define PQexecParams EDGEPIPE_LIBPQ_CALL(PQexecParams)
#define PQfinish EDGEPIPE_LIBPQ_CALL(PQfinish)
#define PQflush EDGEPIPE_LIBPQ_CALL(PQflush)
#define PQfreemem EDGEPIPE_LIBPQ_CALL(PQfreemem)
#define PQgetCopyData EDGEPIPE_LIBPQ_CALL(PQgetCopyData)
#define PQgetResult EDGEPIPE_LIBPQ_CALL(PQgetResult)
#define PQgetisnull EDGEPIPE_LIBPQ_CALL(PQgetisnull)
#define PQgetlength EDGEPIPE_LIBPQ_CALL(PQgetlength)
#define PQgetvalue EDGEPIPE_LIBPQ_CALL(PQgetvalue)
#define PQntuples EDGEPIPE_LIBPQ_CALL(PQntuples)
#define PQputCopyData EDGEPIPE_LIBPQ_CALL(PQputCopyData)
#define PQresultStatus EDGEPIPE_LIBPQ_CALL(PQresultStatus)
#define PQsendQuery EDGEPIPE_LIBPQ_CALL(PQsendQuery)
#define PQsetSingleRowMode EDGEPIPE_LIBPQ_CALL(PQsetSingleRowMode)
#define PQsocket EDGEPIPE_LIBPQ_CALL(PQsocket)
#define PQstatus EDGEPIPE_LIBPQ_CALL(PQstatus)
#endif  // EDGEPIPE_LIBPQ_NO_CALL_MACROS
