#include "dataplane/logs/record.h"

#include <boost/beast/core/string.hpp>

#include "dataplane/logs/content.h"
#include "dataplane/logs/shipper.h"
#include "dataplane/server/server.h"

namespace finops::dp::logs {

namespace {

int64_t micros(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

const char* dialectName(Dialect d) {
  switch (d) {
    case Dialect::kAnthropic: return "anthropic";
    case Dialect::kGemini: return "genai";
    default: return "openai";
  }
}

void counter(std::string& out, const char* name, const char* help, int64_t v, const char* type = "counter") {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(std::to_string(v)).append("\n");
}

}  // namespace

bool contentWanted(const Exchange& ex) {
  if (!ex.server || ex.server->logContentMaxBytes == 0 || !ex.server->logShipper) return false;
  if (!ex.config || !ex.config->logContent) return false;
  if (ex.key && !ex.key->logContent) return false;
  std::string_view h = ex.req["x-finops-log-content"];
  for (std::string_view off : {"off", "false", "0", "no"})
    if (boost::beast::iequals(h, off)) return false;
  return true;
}

void submit(Exchange& ex, Shipper& shipper, std::chrono::steady_clock::duration elapsed) {
  finops::v1::LogRecord r;
  r.set_request_id(ex.requestId);
  auto wallStart = std::chrono::system_clock::now() -
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
  r.set_ts_ms(std::chrono::duration_cast<std::chrono::milliseconds>(wallStart.time_since_epoch()).count());
  if (ex.gov) r.set_node(ex.gov->nodeName);
  if (ex.key) {
    r.set_key_id(ex.key->id);
    r.set_key_name(ex.key->name);
    r.set_team_id(ex.key->teamId);
    r.set_team_name(ex.key->teamName);
    r.set_customer_id(ex.key->customerId);
    r.set_customer_name(ex.key->customerName);
  }
  r.set_method(std::string(ex.req.method_string()));
  std::string_view target = ex.req.target();
  r.set_route(std::string(target.substr(0, std::min(target.find('?'), size_t{1024}))));
  r.set_provider(ex.provider);
  // The model as the client sent it, whatever it was (cut: the control plane refuses text
  // fields over 4 KiB).
  r.set_model(ex.model.substr(0, std::min<size_t>(ex.model.size(), 1024)));
  r.set_status(static_cast<int32_t>(ex.status));
  r.set_error_type(ex.errorType);
  r.set_latency_us(micros(elapsed));
  if (ex.streamed && ex.firstContent != std::chrono::steady_clock::time_point{})
    r.set_ttft_us(micros(ex.firstContent - ex.start));
  r.set_overhead_us(std::max<int64_t>(0, ex.overheadUs));
  if (ex.charged) {
    r.set_prompt_tokens(ex.usage.promptTokens);
    r.set_completion_tokens(ex.usage.completionTokens);
    r.set_cached_tokens(ex.usage.cachedTokens);
    r.set_cost_nano(ex.costNano);
  }
  r.set_streamed(ex.streamed);
  r.set_dialect(dialectName(ex.dialect));
  if (!ex.logContent) {
    shipper.offer(std::move(r));
    return;
  }
  RawContent c;
  size_t max = ex.server ? ex.server->logContentMaxBytes : 0;
  std::string_view body = ex.req.body();
  c.truncated = ex.logTruncated || body.size() > max;
  c.request.assign(body.substr(0, max));
  c.response = std::move(ex.logResponse);
  c.streamed = ex.streamed;
  c.dialect = r.dialect();
  c.route = r.route();
  c.status = static_cast<int>(ex.status);
  shipper.offer(std::move(r), std::move(c));
}

void writeMetrics(const Shipper& s, std::string& out) {
  counter(out, "finops_log_records_buffered", "Request-log records waiting to be shipped.", s.buffered(), "gauge");
  counter(out, "finops_log_buffer_bytes", "Bytes of request-log records waiting to be shipped.",
          s.bufferedBytes(), "gauge");
  counter(out, "finops_log_records_shipped_total",
          "Request-log records the control plane accepted.", s.shipped());
  counter(out, "finops_log_records_dropped_total",
          "Request-log records dropped because the buffer was full (--log-buffer-records, "
          "--log-buffer-bytes).", s.dropped());
  counter(out, "finops_log_ship_failures_total", "Log batches the control plane did not accept (resent).",
          s.shipFailures());
}

}  // namespace finops::dp::logs
