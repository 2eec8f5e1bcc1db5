// The control plane's Prometheus series (served by MetricsServer at /metrics; docs/metrics.md
// lists them). A counter family for the admin calls, and collectors that read the other values
// at scrape time from the objects that keep them.
//
// Lifetime: every object handed to an add*Metrics function must outlive the registry's last
// render() (in main: stop the MetricsServer before they go).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/metrics.h"

namespace finops::cp {

class Publisher;
class UsageServiceImpl;
class LogServiceImpl;
class LogStore;
class LogRetention;

// finops_admin_calls_total{method,code}: AdminService calls by method and result (the gRPC
// status code's name, as the audit log records it: "OK", "PERMISSION_DENIED"...). Counted by
// AdminServiceImpl::run (setCallCounter).
std::unique_ptr<metrics::CounterFamily> makeAdminCallsFamily(metrics::Registry& registry);

// finops_config_version (the newest published snapshot's version, 0 before the first) and
// finops_dataplanes_connected (config streams open now).
void addConfigMetrics(metrics::Registry& registry, const Publisher& publisher);

// finops_usage_records_applied_total: usage records stored for the first time.
void addUsageMetrics(metrics::Registry& registry, const UsageServiceImpl& usage);

// The request-log series, as one set of values (what addLogMetrics reads).
struct LogMetricValues {
  int64_t received = 0;             // finops_log_records_received_total
  int64_t stored = 0;               // finops_log_records_stored_total
  int64_t droppedByDataPlanes = 0;  // finops_log_records_dropped_by_dataplanes_total
  bool haveTotals = false;          // false: the store gauges are left out (store unreadable)
  int64_t storeRows = 0;            // finops_log_store_rows
  int64_t storeBytes = 0;           // finops_log_store_bytes
  int64_t deletedForAge = 0;        // finops_log_records_deleted_total{reason="age"}
  int64_t deletedForSize = 0;       // finops_log_records_deleted_total{reason="size"}
};
void writeLogMetrics(std::string& out, const LogMetricValues& v);

// Registers a collector for the request-log series reading `service` (received, stored,
// dropped), `store` (LogStore::totals(): rows, bytes) and `retention` (deleted). A null source
// counts as zeros (a null store leaves the store gauges out, as does a totals() that fails).
void addLogMetrics(metrics::Registry& registry, const LogServiceImpl* service, LogStore* store,
                   const LogRetention* retention);

}  // namespace finops::cp
