// Synthetic coingecko /api/v3/coins/markets?vs_currency=usd bodies (io/synth_apis.hpp).
#include "io/synth_apis.hpp"

namespace edgepipe::synth_detail {
namespace {

constexpr std::size_t kCoinCount = 250;

struct known_coin {
  std::string_view id, symbol, name;
  u64 image_no;
  std::string_view image_file;
  u64 price_mantissa;
  i64 price_exponent;           // price = mantissa * 10^exponent USD
  u64 circulating, total, max;  // whole coins; 0 prints null
};

// The top of the real list (early-2024 figures); the rest of the 250 are "coin-N".
constexpr known_coin kKnownCoins[] = {
    {"bitcoin", "btc", "Bitcoin", 1, "bitcoin.png", 4352112, -2, 19600418, 21000000, 21000000},
    {"ethereum", "eth", "Ethereum", 279, "ethereum.png", 230145, -2, 120180000, 120180000, 0},
    {"tether", "usdt", "Tether", 325, "Tether.png", 10001, -4, 95000000000, 95000000000, 0},
    {"binancecoin", "bnb", "BNB", 825, "bnb-icon2_2x.png", 3124, -1, 153856150, 153856150,
     200000000},
    {"solana", "sol", "Solana", 4128, "solana.png", 9823, -2, 434000000, 565000000, 0},
    {"ripple", "xrp", "XRP", 44, "xrp-symbol-white-128.png", 5234, -4, 54300000000, 99988000000,
     100000000000},
    {"usd-coin", "usdc", "USDC", 6319, "usdc.png", 9998, -4, 26000000000, 26000000000, 0},
    {"staked-ether", "steth", "Lido Staked Ether", 13442, "steth_logo.png", 229987, -2, 9200000,
     9200000, 0},
    {"cardano", "ada", "Cardano", 975, "cardano.png", 5123, -4, 35200000000, 45000000000,
     45000000000},
    {"avalanche-2", "avax", "Avalanche", 12559, "Avalanche_Circle_RedWhite_Trans.png", 3512, -2,
     367000000, 435000000, 720000000},
    {"dogecoin", "doge", "Dogecoin", 5, "dogecoin.png", 8123, -5, 142800000000, 142800000000, 0},
    {"tron", "trx", "TRON", 1094, "tron-logo.png", 1078, -4, 88200000000, 88200000000, 0},
    {"polkadot", "dot", "Polkadot", 12171, "polkadot.png", 712, -2, 1290000000, 1380000000, 0},
    {"chainlink", "link", "Chainlink", 877, "chainlink-new-logo.png", 1487, -2, 587000000,
     1000000000, 1000000000},
    {"matic-network", "matic", "Polygon", 4713, "matic-token-icon.png", 7912, -4, 9280000000,
     10000000000, 10000000000},
    {"wrapped-bitcoin", "wbtc", "Wrapped Bitcoin", 7598, "wrapped_bitcoin_wbtc.png", 434985, -1,
     155000, 155000, 0},
    {"the-open-network", "ton", "Toncoin", 17980, "ton_symbol.png", 231, -2, 3470000000, 5100000000,
     0},
    {"shiba-inu", "shib", "Shiba Inu", 11939, "shiba.png", 912, -8, 589000000000000,
     589500000000000, 0},
    {"internet-computer", "icp", "Internet Computer", 14495, "Internet_Computer_logo.png", 1234, -2,
     459000000, 518000000, 0},
    {"dai", "dai", "Dai", 9956, "Badge_Dai.png", 9999, -4, 5300000000, 5300000000, 0},
    {"litecoin", "ltc", "Litecoin", 2, "litecoin.png", 6891, -2, 74000000, 84000000, 84000000},
    {"bitcoin-cash", "bch", "Bitcoin Cash", 780, "bitcoin-cash-circle.png", 2315, -1, 19620000,
     21000000, 21000000},
    {"uniswap", "uni", "Uniswap", 12504, "uniswap-logo.png", 621, -2, 598000000, 1000000000,
     1000000000},
    {"cosmos", "atom", "Cosmos Hub", 1481, "cosmos_hub.png", 987, -2, 384000000, 0, 0},
    {"leo-token", "leo", "LEO Token", 8418, "leo-token.png", 391, -2, 926000000, 985000000, 0},
    {"ethereum-classic", "etc", "Ethereum Classic", 453, "ethereum-classic-logo.png", 2612, -2,
     146000000, 210700000, 210700000},
    {"stellar", "xlm", "Stellar", 100, "Stellar_symbol_black_RGB.png", 1123, -4, 28400000000,
     50001786000, 50001806812},
    {"okb", "okb", "OKB", 4463, "okb.png", 523, -1, 60000000, 300000000, 300000000},
    {"near", "near", "NEAR Protocol", 10365, "near.jpg", 312, -2, 1040000000, 1170000000, 0},
    {"aptos", "apt", "Aptos", 26455, "aptos_round.png", 891, -2, 320000000, 1070000000, 0},
    {"filecoin", "fil", "Filecoin", 12817, "filecoin.png", 512, -2, 520000000, 1960000000,
     1960000000},
    {"hedera-hashgraph", "hbar", "Hedera", 3688, "hbar.png", 781, -4, 33800000000, 50000000000,
     50000000000},
    {"crypto-com-chain", "cro", "Cronos", 7310, "cro_token_logo.png", 891, -4, 26500000000,
     30263013692, 30263013692},
    {"lido-dao", "ldo", "Lido DAO", 13573, "Lido_DAO.png", 287, -2, 890000000, 1000000000,
     1000000000},
    {"arbitrum", "arb", "Arbitrum", 16547, "arb.jpg", 189, -2, 1270000000, 10000000000,
     10000000000},
    {"immutable-x", "imx", "Immutable", 17233, "immutableX-symbol-BLK-RGB.png", 234, -2, 1380000000,
     2000000000, 2000000000},
    {"vechain", "vet", "VeChain", 1167, "VeChain-Logo-768x725.png", 289, -4, 72700000000,
     85985041177, 86712634466},
    {"optimism", "op", "Optimism", 25244, "Optimism.png", 345, -2, 957000000, 4294967296, 0},
    {"kaspa", "kas", "Kaspa", 25751, "kaspa-icon-200.png", 1234, -4, 22000000000, 22000000000,
     28704026601},
    {"maker", "mkr", "Maker", 1364, "Mark_Maker.png", 19874, -1, 920000, 977631, 1005577},
    {"render-token", "rndr", "Render", 11636, "rndr.png", 456, -2, 372000000, 531000000, 0},
    {"injective-protocol", "inj", "Injective", 12882, "Secondary_Symbol.png", 345, -1, 84000000,
     100000000, 100000000},
    {"monero", "xmr", "Monero", 69, "monero_logo.png", 1672, -1, 18400000, 0, 0},
    {"the-graph", "grt", "The Graph", 13397, "Graph_Token.png", 1723, -4, 9400000000, 10788004319,
     10788004319},
    {"algorand", "algo", "Algorand", 4380, "download.png", 1789, -4, 8000000000, 10000000000,
     10000000000},
    {"fantom", "ftm", "Fantom", 4001, "Fantom_round.png", 3912, -4, 2800000000, 3175000000,
     3175000000},
    {"the-sandbox", "sand", "The Sandbox", 12129, "sandbox_logo.jpg", 4512, -4, 2200000000,
     3000000000, 3000000000},
    {"aave", "aave", "Aave", 12645, "AAVE.png", 9812, -2, 14600000, 16000000, 16000000},
    {"theta-token", "theta", "Theta Network", 2538, "theta-token-logo.png", 102, -2, 1000000000,
     1000000000, 1000000000},
    {"decentraland", "mana", "Decentraland", 878, "decentraland-mana.png", 4623, -4, 1890000000,
     2190000000, 0},
    {"axie-infinity", "axs", "Axie Infinity", 13029, "axie_infinity_logo.png", 745, -2, 137000000,
     270000000, 270000000},
    {"tezos", "xtz", "Tezos", 976, "Tezos-logo.png", 9812, -4, 990000000, 1000000000, 0},
    {"eos", "eos", "EOS", 738, "eos-eos-logo.png", 7512, -4, 1110000000, 1110000000, 0},
    {"flow", "flow", "Flow", 13446, "5f6294c0c7a8cda55cb1c936_Flow_Wordmark.png", 7823, -4,
     1480000000, 1480000000, 0},
    {"pepe", "pepe", "Pepe", 29850, "pepe-token.jpeg", 1234, -9, 420690000000000, 420690000000000,
     420690000000000},
    {"bittensor", "tao", "Bittensor", 28452, "GHmLEqxa8AAk6tx.jpg", 3125, -1, 6000000, 6000000,
     21000000},
    {"sui", "sui", "Sui", 26375, "sui_asset.jpeg", 123, -2, 1100000000, 10000000000, 10000000000},
    {"celestia", "tia", "Celestia", 31967, "tia.jpg", 1456, -2, 150000000, 1020000000, 0},
    {"first-digital-usd", "fdusd", "First Digital USD", 31079, "FDUSD_icon_black.png", 10002, -4,
     2100000000, 2100000000, 0},
    {"frax-share", "fxs", "Frax Share", 13423, "frax_share.png", 912, -2, 76000000, 99681495,
     99681495},
};

// Cents above $10, ~6 significant digits below $1, like the real feed.
i64 price_decimals(u64 pico) noexcept {
  const i64 digits = decimal_digits(pico);
  if (digits >= kPicoScale + 2) return 2;
  if (digits == kPicoScale + 1) return 4;
  return std::min<i64>(kPicoScale, kPicoScale + 6 - digits);
}

std::string image_url(u64 image_no, std::string_view file) {
  std::string url = "https://coin-images.coingecko.com/coins/images/";
  url += std::to_string(image_no);
  url += "/large/";
  url += file;
  url += '?';
  url += std::to_string(1696500000 + image_no * 7919 % 100000);
  return url;
}

coin make_coin(std::size_t index, rng& r, u64& tail_cap) {
  coin c;
  if (index < std::size(kKnownCoins)) {
    const known_coin& k = kKnownCoins[index];
    c.id = k.id;
    c.symbol = k.symbol;
    c.name = k.name;
    c.image = image_url(k.image_no, k.image_file);
    c.base_pico = k.price_mantissa * pow10(kPicoScale + k.price_exponent);
    c.circ_milli = k.circulating * 1000;
    c.total_milli = k.total * 1000;
    c.max_milli = k.max * 1000;
  } else {
    const std::string n = std::to_string(index + 1);
    c.id = "coin-" + n;
    c.symbol = "cn" + n;
    c.name = "Coin " + n;
    c.image = image_url(30000 + index, c.id + ".png");
    const i64 exponent = r.between(-6, 3);  // $0.000001 .. $9999
    const u64 mantissa = static_cast<u64>(r.between(1000, 9999));
    c.base_pico = mantissa * pow10(exponent + 9);
    tail_cap = tail_cap / 1000 * 985;  // market caps shrink down the ranking
    const u64 cap = tail_cap / 100 * static_cast<u64>(r.between(80, 120));
    c.circ_milli = cap / mantissa * pow10(3 - exponent) * 1000;
    if (r.chance(500)) c.circ_milli += static_cast<u64>(r.between(1, 999));
    if (!r.chance(450))
      c.max_milli =
          mul_div(c.circ_milli, static_cast<u64>(r.between(1000, 3000)), 1000) / 1000 * 1000;
    if (!r.chance(150)) {
      c.total_milli = mul_div(c.circ_milli, static_cast<u64>(r.between(1000, 1500)), 1000);
      if (c.max_milli != 0) c.total_milli = std::min(c.total_milli, c.max_milli);
    }
  }
  c.decimals = price_decimals(c.base_pico);
  const bool stable = c.base_pico >= 990'000'000'000 && c.base_pico <= 1'010'000'000'000;
  c.vol_ppm = stable ? 15 : r.between(600, 3500);
  c.dev_ppm = r.between(-8 * c.vol_ppm, 8 * c.vol_ppm);
  c.change_e7 = r.between(-25 * c.vol_ppm, 25 * c.vol_ppm) * 10;
  c.volume_ppm = static_cast<u64>(stable ? r.between(200'000, 900'000) : r.between(5'000, 300'000));
  c.ath_pico = mul_div(
      c.base_pico, static_cast<u64>(stable ? r.between(1010, 1300) : r.between(1100, 6000)), 1000);
  c.atl_pico = std::max<u64>(
      1, mul_div(c.base_pico, static_cast<u64>(stable ? r.between(500, 980) : r.between(1, 500)),
                 1000));
  c.ath_ms = r.between(unix_ms(2017, 12, 1), unix_ms(2025, 11, 30));
  c.atl_ms = r.between(unix_ms(2013, 7, 5), unix_ms(2023, 6, 30));
  if (!stable && r.chance(120)) {
    c.roi_cost_pico =
        std::max<u64>(1, mul_div(c.base_pico, static_cast<u64>(r.between(1, 2000)), 1000));
    static constexpr std::string_view kCurrencies[] = {"usd", "usd", "btc", "eth"};
    c.roi_currency = r.pick<std::string_view>(kCurrencies);
  }
  c.ranked = index < 200 || !r.chance(40);
  c.has_24h = index < 150 || !r.chance(25);
  c.fdv_known = r.chance(950);
  return c;
}

// One poll later: the price does a mean-reverting random walk and the 24 h change follows it
// while slowly forgetting as its window slides.
void step(coin& c, rng& r) {
  const i64 before = c.dev_ppm;
  c.dev_ppm += r.between(-c.vol_ppm, c.vol_ppm) - c.dev_ppm / 32;
  c.dev_ppm = std::clamp<i64>(c.dev_ppm, -400'000, 400'000);
  c.change_e7 += (c.dev_ppm - before) * 10 - c.change_e7 / 512;
  c.change_e7 += r.between(-c.vol_ppm, c.vol_ppm) * 2;
  c.change_e7 = std::clamp<i64>(c.change_e7, -4'000'000, 4'000'000);
}

// Over 100 lines on purpose: one CoinGecko market object field by field in the API's order,
// so the whole document's layout reads in one place.
void put_coin(std::string& out, coin& c, std::size_t index, rng& r, i64 now_ms) {
  step(c, r);
  const u64 price = mul_div(c.base_pico, static_cast<u64>(1'000'000 + c.dev_ppm), 1'000'000);
  const u64 open = mul_div(price, 10'000'000, static_cast<u64>(10'000'000 + c.change_e7));
  const u64 high = mul_div(std::max(price, open),
                           static_cast<u64>(1'000'000 + r.between(0, 3 * c.vol_ppm)), 1'000'000);
  const u64 low = mul_div(std::min(price, open),
                          static_cast<u64>(1'000'000 - r.between(0, 3 * c.vol_ppm)), 1'000'000);
  const i64 updated_ms = now_ms - r.between(1'000, 120'000);
  const bool has_24h = c.has_24h && !r.chance(4);
  if (price > c.ath_pico) {
    c.ath_pico = price;
    c.ath_ms = updated_ms;
  }
  if (price < c.atl_pico) {
    c.atl_pico = price;
    c.atl_ms = updated_ms;
  }
  // Market caps in micro-USD keep the change fields' fraction digits.
  const u64 cap_micro = mul_div(price, c.circ_milli, 1'000'000'000);
  const u64 open_cap_micro = mul_div(open, c.circ_milli, 1'000'000'000);
  u64 volume = mul_div(cap_micro / 1'000'000, c.volume_ppm, 1'000'000);
  volume = mul_div(volume, static_cast<u64>(r.between(970'000, 1'030'000)), 1'000'000);

  out += R"({"id":")";
  out += c.id;
  out += R"(","symbol":")";
  out += c.symbol;
  out += R"(","name":")";
  out += c.name;
  out += R"(","image":")";
  out += c.image;
  out += R"(","current_price":)";
  put_price(out, static_cast<i64>(price), c.decimals);
  out += R"(,"market_cap":)";
  put_uint(out, c.ranked ? cap_micro / 1'000'000 : 0);
  out += R"(,"market_cap_rank":)";
  if (c.ranked) {
    put_uint(out, index + 1);
  } else {
    out += "null";
  }
  out += R"(,"fully_diluted_valuation":)";
  const u64 fdv_supply = c.max_milli != 0 ? c.max_milli : c.total_milli;
  if (c.ranked && c.fdv_known && fdv_supply != 0) {
    put_uint(out, mul_div(price, fdv_supply, 1'000'000'000) / 1'000'000);
  } else {
    out += "null";
  }
  out += R"(,"total_volume":)";
  put_uint(out, volume);
  if (has_24h) {
    out += R"(,"high_24h":)";
    put_price(out, static_cast<i64>(high), c.decimals);
    out += R"(,"low_24h":)";
    put_price(out, static_cast<i64>(low), c.decimals);
    out += R"(,"price_change_24h":)";
    put_price(out, static_cast<i64>(price) - static_cast<i64>(open),
              std::min<i64>(kPicoScale, c.decimals + 6));
    out += R"(,"price_change_percentage_24h":)";
    put_decimal(out, c.change_e7, 5, 0);
    const i64 cap_change = static_cast<i64>(cap_micro) - static_cast<i64>(open_cap_micro);
    out += R"(,"market_cap_change_24h":)";
    put_decimal(out, c.ranked ? cap_change / 1000 : 0, 3, 0);
    out += R"(,"market_cap_change_percentage_24h":)";
    put_decimal(out,
                c.ranked && open_cap_micro != 0
                    ? mul_div_signed(cap_change, 10'000'000, open_cap_micro)
                    : 0,
                5, 0);
  } else {
    out += R"(,"high_24h":null,"low_24h":null,"price_change_24h":null,)"
           R"("price_change_percentage_24h":null,"market_cap_change_24h":null,)"
           R"("market_cap_change_percentage_24h":null)";
  }
  out += R"(,"circulating_supply":)";
  put_decimal(out, static_cast<i64>(c.circ_milli), 3, 1);
  out += R"(,"total_supply":)";
  if (c.total_milli != 0) {
    put_decimal(out, static_cast<i64>(c.total_milli), 3, 1);
  } else {
    out += "null";
  }
  out += R"(,"max_supply":)";
  if (c.max_milli != 0) {
    put_decimal(out, static_cast<i64>(c.max_milli), 3, 1);
  } else {
    out += "null";
  }
  out += R"(,"ath":)";
  put_price(out, static_cast<i64>(c.ath_pico), c.decimals);
  out += R"(,"ath_change_percentage":)";
  put_decimal(out, -static_cast<i64>(mul_div(c.ath_pico - price, 10'000'000, c.ath_pico)), 5, 0);
  out += R"(,"ath_date":")";
  put_iso_ms(out, c.ath_ms);
  out += R"(","atl":)";
  put_price(out, static_cast<i64>(c.atl_pico), c.decimals);
  out += R"(,"atl_change_percentage":)";
  put_decimal(out, static_cast<i64>(mul_div(price - c.atl_pico, 10'000'000, c.atl_pico)), 5, 0);
  out += R"(,"atl_date":")";
  put_iso_ms(out, c.atl_ms);
  out += R"(","roi":)";
  if (c.roi_cost_pico != 0) {
    const u64 times_e10 = mul_div(price, 10'000'000'000, c.roi_cost_pico);
    out += R"({"times":)";
    put_decimal(out, static_cast<i64>(times_e10), 10, 0);
    out += R"(,"currency":")";
    out += c.roi_currency;
    out += R"(","percentage":)";
    put_decimal(out, static_cast<i64>(times_e10), 8, 0);
    out += '}';
  } else {
    out += "null";
  }
  out += R"(,"last_updated":")";
  put_iso_ms(out, updated_ms);
  out += R"("})";
}

}  // namespace

std::vector<coin> make_coins(rng& r) {
  std::vector<coin> coins;
  coins.reserve(kCoinCount);
  u64 tail_cap = 2'000'000'000;
  for (std::size_t i = 0; i < kCoinCount; ++i) coins.push_back(make_coin(i, r, tail_cap));
  return coins;
}

void put_coingecko(std::string& out, std::vector<coin>& coins, rng& r, i64 now_ms) {
  out += '[';
  for (std::size_t i = 0; i < coins.size(); ++i) {
    if (i != 0) out += ',';
    put_coin(out, coins[i], i, r, now_ms);
  }
  out += ']';
}

}  // namespace edgepipe::synth_detail
