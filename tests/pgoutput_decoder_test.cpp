// pgoutput v1 decoder and replication framing, from hand-built byte messages: every message
// type, the relation cache (incl. a table altered mid-stream), TOAST markers, and the error
// paths (every truncation of every message, unknown tags, changes before their Relation).
#include "stages/sources/postgres_cdc/pgoutput_decoder.hpp"

#include "pgoutput_test_bytes.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace edgepipe::pgcdc {
namespace {

using testing::bytes;
using testing::col_def;
using testing::relation_msg;
using testing::toast;

const std::vector<col_def> kCols = {{"id", 23, true}, {"name", 25, false}, {"big", 25, false}};

pgoutput_decoder with_relation() {
  pgoutput_decoder d;
  decoded_message m;
  EXPECT_TRUE(
      testing::decode_kept(d, relation_msg(16384, "public", "items", 'd', kCols), m).is_ok());
  return d;
}

TEST(PgLsn, FormatsAndParsesLikePostgres) {
  EXPECT_EQ(format_lsn(0), "0/0");
  EXPECT_EQ(format_lsn((0x16ull << 32) | 0xB374D848u), "16/B374D848");
  EXPECT_EQ(parse_lsn("16/B374D848"), (0x16ull << 32) | 0xB374D848u);
  EXPECT_EQ(parse_lsn("0/1921188"), 0x1921188u);
  EXPECT_EQ(parse_lsn(format_lsn(0xFFFFFFFFFFFFFFFFull)), 0xFFFFFFFFFFFFFFFFull);
  EXPECT_FALSE(parse_lsn(""));
  EXPECT_FALSE(parse_lsn("16"));
  EXPECT_FALSE(parse_lsn("/12"));
  EXPECT_FALSE(parse_lsn("12/"));
  EXPECT_FALSE(parse_lsn("1G/0"));
  EXPECT_FALSE(parse_lsn("1/0 "));
  EXPECT_FALSE(parse_lsn("100000000/0"));  // high half overflows 32 bits
}

TEST(PgFrame, DecodesXLogDataWithPayloadView) {
  const std::string payload = testing::begin_msg(0x100, 5, 7);
  const std::string f =
      bytes().ch('w').u64(0x0102030405060708ull).u64(0x99).i64(-3).raw(payload).str();
  replication_frame fr;
  ASSERT_TRUE(decode_frame(f, fr).is_ok());
  EXPECT_EQ(fr.kind, frame_kind::xlog_data);
  EXPECT_EQ(fr.wal_start, 0x0102030405060708ull);
  EXPECT_EQ(fr.wal_end, 0x99u);
  EXPECT_EQ(fr.send_time, -3);
  EXPECT_EQ(fr.payload, payload);
  EXPECT_EQ(fr.payload.data(), f.data() + 25);  // a view, no copy
}

TEST(PgFrame, DecodesKeepalive) {
  replication_frame fr;
  ASSERT_TRUE(decode_frame(bytes().ch('k').u64(0xABCDEF).i64(42).u8(1).str(), fr).is_ok());
  EXPECT_EQ(fr.kind, frame_kind::keepalive);
  EXPECT_EQ(fr.wal_end, 0xABCDEFu);
  EXPECT_EQ(fr.send_time, 42);
  EXPECT_TRUE(fr.reply_requested);
  ASSERT_TRUE(decode_frame(bytes().ch('k').u64(1).i64(2).u8(0).str(), fr).is_ok());
  EXPECT_FALSE(fr.reply_requested);
}

TEST(PgFrame, RejectsBadFrames) {
  replication_frame fr;
  EXPECT_FALSE(decode_frame("", fr).is_ok());
  EXPECT_FALSE(decode_frame(bytes().ch('w').u64(1).u64(2).str(), fr).is_ok());
  EXPECT_FALSE(decode_frame(bytes().ch('k').u64(1).i64(2).str(), fr).is_ok());
  EXPECT_FALSE(decode_frame(bytes().ch('k').u64(1).i64(2).u8(0).u8(0).str(), fr).is_ok());
  const status s = decode_frame(bytes().ch('z').u64(1).str(), fr);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("0x7a"), std::string::npos) << s.message();
}

TEST(PgFrame, EncodesStandbyStatusUpdate) {
  const auto b = encode_standby_status(0x0102030405060708ull, 0x10, 0x20, 0x7fff, true);
  const std::string expect =
      bytes().ch('r').u64(0x0102030405060708ull).u64(0x10).u64(0x20).i64(0x7fff).u8(1).str();
  EXPECT_EQ(std::string(b.data(), b.size()), expect);
  EXPECT_EQ(encode_standby_status(1, 1, 1, 1, false)[33], 0);
}

TEST(PgOutput, DecodesBeginCommitOrigin) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(testing::decode_kept(d, testing::begin_msg(0x5000, 777'000'000, 1234), m).is_ok());
  EXPECT_EQ(m.kind, message_kind::begin);
  EXPECT_EQ(m.final_lsn, 0x5000u);
  EXPECT_EQ(m.commit_time, 777'000'000);
  EXPECT_EQ(m.xid, 1234u);
  EXPECT_EQ(pg_time_to_unix_us(m.commit_time), 946'684'800'000'000 + 777'000'000);

  ASSERT_TRUE(testing::decode_kept(d, testing::commit_msg(0x5000, 0x5038, 888), m).is_ok());
  EXPECT_EQ(m.kind, message_kind::commit);
  EXPECT_EQ(m.commit_lsn, 0x5000u);
  EXPECT_EQ(m.end_lsn, 0x5038u);
  EXPECT_EQ(m.commit_time, 888);

  ASSERT_TRUE(testing::decode_kept(d, bytes().ch('O').u64(0x77).cstr("node_a").str(), m).is_ok());
  EXPECT_EQ(m.kind, message_kind::origin);
  EXPECT_EQ(m.origin_lsn, 0x77u);
  EXPECT_EQ(m.name, "node_a");
}

TEST(PgOutput, TypeMessageNamesACustomType) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(d, bytes().ch('Y').u32(90001).cstr("public").cstr("mood").str(), m)
          .is_ok());
  EXPECT_EQ(m.kind, message_kind::type);
  EXPECT_EQ(m.type_oid, 90001u);
  EXPECT_EQ(m.schema, "public");
  EXPECT_EQ(m.name, "mood");
  EXPECT_EQ(d.type_name(90001), "public.mood");
  EXPECT_EQ(d.type_name(23), "");
}

TEST(PgOutput, RelationIsCachedAndReplacedOnAlter) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(d, relation_msg(16384, "public", "items", 'f', kCols), m).is_ok());
  EXPECT_EQ(m.kind, message_kind::relation);
  ASSERT_NE(m.rel, nullptr);
  EXPECT_EQ(m.rel->schema, "public");
  EXPECT_EQ(m.rel->name, "items");
  EXPECT_EQ(m.rel->replica_identity, 'f');
  ASSERT_EQ(m.rel->columns.size(), 3u);
  EXPECT_EQ(m.rel->columns[0].name, "id");
  EXPECT_TRUE(m.rel->columns[0].is_key);
  EXPECT_EQ(m.rel->columns[1].type_oid, 25u);
  EXPECT_FALSE(m.rel->columns[1].is_key);
  EXPECT_EQ(d.relation_count(), 1u);

  // ALTER TABLE ADD COLUMN: the server sends a new Relation message before the next change.
  auto altered = kCols;
  altered.push_back({"price", 1700, false, (10 << 16 | 2) + 4});
  ASSERT_TRUE(
      testing::decode_kept(d, relation_msg(16384, "public", "items", 'd', altered), m).is_ok());
  EXPECT_EQ(d.relation_count(), 1u);
  ASSERT_EQ(d.find_relation(16384)->columns.size(), 4u);
  EXPECT_EQ(d.find_relation(16384)->columns[3].type_modifier, (10 << 16 | 2) + 4);
  ASSERT_TRUE(
      testing::decode_kept(d, testing::insert_msg(16384, {"1", "a", "b", "9.50"}), m).is_ok());
  EXPECT_EQ(m.new_tuple.size(), 4u);
  // The old shape no longer decodes: a tuple/relation mismatch is an error, never a misread.
  EXPECT_FALSE(testing::decode_kept(d, testing::insert_msg(16384, {"1", "a", "b"}), m).is_ok());

  // pg_catalog is sent as the empty namespace.
  ASSERT_TRUE(testing::decode_kept(d, relation_msg(11, "", "pg_thing", 'n', {}), m).is_ok());
  EXPECT_EQ(m.rel->schema, "pg_catalog");
  d.reset();
  EXPECT_EQ(d.find_relation(16384), nullptr);
}

TEST(PgOutput, InsertWithNullTextAndToast) {
  auto d = with_relation();
  decoded_message m;
  ASSERT_TRUE(testing::decode_kept(
                  d, testing::insert_msg(16384, {"42", std::nullopt, std::string(toast)}), m)
                  .is_ok());
  EXPECT_EQ(m.kind, message_kind::insert);
  ASSERT_NE(m.rel, nullptr);
  EXPECT_EQ(m.rel->name, "items");
  ASSERT_EQ(m.new_tuple.size(), 3u);
  EXPECT_EQ(m.new_tuple[0].kind, value_kind::text);
  EXPECT_EQ(m.new_tuple[0].data, "42");
  EXPECT_EQ(m.new_tuple[1].kind, value_kind::null);
  EXPECT_EQ(m.new_tuple[2].kind, value_kind::unchanged_toast);
  EXPECT_TRUE(m.old_tuple.empty());
  EXPECT_EQ(m.old_kind, 0);
}

TEST(PgOutput, TextValuesMayHoldAnyBytes) {
  auto d = with_relation();
  decoded_message m;
  const std::string odd("a\0b\xff", 4);
  ASSERT_TRUE(testing::decode_kept(d, testing::insert_msg(16384, {"1", odd, ""}), m).is_ok());
  EXPECT_EQ(m.new_tuple[1].data, odd);
  EXPECT_EQ(m.new_tuple[2].kind, value_kind::text);
  EXPECT_EQ(m.new_tuple[2].data, "");
}

TEST(PgOutput, UpdateWithoutOldKeyWithKeyAndWithFullRow) {
  auto d = with_relation();
  decoded_message m;
  // Default replica identity, key unchanged: only the new tuple.
  ASSERT_TRUE(
      testing::decode_kept(d, testing::update_msg(16384, 0, {}, {"1", "b", std::string(toast)}), m)
          .is_ok());
  EXPECT_EQ(m.kind, message_kind::update);
  EXPECT_EQ(m.old_kind, 0);
  EXPECT_TRUE(m.old_tuple.empty());
  EXPECT_EQ(m.new_tuple[1].data, "b");
  EXPECT_EQ(m.new_tuple[2].kind, value_kind::unchanged_toast);

  // Key changed: 'K' with the old key (non-key columns null).
  ASSERT_TRUE(
      testing::decode_kept(
          d, testing::update_msg(16384, 'K', {"1", std::nullopt, std::nullopt}, {"2", "b", "c"}), m)
          .is_ok());
  EXPECT_EQ(m.old_kind, 'K');
  ASSERT_EQ(m.old_tuple.size(), 3u);
  EXPECT_EQ(m.old_tuple[0].data, "1");
  EXPECT_EQ(m.old_tuple[1].kind, value_kind::null);
  EXPECT_EQ(m.new_tuple[0].data, "2");

  // REPLICA IDENTITY FULL: 'O' with the whole old row; old and new stay distinct.
  ASSERT_TRUE(
      testing::decode_kept(d, testing::update_msg(16384, 'O', {"2", "b", "c"}, {"2", "x", "c"}), m)
          .is_ok());
  EXPECT_EQ(m.old_kind, 'O');
  EXPECT_EQ(m.old_tuple[1].data, "b");
  EXPECT_EQ(m.new_tuple[1].data, "x");
}

TEST(PgOutput, DeleteWithKeyOrFullRow) {
  auto d = with_relation();
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(d, testing::delete_msg(16384, 'K', {"5", std::nullopt, std::nullopt}), m)
          .is_ok());
  EXPECT_EQ(m.kind, message_kind::remove);
  EXPECT_EQ(m.old_kind, 'K');
  EXPECT_EQ(m.old_tuple[0].data, "5");
  EXPECT_TRUE(m.new_tuple.empty());
  ASSERT_TRUE(testing::decode_kept(d, testing::delete_msg(16384, 'O', {"5", "n", "b"}), m).is_ok());
  EXPECT_EQ(m.old_kind, 'O');
  EXPECT_EQ(m.old_tuple[2].data, "b");
  EXPECT_FALSE(
      testing::decode_kept(d, testing::delete_msg(16384, 'N', {"5", "n", "b"}), m).is_ok());
}

TEST(PgOutput, TruncateListsRelationsAndOptions) {
  auto d = with_relation();
  decoded_message m;
  ASSERT_TRUE(testing::decode_kept(d, relation_msg(16385, "s2", "other", 'd', {{"k", 20, true}}), m)
                  .is_ok());
  ASSERT_TRUE(
      testing::decode_kept(d, bytes().ch('T').u32(2).u8(3).u32(16384).u32(16385).str(), m).is_ok());
  EXPECT_EQ(m.kind, message_kind::truncate);
  EXPECT_EQ(m.flags, 3);
  ASSERT_EQ(m.relids.size(), 2u);
  EXPECT_EQ(m.relids[0], 16384u);
  EXPECT_EQ(m.relids[1], 16385u);
  EXPECT_FALSE(testing::decode_kept(d, bytes().ch('T').u32(2).u8(0).u32(16384).str(), m).is_ok());
  EXPECT_FALSE(testing::decode_kept(d, bytes().ch('T').u32(1).u8(0).u32(999).str(), m).is_ok());
}

TEST(PgOutput, LogicalMessageIsDecodedForSkipping) {
  pgoutput_decoder d;
  decoded_message m;
  ASSERT_TRUE(
      testing::decode_kept(d, bytes().ch('M').u8(1).u64(9).cstr("pfx").i32(3).raw("abc").str(), m)
          .is_ok());
  EXPECT_EQ(m.kind, message_kind::message);
  EXPECT_EQ(m.name, "pfx");
  EXPECT_EQ(m.content, "abc");
}

TEST(PgOutput, ChangeBeforeRelationIsAnError) {
  pgoutput_decoder d;
  decoded_message m;
  const status s = testing::decode_kept(d, testing::insert_msg(77, {"1"}), m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("77"), std::string::npos);
  EXPECT_FALSE(testing::decode_kept(d, testing::delete_msg(77, 'K', {"1"}), m).is_ok());
  EXPECT_FALSE(testing::decode_kept(d, testing::update_msg(77, 0, {}, {"1"}), m).is_ok());
}

TEST(PgOutput, RejectsUnknownTagsAndColumnKinds) {
  auto d = with_relation();
  decoded_message m;
  EXPECT_FALSE(testing::decode_kept(d, "", m).is_ok());
  // Stream Start (protocol v2): the tag and a transaction id, NULs included.
  const status s = testing::decode_kept(d, std::string("S\0\0\0\1", 5), m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("0x53"), std::string::npos) << s.message();
  EXPECT_FALSE(
      testing::decode_kept(d, bytes().ch('I').u32(16384).ch('N').u16(3).ch('x').str(), m).is_ok());
  // Negative length
  EXPECT_FALSE(
      testing::decode_kept(d, bytes().ch('I').u32(16384).ch('N').u16(3).ch('t').i32(-1).str(), m)
          .is_ok());
  // Trailing garbage after a complete message
  EXPECT_FALSE(testing::decode_kept(d, testing::begin_msg(1, 2, 3) + "x", m).is_ok());
  EXPECT_FALSE(
      testing::decode_kept(d, testing::insert_msg(16384, {"1", "a", "b"}) + "x", m).is_ok());
}

// Every strict prefix of every valid message must be rejected (never read out of bounds,
// never accepted as something shorter).
TEST(PgOutput, EveryTruncationIsAnError) {
  const std::vector<std::string> msgs = {
      testing::begin_msg(0x5000, 1, 2),
      testing::commit_msg(0x5000, 0x5038, 3),
      bytes().ch('O').u64(0x77).cstr("node_a").str(),
      bytes().ch('Y').u32(90001).cstr("public").cstr("mood").str(),
      relation_msg(16384, "public", "items", 'd', kCols),
      testing::insert_msg(16384, {"42", std::nullopt, std::string(toast)}),
      testing::update_msg(16384, 'O', {"2", "b", "c"}, {"2", "x", "c"}),
      testing::update_msg(16384, 0, {}, {"2", "x", "c"}),
      testing::delete_msg(16384, 'K', {"5", std::nullopt, std::nullopt}),
      bytes().ch('T').u32(1).u8(0).u32(16384).str(),
  };
  for (const auto& full : msgs) {
    auto d = with_relation();
    decoded_message m;
    ASSERT_TRUE(testing::decode_kept(d, full, m).is_ok()) << "tag " << full[0];
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto d2 = with_relation();
      EXPECT_FALSE(d2.decode(std::string_view(full).substr(0, n), m).is_ok())
          << "tag " << full[0] << " prefix " << n << " of " << full.size();
    }
  }
}

// Random bytes and random mutations of valid messages: errors as values, no crash (the ASan
// build of this test is the cheap stand-in for a fuzzer).
TEST(PgOutput, SurvivesRandomMutations) {
  std::mt19937 rng(18);
  const std::string seed = testing::update_msg(16384, 'O', {"2", "b", "c"}, {"2", "x", "c"});
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto d = with_relation();
    std::string m = seed;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
    if (rng() % 3 == 0) m.resize(rng() % m.size());
    decoded_message out;
    if (testing::decode_kept(d, m, out).is_ok()) ++accepted;
    replication_frame fr;
    (void)decode_frame(m, fr);
  }
  // Some mutations only touch value bytes and stay valid; most do not.
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, 20000u);
}

}  // namespace
}  // namespace edgepipe::pgcdc
