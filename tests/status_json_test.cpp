// The status page's server side: JSON escaping of outside strings, the last-dead-letters ring,
// the append clock behind "age of the oldest unconfirmed record", and a whole /api/status
// document from a pipeline run in-process.
#include "stages/report/status_json.hpp"
#include "platform/cpu_placement.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "config/config_loader.hpp"
#include "core/waiter.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/json_out.hpp"
#include "stages/sinks/dead_letter_log.hpp"
#include "stages/spool/append_clock.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

std::string text(std::string_view s) {
  std::string out;
  append_json_text(out, s);
  return out;
}

TEST(StatusJson, EscapesMarkupQuotesControlsAndInvalidUtf8) {
  EXPECT_EQ(text("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(text("<script>&"), R"("\u003cscript\u003e\u0026")");
  EXPECT_EQ(text(std::string_view("\x01\n\t\x7f", 4)), R"("\u0001\n\t\u007f")");
  EXPECT_EQ(text("\xff\xfe ok"), R"("\ufffd\ufffd ok")");
  EXPECT_EQ(text("\xc3("), R"("\ufffd(")");                    // truncated sequence
  EXPECT_EQ(text("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate is not UTF-8
  EXPECT_EQ(text("\xe2\x80\xa8"), R"("\u2028")");              // line separator: breaks JS strings
  EXPECT_EQ(text("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");  // valid: kept
}

TEST(StatusJson, WriterBuildsValidJson) {
  json_out o;
  o.begin_object().field("name", "x<y").field("n", std::uint64_t{3}).field("r", 0.5);
  o.begin_array("list").value("a").value(1.5).end_array();
  o.null_field("none").field("yes", true).end_object();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(o.str()).get(doc), simdjson::SUCCESS) << o.str();
  EXPECT_EQ(std::string_view(doc["name"]), "x<y");
  EXPECT_EQ(std::uint64_t(doc["n"]), 3u);
  EXPECT_EQ(doc["list"].get_array().size(), 2u);
}

TEST(DeadLetterLog, KeepsTheLastNewestFirstWithAPreviewCutOnACharacter) {
  dead_letter_log log;
  EXPECT_TRUE(log.last().empty());
  for (int i = 0; i < 25; ++i)
    log.add(R"({"reason":"r)" + std::to_string(i) +
            R"(","source":"iss","received_at":"2026-01-01T00:00:00.000Z","http_status":200,)"
            R"("size":5,"truncated":false,"bytes":"<b>)" +
            std::to_string(i) + R"("})");
  EXPECT_EQ(log.total(), 25u);
  const auto last = log.last();
  ASSERT_EQ(last.size(), dead_letter_log::kKeep);
  EXPECT_EQ(last.front().number, 25u);
  EXPECT_EQ(last.front().reason, "r24");
  EXPECT_EQ(last.front().preview, "<b>24");
  EXPECT_EQ(last.back().number, 6u);
  EXPECT_EQ(last.front().http_status, 200u);

  // A long payload of two-byte characters: the preview never ends inside one.
  std::string body;
  for (int i = 0; i < 300; ++i) body += "\xc3\xa9";
  log.add(R"({"reason":"x","source":"s","bytes":")" + body + "\"}");
  const std::string p = log.last().front().preview;
  EXPECT_LE(p.size(), dead_letter_log::kPreviewBytes);
  EXPECT_EQ(p.size() % 2, 0u);
  // Not JSON (never written by the transform, but never trusted either): shown raw.
  log.add("not json <img>");
  EXPECT_EQ(log.last().front().preview, "not json <img>");
}

TEST(AppendClock, AgeOfTheOldestUnconfirmedRecord) {
  append_clock c;
  const std::uint64_t s = 1'000'000'000;
  EXPECT_EQ(c.age_of(0, 10 * s).ns, 0u);  // nothing noted
  c.note(100, 10 * s);                    // records 0..99 by t=10 s
  c.note(150, 10 * s + s / 2);            // same slot: 100..149 by 10.5 s
  c.note(300, 12 * s);                    // 150..299 by 12 s
  EXPECT_EQ(c.age_of(0, 20 * s).ns, 10 * s);
  EXPECT_TRUE(c.age_of(0, 20 * s).lower_bound);  // the first slot: may be older still
  EXPECT_EQ(c.age_of(200, 20 * s).ns, 8 * s);
  EXPECT_FALSE(c.age_of(200, 20 * s).lower_bound);
  EXPECT_EQ(c.age_of(300, 20 * s).ns, 0u);  // confirmed everything
  for (std::uint64_t i = 0; i < append_clock::kSlots + 10; ++i) c.note(400 + i, (20 + i) * s);
  EXPECT_TRUE(c.age_of(200, 2000 * s).lower_bound);  // older than the ring covers
}

TEST(StatusReport, DocumentOfAFinishedRun) {
  testing::temp_dir dir;
  std::string trace;
  for (int i = 0; i < 40; ++i)
    trace += "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
             ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"-1.25\"}}\n";
  trace += "<script>alert(1)</script>\n";
  testing::write_file(dir / "iss.jsonl", trace);
  pipeline_config c;
  ASSERT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.sinks.clear();
  sink_config s;
  s.name = "out\"<x>";
  s.type = "file";
  s.file.path = dir / "out.jsonl";
  c.sinks.push_back(s);
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = dir / "spool";
  c.spool.fsync = fsync_policy::off;
  replay_config rc;
  rc.trace = dir / "iss.jsonl";
  rc.source = "iss";
  c.replay = rc;
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  status_report report(p, "replay");
  p.start();
  // Read while the threads are joinable (after join() the pipeline says "not started").
  ASSERT_TRUE(testing::wait_until([&] { return p.finished(); }));
  const std::string json = report.json();
  p.join();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(std::string_view(doc["mode"]), "replay");
  EXPECT_EQ(std::string_view(doc["state"]), "stopped");
  EXPECT_EQ(std::uint64_t(doc["totals"]["records"]), 40u);
  EXPECT_EQ(std::uint64_t(doc["totals"]["dead_letters"]), 1u);
  simdjson::dom::element sink = doc["sinks"].at(0);
  EXPECT_EQ(std::string_view(sink["name"]), "out\"<x>");
  EXPECT_EQ(json.find("<x>"), std::string::npos);  // escaped as \u003c...\u003e
  EXPECT_EQ(std::uint64_t(sink["delivered"]), 40u);
  EXPECT_EQ(std::uint64_t(sink["backlog"]["records"]), 0u);
  EXPECT_EQ(std::string_view(doc["replay"]["state"]), "finished");
  EXPECT_DOUBLE_EQ(double(doc["replay"]["progress"]), 1.0);
  simdjson::dom::element dl = doc["dead_letters"]["last"].at(0);
  EXPECT_EQ(std::string_view(dl["preview"]), "<script>alert(1)</script>");
  EXPECT_EQ(std::string_view(dl["source"]), "iss");
  EXPECT_EQ(json.find("<script>"), std::string::npos);
  EXPECT_EQ(std::uint64_t(doc["spool"]["appended_records"]), 40u);
  // No runner placed this pipeline: the document shows what the process published last (in
  // one test process, an earlier test's placement and its counts).
  const cpu_placement_snapshot placed = current_cpu_placement();
  EXPECT_EQ(std::string_view(doc["cpus"]["mode"]), placed.mode);
  EXPECT_EQ(std::string_view(doc["cpus"]["now"]), placed.cpus);
  EXPECT_EQ(std::uint64_t(doc["cpus"]["spread"]), placed.spread_count);
  EXPECT_EQ(std::uint64_t(doc["cpus"]["narrowed"]), placed.narrow_count);
  EXPECT_EQ(bool(doc["cpus"]["spinning"]), waiter::spinning());
  bool found_iss = false;
  for (simdjson::dom::element src : doc["sources"].get_array()) {
    if (std::string_view(src["name"]) != "iss") continue;
    found_iss = true;
    EXPECT_EQ(std::uint64_t(src["payloads"]), 41u);
    EXPECT_EQ(std::uint64_t(src["records"]), 40u);
    EXPECT_EQ(std::uint64_t(src["rejected"]), 1u);
  }
  EXPECT_TRUE(found_iss);
}

}  // namespace
}  // namespace edgepipe
