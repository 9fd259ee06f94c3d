#include "io/synth_payloads.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <span>
#include <vector>

namespace edgepipe {
namespace {

using u64 = std::uint64_t;
using u32 = std::uint32_t;
using i64 = std::int64_t;
// Exact fixed-point products (price * supply) need more than 64 bits in between.
__extension__ typedef unsigned __int128 u128;

// ---- Randomness ------------------------------------------------------------------------------

u64 splitmix64(u64& x) noexcept {
  u64 z = (x += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// xoshiro256**. Every draw below is a separate statement: C++ leaves the order of calls within
// one expression unspecified, which would make output compiler-dependent.
class rng {
 public:
  explicit rng(u64 seed) noexcept {
    for (u64& word : s_) word = splitmix64(seed);
  }
  u64 next() noexcept {
    const u64 result = std::rotl(s_[1] * 5, 7) * 9;
    const u64 t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }
  // Plain modulo: biased by at most n / 2^64, invisible at these ranges, and unlike
  // std::uniform_int_distribution it gives the same numbers with every standard library.
  u64 below(u64 n) noexcept { return next() % n; }
  i64 between(i64 lo, i64 hi) noexcept {  // inclusive
    return lo + static_cast<i64>(below(static_cast<u64>(hi - lo) + 1));
  }
  bool chance(u64 per_mille) noexcept { return below(1000) < per_mille; }
  template <class T>
  const T& pick(std::span<const T> items) noexcept {
    return items[below(items.size())];
  }

 private:
  std::array<u64, 4> s_{};
};

// ---- Integer math ----------------------------------------------------------------------------

constexpr std::array<u64, 20> make_pow10() {
  std::array<u64, 20> p{};
  p[0] = 1;
  for (std::size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}
constexpr std::array<u64, 20> kPow10 = make_pow10();
constexpr u64 pow10(i64 n) noexcept { return kPow10[static_cast<std::size_t>(n)]; }

u64 magnitude(i64 v) noexcept { return v < 0 ? 0 - static_cast<u64>(v) : static_cast<u64>(v); }

// a * b / d, saturating when the quotient does not fit.
u64 mul_div(u64 a, u64 b, u64 d) noexcept {
  const u128 q = static_cast<u128>(a) * b / d;
  return q > UINT64_MAX ? UINT64_MAX : static_cast<u64>(q);
}
i64 mul_div_signed(i64 a, u64 b, u64 d) noexcept {
  const i64 q = static_cast<i64>(std::min<u64>(mul_div(magnitude(a), b, d), INT64_MAX));
  return a < 0 ? -q : q;
}

int decimal_digits(u64 v) noexcept {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// Proleptic Gregorian calendar (H. Hinnant's algorithms), days since 1970-01-01.
constexpr i64 days_from_civil(i64 y, i64 m, i64 d) noexcept {
  y -= m <= 2;
  const i64 era = (y >= 0 ? y : y - 399) / 400;
  const i64 yoe = y - era * 400;
  const i64 doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const i64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
struct civil_date {
  i64 year, month, day;
};
constexpr civil_date civil_from_days(i64 z) noexcept {
  z += 719468;
  const i64 era = (z >= 0 ? z : z - 146096) / 146097;
  const i64 doe = z - era * 146097;
  const i64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const i64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const i64 mp = (5 * doy + 2) / 153;
  const i64 m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) / 5 + 1};
}

constexpr i64 kDayMs = 86'400'000;
constexpr i64 unix_ms(i64 y, i64 m, i64 d) noexcept { return days_from_civil(y, m, d) * kDayMs; }
constexpr i64 floor_div(i64 a, i64 b) noexcept {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

constexpr u64 kStartNs = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
static_assert(unix_ms(2026, 1, 1) * 1'000'000 == static_cast<i64>(kStartNs));

// Whole years from `from_ms` to `to_ms`, as a birthday-based age.
i64 years_between(i64 from_ms, i64 to_ms) noexcept {
  const civil_date a = civil_from_days(floor_div(from_ms, kDayMs));
  const civil_date b = civil_from_days(floor_div(to_ms, kDayMs));
  const bool before_anniversary = b.month < a.month || (b.month == a.month && b.day < a.day);
  return b.year - a.year - before_anniversary;
}

// sin of `turn` (a full circle is 2^32) in Q30 fixed point, accurate to ~1e-8. Integer-only
// so the ISS track is bit-identical everywhere (std::sin is not, and FMA contraction of a
// double polynomial can differ between targets).
constexpr i64 kQ30 = i64{1} << 30;
constexpr i64 kHalfPiQ30 = 1'686'629'713;
constexpr i64 q30_mul(i64 a, i64 b) noexcept { return a * b / kQ30; }

i64 sin_q30(u32 turn) noexcept {
  const u32 quadrant = turn >> 30;
  i64 f = static_cast<i64>(turn & static_cast<u32>(kQ30 - 1));  // position within the quadrant
  if (quadrant & 1) f = kQ30 - f;
  i64 v = 0;
  if (f <= kQ30 / 2) {  // Taylor series of sin near 0
    const i64 r = q30_mul(f, kHalfPiQ30);
    const i64 r2 = q30_mul(r, r);
    i64 t = kQ30 - r2 / 72;
    t = kQ30 - q30_mul(r2, t) / 42;
    t = kQ30 - q30_mul(r2, t) / 20;
    t = kQ30 - q30_mul(r2, t) / 6;
    v = q30_mul(r, t);
  } else {  // ... and of cos near pi/2, so both stay within pi/4 of their centre
    const i64 r = q30_mul(kQ30 - f, kHalfPiQ30);
    const i64 r2 = q30_mul(r, r);
    i64 t = kQ30 - r2 / 56;
    t = kQ30 - q30_mul(r2, t) / 30;
    t = kQ30 - q30_mul(r2, t) / 12;
    v = kQ30 - q30_mul(r2, t) / 2;
  }
  return quadrant >= 2 ? -v : v;
}

// ---- Text ------------------------------------------------------------------------------------

// Appends [begin, end). std::string's iterator-pair append goes through the slower _M_replace.
void append_range(std::string& out, const char* begin, const char* end) {
  out.append(begin, static_cast<std::size_t>(end - begin));
}

void put_uint(std::string& out, u64 v) {
  char buf[24];
  append_range(out, buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Writes exactly `width` digits, zero-padded, and returns the end. The put_* helpers below fill
// a local buffer and append once: per-piece appends were most of the coingecko time.
char* write_padded(char* p, u64 v, i64 width) noexcept {
  for (i64 i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

void put_padded(std::string& out, u64 v, i64 width) {
  char buf[20];
  append_range(out, buf, write_padded(buf, v, width));
}

// v / 10^scale the way a shortest round-trip printer shows it (trailing zeros dropped), but
// with at least `min_frac` fraction digits: supplies print as "21000000.0" like the real API.
void put_decimal(std::string& out, i64 v, i64 scale, i64 min_frac) {
  char buf[48];
  char* p = buf;
  if (v < 0) *p++ = '-';
  const u64 mag = magnitude(v);
  p = std::to_chars(p, buf + sizeof buf, mag / pow10(scale)).ptr;
  u64 frac = mag % pow10(scale);
  i64 digits = scale;
  while (digits > min_frac && frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  if (digits != 0) {
    *p++ = '.';
    p = write_padded(p, frac, digits);
  }
  append_range(out, buf, p);
}

constexpr i64 kPicoScale = 12;  // prices are held in 1e-12 USD

// Below 1e-7 USD the API (Ruby floats) switches to exponent form, e.g. "1.234e-08".
void put_price(std::string& out, i64 pico, i64 decimals) {
  const u64 mag = magnitude(pico);
  if (mag != 0 && mag < 100'000) {
    if (pico < 0) out += '-';
    char digits[8];
    const auto res = std::to_chars(digits, digits + sizeof digits, mag);
    const i64 length = res.ptr - digits;
    i64 kept = length;
    while (kept > 1 && digits[kept - 1] == '0') --kept;
    out += digits[0];
    out += '.';
    if (kept == 1) out += '0';
    out.append(digits + 1, static_cast<std::size_t>(kept - 1));
    out += "e-";
    put_padded(out, static_cast<u64>(kPicoScale - (length - 1)), 2);
    return;
  }
  const u64 unit = pow10(kPicoScale - decimals);
  const i64 rounded = static_cast<i64>((mag + unit / 2) / unit);
  put_decimal(out, pico < 0 ? -rounded : rounded, decimals, 0);
}

// "2026-01-01T00:00:00.123Z"
void put_iso_ms(std::string& out, i64 ms) {
  const i64 days = floor_div(ms, kDayMs);
  const i64 in_day = ms - days * kDayMs;
  const civil_date date = civil_from_days(days);
  char buf[24];
  char* p = write_padded(buf, static_cast<u64>(date.year), 4);
  *p++ = '-';
  p = write_padded(p, static_cast<u64>(date.month), 2);
  *p++ = '-';
  p = write_padded(p, static_cast<u64>(date.day), 2);
  *p++ = 'T';
  p = write_padded(p, static_cast<u64>(in_day / 3'600'000), 2);
  *p++ = ':';
  p = write_padded(p, static_cast<u64>(in_day / 60'000 % 60), 2);
  *p++ = ':';
  p = write_padded(p, static_cast<u64>(in_day / 1'000 % 60), 2);
  *p++ = '.';
  p = write_padded(p, static_cast<u64>(in_day % 1'000), 3);
  *p++ = 'Z';
  append_range(out, buf, p);
}

void put_hex(std::string& out, rng& r, int count) {
  static constexpr char kHex[] = "0123456789abcdef";
  u64 bits = 0;
  for (int i = 0; i < count; ++i) {
    if (i % 16 == 0) bits = r.next();
    out += kHex[bits & 15];
    bits >>= 4;
  }
}

void put_uuid_v4(std::string& out, rng& r) {
  put_hex(out, r, 8);
  out += '-';
  put_hex(out, r, 4);
  out += "-4";
  put_hex(out, r, 3);
  out += '-';
  out += "89ab"[r.below(4)];
  put_hex(out, r, 3);
  out += '-';
  put_hex(out, r, 12);
}

// '#' any digit, '%' a non-zero digit, '^' an upper-case letter; anything else is literal.
void put_pattern(std::string& out, rng& r, std::string_view pattern) {
  for (const char ch : pattern) {
    if (ch == '#') {
      out += static_cast<char>('0' + r.below(10));
    } else if (ch == '%') {
      out += static_cast<char>('1' + r.below(9));
    } else if (ch == '^') {
      out += static_cast<char>('A' + r.below(26));
    } else {
      out += ch;
    }
  }
}

// ---- coingecko /api/v3/coins/markets?vs_currency=usd -----------------------------------------

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

struct coin {
  std::string id, symbol, name, image;
  u64 base_pico = 0;                                   // the price the random walk reverts to
  i64 decimals = 2;                                    // price decimals the API shows for this coin
  u64 circ_milli = 0, total_milli = 0, max_milli = 0;  // 1/1000 coins; 0 prints null
  i64 vol_ppm = 0;                                     // price step per poll
  i64 dev_ppm = 0;                                     // current price relative to base
  i64 change_e7 = 0;   // 24 h change as a fraction * 1e7 == percent * 1e5, as the API prints it
  u64 volume_ppm = 0;  // 24 h volume relative to market cap
  u64 ath_pico = 0, atl_pico = 0;
  i64 ath_ms = 0, atl_ms = 0;
  u64 roi_cost_pico = 0;  // 0 prints "roi": null
  std::string_view roi_currency;
  bool ranked = true, has_24h = true, fdv_known = true;
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

std::vector<coin> make_coins(rng& r) {
  std::vector<coin> coins;
  coins.reserve(kCoinCount);
  u64 tail_cap = 2'000'000'000;
  for (std::size_t i = 0; i < kCoinCount; ++i) coins.push_back(make_coin(i, r, tail_cap));
  return coins;
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

void put_coingecko(std::string& out, std::vector<coin>& coins, rng& r, i64 now_ms) {
  out += '[';
  for (std::size_t i = 0; i < coins.size(); ++i) {
    if (i != 0) out += ',';
    put_coin(out, coins[i], i, r, now_ms);
  }
  out += ']';
}

// ---- iss iss-now.json ------------------------------------------------------------------------

constexpr i64 kIssPeriodMs = 5'561'000;      // one orbit, ~92.7 min
constexpr i64 kIssLatAmplitudeE4 = 516'000;  // orbital inclination, 1e-4 degrees
constexpr i64 kIssLonMicrodegPerS = 60'558;  // orbital motion minus the Earth's rotation
constexpr i64 kFullCircleMicrodeg = 360'000'000;

struct iss_orbit {
  u32 phase = 0;      // argument of latitude at the start, 2^32 per turn
  i64 lon0_udeg = 0;  // longitude at the start, [0, 360) degrees
};

void put_coordinate(std::string& out, i64 e4) {
  out += '"';
  put_decimal(out, e4, 4, 4);
  out += '"';
}

void put_iss(std::string& out, const iss_orbit& orbit, rng& r, u64 t_ns) {
  const i64 elapsed_ms = static_cast<i64>((t_ns - kStartNs) / 1'000'000);
  const u32 turn =
      orbit.phase + static_cast<u32>(((elapsed_ms % kIssPeriodMs) << 32) / kIssPeriodMs);
  const i64 lat_e4 = kIssLatAmplitudeE4 * sin_q30(turn) / kQ30;
  const i64 lon_udeg =
      (orbit.lon0_udeg + elapsed_ms * kIssLonMicrodegPerS / 1000) % kFullCircleMicrodeg -
      kFullCircleMicrodeg / 2;

  // The real endpoint does not keep its key order; most bodies use the documented one.
  static constexpr std::array<std::array<int, 3>, 6> kOrders = {
      {{0, 1, 2}, {1, 0, 2}, {2, 0, 1}, {0, 2, 1}, {1, 2, 0}, {2, 1, 0}}};
  const auto& order = kOrders[r.chance(750) ? 0 : r.below(kOrders.size())];
  const bool lon_first = r.chance(250);
  out += '{';
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i != 0) out += ", ";
    switch (order[i]) {
      case 0:
        out += R"("message": "success")";
        break;
      case 1:
        out += R"("timestamp": )";
        put_uint(out, t_ns / 1'000'000'000);
        break;
      default:
        out += lon_first ? R"("iss_position": {"longitude": )" : R"("iss_position": {"latitude": )";
        put_coordinate(out, lon_first ? lon_udeg / 100 : lat_e4);
        out += lon_first ? R"(, "latitude": )" : R"(, "longitude": )";
        put_coordinate(out, lon_first ? lat_e4 : lon_udeg / 100);
        out += '}';
        break;
    }
  }
  out += '}';
}

// ---- randomuser /api/?results=1 --------------------------------------------------------------

using names = std::span<const std::string_view>;

struct nationality {
  std::string_view code, country;
  names male, female, last, cities, states, streets;
  // put_pattern() patterns. A digit-only postcode is a JSON number, as in the real API.
  std::string_view postcode, phone, cell;
  std::string_view id_name, id_pattern;  // empty pattern: "value": null
};

// Table entries are JSON string contents, so a few carry escapes on purpose (\u00e9 for é)
// to exercise unescaping alongside raw UTF-8 (this file is UTF-8).
constexpr std::string_view kUsMale[] = {"James", "Michael", "Robert", "Daniel",
                                        "Tyler", "Brandon", "Jesse",  "Gene"};
constexpr std::string_view kUsFemale[] = {"Jennifer", "Ashley", "Kathy", "Brittany",
                                          "Victoria", "Judy",   "Megan", "Sophia"};
constexpr std::string_view kUsLast[] = {"Smith",  "Johnson", "Williams", "Brown",
                                        "Garcia", "Miller",  "O'Connor", "Rodriguez"};
constexpr std::string_view kUsCities[] = {"Fort Worth", "Seattle",  "Des Moines",
                                          "Flint",      "Richmond", "Albuquerque"};
constexpr std::string_view kUsStates[] = {"Texas",    "Washington", "Iowa",
                                          "Michigan", "Virginia",   "New Mexico"};
constexpr std::string_view kUsStreets[] = {"Main St",        "Oak Lawn Ave", "Valwood Pkwy",
                                           "Pecan Acres Ln", "W Sherman Dr", "Hunters Creek Dr"};

constexpr std::string_view kGbMale[] = {"Oliver", "Harry", "George", "Jack", "Charlie", "Alfie"};
constexpr std::string_view kGbFemale[] = {"Amelia", "Isla", "Ella", "Freya", "Evie", "Poppy"};
constexpr std::string_view kGbLast[] = {"Taylor", "Davies", "Evans", "Thomas", "Roberts", "Walker"};
constexpr std::string_view kGbCities[] = {"Sheffield", "Bradford", "Brighton and Hove",
                                          "Lancaster", "Truro",    "York"};
constexpr std::string_view kGbStates[] = {"West Yorkshire", "Cornwall", "Lancashire",
                                          "Kent",           "Essex",    "Devon"};
constexpr std::string_view kGbStreets[] = {"Church Lane", "Victoria Road", "Kingsway",
                                           "The Avenue",  "Green Lane",    "Mill Road"};

constexpr std::string_view kDeMale[] = {"Jürgen", "Lukas",   "Maximilian",
                                        "Günter", "Florian", "Tobias"};
constexpr std::string_view kDeFemale[] = {"Hannelore", "Lea", "Sophie", "Käthe", "Anja", "Ursula"};
constexpr std::string_view kDeLast[] = {"Müller", "Schmidt", "Schneider",
                                        "Weiß",   "Köhler",  "Schäfer"};
constexpr std::string_view kDeCities[] = {"München", "Köln",    "Düsseldorf",
                                          "Hamburg", "Leipzig", "Görlitz"};
constexpr std::string_view kDeStates[] = {
    "Bayern", "Nordrhein-Westfalen", "Sachsen", "Hamburg", "Hessen", "Thüringen"};
constexpr std::string_view kDeStreets[] = {"Lindenstraße", "Schulstraße", "Bahnhofstraße",
                                           "Gartenstraße", "Mühlenweg",   "Am Sportplatz"};

constexpr std::string_view kFrMale[] = {"Mathéo", "Lucas", "Andr\\u00e9", "Théo", "Nathan", "Hugo"};
constexpr std::string_view kFrFemale[] = {"Léa",    "Chloé", "Manon", "Inès", "H\\u00e9l\\u00e8ne",
                                          "Camille"};
constexpr std::string_view kFrLast[] = {"Martin", "Bernard", "Lefèvre",
                                        "Dubois", "Mercier", "Fran\\u00e7ois"};
constexpr std::string_view kFrCities[] = {"Paris",    "Marseille", "Saint-Étienne",
                                          "Besançon", "Nîmes",     "Orléans"};
constexpr std::string_view kFrStates[] = {"Île-de-France", "Provence-Alpes-Côte d'Azur",
                                          "Bretagne",      "Normandie",
                                          "Occitanie",     "Grand Est"};
constexpr std::string_view kFrStreets[] = {"Rue de la Mairie",  "Rue des Jardins",
                                           "Avenue du Château", "Place de L'Église",
                                           "Rue Principale",    "Rue de L'Abbé-Roger-Derry"};

constexpr std::string_view kCaMale[] = {"Liam", "Noah", "William", "Félix", "Logan", "Samuel"};
constexpr std::string_view kCaFemale[] = {"Olivia", "Charlotte", "Zoé", "Emma", "Chloe", "Maya"};
constexpr std::string_view kCaLast[] = {"Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Wilson"};
constexpr std::string_view kCaCities[] = {"Toronto", "Montréal", "Vancouver",
                                          "Ottawa",  "Québec",   "Halifax"};
constexpr std::string_view kCaStates[] = {"Ontario",     "Québec",  "British Columbia",
                                          "Nova Scotia", "Alberta", "Manitoba"};
constexpr std::string_view kCaStreets[] = {"Dufferin St",   "Elgin St", "Rue Saint-Denis",
                                           "Parliament St", "King St",  "Maple Ave"};

constexpr std::string_view kNlMale[] = {"Daan", "Sem", "Bram", "Joël", "Thijs", "Ruud"};
constexpr std::string_view kNlFemale[] = {"Emma", "Sanne", "Fenna", "Noëlle", "Lotte", "Femke"};
constexpr std::string_view kNlLast[] = {"de Jong",      "Jansen", "de Vries",
                                        "van den Berg", "Bakker", "Visser"};
constexpr std::string_view kNlCities[] = {"Amsterdam", "Rotterdam", "Utrecht",
                                          "Den Haag",  "Groningen", "Eindhoven"};
constexpr std::string_view kNlStates[] = {"Noord-Holland", "Zuid-Holland",  "Utrecht",
                                          "Groningen",     "Noord-Brabant", "Gelderland"};
constexpr std::string_view kNlStreets[] = {"Kerkstraat",  "Dorpsstraat",  "Molenweg",
                                           "Stationsweg", "Schoolstraat", "Julianastraat"};

constexpr std::string_view kEsMale[] = {"José", "Álvaro", "Hugo", "Martín", "Raúl", "Sergio"};
constexpr std::string_view kEsFemale[] = {"María", "Lucía", "Sofía", "Inés", "Nuria", "Paula"};
constexpr std::string_view kEsLast[] = {"García",    "Fernández", "González",
                                        "Rodríguez", "Núñez",     "Muñoz"};
constexpr std::string_view kEsCities[] = {"Madrid", "Barcelona", "Sevilla",
                                          "Málaga", "Córdoba",   "Bilbao"};
constexpr std::string_view kEsStates[] = {"Comunidad de Madrid", "Cataluña", "Andalucía",
                                          "País Vasco",          "Galicia",  "Aragón"};
constexpr std::string_view kEsStreets[] = {"Calle de Alcalá",  "Avenida de América",
                                           "Calle Mayor",      "Paseo de Extremadura",
                                           "Calle de La Luna", "Avenida de Andalucía"};

constexpr std::string_view kNoMale[] = {"Bjørn", "Ørjan", "Håkon", "Magnus", "Sindre", "Even"};
constexpr std::string_view kNoFemale[] = {"Ingrid", "Åse", "Sølvi", "Nora", "Tiril", "Maja"};
constexpr std::string_view kNoLast[] = {"Hansen",  "Johansen", "Sæther",
                                        "Bråthen", "Løken",    "Strøm"};
constexpr std::string_view kNoCities[] = {"Oslo",   "Bergen",  "Trondheim",
                                          "Tromsø", "Ålesund", "Bodø"};
constexpr std::string_view kNoStates[] = {"Oslo",  "Vestland",        "Trøndelag",
                                          "Troms", "Møre og Romsdal", "Nordland"};
constexpr std::string_view kNoStreets[] = {"Kirkeveien",     "Storgata",   "Skolegata",
                                           "Bjørnstadveien", "Sørliveien", "Fjellveien"};

constexpr std::string_view kUaMale[] = {"Богдан", "Ярослав", "Олексій",
                                        "Тарас",  "Дмитро",  "Андрій"};
constexpr std::string_view kUaFemale[] = {"Олена", "Оксана",    "Софія",
                                          "Ірина", "Мирослава", "Ганна"};
constexpr std::string_view kUaLast[] = {"Шевченко", "Бондаренко", "Коваленко",
                                        "Ткаченко", "Кравчук",    "Мельник"};
constexpr std::string_view kUaCities[] = {"Київ",  "Львів",    "Харків",
                                          "Одеса", "Чернігів", "Вінниця"};
constexpr std::string_view kUaStates[] = {"Київська", "Львівська",    "Харківська",
                                          "Одеська",  "Чернігівська", "Вінницька"};
constexpr std::string_view kUaStreets[] = {"Шевченка",     "Хрещатик",          "Лесі Українки",
                                           "Грушевського", "Січових Стрільців", "Садова"};

constexpr std::string_view kRsMale[] = {"Милан", "Никола", "Лазар", "Вук", "Стефан", "Душан"};
constexpr std::string_view kRsFemale[] = {"Јована", "Милица", "Ана", "Тамара", "Драгана", "Мила"};
constexpr std::string_view kRsLast[] = {"Јовановић", "Петровић", "Николић",
                                        "Марковић",  "Ђорђевић", "Илић"};
constexpr std::string_view kRsCities[] = {"Београд",    "Нови Сад", "Ниш",
                                          "Крагујевац", "Суботица", "Чачак"};
constexpr std::string_view kRsStates[] = {"Моравички", "Златиборски", "Браничевски",
                                          "Топлички",  "Пиротски",    "Расински"};
constexpr std::string_view kRsStreets[] = {"Кнеза Милоша",  "Немањина",    "Душанова",
                                           "Војводе Степе", "Цара Лазара", "Карађорђева"};

constexpr std::string_view kFiMale[] = {"Väinö", "Eero", "Onni", "Mikko", "Jussi", "Elias"};
constexpr std::string_view kFiFemale[] = {"Aino", "Siiri", "Sanni", "Ella", "Pihla", "Veera"};
constexpr std::string_view kFiLast[] = {"Korhonen",   "Mäkinen",   "Nieminen",
                                        "Hämäläinen", "Heikkinen", "Järvinen"};
constexpr std::string_view kFiCities[] = {"Helsinki",  "Espoo",       "Tampere",
                                          "Jyväskylä", "Hämeenlinna", "Oulu"};
constexpr std::string_view kFiStates[] = {"Uusimaa",    "Pirkanmaa",         "Keski-Suomi",
                                          "Kanta-Häme", "Pohjois-Pohjanmaa", "Lappi"};
constexpr std::string_view kFiStreets[] = {"Hämeenkatu",        "Esplanadi", "Mannerheimintie",
                                           "Pispalan Valtatie", "Visiokatu", "Itsenäisyydenkatu"};

constexpr std::string_view kAuMale[] = {"Jack", "Lachlan", "Cooper", "Riley", "Mason", "Ethan"};
constexpr std::string_view kAuFemale[] = {"Charlotte", "Isla", "Mia", "Chloe", "Zoe", "Matilda"};
constexpr std::string_view kAuLast[] = {"Smith", "Jones", "Williams", "Wilson", "Taylor", "Nguyen"};
constexpr std::string_view kAuCities[] = {"Sydney", "Melbourne", "Brisbane",
                                          "Perth",  "Adelaide",  "Hobart"};
constexpr std::string_view kAuStates[] = {"New South Wales",   "Victoria",        "Queensland",
                                          "Western Australia", "South Australia", "Tasmania"};
constexpr std::string_view kAuStreets[] = {"George St", "Collins St",  "Queen St",
                                           "Hay St",    "Rundle Mall", "Elizabeth St"};

constexpr nationality kNationalities[] = {
    {"US", "United States", kUsMale, kUsFemale, kUsLast, kUsCities, kUsStates, kUsStreets, "%####",
     "(%##) %##-####", "(%##) %##-####", "SSN", "%##-##-####"},
    {"GB", "United Kingdom", kGbMale, kGbFemale, kGbLast, kGbCities, kGbStates, kGbStreets,
     "^^%# %^^", "01### ######", "07### ######", "NINO", "^^ ## ## ## ^"},
    {"DE", "Germany", kDeMale, kDeFemale, kDeLast, kDeCities, kDeStates, kDeStreets, "%####",
     "0###-#######", "01##-#######", "SVNR", "## ###### ^ ###"},
    {"FR", "France", kFrMale, kFrFemale, kFrLast, kFrCities, kFrStates, kFrStreets, "%####",
     "0%-##-##-##-##", "06-##-##-##-##", "INSEE", "%############ ##"},
    {"CA", "Canada", kCaMale, kCaFemale, kCaLast, kCaCities, kCaStates, kCaStreets, "^%^ %^%",
     "%##-%##-####", "%##-%##-####", "SIN", "%########"},
    {"NL", "Netherlands", kNlMale, kNlFemale, kNlLast, kNlCities, kNlStates, kNlStreets, "%### ^^",
     "(0###) ######", "(06) ########", "BSN", "########"},
    {"ES", "Spain", kEsMale, kEsFemale, kEsLast, kEsCities, kEsStates, kEsStreets, "%####",
     "9##-###-###", "6##-###-###", "DNI", "########-^"},
    {"NO", "Norway", kNoMale, kNoFemale, kNoLast, kNoCities, kNoStates, kNoStreets, "####",
     "%#######", "4#######", "FN", "###########"},
    {"UA", "Ukraine", kUaMale, kUaFemale, kUaLast, kUaCities, kUaStates, kUaStreets, "%####",
     "(0##) ###-####", "(09#) ###-####", "", ""},
    {"RS", "Serbia", kRsMale, kRsFemale, kRsLast, kRsCities, kRsStates, kRsStreets, "%####",
     "0##-####-###", "06#-####-###", "SID", "#########"},
    {"FI", "Finland", kFiMale, kFiFemale, kFiLast, kFiCities, kFiStates, kFiStreets, "%####",
     "0#-###-###", "04#-###-##-##", "HETU", "######-###^"},
    {"AU", "Australia", kAuMale, kAuFemale, kAuLast, kAuCities, kAuStates, kAuStreets, "%###",
     "0#-####-####", "04##-###-###", "TFN", "#########"},
};

struct timezone_info {
  std::string_view offset, description;
};
constexpr timezone_info kTimezones[] = {
    {"-12:00", "Eniwetok, Kwajalein"},
    {"-11:00", "Midway Island, Samoa"},
    {"-10:00", "Hawaii"},
    {"-9:00", "Alaska"},
    {"-8:00", "Pacific Time (US & Canada)"},
    {"-7:00", "Mountain Time (US & Canada)"},
    {"-6:00", "Central Time (US & Canada), Mexico City"},
    {"-5:00", "Eastern Time (US & Canada), Bogota, Lima"},
    {"-4:00", "Atlantic Time (Canada), Caracas, La Paz"},
    {"-3:30", "Newfoundland"},
    {"-3:00", "Brazil, Buenos Aires, Georgetown"},
    {"-2:00", "Mid-Atlantic"},
    {"-1:00", "Azores, Cape Verde Islands"},
    {"0:00", "Western Europe Time, London, Lisbon, Casablanca"},
    {"+1:00", "Brussels, Copenhagen, Madrid, Paris"},
    {"+2:00", "Kaliningrad, South Africa"},
    {"+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"},
    {"+3:30", "Tehran"},
    {"+4:00", "Abu Dhabi, Muscat, Baku, Tbilisi"},
    {"+4:30", "Kabul"},
    {"+5:00", "Ekaterinburg, Islamabad, Karachi, Tashkent"},
    {"+5:30", "Bombay, Calcutta, Madras, New Delhi"},
    {"+5:45", "Kathmandu"},
    {"+6:00", "Almaty, Dhaka, Colombo"},
    {"+7:00", "Bangkok, Hanoi, Jakarta"},
    {"+8:00", "Beijing, Perth, Singapore, Hong Kong"},
    {"+9:00", "Tokyo, Seoul, Osaka, Sapporo, Yakutsk"},
    {"+9:30", "Adelaide, Darwin"},
    {"+10:00", "Eastern Australia, Guam, Vladivostok"},
    {"+11:00", "Magadan, Solomon Islands, New Caledonia"},
    {"+12:00", "Auckland, Wellington, Fiji, Kamchatka"},
};

constexpr std::string_view kFemaleTitles[] = {"Ms", "Mrs", "Miss"};
constexpr std::string_view kStreetNicknames[] = {"Old Mill", "The Corner", "Little Italy"};
constexpr std::string_view kAdjectives[] = {"purple", "big",   "orange",  "silver",   "crazy",
                                            "happy",  "tiny",  "heavy",   "lazy",     "brown",
                                            "golden", "sad",   "red",     "blue",     "yellow",
                                            "white",  "black", "organic", "ticklish", "beautiful"};
constexpr std::string_view kAnimals[] = {
    "swan",   "butterfly", "leopard", "koala",   "elephant", "tiger",   "goose", "wolf",
    "rabbit", "lion",      "frog",    "panda",   "bird",     "fish",    "duck",  "cat",
    "dog",    "bear",      "gorilla", "peacock", "ladybug",  "meercat", "snake", "zebra"};
constexpr std::string_view kPasswords[] = {
    "lovely", "piglet", "qwerty",  "dragon",   "sunshine", "nicole",   "monkey",
    "shadow", "master", "letmein", "trustno1", "freedom",  "whatever", "football",
    "hunter", "ranger", "buster",  "killer",   "soccer",   "harley"};

// The real API writes the postcode as a number when it can: all digits and no leading zero.
void put_postcode(std::string& out, rng& r, std::string_view pattern) {
  const std::size_t start = out.size();
  put_pattern(out, r, pattern);
  const std::string_view code(out.data() + start, out.size() - start);
  const bool number = code[0] != '0' && std::all_of(code.begin(), code.end(),
                                                    [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!number) {
    out.insert(start, 1, '"');
    out += '"';
  }
}

// Emails are "first.last@example.com" in lower case: only ASCII letters change case, so JSON
// escapes and UTF-8 pass through intact.
void put_email_part(std::string& out, std::string_view name) {
  for (const char ch : name) {
    if (ch == ' ' || ch == '\'') continue;
    out += ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
}

void put_randomuser(std::string& out, rng& r, i64 now_ms) {
  const nationality& nat = r.pick<nationality>(kNationalities);
  const bool male = r.chance(500);
  const std::string_view first = r.pick<std::string_view>(male ? nat.male : nat.female);
  const std::string_view last = r.pick<std::string_view>(nat.last);
  std::string_view title = male ? "Mr" : r.pick<std::string_view>(kFemaleTitles);
  if (nat.code == "FR" && r.chance(400)) {
    title = male ? "Monsieur" : r.chance(500) ? "Madame" : "Mademoiselle";
  }

  out += R"({"results":[{"gender":")";
  out += male ? "male" : "female";
  out += R"(","name":{"title":")";
  out += title;
  out += R"(","first":")";
  out += first;
  out += R"(","last":")";
  out += last;
  out += R"("},"location":{"street":{"number":)";
  put_uint(out, static_cast<u64>(r.between(1, 9999)));
  out += R"(,"name":")";
  out += r.pick<std::string_view>(nat.streets);
  if (r.chance(30)) {  // an escaped quote now and then
    out += R"( \")";
    out += r.pick<std::string_view>(kStreetNicknames);
    out += R"(\")";
  }
  out += R"("},"city":")";
  out += r.pick<std::string_view>(nat.cities);
  out += R"(","state":")";
  out += r.pick<std::string_view>(nat.states);
  out += R"(","country":")";
  out += nat.country;
  out += R"(","postcode":)";
  put_postcode(out, r, nat.postcode);
  out += R"(,"coordinates":{"latitude":)";
  put_coordinate(out, r.between(-900'000, 900'000));
  out += R"(,"longitude":)";
  put_coordinate(out, r.between(-1'800'000, 1'800'000));
  const timezone_info& tz = r.pick<timezone_info>(kTimezones);
  out += R"(},"timezone":{"offset":")";
  out += tz.offset;
  out += R"(","description":")";
  out += tz.description;
  out += R"("}},"email":")";
  put_email_part(out, first);
  out += '.';
  put_email_part(out, last);
  out += R"(@example.com","login":{"uuid":")";
  put_uuid_v4(out, r);
  out += R"(","username":")";
  out += r.pick<std::string_view>(kAdjectives);
  out += r.pick<std::string_view>(kAnimals);
  put_uint(out, static_cast<u64>(r.between(100, 999)));
  out += R"(","password":")";
  out += r.pick<std::string_view>(kPasswords);
  out += R"(","salt":")";
  static constexpr std::string_view kAlnum =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int i = 0; i < 8; ++i) out += kAlnum[r.below(kAlnum.size())];
  out += R"(","md5":")";
  put_hex(out, r, 32);
  out += R"(","sha1":")";
  put_hex(out, r, 40);
  out += R"(","sha256":")";
  put_hex(out, r, 64);
  const i64 dob_ms = r.between(unix_ms(1945, 1, 1), unix_ms(2005, 12, 31));
  out += R"("},"dob":{"date":")";
  put_iso_ms(out, dob_ms);
  out += R"(","age":)";
  put_uint(out, static_cast<u64>(years_between(dob_ms, now_ms)));
  const i64 registered_ms = r.between(unix_ms(2002, 6, 1), unix_ms(2022, 12, 31));
  out += R"(},"registered":{"date":")";
  put_iso_ms(out, registered_ms);
  out += R"(","age":)";
  put_uint(out, static_cast<u64>(years_between(registered_ms, now_ms)));
  out += R"(},"phone":")";
  put_pattern(out, r, nat.phone);
  out += R"(","cell":")";
  put_pattern(out, r, nat.cell);
  out += R"(","id":{"name":")";
  out += nat.id_name;
  out += R"(","value":)";
  if (nat.id_pattern.empty()) {
    out += "null";
  } else {
    out += '"';
    put_pattern(out, r, nat.id_pattern);
    out += '"';
  }
  const std::string_view folder = male ? "men/" : "women/";
  const u64 portrait = r.below(100);
  out += R"(},"picture":{"large":"https://randomuser.me/api/portraits/)";
  out += folder;
  put_uint(out, portrait);
  out += R"(.jpg","medium":"https://randomuser.me/api/portraits/med/)";
  out += folder;
  put_uint(out, portrait);
  out += R"(.jpg","thumbnail":"https://randomuser.me/api/portraits/thumb/)";
  out += folder;
  put_uint(out, portrait);
  out += R"(.jpg"},"nat":")";
  out += nat.code;
  out += R"("}],"info":{"seed":")";
  put_hex(out, r, 16);
  out += R"(","results":1,"page":1,"version":"1.4"}})";
}

u64 poll_interval_ns(synth_api api) noexcept {
  switch (api) {
    case synth_api::iss:
      return 5'000'000'000;
    case synth_api::randomuser:
      return 10'000'000'000;
    case synth_api::coingecko:
      break;
  }
  return 60'000'000'000;
}

}  // namespace

std::optional<synth_api> parse_synth_api(std::string_view name) noexcept {
  for (const synth_api api : {synth_api::coingecko, synth_api::iss, synth_api::randomuser}) {
    if (name == synth_api_name(api)) return api;
  }
  return std::nullopt;
}

std::string_view synth_api_name(synth_api api) noexcept {
  switch (api) {
    case synth_api::iss:
      return "iss";
    case synth_api::randomuser:
      return "randomuser";
    case synth_api::coingecko:
      break;
  }
  return "coingecko";
}

struct synth_generator::state {
  // Each api gets its own stream, so one seed gives unrelated coingecko and iss traces.
  state(synth_api a, u64 seed) : api(a), r(seed ^ (0x5eed'0000'0000'0000 + static_cast<u64>(a))) {
    if (api == synth_api::coingecko) coins = make_coins(r);
    if (api == synth_api::iss) {
      orbit.phase = static_cast<u32>(r.next() >> 32);
      orbit.lon0_udeg = r.between(0, kFullCircleMicrodeg - 1);
    }
  }
  synth_api api;
  rng r;
  u64 made = 0;
  std::vector<coin> coins;
  iss_orbit orbit;
};

synth_generator::synth_generator(synth_api api, std::uint64_t seed)
    : state_(std::make_unique<state>(api, seed)) {}
synth_generator::~synth_generator() = default;
synth_generator::synth_generator(synth_generator&&) noexcept = default;
synth_generator& synth_generator::operator=(synth_generator&&) noexcept = default;

std::uint64_t synth_generator::next(std::string& out) {
  state& st = *state_;
  // Jitter never moves the first response before the start.
  const i64 offset =
      static_cast<i64>(st.made * poll_interval_ns(st.api)) + st.r.between(-50'000'000, 50'000'000);
  const u64 t_ns = kStartNs + static_cast<u64>(std::max<i64>(offset, 0));
  const i64 now_ms = static_cast<i64>(t_ns / 1'000'000);
  out.clear();
  switch (st.api) {
    case synth_api::coingecko:
      put_coingecko(out, st.coins, st.r, now_ms);
      break;
    case synth_api::iss:
      put_iss(out, st.orbit, st.r, t_ns);
      break;
    case synth_api::randomuser:
      put_randomuser(out, st.r, now_ms);
      break;
  }
  ++st.made;
  return t_ns;
}

std::uint64_t synth_generator::payloads_made() const noexcept { return state_->made; }

}  // namespace edgepipe
