// Synthetic randomuser.me /api/?results=1 bodies (io/synth_apis.hpp).
#include "io/synth_apis.hpp"

namespace edgepipe::synth_detail {
namespace {

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

}  // namespace

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

}  // namespace edgepipe::synth_detail
