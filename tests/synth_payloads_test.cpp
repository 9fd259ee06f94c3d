#include "io/synth_payloads.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <charconv>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace edgepipe {
namespace {

constexpr std::uint64_t kStartNs = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
constexpr std::array<synth_api, 3> kApis = {synth_api::coingecko, synth_api::iss,
                                            synth_api::randomuser};

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element doc;
  const simdjson::error_code error = parser.parse(body).get(doc);
  EXPECT_EQ(error, simdjson::SUCCESS)
      << simdjson::error_message(error) << " in " << body.substr(0, 300);
  return doc;
}

std::string_view get_string(simdjson::dom::element e) {
  std::string_view s;
  EXPECT_EQ(e.get(s), simdjson::SUCCESS);
  return s;
}

double string_to_double(std::string_view s) {
  double v = NAN;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  EXPECT_EQ(res.ec, std::errc()) << s;
  EXPECT_EQ(res.ptr, s.data() + s.size()) << s;
  return v;
}

// "-8.7373": a string with exactly four decimals, as the real APIs send coordinates.
double coordinate(simdjson::dom::element e) {
  EXPECT_TRUE(e.is_string());
  const std::string_view s = get_string(e);
  const std::size_t dot = s.find('.');
  EXPECT_NE(dot, std::string_view::npos) << s;
  EXPECT_EQ(s.size() - dot, 5u) << s;
  return string_to_double(s);
}

TEST(SynthPayloads, ParsesApiNames) {
  for (const synth_api api : kApis) EXPECT_EQ(parse_synth_api(synth_api_name(api)), api);
  EXPECT_EQ(synth_api_name(synth_api::coingecko), "coingecko");
  EXPECT_EQ(synth_api_name(synth_api::iss), "iss");
  EXPECT_EQ(synth_api_name(synth_api::randomuser), "randomuser");
  EXPECT_EQ(parse_synth_api(""), std::nullopt);
  EXPECT_EQ(parse_synth_api("ISS"), std::nullopt);
  EXPECT_EQ(parse_synth_api("coingecko "), std::nullopt);
}

TEST(SynthPayloads, EveryApiMakesValidJsonAndUtf8) {
  simdjson::dom::parser parser;
  std::string body;
  for (const synth_api api : kApis) {
    synth_generator gen(api, 1);
    for (int i = 0; i < 30; ++i) {
      gen.next(body);
      ASSERT_TRUE(simdjson::validate_utf8(body)) << synth_api_name(api);
      parse(parser, body);
    }
    EXPECT_EQ(gen.payloads_made(), 30u);
  }
}

TEST(SynthPayloads, SameSeedGivesIdenticalBytes) {
  for (const synth_api api : kApis) {
    synth_generator a(api, 7), b(api, 7);
    std::string body_a, body_b;
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(a.next(body_a), b.next(body_b));
      ASSERT_EQ(body_a, body_b) << synth_api_name(api) << " payload " << i;
    }
  }
}

TEST(SynthPayloads, DifferentSeedsGiveDifferentBytes) {
  for (const synth_api api : kApis) {
    synth_generator a(api, 1), b(api, 2);
    std::string body_a, body_b;
    int differing = 0;
    for (int i = 0; i < 5; ++i) {
      a.next(body_a);
      b.next(body_b);
      differing += body_a != body_b;
    }
    EXPECT_EQ(differing, 5) << synth_api_name(api);
  }
}

TEST(SynthPayloads, ReceiveTimesFollowThePollInterval) {
  const std::array<std::uint64_t, 3> intervals = {60'000'000'000, 5'000'000'000, 10'000'000'000};
  std::string body;
  for (std::size_t a = 0; a < kApis.size(); ++a) {
    synth_generator gen(kApis[a], 3);
    std::uint64_t previous = gen.next(body);
    EXPECT_GE(previous, kStartNs);
    EXPECT_LE(previous, kStartNs + 50'000'000);
    for (int i = 1; i < 100; ++i) {
      const std::uint64_t t = gen.next(body);
      ASSERT_GT(t, previous);
      EXPECT_GE(t - previous, intervals[a] - 100'000'000) << synth_api_name(kApis[a]);
      EXPECT_LE(t - previous, intervals[a] + 100'000'000) << synth_api_name(kApis[a]);
      const std::uint64_t nominal = kStartNs + static_cast<std::uint64_t>(i) * intervals[a];
      EXPECT_LE(t > nominal ? t - nominal : nominal - t, 50'000'000u);
      previous = t;
    }
  }
}

TEST(SynthPayloads, ReusesTheOutputBuffer) {
  for (const synth_api api : kApis) {
    synth_generator gen(api, 5);
    std::string body;
    body.reserve(512 * 1024);
    const char* data = body.data();
    for (int i = 0; i < 20; ++i) gen.next(body);
    EXPECT_EQ(body.data(), data) << synth_api_name(api);
  }
}

constexpr std::array<std::string_view, 26> kCoinFields = {
    "id",
    "symbol",
    "name",
    "image",
    "current_price",
    "market_cap",
    "market_cap_rank",
    "fully_diluted_valuation",
    "total_volume",
    "high_24h",
    "low_24h",
    "price_change_24h",
    "price_change_percentage_24h",
    "market_cap_change_24h",
    "market_cap_change_percentage_24h",
    "circulating_supply",
    "total_supply",
    "max_supply",
    "ath",
    "ath_change_percentage",
    "ath_date",
    "atl",
    "atl_change_percentage",
    "atl_date",
    "roi",
    "last_updated",
};

TEST(SynthPayloads, CoingeckoHas250CoinsWithEveryFieldInOrder) {
  synth_generator gen(synth_api::coingecko, 11);
  simdjson::dom::parser parser;
  std::string body;
  std::vector<std::string> first_ids;
  std::vector<double> first_prices;
  int moved = 0, nulls = 0, rois = 0, exponents = 0;
  for (int payload = 0; payload < 5; ++payload) {
    gen.next(body);
    const simdjson::dom::array coins = parse(parser, body).get_array();
    ASSERT_EQ(coins.size(), 250u);
    std::set<std::string_view> ids;
    std::size_t index = 0;
    for (const simdjson::dom::element coin : coins) {
      const simdjson::dom::object fields = coin.get_object();
      ASSERT_EQ(fields.size(), kCoinFields.size());
      std::size_t k = 0;
      for (const auto field : fields) {
        ASSERT_EQ(field.key, kCoinFields[k]) << "coin " << index;
        if (field.value.is_null()) ++nulls;
        ++k;
      }
      const std::string_view id = get_string(coin["id"]);
      EXPECT_TRUE(ids.insert(id).second) << id;
      const double price = coin["current_price"].get_double();
      EXPECT_GT(price, 0);
      EXPECT_TRUE(coin["market_cap"].is_uint64() || coin["market_cap"].is_int64());
      EXPECT_TRUE(coin["market_cap_rank"].is_null() || coin["market_cap_rank"].is_int64());
      EXPECT_EQ(get_string(coin["last_updated"]).size(), 24u);
      EXPECT_EQ(get_string(coin["ath_date"]).back(), 'Z');
      const simdjson::dom::element roi = coin["roi"];
      if (!roi.is_null()) {
        ++rois;
        EXPECT_GT(roi["times"].get_double().value(), 0);
        EXPECT_TRUE(roi["currency"].is_string());
        EXPECT_GT(roi["percentage"].get_double().value(), 0);
      }
      if (payload == 0) {
        first_ids.emplace_back(id);
        first_prices.push_back(price);
      } else {
        EXPECT_EQ(id, first_ids[index]) << "ids are stable across payloads";
        const double drift = price / first_prices[index];
        EXPECT_GT(drift, 0.8);
        EXPECT_LT(drift, 1.25);
        moved += price != first_prices[index];
      }
      ++index;
    }
    for (std::size_t at = body.find("e-"); at != std::string::npos; at = body.find("e-", at + 1))
      exponents += body[at - 1] >= '0' && body[at - 1] <= '9';  // not "the-graph"
  }
  EXPECT_EQ(first_ids[0], "bitcoin");
  EXPECT_EQ(first_ids[249], "coin-250");
  EXPECT_GT(moved, 500) << "prices drift between payloads";
  EXPECT_GT(nulls, 5 * 100) << "many fields are null, as in the real feed";
  EXPECT_GT(rois, 0);
  EXPECT_GT(exponents, 0) << "tiny prices print in exponent form";
}

TEST(SynthPayloads, CoingeckoPayloadIsAboutTheRealSize) {
  synth_generator gen(synth_api::coingecko, 1);
  std::string body;
  for (int i = 0; i < 3; ++i) {
    gen.next(body);
    EXPECT_GT(body.size(), 100u * 1024);
    EXPECT_LT(body.size(), 300u * 1024);
  }
}

TEST(SynthPayloads, IssPositionIsStringsMovingAlongAnOrbit) {
  synth_generator gen(synth_api::iss, 21);
  simdjson::dom::parser parser;
  std::string body;
  double previous_lat = 0, previous_lon = 0;
  int reordered = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t t = gen.next(body);
    const simdjson::dom::element doc = parse(parser, body);
    EXPECT_EQ(get_string(doc["message"]), "success");
    EXPECT_EQ(doc["timestamp"].get_uint64().value(), t / 1'000'000'000);
    const double lat = coordinate(doc["iss_position"]["latitude"]);
    const double lon = coordinate(doc["iss_position"]["longitude"]);
    EXPECT_LE(std::fabs(lat), 51.6);
    EXPECT_GE(lon, -180.0);
    EXPECT_LE(lon, 180.0);
    if (i > 0) {
      EXPECT_LT(std::fabs(lat - previous_lat), 0.4);  // ~7.7 km/s for 5 s
      const double eastward = std::fmod(lon - previous_lon + 360.0, 360.0);
      EXPECT_GT(eastward, 0.2);
      EXPECT_LT(eastward, 0.4);
    }
    previous_lat = lat;
    previous_lon = lon;
    reordered += body.rfind(R"({"message": "success", "timestamp": )", 0) != 0;
  }
  EXPECT_GT(reordered, 0) << "the real API does not keep its key order";
  EXPECT_LT(reordered, 2000);
}

TEST(SynthPayloads, RandomuserHasOneRealisticResult) {
  synth_generator gen(synth_api::randomuser, 5);
  simdjson::dom::parser parser;
  std::string body;
  int numeric_postcodes = 0, string_postcodes = 0, null_ids = 0;
  for (int i = 0; i < 200; ++i) {
    gen.next(body);
    const simdjson::dom::element doc = parse(parser, body);
    const simdjson::dom::array results = doc["results"].get_array();
    ASSERT_EQ(results.size(), 1u);
    const simdjson::dom::element user = results.at(0);
    const std::string_view gender = get_string(user["gender"]);
    EXPECT_TRUE(gender == "male" || gender == "female") << gender;
    EXPECT_TRUE(user["name"]["first"].is_string());
    EXPECT_TRUE(user["location"]["street"]["number"].is_int64());
    const simdjson::dom::element postcode = user["location"]["postcode"];
    if (postcode.is_int64()) {
      ++numeric_postcodes;
    } else {
      ASSERT_TRUE(postcode.is_string());
      ++string_postcodes;
    }
    EXPECT_LE(std::fabs(coordinate(user["location"]["coordinates"]["latitude"])), 90.0);
    EXPECT_LE(std::fabs(coordinate(user["location"]["coordinates"]["longitude"])), 180.0);
    EXPECT_TRUE(user["location"]["timezone"]["offset"].is_string());
    EXPECT_NE(get_string(user["email"]).find("@example.com"), std::string_view::npos);
    EXPECT_EQ(get_string(user["login"]["md5"]).size(), 32u);
    EXPECT_EQ(get_string(user["login"]["sha1"]).size(), 40u);
    EXPECT_EQ(get_string(user["login"]["sha256"]).size(), 64u);
    const std::int64_t age = user["dob"]["age"].get_int64();
    EXPECT_GE(age, 20);
    EXPECT_LE(age, 81);
    EXPECT_EQ(get_string(user["dob"]["date"]).size(), 24u);
    EXPECT_TRUE(user["registered"]["age"].is_int64());
    if (user["id"]["value"].is_null()) ++null_ids;
    EXPECT_EQ(get_string(user["nat"]).size(), 2u);
    EXPECT_EQ(get_string(user["picture"]["thumbnail"]).rfind("https://randomuser.me/", 0), 0u);
    EXPECT_EQ(doc["info"]["results"].get_int64().value(), 1);
    EXPECT_EQ(doc["info"]["page"].get_int64().value(), 1);
    EXPECT_EQ(get_string(doc["info"]["version"]), "1.4");
  }
  EXPECT_GT(numeric_postcodes, 0);
  EXPECT_GT(string_postcodes, 0);
  EXPECT_GT(null_ids, 0);
}

TEST(SynthPayloads, RandomuserLoginUuidsAreUniqueV4) {
  synth_generator gen(synth_api::randomuser, 9);
  simdjson::dom::parser parser;
  std::string body;
  std::set<std::string> uuids;
  for (int i = 0; i < 1000; ++i) {
    gen.next(body);
    const std::string_view uuid = get_string(parse(parser, body)["results"].at(0)["login"]["uuid"]);
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid[8], '-');
    EXPECT_EQ(uuid[14], '4');
    EXPECT_NE(std::string_view("89ab").find(uuid[19]), std::string_view::npos) << uuid;
    uuids.emplace(uuid);
  }
  EXPECT_EQ(uuids.size(), 1000u);
}

TEST(SynthPayloads, RandomuserExercisesUnicodeAndEscapes) {
  synth_generator gen(synth_api::randomuser, 13);
  simdjson::dom::parser parser;
  std::string body;
  int unicode_escapes = 0, decoded_escapes = 0, quoted_streets = 0, cyrillic = 0, latin_utf8 = 0;
  for (int i = 0; i < 1000; ++i) {
    gen.next(body);
    const simdjson::dom::element user = parse(parser, body)["results"].at(0);
    std::string name(get_string(user["name"]["first"]));
    name += ' ';
    name += get_string(user["name"]["last"]);
    if (body.find("\\u00") != std::string::npos) {
      ++unicode_escapes;
      EXPECT_EQ(name.find('\\'), std::string::npos) << "escapes are decoded: " << name;
      decoded_escapes += name.find('\xc3') != std::string::npos;
    }
    if (get_string(user["location"]["street"]["name"]).find('"') != std::string_view::npos)
      ++quoted_streets;
    cyrillic += name.find('\xd0') != std::string::npos;
    latin_utf8 += name.find('\xc3') != std::string::npos;
  }
  EXPECT_GT(unicode_escapes, 0);
  EXPECT_EQ(decoded_escapes, unicode_escapes);
  EXPECT_GT(quoted_streets, 0);
  EXPECT_GT(cyrillic, 0);
  EXPECT_GT(latin_utf8, 0);
}

}  // namespace
}  // namespace edgepipe
