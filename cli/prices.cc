#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/governance.h"
#include "cli/output.h"
#include "common/money.h"

namespace finops::cli {
namespace {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

const std::vector<Column> kColumns = {{"PROVIDER", "provider"},   {"MODEL", "model"},
                                      {"INPUT", "input"},         {"OUTPUT", "output"},
                                      {"CACHED", "cached_input"}, {"SOURCE", "source"}};

// Each price as a dollar string and as nano-dollars (per million tokens; per image and per
// second for those two). null: not set (per_image and per_second: not charged).
ordered_json toJson(const v1::PriceInfo& info) {
  const v1::Price& p = info.price();
  ordered_json j = {{"provider", p.provider()}, {"model", p.model()}, {"source", info.source()}};
  auto add = [&](const std::string& name, int64_t v, bool set) {
    j[name + "_usd"] = set ? ordered_json(formatDollarsPlain(v)) : ordered_json(nullptr);
    j[name + "_nano"] = set ? ordered_json(v) : ordered_json(nullptr);
  };
  add("input", p.input(), true);
  add("output", p.output(), true);
  add("cached_input", p.cached_input(), p.has_cached_input());
  add("cache_write", p.cache_write(), p.has_cache_write());
  add("per_image", p.per_image(), p.per_image() != 0);
  add("per_second", p.per_second(), p.per_second() != 0);
  return j;
}

ordered_json toRow(const v1::PriceInfo& info) {
  const v1::Price& p = info.price();
  return {{"provider", p.provider()},
          {"model", p.model()},
          {"input", formatDollars(p.input())},
          {"output", formatDollars(p.output())},
          {"cached_input", p.has_cached_input() ? ordered_json(formatDollars(p.cached_input()))
                                                : ordered_json(nullptr)},
          {"source", info.source()}};
}

// "openai/gpt-4o" -> {"openai", "gpt-4o"}; the model part may itself contain '/'.
std::pair<std::string, std::string> splitModel(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == s.size())
    throw CliError(kExitUsage, "expected PROVIDER/MODEL (e.g. openai/gpt-4o), not '" + s + "'");
  return {s.substr(0, slash), s.substr(slash + 1)};
}

int setPrice(const GlobalOptions& g, Client& client, const std::vector<std::string>& rest) {
  Args a(rest,
         {"--input-price", "--output-price", "--cached-input-price", "--cache-write-price", "--per-image", "--per-second"},
         {});
  a.expectPositional(1,
                     "finopsctl prices set PROVIDER/MODEL --input-price DOLLARS --output-price DOLLARS "
                     "[--cached-input-price D] [--cache-write-price D] [--per-image D] [--per-second D]");
  auto [provider, model] = splitModel(a.positional()[0]);
  bool any = false;
  for (const char* f :
       {"--input-price", "--output-price", "--cached-input-price", "--cache-write-price", "--per-image", "--per-second"})
    any = any || a.has(f);
  if (!any)
    throw CliError(kExitUsage, "prices set: give at least one price (--input, --output...)");

  // Start from the model's current price, custom or builtin, so flags not given keep its values.
  v1::ListPricesRequest lreq;
  lreq.set_provider(provider);
  lreq.set_model(model);
  v1::ListPricesResponse current;
  client.check(client.stub().ListPrices(client.context().get(), lreq, &current));
  v1::SetPriceRequest req;
  v1::Price& price = *req.mutable_price();
  for (const auto& p : current.prices())
    if (p.price().provider() == provider && p.price().model() == model) price = p.price();
  if (price.model().empty()) {
    if (!a.has("--input-price") || !a.has("--output-price"))
      throw CliError(kExitUsage,
                     provider + "/" + model + " has no price yet: give both --input-price and --output-price");
    price.set_provider(provider);
    price.set_model(model);
  }
  auto dollars = [&](const char* flag) { return parseDollarsArg(a.value(flag), flag); };
  if (a.has("--input-price")) price.set_input(dollars("--input-price"));
  if (a.has("--output-price")) price.set_output(dollars("--output-price"));
  if (a.has("--cached-input-price")) {
    price.set_cached_input(dollars("--cached-input-price"));
    price.set_has_cached_input(true);
  }
  if (a.has("--cache-write-price")) {
    price.set_cache_write(dollars("--cache-write-price"));
    price.set_has_cache_write(true);
  }
  if (a.has("--per-image")) price.set_per_image(dollars("--per-image"));
  if (a.has("--per-second")) price.set_per_second(dollars("--per-second"));
  v1::PriceInfo resp;
  client.check(client.stub().SetPrice(client.context().get(), req, &resp));
  printAs(g, toJson(resp), toRow(resp), kColumns);
  return kExitOk;
}

}  // namespace

int runPrices(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, "usage: finopsctl prices list|set|delete ...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Client client(g);
  if (cmd == "set") return setPrice(g, client, rest);
  if (cmd == "list" || cmd == "ls") {
    Args a(rest, {"--provider", "--model"}, {});
    a.expectPositional(0, "finopsctl prices list [--provider P] [--model SUBSTRING]");
    v1::ListPricesRequest req;
    req.set_provider(a.value("--provider"));
    req.set_model(a.value("--model"));
    v1::ListPricesResponse resp;
    client.check(client.stub().ListPrices(client.context().get(), req, &resp));
    ordered_json data = ordered_json::array(), rows = ordered_json::array();
    for (const auto& p : resp.prices()) {
      data.push_back(toJson(p));
      rows.push_back(toRow(p));
    }
    if (g.output == "table") {
      std::cout << "US dollars per 1M tokens; builtin prices as of "
                << (resp.builtin_as_of().empty() ? "-" : resp.builtin_as_of()) << "\n";
      print(rows, g.output, kColumns);
    } else {
      print(ordered_json{{"builtin_as_of", nullable(resp.builtin_as_of())}, {"prices", data}},
            g.output, {});
    }
    return kExitOk;
  }
  if (cmd == "delete" || cmd == "rm") {
    Args a(rest, {}, {});
    a.expectPositional(1, "finopsctl prices delete PROVIDER/MODEL");
    auto [provider, model] = splitModel(a.positional()[0]);
    v1::DeletePriceRequest req;
    req.set_provider(provider);
    req.set_model(model);
    v1::PriceInfo resp;
    client.check(client.stub().DeletePrice(client.context().get(), req, &resp));
    printAs(g, toJson(resp), toRow(resp), kColumns);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'prices " + cmd + "'");
}

}  // namespace finops::cli
