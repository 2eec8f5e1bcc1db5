// `finopsctl apply -f FILE`: makes the control plane hold what a YAML file declares (format in
// docs/cli.md). It creates what is missing and updates what differs, and never deletes, so CI
// can run it on every deploy: a second run reports everything "unchanged".
//
// The run has three steps, so that a bad file or a dangling reference changes nothing:
//   1. parse and validate the whole file (cli/spec.h), before any call;
//   2. read the current state and work out every action without writing (a "plan" pass, which
//      also finds references to customers or teams that exist nowhere);
//   3. unless --dry-run, do it: the same pass again, writing.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"
#include "cli/spec.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

// What the control plane holds before the run.
struct State {
  std::map<std::string, v1::CustomerInfo> customers;  // by name
  std::map<std::string, v1::TeamInfo> teams;          // by name
  std::map<std::string, v1::VirtualKeyInfo> keys;     // by name, revoked keys left out
  std::vector<v1::LimitInfo> limits;
  std::map<std::string, v1::Price> customPrices;  // by "provider/model"
};

State readState(Client& client, bool withPrices) {
  State s;
  v1::ListCustomersResponse customers;
  client.check(client.stub().ListCustomers(client.context().get(), {}, &customers));
  for (const auto& c : customers.customers()) s.customers[c.name()] = c;
  v1::ListTeamsResponse teams;
  client.check(client.stub().ListTeams(client.context().get(), {}, &teams));
  for (const auto& t : teams.teams()) s.teams[t.name()] = t;
  v1::ListKeysResponse keys;
  client.check(client.stub().ListKeys(client.context().get(), {}, &keys));
  for (const auto& k : keys.keys())
    if (k.status() != "revoked") s.keys.emplace(k.name(), k);
  v1::ListLimitsResponse limits;
  client.check(client.stub().ListLimits(client.context().get(), {}, &limits));
  s.limits.assign(limits.limits().begin(), limits.limits().end());
  if (withPrices) {
    v1::ListPricesResponse prices;
    client.check(client.stub().ListPrices(client.context().get(), {}, &prices));
    for (const auto& p : prices.prices())
      if (p.source() == "custom")
        s.customPrices[p.price().provider() + "/" + p.price().model()] = p.price();
  }
  return s;
}

v1::Price priceFromSpec(const PriceSpec& p) {
  v1::Price out;
  out.set_provider(p.provider);
  out.set_model(p.model);
  out.set_input(p.input);
  out.set_output(p.output);
  out.set_has_cached_input(p.cachedInput.has_value());
  out.set_cached_input(p.cachedInput.value_or(0));
  out.set_has_cache_write(p.cacheWrite.has_value());
  out.set_cache_write(p.cacheWrite.value_or(0));
  out.set_per_image(p.perImage);
  out.set_per_second(p.perSecond);
  return out;
}

bool samePrice(const v1::Price& a, const v1::Price& b) {
  return a.input() == b.input() && a.output() == b.output() &&
         a.has_cached_input() == b.has_cached_input() &&
         (!a.has_cached_input() || a.cached_input() == b.cached_input()) &&
         a.has_cache_write() == b.has_cache_write() &&
         (!a.has_cache_write() || a.cache_write() == b.cache_write()) &&
         a.per_image() == b.per_image() && a.per_second() == b.per_second();
}

// Access rules are sets: their order in the file does not matter.
bool sameSet(std::vector<std::string> a, const google::protobuf::RepeatedPtrField<std::string>& b) {
  std::vector<std::string> bv(b.begin(), b.end());
  std::sort(a.begin(), a.end());
  std::sort(bv.begin(), bv.end());
  return a == bv;
}

// One table line per object: "customer acme: created", "budget monthly (customer acme): updated".
std::string line(const ordered_json& item) {
  std::string s = item["kind"].get<std::string>() + " " + item["name"].get<std::string>();
  if (item.contains("owner")) {
    s += " (" + item["owner"].get<std::string>();
    if (item.contains("provider")) s += ", provider " + item["provider"].get<std::string>();
    s += ")";
  }
  s += ": " + item["action"].get<std::string>();
  if (item.contains("key"))
    s += "\n  key: " + item["key"].get<std::string>() + "  (shown only once: store it now)";
  return s;
}

class Applier {
 public:
  // `write` false: only work out what would change. `live`: print each table line as it
  // happens (so that a failure half-way still shows what was done, and new keys' secrets).
  Applier(Client& client, const State& state, bool write, bool live)
      : client_(client), state_(state), write_(write), live_(live) {}

  void run(const ApplyFile& f) {
    for (const auto& c : f.customers) fileCustomers_.insert(c.name);
    for (const auto& t : f.teams) fileTeams_.insert(t.name);
    for (const auto& c : f.customers) customer(c);
    for (const auto& t : f.teams) team(t);
    for (const auto& k : f.keys) key(k);
    for (const auto& p : f.prices) price(p);
  }

  const ordered_json& results() const { return results_; }

 private:
  void report(const ordered_json& item) {
    results_.push_back(item);
    if (live_) std::cout << line(item) << std::endl;
  }

  static ordered_json object(const char* kind, const std::string& name, const char* action) {
    return {{"kind", kind}, {"name", name}, {"action", action}};
  }

  // References in the file are names (ids work too); the targets may be created by this run.
  void requireCustomer(const std::string& ref, const std::string& path) const {
    if (ref.empty() || fileCustomers_.count(ref) || findCustomer(ref)) return;
    throw CliError(kExitNotFound, path + ": customer '" + ref +
                                      "' is neither in the file nor on the control plane");
  }
  void requireTeam(const std::string& ref, const std::string& path) const {
    if (ref.empty() || fileTeams_.count(ref) || findTeam(ref)) return;
    throw CliError(kExitNotFound,
                   path + ": team '" + ref + "' is neither in the file nor on the control plane");
  }
  const v1::CustomerInfo* findCustomer(const std::string& ref) const {
    if (auto it = state_.customers.find(ref); it != state_.customers.end()) return &it->second;
    for (const auto& [name, c] : state_.customers)
      if (c.id() == ref) return &c;
    return nullptr;
  }
  const v1::TeamInfo* findTeam(const std::string& ref) const {
    if (auto it = state_.teams.find(ref); it != state_.teams.end()) return &it->second;
    for (const auto& [name, t] : state_.teams)
      if (t.id() == ref) return &t;
    return nullptr;
  }
  // Whether `ref` (a name or an id, "" for none) designates `current` (a name, "" for none).
  bool sameCustomer(const std::string& ref, const std::string& current) const {
    if (ref == current) return true;
    const v1::CustomerInfo* c = findCustomer(ref);
    return c && c->name() == current;
  }
  bool sameTeam(const std::string& ref, const std::string& current) const {
    if (ref == current) return true;
    const v1::TeamInfo* t = findTeam(ref);
    return t && t->name() == current;
  }

  void customer(const CustomerSpec& c) {
    std::string id;
    if (auto it = state_.customers.find(c.name); it != state_.customers.end()) {
      id = it->second.id();
      report(object("customer", c.name, "unchanged"));
    } else {
      if (write_) {
        v1::CreateCustomerRequest req;
        req.set_name(c.name);
        v1::CustomerInfo resp;
        client_.check(client_.stub().CreateCustomer(client_.context().get(), req, &resp));
        id = resp.id();
      }
      report(object("customer", c.name, "created"));
    }
    limits("customer", c.name, id, c.limits);
  }

  void team(const TeamSpec& t) {
    if (t.customer) requireCustomer(*t.customer, t.path + ".customer");
    std::string id;
    if (auto it = state_.teams.find(t.name); it != state_.teams.end()) {
      id = it->second.id();
      bool differs = t.customer && !sameCustomer(*t.customer, it->second.customer());
      if (differs && write_) {
        v1::UpdateTeamRequest req;
        req.set_id(id);
        req.set_customer(*t.customer);
        v1::TeamInfo resp;
        client_.check(client_.stub().UpdateTeam(client_.context().get(), req, &resp));
      }
      report(object("team", t.name, differs ? "updated" : "unchanged"));
    } else {
      if (write_) {
        v1::CreateTeamRequest req;
        req.set_name(t.name);
        req.set_customer(t.customer.value_or(""));
        v1::TeamInfo resp;
        client_.check(client_.stub().CreateTeam(client_.context().get(), req, &resp));
        id = resp.id();
      }
      report(object("team", t.name, "created"));
    }
    limits("team", t.name, id, t.limits);
  }

  void key(const KeySpec& k) {
    if (k.team) requireTeam(*k.team, k.path + ".team");
    if (k.customer) requireCustomer(*k.customer, k.path + ".customer");
    std::string id;
    if (auto it = state_.keys.find(k.name); it != state_.keys.end()) {
      const v1::VirtualKeyInfo& cur = it->second;
      id = cur.id();
      v1::UpdateKeyRequest req;
      req.set_id(id);
      bool differs = false;
      if (k.team && !sameTeam(*k.team, cur.team())) {
        req.set_team(*k.team);
        differs = true;
      }
      if (k.customer && !sameCustomer(*k.customer, cur.customer())) {
        req.set_customer(*k.customer);
        differs = true;
      }
      // The control plane keeps expiry times to the second.
      int64_t curExpires = cur.has_expires_at() ? cur.expires_at().seconds() : 0;
      if (k.expiresAtMs && timestampFromMs(*k.expiresAtMs).seconds() != curExpires) {
        if (*k.expiresAtMs == 0)
          req.set_clear_expiry(true);
        else
          *req.mutable_expires_at() = timestampFromMs(*k.expiresAtMs);
        differs = true;
      }
      if (k.allowedProviders && !sameSet(*k.allowedProviders, cur.allowed_providers())) {
        req.set_replace_allowed_providers(true);
        for (const auto& p : *k.allowedProviders) req.add_allowed_providers(p);
        differs = true;
      }
      if (k.allowedModels && !sameSet(*k.allowedModels, cur.allowed_models())) {
        req.set_replace_allowed_models(true);
        for (const auto& m : *k.allowedModels) req.add_allowed_models(m);
        differs = true;
      }
      if (k.disabled && (*k.disabled ? "disabled" : "active") != cur.status()) {
        req.set_status(*k.disabled ? "disabled" : "active");
        differs = true;
      }
      if (differs && write_) {
        v1::VirtualKeyInfo resp;
        client_.check(client_.stub().UpdateKey(client_.context().get(), req, &resp));
      }
      report(object("key", k.name, differs ? "updated" : "unchanged"));
    } else {
      ordered_json item = object("key", k.name, "created");
      if (write_) {
        v1::CreateKeyRequest req;
        req.set_name(k.name);
        req.set_team(k.team.value_or(""));
        req.set_customer(k.customer.value_or(""));
        if (k.expiresAtMs && *k.expiresAtMs != 0)
          *req.mutable_expires_at() = timestampFromMs(*k.expiresAtMs);
        for (const auto& p : k.allowedProviders.value_or(std::vector<std::string>{}))
          req.add_allowed_providers(p);
        for (const auto& m : k.allowedModels.value_or(std::vector<std::string>{}))
          req.add_allowed_models(m);
        req.set_disabled(k.disabled.value_or(false));
        v1::CreateKeyResponse resp;
        client_.check(client_.stub().CreateKey(client_.context().get(), req, &resp));
        id = resp.key().id();
        item["id"] = id;
        item["key"] = resp.secret();
      }
      report(item);
    }
    limits("key", k.name, id, k.limits);
  }

  void price(const PriceSpec& p) {
    v1::Price want = priceFromSpec(p);
    auto it = state_.customPrices.find(p.provider + "/" + p.model);
    const char* action = it == state_.customPrices.end() ? "created"
                         : samePrice(it->second, want)   ? "unchanged"
                                                         : "updated";
    if (write_ && std::string(action) != "unchanged") {
      v1::SetPriceRequest req;
      *req.mutable_price() = want;
      v1::PriceInfo resp;
      client_.check(client_.stub().SetPrice(client_.context().get(), req, &resp));
    }
    report(object("price", p.provider + "/" + p.model, action));
  }

  // An owner's limits, matched by (owner, provider, name). `ownerId` is empty for an owner that
  // does not exist yet (dry run): all its limits are new.
  void limits(const std::string& ownerKind, const std::string& ownerName,
              const std::string& ownerId, const std::vector<LimitSpec>& specs) {
    std::string owner = ownerKind + " " + ownerName;
    for (const auto& s : specs) {
      std::string name = s.effectiveName();
      ordered_json item = {{"kind", s.type == LimitType::kBudget ? "budget" : "ratelimit"},
                           {"name", name},
                           {"owner", owner}};
      if (!s.provider.empty()) item["provider"] = s.provider;
      const v1::LimitInfo* cur = nullptr;
      for (const auto& l : state_.limits)
        if (!ownerId.empty() && l.owner_kind() == ownerKind && l.owner_id() == ownerId &&
            l.provider() == s.provider && l.name() == name)
          cur = &l;
      if (!cur) {
        if (write_) {
          v1::LimitInfo resp;
          client_.check(client_.stub().CreateLimit(
              client_.context().get(), createLimitRequest(ownerKind, ownerId, s), &resp));
        }
        item["action"] = "created";
        report(item);
        continue;
      }
      if (cur->kind() != toProtoKind(s.type))
        throw CliError(kExitExists, s.origin + ": " + owner + " already has a " +
                                        kindName(cur->kind()) + " limit named '" + name +
                                        "' (a limit's kind cannot change: give this one a name)");
      v1::UpdateLimitRequest req;
      req.set_id(cur->id());
      bool differs = false;
      if (cur->amount() != s.amount) {
        req.set_amount(s.amount);
        differs = true;
      }
      if (s.type != LimitType::kConcurrency && cur->window() != s.window) {
        req.set_window(s.window);
        differs = true;
      }
      if (s.type != LimitType::kConcurrency && cur->calendar() != s.calendar) {
        req.set_calendar(s.calendar);
        differs = true;
      }
      if (differs && write_) {
        v1::LimitInfo resp;
        client_.check(client_.stub().UpdateLimit(client_.context().get(), req, &resp));
      }
      item["action"] = differs ? "updated" : "unchanged";
      report(item);
    }
  }

  Client& client_;
  const State& state_;
  const bool write_;
  const bool live_;
  std::set<std::string> fileCustomers_, fileTeams_;
  ordered_json results_ = ordered_json::array();
};

std::string readFile(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path);
  if (!in) throw CliError(kExitUsage, "cannot read " + path);
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int runApply(const GlobalOptions& g, const std::vector<std::string>& argv) {
  Args a(argv, {"-f", "--file"}, {"--dry-run"});
  a.expectPositional(0, "finopsctl apply -f FILE [--dry-run]");
  exclusive(a, {"-f", "--file"});
  std::string path = a.has("-f") ? a.value("-f") : a.value("--file");
  if (path.empty()) throw CliError(kExitUsage, "apply needs -f FILE (- for standard input)");
  ApplyFile file = parseApplyFile(readFile(path), path == "-" ? "<stdin>" : path);

  Client client(g);
  State state = readState(client, !file.prices.empty());
  Applier plan(client, state, /*write=*/false, /*live=*/false);
  plan.run(file);
  bool table = g.output == "table";
  if (a.has("--dry-run")) {
    if (table) {
      for (const auto& item : plan.results()) std::cout << line(item) << "\n";
      std::cerr << "dry run: nothing was changed\n";
    } else {
      print(plan.results(), g.output, {});
    }
    return kExitOk;
  }

  Applier apply(client, state, /*write=*/true, /*live=*/table);
  try {
    apply.run(file);
  } catch (...) {
    // What was done before the failure is done (and new keys' secrets exist only here).
    if (!table) print(apply.results(), g.output, {});
    throw;
  }
  if (!table) print(apply.results(), g.output, {});
  bool newKeys = std::any_of(apply.results().begin(), apply.results().end(),
                             [](const ordered_json& i) { return i.contains("key"); });
  if (newKeys && table) std::cerr << "New keys are shown only once: store them now.\n";
  return kExitOk;
}

}  // namespace finops::cli
