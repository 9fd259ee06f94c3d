// MongoDB sink checks that need no server. Delivery, duplicates, upserts and dead letters are
// checked against the real local server in tests/integration/test_mongo_sink.py.
#include <gtest/gtest.h>

#include <chrono>

#include "stages/sinks/mongodb/mongo_document.hpp"
#include "stages/sinks/mongodb/mongo_origin.hpp"
#include "stages/sinks/mongodb/mongo_reply.hpp"
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

void one_record(record_batch& b, std::string_view key, std::string_view value,
                std::uint64_t sequence, source_id source) {
  b.clear();
  record r;
  r.key_offset = static_cast<std::uint32_t>(b.arena().size());
  b.arena().append(key);
  r.key_length = static_cast<std::uint32_t>(key.size());
  r.value_offset = static_cast<std::uint32_t>(b.arena().size());
  b.arena().append(value);
  r.value_length = static_cast<std::uint32_t>(value.size());
  r.sequence = sequence;
  r.source = source;
  b.records().push_back(r);
}

std::string id_json(const bson_t* doc) {
  bson_iter_t it;
  EXPECT_TRUE(bson_iter_init_find(&it, doc, "_id"));
  bson_t only = BSON_INITIALIZER;
  bson_append_iter(&only, "_id", 3, &it);
  char* text = bson_as_relaxed_extended_json(&only, nullptr);
  std::string out(text);
  bson_free(text);
  bson_destroy(&only);
  return out;
}

// Issue 22: a record sent again (after a crash, from the spool) gets the same `_id`, so an insert
// of it is a duplicate-key answer, never a second document.
TEST(MongoDocument, IdIsDerivedFromTheRecordSoAResendHasTheSameId) {
  const std::vector<std::string> sources = {"iss", "randomuser"};
  mongo_document_builder docs(sources);
  bson_t tmp;
  bson_error_t err;
  bool checked = false;
  // Keyless, from the spool: {source, record id}, the same however often it is built.
  record_batch keyless, keyed, ext;
  one_record(keyless, "", R"({"_id":"ignored","lat":1.5})", 123456789012, 1);
  const bson_t* d = docs.build(keyless, 0, nullptr, tmp, err, checked);
  ASSERT_NE(d, nullptr) << err.message;
  const std::string first = id_json(d);
  EXPECT_EQ(first, R"({ "_id" : { "source" : "randomuser", "record" : 123456789012 } })");
  bson_destroy(&tmp);
  d = docs.build(keyless, 0, nullptr, tmp, err, checked);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(id_json(d), first);
  bson_destroy(&tmp);
  // The upsert selector is the same `_id`.
  bson_t selector = BSON_INITIALIZER;
  docs.append_id(&selector, keyless.records()[0], "", nullptr);
  EXPECT_EQ(id_json(&selector), first);
  bson_destroy(&selector);
  // Keyed: the key, whatever the record id.
  one_record(keyed, "user-7", R"({"a":1})", 5, 0);
  d = docs.build(keyed, 0, nullptr, tmp, err, checked);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(id_json(d), R"({ "_id" : "user-7" })");
  bson_destroy(&tmp);
  // Without a spool (no stable id): the ObjectId the caller made for the batch.
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "65a1b2c3d4e5f60718293a4b");
  d = docs.build(keyless, 0, &oid, tmp, err, checked);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(id_json(d), R"({ "_id" : { "$oid" : "65a1b2c3d4e5f60718293a4b" } })");
  bson_destroy(&tmp);
  // With the spool's origin (kept in the sink's ledger) in it.
  docs.set_origin("9f31c2a07b4e5d18");
  d = docs.build(keyless, 0, nullptr, tmp, err, checked);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(id_json(d),
            R"({ "_id" : { "source" : "randomuser", "spool" : "9f31c2a07b4e5d18", "record" : )"
            R"(123456789012 } })");
  bson_destroy(&tmp);
  docs.set_origin("");
  // Extended JSON takes libbson's path: the same derived `_id`.
  one_record(ext, "", R"({"when":{"$date":"2024-01-01T00:00:00Z"}})", 77, 0);
  d = docs.build(ext, 0, nullptr, tmp, err, checked);
  ASSERT_NE(d, nullptr) << err.message;
  EXPECT_FALSE(checked);
  EXPECT_EQ(id_json(d), R"({ "_id" : { "source" : "iss", "record" : 77 } })");
  bson_destroy(&tmp);
}

// What FerretDB 1.24 answers to an unordered bulk insert of 5 documents of which 3 are already
// there (captured from the local server with pymongo, issue 22): one duplicate-key writeError
// per document, by index, and nInserted for the others. The sink counts the duplicates as
// delivered and the rest as confirmed: plain documents (2) == confirmed (2), nothing retried.
TEST(MongoReply, FerretDbDuplicateKeysInAnUnorderedBulkAreAnsweredPerDocument) {
  const char* json = R"({"writeErrors":[
      {"index":0,"code":11000,"errmsg":"E11000 duplicate key error collection: eo_probe.dups"},
      {"index":2,"code":11000,"errmsg":"E11000 duplicate key error collection: eo_probe.dups"},
      {"index":4,"code":11000,"errmsg":"E11000 duplicate key error collection: eo_probe.dups"}],
    "writeConcernErrors":[],"nInserted":2,"nUpserted":0,"nMatched":0,"nModified":0,
    "nRemoved":0,"upserted":[]})";
  bson_error_t err;
  bson_t* reply = bson_new_from_json(reinterpret_cast<const std::uint8_t*>(json), -1, &err);
  ASSERT_NE(reply, nullptr) << err.message;
  std::vector<mongo_reply::write_error> errors;
  ASSERT_TRUE(mongo_reply::read_write_errors(reply, 5, errors));
  ASSERT_EQ(errors.size(), 3u);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].index, 2 * i);
    EXPECT_EQ(errors[i].code, mongo_reply::kDuplicateKey);
  }
  EXPECT_FALSE(mongo_reply::has_write_concern_error(reply));
  EXPECT_EQ(mongo_reply::confirmed_documents(reply), 5 - 3);
  bson_destroy(reply);
}

TEST(MongoOrigin, IsKeptInTheLedgerStateAndReadBack) {
  const std::string a = new_mongo_origin(), b = new_mongo_origin();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  const std::string line = mongo_origin_line(a);
  EXPECT_EQ(line, "mongo.spool=" + a + "\n");
  EXPECT_EQ(parse_mongo_origin(line), a);
  EXPECT_EQ(parse_mongo_origin("file.bytes=3\n" + line), a);
  EXPECT_EQ(parse_mongo_origin(""), "");
  EXPECT_EQ(parse_mongo_origin("mongo.spool=xyz\n"), "");
  EXPECT_EQ(parse_mongo_origin("xmongo.spool=" + a + "\n"), "");
}

}  // namespace
}  // namespace edgepipe
