// Custom prices set with finopsctl. They override the builtin table shipped in the binary.
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <ctime>

#include "controlplane/store/store.h"

namespace finops::cp {
namespace {
using Code = StoreError::Code;

PriceRow readPrice(SQLite::Statement& q) {
  PriceRow r;
  r.provider = q.getColumn(0).getString();
  r.model = q.getColumn(1).getString();
  r.input = q.getColumn(2).getInt64();
  r.output = q.getColumn(3).getInt64();
  if (!q.getColumn(4).isNull()) r.cachedInput = q.getColumn(4).getInt64();
  if (!q.getColumn(5).isNull()) r.cacheWrite = q.getColumn(5).getInt64();
  r.perImage = q.getColumn(6).getInt64();
  r.perSecond = q.getColumn(7).getInt64();
  r.source = "custom";
  return r;
}

constexpr const char* kSelect =
    "SELECT provider, model, input, output, cached_input, cache_write, per_image, per_second "
    "FROM prices";
}  // namespace

std::vector<PriceRow> Store::listCustomPrices() {
  std::lock_guard lock(mu_);
  SQLite::Statement q(db_, std::string(kSelect) + " ORDER BY provider, model");
  std::vector<PriceRow> rows;
  while (q.executeStep()) rows.push_back(readPrice(q));
  return rows;
}

PriceRow Store::setPrice(const PriceRow& row) {
  if (row.provider.empty() || row.model.empty() || row.provider.size() > 64 || row.model.size() > 256)
    throw StoreError(Code::kInvalidArgument, "a price needs a provider and a model (provider/model)");
  auto neg = [](int64_t v) { return v < 0; };
  if (neg(row.input) || neg(row.output) || neg(row.cachedInput.value_or(0)) ||
      neg(row.cacheWrite.value_or(0)) || neg(row.perImage) || neg(row.perSecond))
    throw StoreError(Code::kInvalidArgument, "prices cannot be negative");
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement up(db_,
                       "INSERT INTO prices(provider, model, input, output, cached_input, cache_write, "
                       "per_image, per_second, updated_at) VALUES (?,?,?,?,?,?,?,?,?) "
                       "ON CONFLICT(provider, model) DO UPDATE SET input = excluded.input, "
                       "output = excluded.output, cached_input = excluded.cached_input, "
                       "cache_write = excluded.cache_write, per_image = excluded.per_image, "
                       "per_second = excluded.per_second, updated_at = excluded.updated_at");
  up.bind(1, row.provider);
  up.bind(2, row.model);
  up.bind(3, row.input);
  up.bind(4, row.output);
  if (row.cachedInput) up.bind(5, *row.cachedInput);
  else up.bind(5);
  if (row.cacheWrite) up.bind(6, *row.cacheWrite);
  else up.bind(6);
  up.bind(7, row.perImage);
  up.bind(8, row.perSecond);
  up.bind(9, static_cast<int64_t>(std::time(nullptr)));
  up.exec();
  bumpVersionLocked();
  tx.commit();
  PriceRow out = row;
  out.source = "custom";
  return out;
}

PriceRow Store::deletePrice(const std::string& provider, const std::string& model) {
  std::lock_guard lock(mu_);
  SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
  SQLite::Statement q(db_, std::string(kSelect) + " WHERE provider = ? AND model = ?");
  q.bind(1, provider);
  q.bind(2, model);
  if (!q.executeStep())
    throw StoreError(Code::kNotFound, "no custom price for " + provider + "/" + model);
  PriceRow out = readPrice(q);
  q.reset();
  SQLite::Statement del(db_, "DELETE FROM prices WHERE provider = ? AND model = ?");
  del.bind(1, provider);
  del.bind(2, model);
  del.exec();
  bumpVersionLocked();
  tx.commit();
  return out;
}

}  // namespace finops::cp
