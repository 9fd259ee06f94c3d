// The client libraries loaded at run time (platform/shared_library): libmongoc (MongoDB sink),
// libcurl (HTTP sources), libpq (postgres_cdc), libmicrohttpd (operator endpoint).
#define EDGEPIPE_LIBMONGOC_NO_CALL_MACROS  // these tests name the tables' entries
#define EDGEPIPE_LIBCURL_NO_CALL_MACROS
#define EDGEPIPE_LIBPQ_NO_CALL_MACROS
#define EDGEPIPE_LIBMICROHTTPD_NO_CALL_MACROS
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "io/libmicrohttpd.hpp"
#include "platform/shared_library.hpp"
#include "stages/sinks/mongodb/libmongoc.hpp"
#include "stages/sources/libcurl.hpp"
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe {
namespace {

// edgepipe's code calls these libraries through the tables, which the stages load when they open;
// the tests that use that code without opening a stage (documents, replies, BSON from JSON,
// Retry-After dates) need them loaded too.
class loaded_libraries_environment final : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_TRUE(load_libmongoc()) << load_libmongoc().message();
    ASSERT_TRUE(load_libcurl()) << load_libcurl().message();
  }
};
[[maybe_unused]] const auto* const kLoaded =
    ::testing::AddGlobalTestEnvironment(new loaded_libraries_environment);

TEST(LoadedLibraries, EveryFunctionOfEachTableIsFoundInTheInstalledLibrary) {
#define EDGEPIPE_EXPECT_FOUND(f) EXPECT_NE(api.f, nullptr) << #f;
  {
    libmongoc_api api;
    const std::string error = resolve_shared_library(kLibmongoc, kLibmongoc.soname, api);
    ASSERT_EQ(error, "");
    EDGEPIPE_LIBMONGOC_FUNCTIONS(EDGEPIPE_EXPECT_FOUND)
    EXPECT_EQ(api.bson_new, &::bson_new);  // the library's own functions
  }
  {
    libcurl_api api;
    const std::string error = resolve_shared_library(kLibcurl, kLibcurl.soname, api);
    ASSERT_EQ(error, "");
    EDGEPIPE_LIBCURL_FUNCTIONS(EDGEPIPE_EXPECT_FOUND)
    EXPECT_EQ(api.curl_easy_init, &::curl_easy_init);
  }
  {
    pgcdc::libpq_api api;
    const std::string error = resolve_shared_library(pgcdc::kLibpq, pgcdc::kLibpq.soname, api);
    ASSERT_EQ(error, "");
    EDGEPIPE_LIBPQ_FUNCTIONS(EDGEPIPE_EXPECT_FOUND)
  }
  {
    libmicrohttpd_api api;
    const std::string error = resolve_shared_library(kLibmicrohttpd, kLibmicrohttpd.soname, api);
    ASSERT_EQ(error, "");
    EDGEPIPE_LIBMICROHTTPD_FUNCTIONS(EDGEPIPE_EXPECT_FOUND)
  }
#undef EDGEPIPE_EXPECT_FOUND
}

TEST(LoadedLibraries, AMissingLibraryIsAnErrorNamingItAndItsPackage) {
  const char* const missing = "libedgepipe-no-such-library.so.0";
  libmongoc_api mongoc;
  const std::string m = resolve_shared_library(kLibmongoc, missing, mongoc);
  EXPECT_NE(m.find("cannot load libedgepipe-no-such-library.so.0 (libmongoc"), std::string::npos)
      << m;
  EXPECT_NE(m.find("Debian package libmongoc-1.0-0"), std::string::npos) << m;
  EXPECT_EQ(mongoc.bson_new, nullptr);
  libcurl_api curl;
  const std::string c = resolve_shared_library(kLibcurl, missing, curl);
  EXPECT_NE(c.find("Debian package libcurl4"), std::string::npos) << c;
  pgcdc::libpq_api pq;
  const std::string p = resolve_shared_library(pgcdc::kLibpq, missing, pq);
  EXPECT_NE(p.find("Debian package libpq5"), std::string::npos) << p;
  libmicrohttpd_api mhd;
  const std::string h = resolve_shared_library(kLibmicrohttpd, missing, mhd);
  EXPECT_NE(h.find("Debian package libmicrohttpd12"), std::string::npos) << h;
}

TEST(LoadedLibraries, ALibraryWithoutTheFunctionsIsAnErrorNamingTheFirstMissing) {
  libmongoc_api mongoc;  // libz loads, but is not libmongoc
  const std::string m = resolve_shared_library(kLibmongoc, "libz.so.1", mongoc);
  EXPECT_NE(m.find("libz.so.1 has no function bson_append_array_begin (libmongoc 1.17"),
            std::string::npos)
      << m;
  EXPECT_EQ(mongoc.bson_new, nullptr);  // nothing is filled unless all are found
  pgcdc::libpq_api pq;
  const std::string p = resolve_shared_library(pgcdc::kLibpq, "libz.so.1", pq);
  EXPECT_NE(p.find("libz.so.1 has no function PQclear (libpq"), std::string::npos) << p;
}

TEST(LoadedLibraries, TheSonamesAreTheBuildsLibraries) {
  EXPECT_EQ(std::string(kLibmongoc.soname).rfind("libmongoc-1.0.so.", 0), 0u);
  EXPECT_EQ(std::string(kLibcurl.soname).rfind("libcurl.so.", 0), 0u);
  EXPECT_EQ(std::string(pgcdc::kLibpq.soname).rfind("libpq.so.", 0), 0u);
  EXPECT_EQ(std::string(kLibmicrohttpd.soname).rfind("libmicrohttpd.so.", 0), 0u);
}

TEST(LoadedLibraries, TheBinaryDoesNotLinkThem) {
  // The memory they save depends on it: a link dependency added back would load them (and run
  // their constructors) in every process again.
  FILE* p = popen("readelf -d '" EDGEPIPE_BINARY "' 2>&1", "r");
  ASSERT_NE(p, nullptr);
  std::string dynamic;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) dynamic.append(buf, n);
  pclose(p);
  ASSERT_NE(dynamic.find("(NEEDED)"), std::string::npos) << dynamic;
  ASSERT_NE(dynamic.find("librdkafka"), std::string::npos) << dynamic;  // linked, as it should be
  for (const char* lib : {"libmongoc", "libbson", "libcurl", "libpq", "libmicrohttpd"})
    EXPECT_EQ(dynamic.find(lib), std::string::npos) << lib << " is linked:\n" << dynamic;
}

TEST(LoadedLibraries, LoadingRunsOnceAndPublishesTheTable) {
  ASSERT_TRUE(load_libcurl());  // the environment loaded it already: the same result again
  EXPECT_EQ(libcurl().curl_easy_init, &::curl_easy_init);
  EXPECT_EQ(libmongoc().bson_new, &::bson_new);
}

TEST(LoadedLibraries, OpenSharedLibraryFillsEveryAddressInOrder) {
  const char* const names[] = {"zlibVersion", "crc32"};
  void* addresses[2] = {};
  EXPECT_EQ(open_shared_library("libz.so.1", "zlib", "-", names, addresses, 2), "");
  EXPECT_NE(addresses[0], nullptr);
  EXPECT_NE(addresses[1], nullptr);
  EXPECT_NE(addresses[0], addresses[1]);
}

}  // namespace
}  // namespace edgepipe
