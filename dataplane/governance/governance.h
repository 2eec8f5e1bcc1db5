// What the request path needs for governance: the local quota and the usage reporter.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "dataplane/governance/quota.h"
#include "dataplane/governance/reporter.h"

namespace finops::dp {

struct Governance {
  Quota quota;
  std::unique_ptr<Reporter> reporter;  // null: usage is not reported (no control plane)
  std::string nodeName;
  std::atomic<int64_t> unpricedRequests{0};
  std::atomic<int64_t> refusals{0};
};

}  // namespace finops::dp
