// Names and messages that reach JSON (summary, counter reports, logs in json format) or
// Prometheus labels (/metrics) are escaped by one function each: quotes, backslashes,
// newlines, control bytes and invalid UTF-8 never break the output.
#include "platform/text_escape.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <regex>
#include <sstream>

#include "config/config_loader.hpp"
#include "platform/log.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/metrics_text.hpp"
#include "stages/report/run_summary.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

// Quote, backslash, newline, CR, tab, NUL, ESC, DEL, a stray continuation byte, a cut-short
// 3-byte sequence, an overlong '/', a UTF-16 surrogate, and valid UTF-8 (é, 😀).
const std::string kNasty =
    std::string("a\"b\\c\nd\re\tf") + std::string(1, '\0') +
    "g\x1b h\x7f i\x80j\xE2\x82k\xC0\xAFl\xED\xA0\x80m\xC3\xA9n\xF0\x9F\x98\x80";

TEST(TextEscape, JsonStringParsesBackToTheTextWithInvalidBytesReplaced) {
  const std::string quoted = json_string(kNasty);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(quoted).get(doc), simdjson::SUCCESS) << quoted;
  std::string_view back;
  ASSERT_EQ(doc.get(back), simdjson::SUCCESS);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(back, std::string("a\"b\\c\nd\re\tf") + std::string(1, '\0') + "g\x1b h\x7f i" + r +
                      "j" + r + r + "k" + r + r + "l" + r + r + r + "m\xC3\xA9n\xF0\x9F\x98\x80");
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("\x01"), "\"\\u0001\"");
}

TEST(TextEscape, PrometheusLabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(prometheus_label("sink", "a\"b\\c\nd"), "sink=\"a\\\"b\\\\c\\nd\"");
  const std::string l = prometheus_label("source", kNasty);
  EXPECT_EQ(l.find('\n'), std::string::npos) << l;
  // Valid UTF-8 throughout, and the value ends at the last quote only.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json_string(l)).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(l.find("\xEF\xBF\xBD"), l.find('j') - 3);
  const std::regex label(R"re(^source="(?:[^"\\\n]|\\.)*"$)re");
  EXPECT_TRUE(std::regex_match(l, label)) << l;
}

/// Runs `body` with stderr going to a file; returns what was written.
template <class F>
std::string capture_stderr(const testing::temp_dir& dir, F body) {
  const std::string path = dir / "stderr.txt";
  const int saved = dup(2);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
  body();
  dup2(saved, 2);
  close(saved);
  return testing::read_file(path);
}

TEST(TextEscape, JsonLogLinesStayOneValidObjectPerLine) {
  testing::temp_dir dir;
  const std::string out = capture_stderr(dir, [] {
    set_log_json(true);
    log_line(log_level::warn, "source " + kNasty, "message " + kNasty);
    set_log_json(false);
  });
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  std::string_view msg;
  ASSERT_EQ(doc["msg"].get(msg), simdjson::SUCCESS);
  EXPECT_EQ(msg.substr(0, 13), "message a\"b\\c");
}

// Names reach the summary, the counter report and /metrics. The loader only lets plain names
// through, but a pipeline_config can also be built in code: the outputs must hold either way.
TEST(TextEscape, SummaryCountersAndMetricsSurviveAHostileSinkName) {
  testing::temp_dir dir;
  std::string trace;
  for (int i = 0; i < 20; ++i)
    trace += "{\"message\":\"success\",\"timestamp\":" + std::to_string(1700000000 + i) +
             ",\"iss_position\":{\"latitude\":\"1.5\",\"longitude\":\"2.5\"}}\n";
  testing::write_file(dir / "iss.jsonl", trace);
  pipeline_config c;
  ASSERT_TRUE(load_default_config(pipeline_stage_checks(), c).is_ok());
  c.sinks.clear();
  sink_config s;
  s.name = "x\"y\\z\nw\x01\xff";
  s.type = "file";
  s.file.path = dir / "out.jsonl";
  c.sinks.push_back(s);
  c.dead_letter.path = dir / "dead.jsonl";
  c.spool.dir = dir / "spool";
  c.spool.fsync = fsync_policy::off;
  c.replay = replay_config{dir / "iss.jsonl", 0, "iss"};
  pipeline p(c);
  ASSERT_TRUE(p.build().is_ok());
  p.start();
  p.join();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string summary = summary_json(p, 1.0);
  ASSERT_EQ(parser.parse(summary).get(doc), simdjson::SUCCESS) << summary;
  std::int64_t delivered = 0;
  EXPECT_EQ(doc["delivered"]["x\"y\\z\nw\x01\xEF\xBF\xBD"].get(delivered), simdjson::SUCCESS)
      << summary;
  EXPECT_EQ(delivered, 20);
  std::istringstream report(counters_report(p));
  for (std::string line; std::getline(report, line);)
    EXPECT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
  // Every /metrics line: a comment, or name{label="value",...} number.
  const std::regex sample(
      R"re(^edgepipe_[a-z_0-9]+(\{[a-z_]+="(?:[^"\\\n]|\\.)*"(,[a-z_]+="(?:[^"\\\n]|\\.)*")*\})? [0-9.e+-]+$)re");
  std::istringstream metrics(prometheus_text(p));
  int samples = 0;
  for (std::string line; std::getline(metrics, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 20);
  EXPECT_NE(prometheus_text(p).find("sink=\"x\\\"y\\\\z\\nw\x01\xEF\xBF\xBD\""), std::string::npos);
}

}  // namespace
}  // namespace edgepipe
