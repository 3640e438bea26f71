#include <gtest/gtest.h>

#include <thread>

#include "metrics/registry.hpp"

using namespace osprey::metrics;

TEST(Metrics, CounterSeriesAreSharedByLabels) {
  Registry r;
  auto& a = r.counter("x_total", "help", {{"route", "/a"}});
  auto& b = r.counter("x_total", "help", {{"route", "/a"}});
  auto& c = r.counter("x_total", "help", {{"route", "/b"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.inc();
  b.inc(2);
  EXPECT_DOUBLE_EQ(a.value(), 3);
  auto text = r.render();
  EXPECT_NE(text.find("# TYPE x_total counter"), std::string::npos);
  EXPECT_NE(text.find("x_total{route=\"/a\"} 3"), std::string::npos);
  EXPECT_NE(text.find("x_total{route=\"/b\"} 0"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.histogram("lat_seconds", "latency", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  auto text = r.render();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 3"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.gauge("g", "gauge", {{"model", "a\"b\\c\n"}}).set(1.5);
  EXPECT_NE(r.render().find("g{model=\"a\\\"b\\\\c\\n\"} 1.5"), std::string::npos) << r.render();
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& c = r.counter("n_total", "n");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.inc();
    });
  for (auto& t : ts) t.join();
  EXPECT_DOUBLE_EQ(c.value(), 40000);
}

TEST(Metrics, TypeClashIsRejected) {
  Registry r;
  r.counter("m", "m");
  EXPECT_THROW(r.gauge("m", "m"), std::logic_error);
}
