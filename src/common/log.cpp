#include "common/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <vector>

namespace osprey::log {
namespace {

// The secret list is read on every log line and written rarely, so it is an
// immutable vector swapped under a lock (copy-on-write).
std::mutex g_write_mu;
std::shared_ptr<const std::vector<std::string>> g_secrets = std::make_shared<std::vector<std::string>>();

std::shared_ptr<const std::vector<std::string>> secrets() { return std::atomic_load(&g_secrets); }

class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RedactingSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto list = secrets();
    if (list->empty()) {
      inner_->log(msg);
      return;
    }
    std::string_view payload(msg.payload.data(), msg.payload.size());
    bool hit = false;
    for (const auto& s : *list) {
      if (payload.find(s) != std::string_view::npos) {
        hit = true;
        break;
      }
    }
    if (!hit) {
      inner_->log(msg);
      return;
    }
    std::string clean = redact(payload);
    spdlog::details::log_msg copy(msg.time, msg.source, msg.logger_name, msg.level, clean);
    copy.thread_id = msg.thread_id;
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }
  // The formatter belongs to the sink that writes; forward it.
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> f) override { inner_->set_formatter(std::move(f)); }

 private:
  spdlog::sink_ptr inner_;
};

spdlog::level::level_enum parse_level(std::string_view name) {
  auto lvl = spdlog::level::from_str(std::string(name));
  if (lvl == spdlog::level::off && name != "off") {
    throw std::invalid_argument("unknown log level '" + std::string(name) +
                                "' (expected trace, debug, info, warn, error, critical or off)");
  }
  return lvl;
}

}  // namespace

void init(std::string_view level, const std::string& file) {
  auto lvl = parse_level(level);
  spdlog::sink_ptr inner;
  if (file.empty()) {
    inner = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    inner = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
  }
  auto sink = std::make_shared<RedactingSink>(inner);
  auto logger = std::make_shared<spdlog::logger>("osprey", sink);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

void set_level(std::string_view level) { spdlog::set_level(parse_level(level)); }

void register_secret(std::string_view secret) {
  if (secret.size() < 6) return;
  std::lock_guard lock(g_write_mu);
  auto cur = secrets();
  for (const auto& s : *cur)
    if (s == secret) return;
  auto next = std::make_shared<std::vector<std::string>>(*cur);
  next->emplace_back(secret);
  // Longest first so that a secret containing another is replaced whole.
  std::sort(next->begin(), next->end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::atomic_store(&g_secrets, std::shared_ptr<const std::vector<std::string>>(std::move(next)));
}

void forget_all_secrets() {
  std::lock_guard lock(g_write_mu);
  std::atomic_store(&g_secrets, std::shared_ptr<const std::vector<std::string>>(
                                    std::make_shared<std::vector<std::string>>()));
}

std::string redact(std::string_view text) {
  std::string out(text);
  auto list = secrets();
  for (const auto& s : *list) {
    std::size_t pos = 0;
    while ((pos = out.find(s, pos)) != std::string::npos) {
      out.replace(pos, s.size(), "[REDACTED]");
      pos += 10;
    }
  }
  return out;
}

void flush() {
  if (auto l = spdlog::default_logger()) l->flush();
}

}  // namespace osprey::log
