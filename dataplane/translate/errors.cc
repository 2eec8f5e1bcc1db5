// Errors in each client dialect, and OpenAI-compatible upstream errors.
#include <algorithm>
#include <cctype>

#include "dataplane/translate/json_util.h"
#include "dataplane/translate/translator.h"

namespace finops::dp {
namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Anthropic's error type for a status (docs: "HTTP errors").
const char* anthropicType(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

// Google's canonical status name for an HTTP status.
const char* googleStatus(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 402: return "FAILED_PRECONDITION";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 413: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

ojson openAIErrorObject(const ApiError& e) {
  // OpenAI's field order: message, type, param, code.
  ojson inner;
  inner["message"] = e.message;
  inner["type"] = e.type;
  inner["param"] = e.param.empty() ? ojson(nullptr) : ojson(e.param);
  inner["code"] = e.code.empty() ? ojson(nullptr) : ojson(e.code);
  return inner;
}

ojson anthropicBody(const ApiError& e) {
  ojson j;
  j["type"] = "error";
  ojson inner;
  inner["type"] = anthropicType(e.status);
  inner["message"] = e.message;
  j["error"] = std::move(inner);
  return j;
}

ojson geminiBody(const ApiError& e) {
  ojson inner;
  inner["code"] = e.status;
  inner["message"] = e.message;
  inner["status"] = googleStatus(e.status);
  ojson j;
  j["error"] = std::move(inner);
  return j;
}

}  // namespace

std::string renderError(Dialect d, const ApiError& e) {
  switch (d) {
    case Dialect::kAnthropic: return dump(anthropicBody(e));
    case Dialect::kGemini: return dump(geminiBody(e));
    case Dialect::kOpenAI: break;
  }
  ojson j;
  j["error"] = openAIErrorObject(e);
  return dump(j);
}

std::string renderStreamError(Dialect d, const ApiError& e) {
  if (d == Dialect::kAnthropic) return "event: error\ndata: " + renderError(d, e) + "\n\n";
  return "data: " + renderError(d, e) + "\n\n";
}

std::string errorBody(const ApiError& e) { return renderError(Dialect::kOpenAI, e); }

std::string errorEvent(std::string_view message, std::string_view code) {
  return renderStreamError(Dialect::kOpenAI,
                           apiError(502, "server_error", std::string(code), std::string(message)));
}

ApiError apiErrorFromOpenAI(const json& error) {
  const json* e = &error;
  if (e->is_object() && e->contains("error") && (*e)["error"].is_object()) e = &(*e)["error"];
  auto str = [&](const char* k) -> std::string {
    if (!e->is_object()) return {};
    auto it = e->find(k);
    if (it == e->end() || it->is_null()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
  };
  ApiError out = apiError(502, str("type"), str("code"), str("message"), str("param"));
  if (out.type.empty()) out.type = "server_error";
  if (out.message.empty()) out.message = e->is_string() ? e->get<std::string>() : "upstream error";
  auto has = [&](std::string_view s) {
    return out.type.find(s) != std::string::npos || out.code.find(s) != std::string::npos;
  };
  if (has("rate_limit") || has("insufficient_quota") || out.type == "requests" || out.type == "tokens")
    out.status = 429;
  else if (has("overloaded") || has("unavailable")) out.status = 503;
  else if (has("timeout")) out.status = 504;
  else if (has("authentication") || has("invalid_api_key")) out.status = 401;
  else if (has("permission")) out.status = 403;
  else if (has("not_found")) out.status = 404;
  else if (has("invalid_request")) out.status = 400;
  return out;
}

ApiError openAIUpstreamError(int status, std::string_view body) {
  std::string defaultType = status >= 500 ? "server_error"
                            : status == 429 ? "rate_limit_error"
                                            : "invalid_request_error";
  json j = parseUntrusted<json>(body);
  ApiError e = apiError(status, defaultType, "upstream_error", "");
  if (j.is_object()) {
    const json* src = &j;
    if (j.contains("error") && j["error"].is_object()) src = &j["error"];
    else if (j.contains("error") && j["error"].is_string()) e.message = j["error"].get<std::string>();
    auto str = [&](const char* k) -> std::string {
      auto it = src->find(k);
      if (it == src->end() || it->is_null()) return {};
      return it->is_string() ? it->get<std::string>() : it->dump();
    };
    if (e.message.empty()) e.message = str("message");
    if (e.message.empty()) e.message = str("detail");
    if (auto t = str("type"); !t.empty()) e.type = t;
    if (auto c = str("code"); !c.empty()) e.code = c;
    e.param = str("param");
  }
  if (e.message.empty()) {
    std::string text(body.substr(0, 2000));
    e.message = text.empty() ? "upstream returned HTTP " + std::to_string(status)
                             : "upstream returned HTTP " + std::to_string(status) + ": " + text;
  }
  return e;
}

ApiError Translator::upstreamError(int status, std::string_view body) {
  return openAIUpstreamError(status, body);
}

}  // namespace finops::dp
