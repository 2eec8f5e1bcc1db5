#include "controlplane/http/cp_metrics.h"

#include "common/log.h"
#include "controlplane/grpc/config_service.h"
#include "controlplane/grpc/log_service.h"
#include "controlplane/grpc/usage_service.h"
#include "controlplane/store/log_retention.h"
#include "controlplane/store/log_store.h"

namespace finops::cp {

using metrics::writeLabelled;
using metrics::writeMetric;

std::unique_ptr<metrics::CounterFamily> makeAdminCallsFamily(metrics::Registry& registry) {
  return std::make_unique<metrics::CounterFamily>(
      registry, "finops_admin_calls_total",
      "Admin API calls (finopsctl, the /logs page) by method and result code.",
      std::vector<std::string>{"method", "code"});
}

void addConfigMetrics(metrics::Registry& registry, const Publisher& publisher) {
  registry.addCollector([&publisher](std::string& out) {
    auto snapshot = publisher.current();
    writeMetric(out, "finops_config_version", "gauge",
                "Version of the newest configuration snapshot published to data planes.",
                snapshot ? static_cast<double>(snapshot->version()) : 0);
    size_t connected = 0;
    for (const auto& dp : publisher.dataPlanes())
      if (dp.connected()) ++connected;
    writeMetric(out, "finops_dataplanes_connected", "gauge",
                "Data planes connected to the config stream now.", static_cast<double>(connected));
  });
}

void addUsageMetrics(metrics::Registry& registry, const UsageServiceImpl& usage) {
  registry.addCollector([&usage](std::string& out) {
    writeMetric(out, "finops_usage_records_applied_total", "counter",
                "Usage records from data planes stored for the first time (a record sent again "
                "is not counted twice).",
                static_cast<double>(usage.recordsApplied()));
  });
}

void writeLogMetrics(std::string& out, const LogMetricValues& v) {
  writeMetric(out, "finops_log_records_received_total", "counter",
              "Request-log records received from data planes in valid batches (a batch sent "
              "again counts again).",
              static_cast<double>(v.received));
  writeMetric(out, "finops_log_records_stored_total", "counter",
              "Request-log records stored for the first time.", static_cast<double>(v.stored));
  writeMetric(out, "finops_log_records_dropped_by_dataplanes_total", "counter",
              "Request-log records the data planes report having dropped (buffer full), summed "
              "over data planes.",
              static_cast<double>(v.droppedByDataPlanes));
  if (v.haveTotals) {
    writeMetric(out, "finops_log_store_rows", "gauge", "Request logs held in the store.",
                static_cast<double>(v.storeRows));
    writeMetric(out, "finops_log_store_bytes", "gauge",
                "Estimated bytes the request logs take in the store (what --log-max-bytes caps).",
                static_cast<double>(v.storeBytes));
  }
  writeLabelled(out, "finops_log_records_deleted_total", "counter",
                "Request logs deleted by retention, by reason (--log-retention-days: age, "
                "--log-max-bytes: size).",
                "reason",
                {{"age", static_cast<double>(v.deletedForAge)},
                 {"size", static_cast<double>(v.deletedForSize)}});
}

void addLogMetrics(metrics::Registry& registry, const LogServiceImpl* service, LogStore* store,
                   const LogRetention* retention) {
  registry.addCollector([service, store, retention](std::string& out) {
    LogMetricValues v;
    if (service) {
      v.received = service->stats().received.load();
      v.stored = service->stats().stored.load();
      v.droppedByDataPlanes = service->stats().droppedByDataPlanes();
    }
    if (store) {
      try {
        LogTotals t = store->totals();
        v.haveTotals = true;
        v.storeRows = t.rows;
        v.storeBytes = t.bytes;
      } catch (const std::exception& e) {
        log::warn("metrics: cannot read the request log totals", {{"error", e.what()}});
      }
    }
    if (retention) {
      v.deletedForAge = retention->stats().deletedForAge.load();
      v.deletedForSize = retention->stats().deletedForSize.load();
    }
    writeLogMetrics(out, v);
  });
}

}  // namespace finops::cp
