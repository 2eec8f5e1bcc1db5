#include "cli/spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <set>

#include "common/money.h"
#include "common/window.h"

namespace finops::cli {

const char* limitTypeName(LimitType t) {
  switch (t) {
    case LimitType::kBudget:
      return "budget";
    case LimitType::kRequests:
      return "requests";
    case LimitType::kTokens:
      return "tokens";
    case LimitType::kConcurrency:
      return "concurrency";
  }
  return "unknown";
}

std::string LimitSpec::effectiveName() const {
  if (!name.empty()) return name;
  if (type == LimitType::kConcurrency) return "concurrency";
  return std::string(limitTypeName(type)) + "-" + window;
}

int64_t parseDollarsArg(std::string_view text, const std::string& what) {
  auto v = parseDollars(text);
  if (!v)
    throw SpecError(what + ": '" + std::string(text) +
                    "' is not a dollar amount (a plain decimal such as 5, 5.00 or 0.25, at most "
                    "9 decimals)");
  return *v;
}

int64_t parseCountArg(std::string_view text, const std::string& what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // from_chars accepts a leading '-'; counts never have one.
  if (text.empty() || text.front() == '-' || ec != std::errc() || end != text.data() + text.size())
    throw SpecError(what + ": '" + std::string(text) + "' is not a whole number");
  return v;
}

std::string parseWindowArg(std::string_view text, const std::string& what) {
  std::string err;
  auto w = parseWindow(text, &err);
  if (!w) throw SpecError(what + ": " + err);
  return std::string(text);
}

LimitSpec parseLimitArg(LimitType type, std::string_view text, bool withProvider,
                        const std::string& flag) {
  LimitSpec s;
  s.type = type;
  s.origin = flag;
  std::string_view rest = text;
  const char* shape = type == LimitType::kBudget ? "AMOUNT/WINDOW" : "N/WINDOW";
  if (withProvider) {
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw SpecError(flag + " takes PROVIDER=" + shape + ", not '" + std::string(text) + "'");
    s.provider = std::string(rest.substr(0, eq));
    rest.remove_prefix(eq + 1);
  }
  size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos)
    throw SpecError(flag + " takes " + (withProvider ? "PROVIDER=" : "") + shape + " (e.g. " +
                    (type == LimitType::kBudget ? "5.00/1d" : "600/1m") + "), not '" +
                    std::string(text) + "'");
  std::string_view amount = rest.substr(0, slash);
  s.amount =
      type == LimitType::kBudget ? parseDollarsArg(amount, flag) : parseCountArg(amount, flag);
  s.window = parseWindowArg(rest.substr(slash + 1), flag);
  return s;
}

void checkDistinct(const std::vector<LimitSpec>& limits, const std::string& owner) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& l : limits) {
    if (!seen.emplace(l.provider, l.effectiveName()).second)
      throw SpecError(l.origin + ": " + owner + " already has a limit named '" + l.effectiveName() +
                      "'" + (l.provider.empty() ? "" : " for provider " + l.provider) +
                      " (set a name to tell them apart)");
  }
}

std::optional<int64_t> parseTime(std::string_view s) {
  using namespace std::chrono;
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d;
  if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d))
    return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
  if (s.size() == 10) return ms;

  int h, mi, sec;
  if ((s[10] != 'T' && s[10] != 't') || !num(11, 2, h) || s.size() < 19 || s[13] != ':' ||
      !num(14, 2, mi) || s[16] != ':' || !num(17, 2, sec) || h > 23 || mi > 59 || sec > 59)
    return std::nullopt;
  ms += (h * 3600LL + mi * 60LL + sec) * 1000;
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;  // digits past milliseconds add 0
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return ms;
  int oh, om;
  if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && num(pos + 1, 2, oh) &&
      s[pos + 3] == ':' && num(pos + 4, 2, om) && oh <= 23 && om <= 59) {
    int64_t offset = (oh * 3600LL + om * 60LL) * 1000;
    return s[pos] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

int64_t parseTimeArg(std::string_view text, const std::string& what) {
  auto t = parseTime(text);
  if (!t)
    throw SpecError(what + ": '" + std::string(text) +
                    "' is not an RFC 3339 time (2027-01-01T00:00:00Z) or a date (2027-01-01)");
  return *t;
}

std::optional<int64_t> parseDurationMs(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unitMs = 0;
  switch (text.back()) {
    case 'm':
      unitMs = 60'000;
      break;
    case 'h':
      unitMs = 3'600'000;
      break;
    case 'd':
      unitMs = 86'400'000;
      break;
    case 'w':
      unitMs = 7 * 86'400'000LL;
      break;
    default:
      return std::nullopt;
  }
  std::string_view digits = text.substr(0, text.size() - 1);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.front() == '-' || ec != std::errc() || end != digits.data() + digits.size() ||
      n <= 0 || n > 1'000'000)
    return std::nullopt;
  return n * unitMs;
}

// ---- the apply file

namespace {

std::string field(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string indexed(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// A mapping whose keys must all be among `known`.
void expectMap(const YAML::Node& n, const std::string& path,
               std::initializer_list<std::string_view> known) {
  if (!n.IsMap()) throw SpecError((path.empty() ? "the file" : path) + ": expected a mapping");
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) throw SpecError(field(path, "?") + ": field names must be strings");
    std::string k = it->first.Scalar();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (auto f : known) list += (list.empty() ? "" : ", ") + std::string(f);
      throw SpecError(field(path, k) + ": unknown field (known: " + list + ")");
    }
    if (!seen.insert(k).second) throw SpecError(field(path, k) + ": given twice");
  }
}

// Present with a non-null value.
bool has(const YAML::Node& map, const char* key) {
  YAML::Node v = map[key];
  return v.IsDefined() && !v.IsNull();
}

std::string scalar(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) throw SpecError(path + ": expected a single value");
  return n.Scalar();
}

std::string requiredString(const YAML::Node& map, const char* key, const std::string& path) {
  if (!has(map, key)) throw SpecError(field(path, key) + ": required");
  std::string v = scalar(map[key], field(path, key));
  if (v.empty()) throw SpecError(field(path, key) + ": must not be empty");
  return v;
}

bool boolean(const YAML::Node& n, const std::string& path) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b))
    throw SpecError(path + ": expected true or false");
  return b;
}

// A list; null or absent is an empty one.
YAML::Node sequence(const YAML::Node& map, const char* key, const std::string& path) {
  YAML::Node v = map[key];
  if (!v.IsDefined() || v.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  if (!v.IsSequence()) throw SpecError(field(path, key) + ": expected a list");
  return v;
}

std::vector<std::string> stringList(const YAML::Node& map, const char* key,
                                    const std::string& path) {
  std::vector<std::string> out;
  YAML::Node seq = sequence(map, key, path);
  for (size_t i = 0; i < seq.size(); ++i) {
    std::string v = scalar(seq[i], indexed(field(path, key), i));
    if (v.empty()) throw SpecError(indexed(field(path, key), i) + ": must not be empty");
    out.push_back(v);
  }
  return out;
}

LimitSpec parseBudget(const YAML::Node& n, const std::string& path, const std::string& provider) {
  expectMap(n, path, {"name", "amount", "window", "calendar"});
  LimitSpec s;
  s.type = LimitType::kBudget;
  s.provider = provider;
  s.origin = path;
  if (has(n, "name")) s.name = requiredString(n, "name", path);
  if (!has(n, "amount")) throw SpecError(field(path, "amount") + ": required");
  s.amount = parseDollarsArg(scalar(n["amount"], field(path, "amount")), field(path, "amount"));
  s.window = parseWindowArg(requiredString(n, "window", path), field(path, "window"));
  if (has(n, "calendar")) s.calendar = boolean(n["calendar"], field(path, "calendar"));
  return s;
}

LimitSpec parseRateLimit(const YAML::Node& n, const std::string& path,
                         const std::string& provider) {
  expectMap(n, path, {"name", "requests", "tokens", "concurrency", "window", "calendar"});
  LimitSpec s;
  s.provider = provider;
  s.origin = path;
  int kinds = 0;
  for (auto [key, type] :
       {std::pair{"requests", LimitType::kRequests}, std::pair{"tokens", LimitType::kTokens},
        std::pair{"concurrency", LimitType::kConcurrency}}) {
    if (!has(n, key)) continue;
    ++kinds;
    s.type = type;
    s.amount = parseCountArg(scalar(n[key], field(path, key)), field(path, key));
  }
  if (kinds != 1) throw SpecError(path + ": give exactly one of requests, tokens, concurrency");
  if (s.type == LimitType::kConcurrency && s.amount < 1)
    throw SpecError(field(path, "concurrency") + ": must be at least 1");
  if (has(n, "name")) s.name = requiredString(n, "name", path);
  if (s.type == LimitType::kConcurrency) {
    // In-flight requests have no window to reset.
    for (const char* key : {"window", "calendar"})
      if (has(n, key)) throw SpecError(field(path, key) + ": not allowed with concurrency");
    return s;
  }
  s.window = has(n, "window")
                 ? parseWindowArg(requiredString(n, "window", path), field(path, "window"))
                 : "1m";
  if (has(n, "calendar")) s.calendar = boolean(n["calendar"], field(path, "calendar"));
  return s;
}

// budgets and rate_limits of one owner, for one provider or ("") all.
void parseLimitLists(const YAML::Node& n, const std::string& path, const std::string& provider,
                     std::vector<LimitSpec>& out) {
  YAML::Node budgets = sequence(n, "budgets", path);
  for (size_t i = 0; i < budgets.size(); ++i)
    out.push_back(parseBudget(budgets[i], indexed(field(path, "budgets"), i), provider));
  YAML::Node rates = sequence(n, "rate_limits", path);
  for (size_t i = 0; i < rates.size(); ++i)
    out.push_back(parseRateLimit(rates[i], indexed(field(path, "rate_limits"), i), provider));
}

// An owner's budgets, rate_limits and (keys only: the caller's expectMap refuses it elsewhere)
// providers: {NAME: {budgets, rate_limits}}.
std::vector<LimitSpec> parseOwnerLimits(const YAML::Node& n, const std::string& path,
                                        const std::string& owner) {
  std::vector<LimitSpec> out;
  parseLimitLists(n, path, "", out);
  if (has(n, "providers")) {
    YAML::Node providers = n["providers"];
    std::string ppath = field(path, "providers");
    if (!providers.IsMap()) throw SpecError(ppath + ": expected a mapping of provider names");
    std::set<std::string> seen;
    for (auto it = providers.begin(); it != providers.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar().empty())
        throw SpecError(ppath + ": provider names must be non-empty strings");
      std::string name = it->first.Scalar();
      std::string p = field(ppath, name);
      if (!seen.insert(name).second) throw SpecError(p + ": given twice");
      expectMap(it->second, p, {"budgets", "rate_limits"});
      parseLimitLists(it->second, p, name, out);
    }
  }
  checkDistinct(out, owner);
  return out;
}

// A reference to a customer or team: null or "" mean none.
std::optional<std::string> optionalRef(const YAML::Node& map, const char* key,
                                       const std::string& path) {
  YAML::Node v = map[key];
  if (!v.IsDefined()) return std::nullopt;
  if (v.IsNull()) return std::string();
  return scalar(v, field(path, key));
}

template <typename Spec>
void checkUniqueNames(const std::vector<Spec>& specs, const char* what) {
  std::set<std::string> seen;
  for (const auto& s : specs)
    if (!seen.insert(s.name).second)
      throw SpecError(s.path + ": " + what + " '" + s.name + "' is listed twice");
}

}  // namespace

ApplyFile parseApplyFile(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw SpecError(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                    std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  ApplyFile f;
  if (!root.IsDefined() || root.IsNull()) return f;
  expectMap(root, "", {"customers", "teams", "keys", "prices"});

  YAML::Node customers = sequence(root, "customers", "");
  for (size_t i = 0; i < customers.size(); ++i) {
    std::string path = indexed("customers", i);
    const YAML::Node n = customers[i];
    expectMap(n, path, {"name", "budgets", "rate_limits"});
    CustomerSpec c;
    c.path = path;
    c.name = requiredString(n, "name", path);
    c.limits = parseOwnerLimits(n, path, "customer " + c.name);
    f.customers.push_back(std::move(c));
  }
  checkUniqueNames(f.customers, "customer");

  YAML::Node teams = sequence(root, "teams", "");
  for (size_t i = 0; i < teams.size(); ++i) {
    std::string path = indexed("teams", i);
    const YAML::Node n = teams[i];
    expectMap(n, path, {"name", "customer", "budgets", "rate_limits"});
    TeamSpec t;
    t.path = path;
    t.name = requiredString(n, "name", path);
    t.customer = optionalRef(n, "customer", path);
    t.limits = parseOwnerLimits(n, path, "team " + t.name);
    f.teams.push_back(std::move(t));
  }
  checkUniqueNames(f.teams, "team");

  YAML::Node keys = sequence(root, "keys", "");
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string path = indexed("keys", i);
    const YAML::Node n = keys[i];
    expectMap(n, path,
              {"name", "team", "customer", "expires_at", "allowed_providers", "allowed_models",
               "disabled", "budgets", "rate_limits", "providers"});
    KeySpec k;
    k.path = path;
    k.name = requiredString(n, "name", path);
    k.team = optionalRef(n, "team", path);
    k.customer = optionalRef(n, "customer", path);
    if (k.team && !k.team->empty() && k.customer && !k.customer->empty())
      throw SpecError(path + ": a key belongs to a team or to a customer, not both");
    if (n["expires_at"].IsDefined()) {
      YAML::Node e = n["expires_at"];
      std::string text = e.IsNull() ? "never" : scalar(e, field(path, "expires_at"));
      k.expiresAtMs = text == "never" ? 0 : parseTimeArg(text, field(path, "expires_at"));
    }
    if (n["allowed_providers"].IsDefined())
      k.allowedProviders = stringList(n, "allowed_providers", path);
    if (n["allowed_models"].IsDefined()) k.allowedModels = stringList(n, "allowed_models", path);
    if (has(n, "disabled")) k.disabled = boolean(n["disabled"], field(path, "disabled"));
    k.limits = parseOwnerLimits(n, path, "key " + k.name);
    f.keys.push_back(std::move(k));
  }
  checkUniqueNames(f.keys, "key");

  YAML::Node prices = sequence(root, "prices", "");
  std::set<std::string> seenPrices;
  for (size_t i = 0; i < prices.size(); ++i) {
    std::string path = indexed("prices", i);
    const YAML::Node n = prices[i];
    expectMap(
        n, path,
        {"model", "input", "output", "cached_input", "cache_write", "per_image", "per_second"});
    PriceSpec p;
    p.path = path;
    std::string model = requiredString(n, "model", path);
    size_t slash = model.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == model.size())
      throw SpecError(field(path, "model") + ": expected PROVIDER/MODEL, not '" + model + "'");
    p.provider = model.substr(0, slash);
    p.model = model.substr(slash + 1);
    if (!seenPrices.insert(model).second)
      throw SpecError(path + ": the price of " + model + " is listed twice");
    auto dollars = [&](const char* key) {
      return parseDollarsArg(scalar(n[key], field(path, key)), field(path, key));
    };
    for (const char* key : {"input", "output"})
      if (!has(n, key)) throw SpecError(field(path, key) + ": required");
    p.input = dollars("input");
    p.output = dollars("output");
    if (has(n, "cached_input")) p.cachedInput = dollars("cached_input");
    if (has(n, "cache_write")) p.cacheWrite = dollars("cache_write");
    if (has(n, "per_image")) p.perImage = dollars("per_image");
    if (has(n, "per_second")) p.perSecond = dollars("per_second");
    f.prices.push_back(std::move(p));
  }
  return f;
}

}  // namespace finops::cli
