// Customers and teams: the owners above virtual keys. A team belongs to at most one
// customer; a key to a team or a customer.
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>

#include "common/crypto.h"
#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;

std::string resolve(SQLite::Database& db, const char* table, const char* what,
                    const std::string& ref) {
  SQLite::Statement q(db, std::string("SELECT id FROM ") + table + " WHERE id = ?1 OR name = ?1 "
                          "ORDER BY id = ?1 DESC LIMIT 1");
  q.bind(1, ref);
  if (!q.executeStep()) throw StoreError(Code::kNotFound, std::string(what) + " '" + ref + "' not found");
  return q.getColumn(0).getString();
}
}  // namespace

std::string Store::resolveCustomerLocked(const std::string& ref) {
  return resolve(db_, "customers", "customer", ref);
}
std::string Store::resolveTeamLocked(const std::string& ref) { return resolve(db_, "teams", "team", ref); }

std::vector<CustomerRow> Store::listCustomersLocked(const std::string* only) {
  std::string sql =
      "SELECT c.id, c.name, c.created_at, "
      "(SELECT count(*) FROM teams t WHERE t.customer_id = c.id), "
      "(SELECT count(*) FROM virtual_keys k WHERE k.status != 'revoked' AND (k.customer_id = c.id "
      " OR k.team_id IN (SELECT id FROM teams WHERE customer_id = c.id))) FROM customers c";
  if (only) sql += " WHERE c.id = ?";
  sql += " ORDER BY c.name";
  SQLite::Statement q(db_, sql);
  if (only) q.bind(1, *only);
  std::vector<CustomerRow> rows;
  while (q.executeStep()) {
    CustomerRow r;
    r.id = q.getColumn(0).getString();
    r.name = q.getColumn(1).getString();
    r.createdAt = q.getColumn(2).getInt64();
    r.teams = q.getColumn(3).getInt();
    r.keys = q.getColumn(4).getInt();
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<TeamRow> Store::listTeamsLocked(const std::string* only, const std::string* customer) {
  std::string sql =
      "SELECT t.id, t.name, coalesce(t.customer_id, ''), coalesce(c.name, ''), t.created_at, "
      "(SELECT count(*) FROM virtual_keys k WHERE k.team_id = t.id AND k.status != 'revoked') "
      "FROM teams t LEFT JOIN customers c ON c.id = t.customer_id WHERE 1";
  if (only) sql += " AND t.id = ?1";
  if (customer) sql += " AND t.customer_id = ?2";
  sql += " ORDER BY t.name";
  SQLite::Statement q(db_, sql);
  if (only) q.bind(1, *only);
  if (customer) q.bind(2, *customer);
  std::vector<TeamRow> rows;
  while (q.executeStep()) {
    TeamRow r;
    r.id = q.getColumn(0).getString();
    r.name = q.getColumn(1).getString();
    r.customerId = q.getColumn(2).getString();
    r.customerName = q.getColumn(3).getString();
    r.createdAt = q.getColumn(4).getInt64();
    r.keys = q.getColumn(5).getInt();
    rows.push_back(std::move(r));
  }
  return rows;
}

CustomerRow Store::createCustomer(const std::string& name) {
  validateDisplayName("customer", name);
  std::string id = randomId("cus_");
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement ins(db_, "INSERT INTO customers(id, name, created_at) VALUES (?, ?, ?)");
  ins.bind(1, id);
  ins.bind(2, name);
  ins.bind(3, static_cast<int64_t>(std::time(nullptr)));
  try {
    ins.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e)) throw StoreError(Code::kAlreadyExists, "customer '" + name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto out = listCustomersLocked(&id).at(0);
  tx.commit();
  return out;
}

CustomerRow Store::renameCustomer(const std::string& ref, const std::string& name) {
  validateDisplayName("customer", name);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveCustomerLocked(ref);
  SQLite::Statement up(db_, "UPDATE customers SET name = ? WHERE id = ?");
  up.bind(1, name);
  up.bind(2, id);
  try {
    up.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e)) throw StoreError(Code::kAlreadyExists, "customer '" + name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto out = listCustomersLocked(&id).at(0);
  tx.commit();
  return out;
}

CustomerRow Store::getCustomer(const std::string& ref) {
  std::lock_guard lock(mu_);
  std::string id = resolveCustomerLocked(ref);
  return listCustomersLocked(&id).at(0);
}

std::vector<CustomerRow> Store::listCustomers() {
  std::lock_guard lock(mu_);
  return listCustomersLocked(nullptr);
}

CustomerRow Store::deleteCustomer(const std::string& ref) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveCustomerLocked(ref);
  auto out = listCustomersLocked(&id).at(0);
  SQLite::Statement busy(db_,
                         "SELECT (SELECT count(*) FROM teams WHERE customer_id = ?1) + "
                         "(SELECT count(*) FROM virtual_keys WHERE customer_id = ?1 AND status != 'revoked')");
  busy.bind(1, id);
  busy.executeStep();
  if (busy.getColumn(0).getInt() > 0)
    throw StoreError(Code::kInvalidArgument, "customer '" + out.name +
                                                 "' still has teams or keys; move or delete them first");
  SQLite::Statement detach(db_, "UPDATE virtual_keys SET customer_id = NULL WHERE customer_id = ?");
  detach.bind(1, id);
  detach.exec();
  SQLite::Statement delLimits(db_, "DELETE FROM limits WHERE owner_kind = 'customer' AND owner_id = ?");
  delLimits.bind(1, id);
  delLimits.exec();
  SQLite::Statement del(db_, "DELETE FROM customers WHERE id = ?");
  del.bind(1, id);
  del.exec();
  bumpVersionLocked();
  tx.commit();
  return out;
}

TeamRow Store::createTeam(const std::string& name, const std::string& customer) {
  validateDisplayName("team", name);
  std::string id = randomId("team_");
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string customerId = customer.empty() ? "" : resolveCustomerLocked(customer);
  SQLite::Statement ins(db_,
                        "INSERT INTO teams(id, name, customer_id, created_at) VALUES (?, ?, nullif(?, ''), ?)");
  ins.bind(1, id);
  ins.bind(2, name);
  ins.bind(3, customerId);
  ins.bind(4, static_cast<int64_t>(std::time(nullptr)));
  try {
    ins.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e)) throw StoreError(Code::kAlreadyExists, "team '" + name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto out = listTeamsLocked(&id, nullptr).at(0);
  tx.commit();
  return out;
}

TeamRow Store::updateTeam(const std::string& ref, const std::optional<std::string>& name,
                          const std::optional<std::string>& customer) {
  if (name) validateDisplayName("team", *name);
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveTeamLocked(ref);
  auto cur = listTeamsLocked(&id, nullptr).at(0);
  std::string customerId = cur.customerId;
  if (customer) customerId = customer->empty() ? "" : resolveCustomerLocked(*customer);
  SQLite::Statement up(db_, "UPDATE teams SET name = ?, customer_id = nullif(?, '') WHERE id = ?");
  up.bind(1, name.value_or(cur.name));
  up.bind(2, customerId);
  up.bind(3, id);
  try {
    up.exec();
  } catch (const SQLite::Exception& e) {
    if (isUniqueViolation(e)) throw StoreError(Code::kAlreadyExists, "team '" + *name + "' already exists");
    throw;
  }
  bumpVersionLocked();
  auto out = listTeamsLocked(&id, nullptr).at(0);
  tx.commit();
  return out;
}

TeamRow Store::getTeam(const std::string& ref) {
  std::lock_guard lock(mu_);
  std::string id = resolveTeamLocked(ref);
  return listTeamsLocked(&id, nullptr).at(0);
}

std::vector<TeamRow> Store::listTeams(const std::string& customer) {
  std::lock_guard lock(mu_);
  if (customer.empty()) return listTeamsLocked(nullptr, nullptr);
  std::string customerId = resolveCustomerLocked(customer);
  return listTeamsLocked(nullptr, &customerId);
}

TeamRow Store::deleteTeam(const std::string& ref) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  std::string id = resolveTeamLocked(ref);
  auto out = listTeamsLocked(&id, nullptr).at(0);
  if (out.keys > 0)
    throw StoreError(Code::kInvalidArgument,
                     "team '" + out.name + "' still has keys; move or delete them first");
  SQLite::Statement detach(db_, "UPDATE virtual_keys SET team_id = NULL WHERE team_id = ?");
  detach.bind(1, id);
  detach.exec();
  SQLite::Statement delLimits(db_, "DELETE FROM limits WHERE owner_kind = 'team' AND owner_id = ?");
  delLimits.bind(1, id);
  delLimits.exec();
  SQLite::Statement del(db_, "DELETE FROM teams WHERE id = ?");
  del.bind(1, id);
  del.exec();
  bumpVersionLocked();
  tx.commit();
  return out;
}

}  // namespace finops::cp
