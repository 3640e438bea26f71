#include "metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace osprey::metrics {
namespace {

void atomic_add(std::atomic<double>& target, double v) {
  double cur = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string escape_label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string format_labels(const Labels& labels, const std::string& extra_key = {}, const std::string& extra_val = {}) {
  if (labels.empty() && extra_key.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ',';
    out += extra_key + "=\"" + extra_val + "\"";
  }
  out += '}';
  return out;
}

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

}  // namespace

void Counter::inc(double v) {
  if (v < 0) return;  // counters only go up
  atomic_add(value_, v);
}
double Counter::value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::inc(double v) { atomic_add(value_, v); }
double Gauge::value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  buckets_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}
double Histogram::sum() const { return sum_.load(std::memory_order_relaxed); }
std::uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

struct Registry::Family {
  std::string name, help, type;
  // Keyed by the rendered label string so that equal label sets share a series.
  std::map<std::string, std::pair<Labels, std::unique_ptr<Counter>>> counters;
  std::map<std::string, std::pair<Labels, std::unique_ptr<Gauge>>> gauges;
  std::map<std::string, std::pair<Labels, std::unique_ptr<Histogram>>> histograms;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::global() {
  static Registry* r = new Registry();  // never destroyed: references outlive static teardown
  return *r;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, const char* type) {
  for (auto& f : families_)
    if (f->name == name) {
      if (f->type != type) throw std::logic_error("metric " + name + " registered with two types");
      return *f;
    }
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = type;
  families_.push_back(std::move(f));
  return *families_.back();
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "counter");
  auto key = format_labels(labels);
  auto& slot = f.counters[key];
  if (!slot.second) slot = {labels, std::make_unique<Counter>()};
  return *slot.second;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "gauge");
  auto key = format_labels(labels);
  auto& slot = f.gauges[key];
  if (!slot.second) slot = {labels, std::make_unique<Gauge>()};
  return *slot.second;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "histogram");
  auto key = format_labels(labels);
  auto& slot = f.histograms[key];
  if (!slot.second) slot = {labels, std::make_unique<Histogram>(std::move(bounds))};
  return *slot.second;
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(8192);
  Exposition x(out);
  for (const auto& f : families_) {
    x.family(f->name, f->help, f->type.c_str());
    for (const auto& [key, s] : f->counters) out += f->name + key + " " + format_value(s.second->value()) + "\n";
    for (const auto& [key, s] : f->gauges) out += f->name + key + " " + format_value(s.second->value()) + "\n";
    for (const auto& [key, s] : f->histograms) x.histogram(f->name, s.first, *s.second);
  }
  for (const auto& [_, c] : collectors_) c(x);
  return out;
}

std::uint64_t Registry::add_collector(Collector c) {
  std::lock_guard lock(mu_);
  collectors_.emplace_back(next_collector_, std::move(c));
  return next_collector_++;
}

void Registry::remove_collector(std::uint64_t handle) {
  std::lock_guard lock(mu_);
  std::erase_if(collectors_, [&](const auto& e) { return e.first == handle; });
}

void Exposition::family(const std::string& name, const std::string& help, const char* type) {
  out_ += "# HELP " + name + " " + help + "\n";
  out_ += "# TYPE " + name + " " + type + "\n";
}

void Exposition::sample(const std::string& name, const Labels& labels, double value) {
  out_ += name + format_labels(labels) + " " + format_value(value) + "\n";
}

void Exposition::histogram(const std::string& name, const Labels& labels, const Histogram& h) {
  auto counts = h.cumulative_counts();
  for (std::size_t i = 0; i < h.bounds().size(); ++i)
    out_ += name + "_bucket" + format_labels(labels, "le", format_value(h.bounds()[i])) + " " +
            std::to_string(counts[i]) + "\n";
  out_ += name + "_bucket" + format_labels(labels, "le", "+Inf") + " " + std::to_string(counts.back()) + "\n";
  auto key = format_labels(labels);
  out_ += name + "_sum" + key + " " + format_value(h.sum()) + "\n";
  out_ += name + "_count" + key + " " + std::to_string(h.count()) + "\n";
}

}  // namespace osprey::metrics
