#include "cli/settings.h"

#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace finops::cli {

namespace v1 = finops::v1;
using nlohmann::ordered_json;

namespace {

constexpr const char* kSetUsage =
    "usage: finopsctl settings set KEY=VALUE...\n"
    "  enforce_keys=true|false  log_content=true|false\n"
    "  forward_headers|allowed_headers|allowed_origins|extra_headers=a,b   (replace)\n"
    "    =+a,b (add)  =-a (remove)  =default (restore the default)";

ordered_json list(const google::protobuf::RepeatedPtrField<std::string>& items) {
  ordered_json a = ordered_json::array();
  for (const auto& i : items) a.push_back(i);
  return a;
}

ordered_json toJson(const v1::SettingsInfo& s) {
  const auto& st = s.settings();
  return {{"enforce_keys", st.enforce_keys()},
          {"log_content", st.log_content()},
          {"forward_headers", list(st.forward_headers())},
          {"allowed_headers", list(st.allowed_headers())},
          {"allowed_origins", list(st.allowed_origins())},
          {"extra_headers", list(st.extra_headers())},
          {"config_version", s.config_version()}};
}

// Table output: one line per setting (the lists are too long for columns).
void printSettings(const v1::SettingsInfo& s, const std::string& format) {
  ordered_json j = toJson(s);
  if (format != "table") {
    print(j, format, {});
    return;
  }
  ordered_json rows = ordered_json::array();
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string value;
    if (it->is_array()) {
      for (const auto& e : *it) value += (value.empty() ? "" : ", ") + e.get<std::string>();
      if (value.empty()) value = "-";
    } else {
      value = it->dump();
    }
    rows.push_back({{"setting", it.key()}, {"value", value}});
  }
  print(rows, format, {{"SETTING", "setting"}, {"VALUE", "value"}});
}

std::vector<std::string> current(const v1::Settings& s, const std::string& key) {
  const auto& f = key == "forward_headers"   ? s.forward_headers()
                  : key == "allowed_headers" ? s.allowed_headers()
                  : key == "allowed_origins" ? s.allowed_origins()
                                             : s.extra_headers();
  return {f.begin(), f.end()};
}

void setList(v1::UpdateSettingsRequest& req, const std::string& key,
             const std::vector<std::string>& items) {
  google::protobuf::RepeatedPtrField<std::string>* f;
  if (key == "forward_headers") {
    req.set_replace_forward_headers(true);
    f = req.mutable_forward_headers();
  } else if (key == "allowed_headers") {
    req.set_replace_allowed_headers(true);
    f = req.mutable_allowed_headers();
  } else if (key == "allowed_origins") {
    req.set_replace_allowed_origins(true);
    f = req.mutable_allowed_origins();
  } else {
    req.set_replace_extra_headers(true);
    f = req.mutable_extra_headers();
  }
  f->Clear();
  for (const auto& i : items) f->Add()->assign(i);
}

bool isEdit(const std::string& value) {
  return !value.empty() && (value.front() == '+' || value.front() == '-');
}

}  // namespace

int runSettings(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty()) throw CliError(kExitUsage, "usage: finopsctl settings get | set KEY=VALUE...");
  std::string cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (cmd == "get") {
    Args a(rest, {}, {});
    a.expectPositional(0, "finopsctl settings get");
    Client client(g);
    auto ctx = client.context();
    v1::SettingsInfo resp;
    client.check(client.stub().GetSettings(ctx.get(), {}, &resp));
    printSettings(resp, g.output);
    return kExitOk;
  }
  if (cmd == "set") {
    Args a(rest, {}, {});
    if (a.positional().empty()) throw CliError(kExitUsage, kSetUsage);
    // Check every KEY=VALUE before calling anything.
    std::vector<std::pair<std::string, std::string>> edits;
    bool needCurrent = false;
    for (const auto& kv : a.positional()) {
      auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw CliError(kExitUsage, "expected KEY=VALUE, got '" + kv + "'\n" + kSetUsage);
      std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
      if (!isBoolSetting(key) && !isListSetting(key))
        throw CliError(kExitUsage, "unknown setting '" + key +
                                       "' (known: enforce_keys, log_content, forward_headers, "
                                       "allowed_headers, allowed_origins, extra_headers)");
      if (isBoolSetting(key)) parseBoolSetting(key, value);
      if (isListSetting(key) && isEdit(value)) needCurrent = true;
      edits.emplace_back(std::move(key), std::move(value));
    }
    Client client(g);
    // "+" and "-" edit the list the control plane has now.
    v1::Settings now;
    if (needCurrent) {
      auto ctx = client.context();
      v1::SettingsInfo info;
      client.check(client.stub().GetSettings(ctx.get(), {}, &info));
      now = info.settings();
    }
    v1::UpdateSettingsRequest req;
    for (const auto& [key, value] : edits) {
      if (key == "enforce_keys") {
        req.set_enforce_keys(parseBoolSetting(key, value));
        continue;
      }
      if (key == "log_content") {
        req.set_log_content(parseBoolSetting(key, value));
        continue;
      }
      auto items = editSettingList(key, current(now, key), value);
      setList(req, key, items);
      // A later edit of the same key builds on this one.
      if (key == "forward_headers")
        *now.mutable_forward_headers() = req.forward_headers();
      else if (key == "allowed_headers")
        *now.mutable_allowed_headers() = req.allowed_headers();
      else if (key == "allowed_origins")
        *now.mutable_allowed_origins() = req.allowed_origins();
      else
        *now.mutable_extra_headers() = req.extra_headers();
    }
    auto ctx = client.context();
    v1::SettingsInfo resp;
    client.check(client.stub().UpdateSettings(ctx.get(), req, &resp));
    printSettings(resp, g.output);
    return kExitOk;
  }
  throw CliError(kExitUsage, "unknown command 'settings " + cmd + "'");
}

int runDataPlanes(const GlobalOptions& g, const std::vector<std::string>& argv) {
  if (argv.empty() || (argv[0] != "list" && argv[0] != "ls"))
    throw CliError(kExitUsage, "usage: finopsctl dataplanes list");
  Args a(std::vector<std::string>(argv.begin() + 1, argv.end()), {}, {});
  a.expectPositional(0, "finopsctl dataplanes list");
  Client client(g);
  auto ctx = client.context();
  v1::ListDataPlanesResponse resp;
  client.check(client.stub().ListDataPlanes(ctx.get(), {}, &resp));
  ordered_json arr = ordered_json::array();
  for (const auto& d : resp.data_planes()) {
    arr.push_back(
        {{"node_id", d.node_id()},
         {"peer", d.peer()},
         {"connected", d.connected()},
         {"acked_version", d.acked_version()},
         {"last_nack", d.last_nack().empty() ? ordered_json(nullptr) : ordered_json(d.last_nack())},
         {"connected_at", timestampJson(d.connected_at())},
         {"last_ack_at", timestampJson(d.last_ack_at())}});
  }
  if (g.output == "table") {
    std::cout << "config version " << resp.config_version() << "\n";
    print(arr, g.output,
          {{"NODE", "node_id"},
           {"PEER", "peer"},
           {"CONNECTED", "connected"},
           {"ACKED VERSION", "acked_version"},
           {"LAST NACK", "last_nack"}});
  } else {
    print(ordered_json{{"config_version", resp.config_version()}, {"data_planes", arr}}, g.output,
          {});
  }
  return kExitOk;
}

}  // namespace finops::cli
