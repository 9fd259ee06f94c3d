// The MongoDB sink's run-time loading of libmongoc (stages/sinks/mongodb/libmongoc.hpp).
#define EDGEPIPE_LIBMONGOC_NO_CALL_MACROS  // these tests name the table's entries
#include "stages/sinks/mongodb/libmongoc.hpp"

#include <gtest/gtest.h>

#include <string>

namespace edgepipe {
namespace {

// The MongoDB sink's code calls libmongoc through the table, which make_mongo_sink loads; the
// tests that use that code without a sink (documents, replies, BSON from JSON) need it loaded too.
class libmongoc_environment final : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_TRUE(load_libmongoc()) << load_libmongoc().message(); }
};
[[maybe_unused]] const auto* const kLoaded =
    ::testing::AddGlobalTestEnvironment(new libmongoc_environment);

TEST(Libmongoc, EveryFunctionOfTheTableIsFoundInTheInstalledLibrary) {
  libmongoc_api api;
  const status s = resolve_libmongoc(libmongoc_soname(), api);
  ASSERT_TRUE(s) << s.message();
#define EDGEPIPE_EXPECT_FOUND(f) EXPECT_NE(api.f, nullptr) << #f;
  EDGEPIPE_LIBMONGOC_FUNCTIONS(EDGEPIPE_EXPECT_FOUND)
#undef EDGEPIPE_EXPECT_FOUND
  // The table points at the library's own functions.
  EXPECT_EQ(api.bson_new, &::bson_new);
  EXPECT_EQ(api.mongoc_uri_new_with_error, &::mongoc_uri_new_with_error);
}

TEST(Libmongoc, AMissingLibraryIsAnErrorNamingItAndThePackage) {
  libmongoc_api api;
  const status s = resolve_libmongoc("libedgepipe-no-such-library.so.0", api);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("cannot load libedgepipe-no-such-library.so.0"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("libmongoc-1.0-0"), std::string::npos) << s.message();
  EXPECT_EQ(api.bson_new, nullptr);
}

TEST(Libmongoc, ALibraryWithoutTheFunctionsIsAnErrorNamingTheFirstMissing) {
  libmongoc_api api;
  const status s = resolve_libmongoc("libz.so.1", api);  // loads, but is not libmongoc
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find("libz.so.1 has no function bson_append_array_begin"),
            std::string::npos)
      << s.message();
}

TEST(Libmongoc, TheSonameIsTheBuildsLibmongoc) {
  EXPECT_EQ(std::string(libmongoc_soname()).rfind("libmongoc-1.0.so.", 0), 0u)
      << libmongoc_soname();
}

}  // namespace
}  // namespace edgepipe
