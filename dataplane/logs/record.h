// The request-log record of a finished exchange (docs/observability.md): what the request path
// does for the request log, kept to copying what it already knows; the shipper's thread does
// the rest.
#pragma once

#include <chrono>
#include <string>

#include "dataplane/server/exchange.h"

namespace finops::dp::logs {

class Shipper;

// Whether this request's content may be logged: content logging on in the settings and for
// the key, not turned off by "x-finops-log-content: off" (or false/0/no), and a content limit
// above zero.
bool contentWanted(const Exchange& ex);

// Builds the record (and the raw content when ex.logContent) and offers it to the shipper,
// which drops it when its buffer is full. Takes the kept response out of ex.
void submit(Exchange& ex, Shipper& shipper, std::chrono::steady_clock::duration elapsed);

// The shipper's figures in Prometheus text (finops_log_*).
void writeMetrics(const Shipper& shipper, std::string& out);

}  // namespace finops::dp::logs
