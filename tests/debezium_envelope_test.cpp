// Debezium envelope from decoded pgoutput messages: the value's shape and source block, keys
// (incl. REPLICA IDENTITY FULL with a catalog primary key), topics, tombstones, primary-key
// changes (delete + tombstone + create), TOAST placeholders, truncate, and snapshot rows.
#include "stages/sources/postgres_cdc/debezium_envelope.hpp"

#include "pgoutput_test_bytes.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace edgepipe::pgcdc {
namespace {

using testing::col_def;
using testing::relation_msg;
using testing::toast;

const std::vector<col_def> kCols = {{"id", 23, true},
                                    {"name", 25, false},
                                    {"price", 1700, false, ((10 << 16) | 2) + 4},
                                    {"doc", 25, false}};

struct fixture {
  pgoutput_decoder decoder;
  debezium_envelope env;
  byte_arena out;
  std::vector<cdc_event> events;
  change_position pos;

  explicit fixture(char ident = 'd', envelope_options o = make_options()) : env(std::move(o)) {
    decoded_message m;
    EXPECT_TRUE(
        testing::decode_kept(decoder, relation_msg(16384, "public", "items", ident, kCols), m)
            .is_ok());
    pos.lsn = 0x1000;
    pos.last_commit_lsn = 0x0F00;
    pos.xid = 733;
    pos.commit_unix_us = 1'767'323'045'123'456;
    pos.now_unix_us = 1'767'323'046'000'000;
  }
  static envelope_options make_options() {
    envelope_options o;
    o.topic_prefix = "edgepipe";
    o.database = "edgepipe";
    return o;
  }
  void apply(const std::string& msg) {
    decoded_message m;
    ASSERT_TRUE(testing::decode_kept(decoder, msg, m).is_ok());
    ASSERT_TRUE(env.append_change(m, decoder, pos, out, events).is_ok());
  }
  std::string topic(std::size_t i) const {
    return std::string(out.view(events[i].topic_off, events[i].topic_len));
  }
  std::string key(std::size_t i) const {
    return std::string(out.view(events[i].key_off, events[i].key_len));
  }
  std::string value(std::size_t i) const {
    return std::string(out.view(events[i].value_off, events[i].value_len));
  }
};

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& s) {
  auto r = p.parse(s);
  EXPECT_EQ(r.error(), simdjson::SUCCESS) << s;
  return r.value_unsafe();
}

TEST(DebeziumEnvelope, InsertHasDebeziumShapeAndSourceBlock) {
  fixture f;
  f.apply(testing::insert_msg(16384, {"7", "widget", "12.50", std::nullopt}));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].op, 'c');
  EXPECT_EQ(f.topic(0), "edgepipe.public.items");
  EXPECT_EQ(f.key(0), R"({"id":7})");
  simdjson::dom::parser p;
  const std::string v = f.value(0);
  auto doc = parse(p, v);
  EXPECT_TRUE(doc["before"].is_null());
  EXPECT_EQ(simdjson::minify(doc["after"]),
            R"({"id":7,"name":"widget","price":"12.50","doc":null})");
  EXPECT_EQ(std::string_view(doc["op"]), "c");
  EXPECT_EQ(int64_t(doc["ts_ms"]), 1'767'323'046'000);
  EXPECT_EQ(int64_t(doc["ts_us"]), 1'767'323'046'000'000);
  EXPECT_TRUE(doc["transaction"].is_null());
  auto src = doc["source"];
  EXPECT_EQ(std::string_view(src["connector"]), "postgresql");
  EXPECT_EQ(std::string_view(src["name"]), "edgepipe");
  EXPECT_EQ(std::string_view(src["db"]), "edgepipe");
  EXPECT_EQ(std::string_view(src["schema"]), "public");
  EXPECT_EQ(std::string_view(src["table"]), "items");
  EXPECT_EQ(std::string_view(src["snapshot"]), "false");
  EXPECT_EQ(int64_t(src["txId"]), 733);
  EXPECT_EQ(int64_t(src["lsn"]), 0x1000);
  EXPECT_EQ(int64_t(src["ts_ms"]), 1'767'323'045'123);
  EXPECT_EQ(std::string_view(src["sequence"]), R"(["3840","4096"])");
  EXPECT_EQ(std::string_view(src["version"]).substr(0, 9), "edgepipe-");
  EXPECT_TRUE(src["xmin"].is_null());
  EXPECT_TRUE(src["origin"].is_null());
  EXPECT_TRUE(src["origin_lsn"].is_null());
  // Field order as Debezium 3.6 writes it (the source block too).
  const std::string_view order[] = {
      "version", "connector", "name",  "ts_ms", "snapshot", "db",   "sequence", "ts_us",
      "ts_ns",   "schema",    "table", "txId",  "lsn",      "xmin", "origin",   "origin_lsn"};
  std::size_t at = v.find("\"source\"");
  for (const auto k : order) {
    const auto next = v.find("\"" + std::string(k) + "\":", at);
    EXPECT_NE(next, std::string::npos) << k;
    EXPECT_GT(next, at) << k;
    at = next;
  }
  EXPECT_LT(v.find("\"before\""), v.find("\"after\""));
  EXPECT_LT(v.find("\"after\""), v.find("\"source\""));
  EXPECT_LT(v.find("\"source\""), v.find("\"op\""));
}

TEST(DebeziumEnvelope, UpdateWithoutAndWithFullReplicaIdentity) {
  fixture f;
  f.apply(testing::update_msg(16384, 0, {}, {"7", "gadget", "13.00", std::string(toast)}));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].op, 'u');
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(0));
  EXPECT_TRUE(doc["before"].is_null());  // REPLICA IDENTITY DEFAULT: no old row
  EXPECT_EQ(simdjson::minify(doc["after"]),
            R"({"id":7,"name":"gadget","price":"13.00","doc":"__debezium_unavailable_value"})");
  EXPECT_EQ(f.env.counters().unavailable_values, 1u);

  // REPLICA IDENTITY FULL: pgoutput flags every column as key; the catalog's primary key wins,
  // and the unchanged TOAST value is taken from the old row.
  fixture full('f');
  full.env.set_primary_key(16384, {"id"});
  full.apply(testing::update_msg(16384, 'O', {"7", "gadget", "13.00", "long text"},
                                 {"7", "gizmo", "13.00", std::string(toast)}));
  ASSERT_EQ(full.events.size(), 1u);
  EXPECT_EQ(full.key(0), R"({"id":7})");
  simdjson::dom::parser p2;
  auto d2 = parse(p2, full.value(0));
  EXPECT_EQ(simdjson::minify(d2["before"]),
            R"({"id":7,"name":"gadget","price":"13.00","doc":"long text"})");
  EXPECT_EQ(simdjson::minify(d2["after"]),
            R"({"id":7,"name":"gizmo","price":"13.00","doc":"long text"})");
  EXPECT_EQ(full.env.counters().unavailable_values, 0u);
}

TEST(DebeziumEnvelope, FullIdentityWithoutKnownPrimaryKeyHasNoKey) {
  fixture full('f');
  full.apply(testing::insert_msg(16384, {"7", "a", "1.00", "d"}));
  ASSERT_EQ(full.events.size(), 1u);
  EXPECT_EQ(full.events[0].key_len, 0u);
}

TEST(DebeziumEnvelope, DeleteThenTombstoneUnlessDisabled) {
  fixture f;
  f.apply(testing::delete_msg(16384, 'K', {"7", std::nullopt, std::nullopt, std::nullopt}));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].op, 'd');
  EXPECT_EQ(f.key(0), R"({"id":7})");
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(0));
  EXPECT_EQ(simdjson::minify(doc["before"]), R"({"id":7,"name":null,"price":null,"doc":null})");
  EXPECT_TRUE(doc["after"].is_null());
  EXPECT_EQ(f.events[1].op, 0);
  EXPECT_EQ(f.events[1].value_len, 0u);
  EXPECT_EQ(f.key(1), R"({"id":7})");
  EXPECT_EQ(f.topic(1), "edgepipe.public.items");

  auto o = fixture::make_options();
  o.tombstones = false;
  fixture nt('d', o);
  nt.apply(testing::delete_msg(16384, 'K', {"7", std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_EQ(nt.events.size(), 1u);
}

TEST(DebeziumEnvelope, PrimaryKeyChangeIsDeleteTombstoneCreate) {
  fixture f;
  f.apply(testing::update_msg(16384, 'K', {"7", std::nullopt, std::nullopt, std::nullopt},
                              {"8", "widget", "12.50", "x"}));
  ASSERT_EQ(f.events.size(), 3u);
  EXPECT_EQ(f.events[0].op, 'd');
  EXPECT_EQ(f.key(0), R"({"id":7})");
  EXPECT_EQ(f.events[1].op, 0);
  EXPECT_EQ(f.key(1), R"({"id":7})");
  EXPECT_EQ(f.events[2].op, 'c');
  EXPECT_EQ(f.key(2), R"({"id":8})");
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(2));
  EXPECT_TRUE(doc["before"].is_null());
  EXPECT_EQ(int64_t(doc["after"]["id"]), 8);
  EXPECT_EQ(f.env.counters().primary_key_changes, 1u);

  // Under FULL identity the same holds when the key columns differ between old and new.
  fixture full('f');
  full.env.set_primary_key(16384, {"id"});
  full.apply(testing::update_msg(16384, 'O', {"1", "a", "1.00", "d"}, {"2", "a", "1.00", "d"}));
  ASSERT_EQ(full.events.size(), 3u);
  EXPECT_EQ(full.key(0), R"({"id":1})");
  EXPECT_EQ(full.key(2), R"({"id":2})");
  // ...and a non-key change is a plain update.
  full.events.clear();
  full.apply(testing::update_msg(16384, 'O', {"2", "a", "1.00", "d"}, {"2", "b", "1.00", "d"}));
  ASSERT_EQ(full.events.size(), 1u);
  EXPECT_EQ(full.events[0].op, 'u');
}

TEST(DebeziumEnvelope, CompositeKeysAndNumericKeysRenderTyped) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(testing::decode_kept(
                  d,
                  relation_msg(5, "sales", "lines", 'd',
                               {{"order_id", 20, true}, {"line", 21, true}, {"sku", 25, false}}),
                  m)
                  .is_ok());
  debezium_envelope env(fixture::make_options());
  byte_arena out;
  std::vector<cdc_event> ev;
  ASSERT_TRUE(
      testing::decode_kept(d, testing::insert_msg(5, {"9000000000", "3", "X-1"}), m).is_ok());
  ASSERT_TRUE(env.append_change(m, d, change_position{}, out, ev).is_ok());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(out.view(ev[0].key_off, ev[0].key_len), R"({"order_id":9000000000,"line":3})");
  EXPECT_EQ(out.view(ev[0].topic_off, ev[0].topic_len), "edgepipe.sales.lines");
  // No txId/commit LSN known: nulls, still valid JSON.
  simdjson::dom::parser p;
  auto doc = parse(p, std::string(out.view(ev[0].value_off, ev[0].value_len)));
  EXPECT_TRUE(doc["source"]["txId"].is_null());
  EXPECT_EQ(std::string_view(doc["source"]["sequence"]), R"([null,"0"])");
}

TEST(DebeziumEnvelope, TruncateIsOneKeylessEventPerTable) {
  fixture f;
  decoded_message m;
  ASSERT_TRUE(testing::decode_kept(
                  f.decoder, relation_msg(16385, "public", "other", 'd', {{"k", 20, true}}), m)
                  .is_ok());
  f.apply(testing::bytes().ch('T').u32(2).u8(0).u32(16384).u32(16385).str());
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].op, 't');
  EXPECT_EQ(f.events[0].key_len, 0u);
  EXPECT_EQ(f.topic(0), "edgepipe.public.items");
  EXPECT_EQ(f.topic(1), "edgepipe.public.other");
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(1));
  EXPECT_TRUE(doc["before"].is_null());
  EXPECT_TRUE(doc["after"].is_null());
  EXPECT_EQ(std::string_view(doc["op"]), "t");
  EXPECT_EQ(std::string_view(doc["source"]["table"]), "other");
}

// A quoted PostgreSQL identifier may hold characters Kafka refuses in a topic name: they
// become '_' (as Debezium's topic naming does); the source block keeps the real names.
TEST(DebeziumEnvelope, TopicCharactersKafkaRefusesBecomeUnderscores) {
  fixture f;
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(
          f.decoder,
          relation_msg(16390, "Sales Dept", "prix\xe2\x82\xac/jour", 'd', {{"k", 20, true}}), m)
          .is_ok());
  f.apply(testing::insert_msg(16390, {"1"}));
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.topic(0), "edgepipe.Sales_Dept.prix____jour");
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(0));
  EXPECT_EQ(std::string_view(doc["source"]["schema"]), "Sales Dept");
  EXPECT_EQ(std::string_view(doc["source"]["table"]), "prix\xe2\x82\xac/jour");
}

TEST(DebeziumEnvelope, UnchangedToastPlaceholderFollowsTheColumnType) {
  // Debezium 3.6's UnchangedToastedPlaceholder: bytes for bytea, a one-element list for
  // text-like and uuid arrays, the placeholder's bytes as numbers for int4/int8/date arrays.
  pgoutput_decoder d;
  decoded_message m;
  const std::vector<col_def> cols = {{"id", 23, true},    {"t", 25, false},    {"b", 17, false},
                                     {"ta", 1009, false}, {"ja", 3807, false}, {"ia", 1007, false},
                                     {"la", 1016, false}, {"da", 1182, false}, {"ua", 2951, false},
                                     {"j", 3802, false},  {"fa", 1022, false}};
  ASSERT_TRUE(testing::decode_kept(d, relation_msg(7, "public", "big", 'd', cols), m).is_ok());
  debezium_envelope env(fixture::make_options());
  byte_arena out;
  std::vector<cdc_event> ev;
  std::vector<std::optional<std::string>> row = {"1"};
  for (std::size_t i = 1; i < cols.size(); ++i) row.emplace_back(std::string(toast));
  ASSERT_TRUE(testing::decode_kept(d, testing::update_msg(7, 0, {}, row), m).is_ok());
  ASSERT_TRUE(env.append_change(m, d, change_position{}, out, ev).is_ok());
  ASSERT_EQ(ev.size(), 1u);
  simdjson::dom::parser p;
  auto doc = parse(p, std::string(out.view(ev[0].value_off, ev[0].value_len)));
  const std::string bytes_list =
      "[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,108,97,98,108,101,95,118,"
      "97,108,117,101]";
  EXPECT_EQ(simdjson::minify(doc["after"]),
            R"({"id":1,"t":"__debezium_unavailable_value",)"
            R"("b":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==",)"
            R"("ta":["__debezium_unavailable_value"],"ja":["__debezium_unavailable_value"],)"
            R"("ia":)" +
                bytes_list + R"(,"la":)" + bytes_list + R"(,"da":)" + bytes_list +
                R"(,"ua":["b68a35a7-17ad-35b3-af2a-ae46edb4545a"],)"
                R"("j":"__debezium_unavailable_value","fa":"__debezium_unavailable_value"})");
  EXPECT_EQ(env.counters().unavailable_values, 10u);
}

TEST(DebeziumEnvelope, SnapshotMarkersAsDebezium) {
  EXPECT_EQ(snapshot_marker(true, false, true, false), "first");
  EXPECT_EQ(snapshot_marker(false, true, false, true), "last");
  EXPECT_EQ(snapshot_marker(true, true, true, true), "last");  // a snapshot of one row
  EXPECT_EQ(snapshot_marker(false, false, true, true), "last_in_data_collection");
  EXPECT_EQ(snapshot_marker(false, false, false, true), "last_in_data_collection");
  EXPECT_EQ(snapshot_marker(false, false, true, false), "first_in_data_collection");
  EXPECT_EQ(snapshot_marker(false, false, false, false), "true");
  EXPECT_EQ(snapshot_marker(true, false, true, true), "first");
}

TEST(DebeziumEnvelope, NonChangeMessagesEmitNothing) {
  fixture f;
  f.apply(testing::begin_msg(1, 2, 3));
  f.apply(testing::commit_msg(1, 2, 3));
  EXPECT_TRUE(f.events.empty());
  EXPECT_EQ(f.out.size(), 0u);
}

TEST(DebeziumEnvelope, SnapshotRowIsReadEvent) {
  fixture f;
  f.pos.snapshot = "true";
  const std::vector<column_value> row = {{value_kind::text, "1"},
                                         {value_kind::text, "a"},
                                         {value_kind::null, {}},
                                         {value_kind::text, "d"}};
  ASSERT_TRUE(
      f.env.append_snapshot_row(*f.decoder.find_relation(16384), row, f.pos, f.out, f.events)
          .is_ok());
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].op, 'r');
  simdjson::dom::parser p;
  auto doc = parse(p, f.value(0));
  EXPECT_EQ(std::string_view(doc["op"]), "r");
  EXPECT_EQ(std::string_view(doc["source"]["snapshot"]), "true");
  EXPECT_EQ(simdjson::minify(doc["after"]), R"({"id":1,"name":"a","price":null,"doc":"d"})");
  EXPECT_FALSE(f.env
                   .append_snapshot_row(*f.decoder.find_relation(16384), std::span(row).first(2),
                                        f.pos, f.out, f.events)
                   .is_ok());
}

TEST(DebeziumEnvelope, UnknownTypesAreCounted) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(
          d, relation_msg(6, "public", "geo", 'd', {{"id", 23, true}, {"p", 600, false}}), m)
          .is_ok());
  debezium_envelope env(fixture::make_options());
  byte_arena out;
  std::vector<cdc_event> ev;
  ASSERT_TRUE(testing::decode_kept(d, testing::insert_msg(6, {"1", "(1,2)"}), m).is_ok());
  ASSERT_TRUE(env.append_change(m, d, change_position{}, out, ev).is_ok());
  EXPECT_EQ(env.counters().unknown_type_values, 1u);
  simdjson::dom::parser p;
  auto doc = parse(p, std::string(out.view(ev[0].value_off, ev[0].value_len)));
  EXPECT_EQ(std::string_view(doc["after"]["p"]), "(1,2)");
}

}  // namespace
}  // namespace edgepipe::pgcdc
