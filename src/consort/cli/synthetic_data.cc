#include "consort/cli/synthetic_data.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <unordered_set>

namespace consort::cli {
namespace {

// mt19937_64's output sequence is fixed by the standard; the range reduction below is ours, so
// a seed gives the same data with every standard library (std::uniform_int_distribution would
// not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n), n > 0, without modulo bias.
  uint64_t Below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return x % n;
  }
  // True with probability percent_tenths / 1000.
  bool PerMille(uint64_t per_mille) { return Below(1000) < per_mille; }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }
  // k distinct elements of `from`, in random order (partial Fisher-Yates on a copy).
  std::vector<size_t> Sample(std::vector<size_t> from, size_t k) {
    k = std::min(k, from.size());
    for (size_t i = 0; i < k; ++i) std::swap(from[i], from[i + Below(from.size() - i)]);
    from.resize(k);
    return from;
  }

 private:
  std::mt19937_64 engine_;
};

constexpr std::array<const char*, 64> kFirstNames = {
    "oliver", "amelia", "george",  "isla",   "harry",     "ava",      "noah",     "mia",
    "jack",   "ivy",    "leo",     "lily",   "arthur",    "isabella", "muhammad", "rosie",
    "oscar",  "sophia", "charlie", "grace",  "jacob",     "freya",    "thomas",   "florence",
    "henry",  "willow", "william", "evie",   "james",     "poppy",    "alfie",    "ella",
    "joshua", "emily",  "freddie", "sophie", "archie",    "daisy",    "theo",     "alice",
    "ethan",  "chloe",  "isaac",   "sienna", "alexander", "ruby",     "joseph",   "matilda",
    "edward", "harper", "samuel",  "aisha",  "daniel",    "priya",    "adam",     "zara",
    "lucas",  "maya",   "max",     "anna",   "ryan",      "hannah",   "omar",     "fatima"};
constexpr std::array<const char*, 64> kLastNames = {
    "smith",      "jones",    "taylor", "brown",    "williams", "wilson",  "johnson", "davies",
    "patel",      "robinson", "wright", "thompson", "evans",    "walker",  "white",   "roberts",
    "green",      "hall",     "thomas", "clarke",   "jackson",  "wood",    "harris",  "edwards",
    "turner",     "martin",   "cooper", "hill",     "ward",     "hughes",  "moore",   "clark",
    "king",       "harrison", "lewis",  "baker",    "lee",      "allen",   "morris",  "khan",
    "scott",      "watson",   "davis",  "parker",   "james",    "bennett", "young",   "phillips",
    "richardson", "mitchell", "bailey", "carter",   "cook",     "singh",   "shaw",    "bell",
    "collins",    "morgan",   "kelly",  "begum",    "miller",   "cox",     "hussain", "marshall"};
// RFC 2606 reserved names: no real mailbox is ever addressed.
constexpr std::array<const char*, 5> kDomains = {"example.com", "example.org", "example.net",
                                                 "mail.example", "inbox.example"};
constexpr std::array<const char*, 6> kAgeBands = {"18-24", "25-34", "35-44",
                                                  "45-54", "55-64", "65+"};
constexpr std::array<uint64_t, 6> kAgeWeights = {9, 19, 20, 19, 17, 16};  // sums to 100
constexpr std::array<const char*, 5> kCampaigns = {"spring_sale", "sports_pack", "kids_promo",
                                                   "documentaries", "none"};

struct Person {
  std::string phone;
  std::string email;  // canonical: lowercase, no padding
};

std::string Cents(uint64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%llu.%02llu", static_cast<unsigned long long>(cents / 100),
                static_cast<unsigned long long>(cents % 100));
  return buf;
}

// "olivia.smith42@example.com" -> "Olivia.Smith42@Example.com".
std::string TitleCase(const std::string& s) {
  std::string out = s;
  bool start = true;
  for (char& c : out) {
    if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    start = c == '.' || c == '_' || c == '@';
  }
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  Rng& rng() { return rng_; }

  size_t NewPerson() {
    people_.push_back({NewPhone(), NewEmail()});
    return people_.size() - 1;
  }
  const Person& person(size_t i) const { return people_[i]; }

  // A UK mobile number in E.164 form, distinct from every number handed out before.
  std::string NewPhone() {
    while (true) {
      char buf[20];
      std::snprintf(buf, sizeof(buf), "+447%09llu",
                    static_cast<unsigned long long>(rng_.Below(1000000000)));
      if (phones_.insert(buf).second) return buf;
    }
  }

  // A lowercase address, distinct from every address handed out before.
  std::string NewEmail() {
    while (true) {
      std::string first = kFirstNames[rng_.Below(kFirstNames.size())];
      std::string last = kLastNames[rng_.Below(kLastNames.size())];
      std::string local;
      switch (rng_.Below(4)) {
        case 0:
          local = first + "." + last;
          break;
        case 1:
          local = first + last;
          break;
        case 2:
          local = first.substr(0, 1) + "." + last;
          break;
        default:
          local = first + "_" + last;
          break;
      }
      if (rng_.PerMille(850)) local += std::to_string(rng_.Below(rng_.PerMille(500) ? 100 : 10000));
      std::string email = local + "@" + kDomains[rng_.Below(kDomains.size())];
      if (emails_.insert(email).second) return email;
    }
  }

 private:
  Rng rng_;
  std::vector<Person> people_;
  std::unordered_set<std::string> phones_, emails_;
};

std::string Pad(Rng& rng, const std::string& s) {
  switch (rng.Below(3)) {
    case 0:
      return " " + s;
    case 1:
      return s + "  ";
    default:
      return "  " + s + " ";
  }
}

}  // namespace

std::vector<std::string> SyntheticTable::Column(std::string_view name) const {
  auto it = std::find(columns.begin(), columns.end(), name);
  CONSORT_CHECK(it != columns.end());
  size_t c = static_cast<size_t>(it - columns.begin());
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r[c]);
  return out;
}

std::string SyntheticTable::ToCsv() const {
  std::string out;
  auto field = [&out](const std::string& f) {
    bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                 (!f.empty() && (IsAsciiSpace(f.front()) || IsAsciiSpace(f.back())));
    if (!quote) {
      out += f;
      return;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  };
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) out += ',';
    field(columns[i]);
  }
  out += '\n';
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) out += ',';
      field(r[i]);
    }
    out += '\n';
  }
  return out;
}

StatusOr<SyntheticData> GenerateSyntheticData(const SyntheticConfig& config) {
  if (config.rows < 10 || config.rows > 10'000'000) {
    return absl::InvalidArgumentError("rows must be between 10 and 10,000,000, got " +
                                      std::to_string(config.rows));
  }
  const size_t n = static_cast<size_t>(config.rows);
  Generator gen(config.seed);
  Rng& rng = gen.rng();

  // Who is in which list. The bank's customers are people [0, n).
  std::vector<size_t> bank_people(n), shop_people, media_people;
  for (size_t i = 0; i < n; ++i) bank_people[i] = gen.NewPerson();
  shop_people = rng.Sample(bank_people, n * 35 / 100);
  std::vector<size_t> shop_only;
  while (shop_people.size() < n) {
    shop_only.push_back(gen.NewPerson());
    shop_people.push_back(shop_only.back());
  }
  media_people = rng.Sample(bank_people, n * 25 / 100);
  for (size_t p : rng.Sample(shop_only, n * 15 / 100)) media_people.push_back(p);
  while (media_people.size() < n) media_people.push_back(gen.NewPerson());
  rng.Shuffle(bank_people);
  rng.Shuffle(shop_people);
  rng.Shuffle(media_people);

  SyntheticData d;
  d.bank = {"bank",
            "customers",
            "retail bank customers (synthetic)",
            {"customer_id", "phone", "email", "age_band", "balance"},
            {}};
  d.bank.rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Person& p = gen.person(bank_people[i]);
    uint64_t w = rng.Below(100), band = 0;
    while (w >= kAgeWeights[band]) w -= kAgeWeights[band++];
    // A product of uniforms: many small balances, a long tail of large ones.
    uint64_t balance = rng.Below(30000) * (1 + rng.Below(100)) / 4;
    d.bank.rows.push_back({std::to_string(10000001 + i), p.phone,
                           rng.PerMille(30) ? TitleCase(p.email) : p.email, kAgeBands[band],
                           Cents(balance)});
  }

  d.shop = {"shop",
            "buyers",
            "online shop buyers (synthetic)",
            {"buyer_id", "phone", "email", "orders", "total_spent"},
            {}};
  d.shop.rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Person& p = gen.person(shop_people[i]);
    char id[16];
    std::snprintf(id, sizeof(id), "B%07zu", i + 1);
    uint64_t orders = 1 + rng.Below(8) * rng.Below(8) / 2;
    uint64_t spent = orders * (800 + rng.Below(11000));
    d.shop.rows.push_back({id, rng.PerMille(30) ? gen.NewPhone() : p.phone, p.email,
                           std::to_string(orders), Cents(spent)});
  }

  d.media = {"media",
             "viewers",
             "streaming service viewers (synthetic)",
             {"viewer_id", "email", "phone", "campaign", "minutes_watched"},
             {}};
  d.media.rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const Person& p = gen.person(media_people[i]);
    std::string email = rng.PerMille(20) ? gen.NewEmail() : p.email;
    if (rng.PerMille(100))
      email = TitleCase(email);
    else if (rng.PerMille(30))
      email = Upper(email);
    if (rng.PerMille(60)) email = Pad(rng, email);
    char id[16];
    // An odd multiplier is a bijection modulo 2^32: distinct, random-looking ids.
    std::snprintf(id, sizeof(id), "v%08x", static_cast<uint32_t>((i + 1) * 2654435761u));
    d.media.rows.push_back({id, email, rng.PerMille(30) ? gen.NewPhone() : p.phone,
                            kCampaigns[rng.Below(kCampaigns.size())],
                            std::to_string(rng.Below(60) * (1 + rng.Below(40)))});
  }
  return d;
}

std::string NormalizeKey(std::string_view value, bool trim, bool casefold) {
  if (trim) {
    while (!value.empty() && IsAsciiSpace(value.front())) value.remove_prefix(1);
    while (!value.empty() && IsAsciiSpace(value.back())) value.remove_suffix(1);
  }
  std::string out(value);
  if (casefold) {
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::vector<std::string> PlaintextIntersection(const std::vector<std::string>& a,
                                               const std::vector<std::string>& b, bool trim,
                                               bool casefold) {
  std::unordered_set<std::string> in_a;
  in_a.reserve(a.size());
  for (const auto& v : a) in_a.insert(NormalizeKey(v, trim, casefold));
  std::unordered_set<std::string> both;
  for (const auto& v : b) {
    std::string k = NormalizeKey(v, trim, casefold);
    if (in_a.count(k)) both.insert(std::move(k));
  }
  std::vector<std::string> out(both.begin(), both.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace consort::cli
