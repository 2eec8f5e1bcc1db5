#include "cli/settings.h"

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

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
          {"config_version", s.config_version()},
          {"revision", s.revision()}};
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

using Names = google::protobuf::RepeatedPtrField<std::string>;

// Where each list setting lives in Settings and in UpdateSettingsRequest (one table, so a new
// list setting is one line here).
struct ListField {
  const char* key;
  const Names& (v1::Settings::*read)() const;
  Names* (v1::Settings::*write)();
  Names* (v1::UpdateSettingsRequest::*request)();
  void (v1::UpdateSettingsRequest::*replace)(bool);
};
constexpr ListField kListFields[] = {
    {"forward_headers", &v1::Settings::forward_headers, &v1::Settings::mutable_forward_headers,
     &v1::UpdateSettingsRequest::mutable_forward_headers,
     &v1::UpdateSettingsRequest::set_replace_forward_headers},
    {"allowed_headers", &v1::Settings::allowed_headers, &v1::Settings::mutable_allowed_headers,
     &v1::UpdateSettingsRequest::mutable_allowed_headers,
     &v1::UpdateSettingsRequest::set_replace_allowed_headers},
    {"allowed_origins", &v1::Settings::allowed_origins, &v1::Settings::mutable_allowed_origins,
     &v1::UpdateSettingsRequest::mutable_allowed_origins,
     &v1::UpdateSettingsRequest::set_replace_allowed_origins},
    {"extra_headers", &v1::Settings::extra_headers, &v1::Settings::mutable_extra_headers,
     &v1::UpdateSettingsRequest::mutable_extra_headers,
     &v1::UpdateSettingsRequest::set_replace_extra_headers},
};

const ListField& listField(const std::string& key) {
  for (const auto& f : kListFields)
    if (key == f.key) return f;
  throw CliError(kExitUsage, "unknown list setting '" + key + "'");
}

// The request for `edits`; "+" and "-" edits apply to `now` (what the control plane has), and a
// later edit of the same key builds on an earlier one.
v1::UpdateSettingsRequest buildUpdate(const std::vector<std::pair<std::string, std::string>>& edits,
                                      v1::Settings now) {
  v1::UpdateSettingsRequest req;
  for (const auto& [key, value] : edits) {
    if (key == "enforce_keys") {
      req.set_enforce_keys(parseBoolSetting(key, value));
    } else if (key == "log_content") {
      req.set_log_content(parseBoolSetting(key, value));
    } else {
      const ListField& f = listField(key);
      const Names& had = (now.*f.read)();
      auto items = editSettingList(key, {had.begin(), had.end()}, value);
      Names* list = (now.*f.write)();
      list->Clear();
      for (auto& i : items) list->Add(std::move(i));
      (req.*f.replace)(true);
      *(req.*f.request)() = *list;
    }
  }
  return req;
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
    v1::SettingsInfo resp;
    if (!needCurrent) {
      auto ctx = client.context();
      client.check(client.stub().UpdateSettings(ctx.get(), buildUpdate(edits, {}), &resp));
      printSettings(resp, g.output);
      return kExitOk;
    }
    // "+" and "-" edit the lists the control plane has now: read them, edit, and write only if
    // nobody changed the settings in between (if_revision); if somebody did, start again.
    constexpr int kTries = 10;
    for (int attempt = 1;; ++attempt) {
      v1::SettingsInfo info;
      {
        auto ctx = client.context();
        client.check(client.stub().GetSettings(ctx.get(), {}, &info));
      }
      v1::UpdateSettingsRequest req = buildUpdate(edits, info.settings());
      req.set_if_revision(info.revision());
      auto ctx = client.context();
      grpc::Status st = client.stub().UpdateSettings(ctx.get(), req, &resp);
      if (st.error_code() == grpc::StatusCode::ABORTED && attempt < kTries) {
        // Another edit won: wait a little (random, growing) so that many editors spread out.
        thread_local std::minstd_rand rng{std::random_device{}()};
        std::uniform_int_distribution<int> ms(5, 20 * attempt);
        std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
        continue;
      }
      client.check(st);
      // A control plane older than conditional updates ignores if_revision (and reports no
      // revision): the edit went through unconditionally.
      if (info.revision() == 0 && resp.revision() == 0)
        std::cerr << "warning: this control plane does not support conditional settings updates; "
                     "an edit made by someone else at the same moment may have been overwritten\n";
      break;
    }
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
