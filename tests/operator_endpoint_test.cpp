// The operator endpoint's access control and read-only rule (io/http_endpoint), and the
// [http] bearer_token / basic_auth keys (config loader): secrets only from env:/file:.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "config/config_loader.hpp"
#include "io/http_endpoint.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "test_util.hpp"

namespace edgepipe {
namespace {

struct answer {
  long status = 0;
  std::string body;
};

answer fetch(unsigned port, const std::string& path, const std::string& authorization = "",
             const char* method = "GET") {
  answer a;
  CURL* h = curl_easy_init();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* headers = nullptr;
  if (!authorization.empty())
    headers = curl_slist_append(headers, ("Authorization: " + authorization).c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
  curl_easy_setopt(
      h, CURLOPT_WRITEFUNCTION, +[](char* d, std::size_t s, std::size_t n, void* u) {
        static_cast<std::string*>(u)->append(d, s * n);
        return s * n;
      });
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return a;
}

TEST(OperatorEndpoint, AuthorizationRequiredExceptOpenPathsAndReadOnly) {
  http_endpoint e;
  http_auth auth{"Bearer s3cret", "Bearer realm=\"edgepipe\"", {"/health"}};
  ASSERT_TRUE(e.start(
                   "127.0.0.1:0",
                   [](const std::string& path) {
                     return http_reply{200, "text/plain", path, {}};
                   },
                   auth)
                  .is_ok());
  EXPECT_EQ(fetch(e.port(), "/api/status").status, 401);
  EXPECT_EQ(fetch(e.port(), "/api/status", "Bearer s3cre").status, 401);
  EXPECT_EQ(fetch(e.port(), "/api/status", "Bearer s3cret!").status, 401);
  const answer ok = fetch(e.port(), "/api/status", "Bearer s3cret");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "/api/status");
  EXPECT_EQ(fetch(e.port(), "/health").status, 200);
  EXPECT_EQ(fetch(e.port(), "/api/status", "Bearer s3cret", "POST").status, 405);
  EXPECT_EQ(fetch(e.port(), "/", "Bearer s3cret", "DELETE").status, 405);
  e.stop();
}

TEST(OperatorEndpoint, NoAuthorizationConfiguredServesEveryone) {
  http_endpoint e;
  ASSERT_TRUE(e.start("127.0.0.1:0", [](const std::string&) {
                 return http_reply{200, "text/plain", "x", {}};
               }).is_ok());
  EXPECT_EQ(fetch(e.port(), "/api/status").status, 200);
  e.stop();
}

TEST(OperatorEndpoint, SecretsComeFromEnvOrFileOnly) {
  pipeline_config c;
  setenv("EDGEPIPE_TEST_OPERATOR_TOKEN", "tok", 1);
  ASSERT_TRUE(load_config_text("[http]\nbearer_token = \"env:EDGEPIPE_TEST_OPERATOR_TOKEN\"\n",
                               "t.toml", pipeline_stage_checks(), c)
                  .is_ok());
  EXPECT_EQ(c.http_server.bearer_token, "tok");

  testing::temp_dir dir;
  testing::write_file(dir / "basic", "ops:pa ss\n");
  pipeline_config b;
  ASSERT_TRUE(load_config_text("[http]\nbasic_auth = \"file:" + (dir / "basic") + "\"\n", "t.toml",
                               pipeline_stage_checks(), b)
                  .is_ok());
  EXPECT_EQ(b.http_server.basic_auth, "ops:pa ss");

  pipeline_config bad;
  const status literal = load_config_text("[http]\nbearer_token = \"hunter2\"\n", "t.toml",
                                          pipeline_stage_checks(), bad);
  EXPECT_FALSE(literal.is_ok());
  EXPECT_NE(literal.message().find("env:NAME"), std::string::npos);
  EXPECT_FALSE(load_config_text("[http]\nbearer_token = \"env:EDGEPIPE_TEST_UNSET_VAR_X\"\n",
                                "t.toml", pipeline_stage_checks(), bad)
                   .is_ok());
  EXPECT_FALSE(load_config_text("[http]\nbasic_auth = \"env:EDGEPIPE_TEST_OPERATOR_TOKEN\"\n",
                                "t.toml", pipeline_stage_checks(), bad)
                   .is_ok());  // "tok" has no user:password colon
  EXPECT_FALSE(load_config_text("[http]\nbearer_token = \"env:EDGEPIPE_TEST_OPERATOR_TOKEN\"\n"
                                "basic_auth = \"file:" +
                                    (dir / "basic") + "\"\n",
                                "t.toml", pipeline_stage_checks(), bad)
                   .is_ok());
}

}  // namespace
}  // namespace edgepipe
