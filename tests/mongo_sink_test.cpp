// MongoDB sink checks that need no server. Delivery, duplicates, upserts and dead letters are
// checked against the real local server in tests/integration/test_mongo_sink.py.
#include <gtest/gtest.h>

#include <chrono>

#include "stages/sinks/mongodb/mongo_sink.hpp"

namespace edgepipe {
namespace {

TEST(MongoSink, OpenFailsFastAndNamesTheServerWithoutCredentials) {
  mongo_sink_config c;
  c.uri = "mongodb://edge:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300";
  auto sink = make_mongo_sink("mongo", c, {"iss"});
  const auto started = std::chrono::steady_clock::now();
  const status s = sink->open();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("127.0.0.1:1"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("s3cret"), std::string::npos) << "password leaked: " << s.message();
  EXPECT_NE(s.message().find("mongo"), std::string::npos) << s.message();
  // Not a timed assertion of speed: only that it did not hang on libmongoc's 30 s default.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
}

TEST(MongoSink, InvalidUriIsRejectedWithItsText) {
  mongo_sink_config c;
  c.uri = "mongodb://";
  auto sink = make_mongo_sink("m", c, {"iss"});
  const status s = sink->open();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("URI"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace edgepipe
