#pragma once
// Prometheus metrics for the whole process.
//
//   auto& reqs = metrics::Registry::global().counter(
//       "osprey_http_requests_total", "HTTP requests by route and status",
//       {{"route", "/v1/detect"}, {"status", "200"}});
//   reqs.inc();
//
// counter()/gauge()/histogram() return a reference that stays valid for the
// life of the process (series are never deleted), so hot paths look a
// series up once and keep the reference. Updates are lock-free atomics;
// lookups take a mutex. render() produces the text exposition format
// (version 0.0.4) served at GET /metrics.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace osprey::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v);
  void inc(double v = 1.0);
  void dec(double v = 1.0) { inc(-v); }
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Snapshot for rendering: cumulative counts per bound, then +Inf.
  std::vector<std::uint64_t> cumulative_counts() const;
  const std::vector<double>& bounds() const { return bounds_; }
  double sum() const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Default latency buckets in seconds (100 us .. 60 s).
std::vector<double> latency_buckets();

// Writes series in the exposition format; what a collector (below) gets.
class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}
  // Once per family, before its samples.
  void family(const std::string& name, const std::string& help, const char* type);
  void sample(const std::string& name, const Labels& labels, double value);
  void histogram(const std::string& name, const Labels& labels, const Histogram& h);

 private:
  std::string& out_;
};

// A collector renders series that come and go with the objects they
// describe (one video stream's counters): they are read from those objects
// at scrape time, so a deleted stream leaves no series behind (registry
// series are never deleted).
using Collector = std::function<void(Exposition&)>;

class Registry {
 public:
  // Returns a handle for remove_collector(). The collector runs inside
  // render(), under the registry's lock: it must not call back into it.
  std::uint64_t add_collector(Collector c);
  void remove_collector(std::uint64_t handle);

  static Registry& global();

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = latency_buckets());

  std::string render() const;

  Registry();
  ~Registry();

 private:
  struct Family;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  std::vector<std::pair<std::uint64_t, Collector>> collectors_;
  std::uint64_t next_collector_ = 1;
  Family& family(const std::string& name, const std::string& help, const char* type);
};

}  // namespace osprey::metrics
