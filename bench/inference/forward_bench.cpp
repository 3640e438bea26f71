// osprey_bench_forward: how long each model takes in this process, per engine.
//
//   osprey_bench_forward [--models-dir DIR] [--models a,b] [--image street.jpg] [--iters 30]
//
// For every available model it prints, for 1 and 2 intra-op threads (one
// request at a time), the raw engine forward median / p99, and the split of a
// whole detection: JPEG decode (cv::imdecode), preprocess, forward, decode+NMS.
// Then a throughput row: 2 workers x 1 thread fed by 2 client threads (the
// server's default on 2 cores). Compare with the end-to-end HTTP figures to
// see what the server adds. Timing figures belong here, not in tests.
//
//   osprey_bench_forward --batching [--models yolov8n-ts] [--iters 30]
//
// instead prints dynamic batching per TorchScript model and precision (bf16
// where the CPU has it natively): for batch 2 and 4, B workers fed by B
// client threads with batching off and on (images/s, request median, mean
// images per forward), and the load-time figures that `batching = "auto"`
// decides from (ms per image in a batch vs single forwards side by side).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

#include "inference/cpu_features.hpp"
#include "inference/model_registry.hpp"
#include "inference/threads.hpp"

using namespace osprey;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double median = 0, p99 = 0;
};

Stats stats(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  Stats s;
  s.median = v[v.size() / 2];
  s.p99 = v[std::min(v.size() - 1, size_t(std::ceil(0.99 * v.size())) - 1)];
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct Throughput {
  double images_per_s = 0, median_ms = 0, mean_batch = 0;
};

// `clients` threads each run `iters` detections of `img` on `name`.
Throughput drive(inference::ModelRegistry& reg, const std::string& name, const cv::Mat& img, int clients, int iters) {
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::vector<double> batch_sum(static_cast<size_t>(clients), 0.0);
  auto t0 = Clock::now();
  std::vector<std::thread> th;
  for (int t = 0; t < clients; ++t) {
    th.emplace_back([&, t] {
      for (int i = 0; i < iters; ++i) {
        auto s = Clock::now();
        auto r = reg.detect_sync(name, img, {});
        lat[size_t(t)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        batch_sum[size_t(t)] += r.timings.batch;
      }
    });
  }
  for (auto& x : th) x.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  double batches = 0;
  for (int t = 0; t < clients; ++t) {
    all.insert(all.end(), lat[size_t(t)].begin(), lat[size_t(t)].end());
    batches += batch_sum[size_t(t)];
  }
  return {clients * iters / secs, stats(all).median, batches / double(all.size())};
}

int batching_table(const std::string& models_dir, const std::vector<std::string>& names, const cv::Mat& img,
                   int iters, int warmup) {
  const auto& cpu = inference::cpu_features();
  std::vector<std::string> precisions{"fp32"};
  if (cpu.avx512_bf16 || cpu.amx_bf16) precisions.push_back("bf16");
  std::printf("# dynamic batching; CPU: %s%s\n", cpu.describe().c_str(),
              precisions.size() == 1 ? " (bf16 would be emulated: not run)" : "");
  std::printf("%-14s %-5s %5s %-4s %9s %9s %8s | %s\n", "model", "prec", "batch", "mode", "img/s", "req_med", "img/fwd",
              "measured at load");
  for (auto& name : names) {
    for (auto& precision : precisions) {
      for (int b : {2, 4}) {
        for (const char* mode : {"off", "on"}) {
          config::InferenceConfig c;
          c.models_dir = models_dir;
          c.workers = b;
          c.max_batch = b;
          inference::ModelRegistry reg(c);
          auto info = reg.load(name, {{"precision", precision}, {"batching", mode}});
          if (info.state != "available") break;
          if (info.format != "torchscript") {
            std::printf("%-14s (not TorchScript: one image per forward)\n", name.c_str());
            goto next_model;
          }
          for (int i = 0; i < warmup; ++i) drive(reg, name, img, b, 1);
          auto t = drive(reg, name, img, b, iters);
          std::string load;
          for (auto& [n, ms] : info.batching.ms_per_image) load += fmt::format("{}:{:.0f}ms/img ", n, ms);
          std::printf("%-14s %-5s %5d %-4s %9.2f %9.1f %8.2f | %s\n", name.c_str(), precision.c_str(), b, mode,
                      t.images_per_s, t.median_ms, t.mean_batch, load.c_str());
          std::fflush(stdout);
        }
      }
    }
  next_model:;
  }
  if (!cpu.amx_bf16) std::printf("# AMX: not on this CPU\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  inference::reexec_with_passive_openmp(argv);  // libgomp must see OMP_WAIT_POLICY at load
  const char* shared = std::getenv("OSPREY_SHARED_DIR");
  std::string models_dir = std::string(shared ? shared : "../shared") + "/models";
  std::string models_arg, image_path;
  int iters = 30, warmup = 3;
  CLI::App app{"Per-model forward and pipeline timings"};
  app.add_option("--models-dir", models_dir, "model repository");
  app.add_option("--models", models_arg, "comma-separated model names (default: all)");
  app.add_option("--image", image_path, "JPEG to run (default: <shared>/images/street.jpg)");
  app.add_option("--iters", iters, "timed iterations per row")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "untimed iterations per row")->check(CLI::Range(0, 1000));
  bool batching = false;
  app.add_flag("--batching", batching, "dynamic batching table only (TorchScript models)");
  CLI11_PARSE(app, argc, argv);
  if (image_path.empty()) image_path = models_dir + "/../images/street.jpg";
  spdlog::set_level(spdlog::level::warn);

  std::ifstream f(image_path, std::ios::binary);
  std::vector<uchar> jpeg((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  cv::Mat img = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  if (img.empty()) {
    std::fprintf(stderr, "cannot read %s\n", image_path.c_str());
    return 1;
  }

  std::vector<std::string> names = split(models_arg);
  if (names.empty()) {
    config::InferenceConfig c;
    c.models_dir = models_dir;
    c.workers = 1;
    inference::ModelRegistry probe(c);
    probe.scan();
    for (auto& i : probe.list()) {
      if (i.state == "available") names.push_back(i.name);
      else std::printf("# %-20s unavailable: %.120s\n", i.name.c_str(), i.reason.c_str());
    }
  }
  std::printf("# image %s (%dx%d), %d iterations after %d warm-up, cores %u, OMP_WAIT_POLICY=%s\n",
              image_path.c_str(), img.cols, img.rows, iters, warmup, std::thread::hardware_concurrency(),
              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)");
  if (batching) return batching_table(models_dir, names, img, iters, warmup);
  std::printf("%-20s %-9s %-5s %9s %9s | %7s %7s %9s %7s %9s\n", "model", "engine", "thr", "fwd_med", "fwd_p99",
              "decode", "pre", "forward", "post", "total_med");

  for (int threads : {1, 2}) {
    config::InferenceConfig c;
    c.models_dir = models_dir;
    c.workers = 1;
    c.engine_threads = threads;
    // A fresh registry per setting: OpenMP/TBB thread counts bind when the
    // worker thread first runs, so they cannot be changed under a live pool.
    inference::ModelRegistry reg(c);
    for (auto& name : names) {
      auto info = reg.load(name, nlohmann::json());
      if (info.state != "available") continue;
      inference::DetectOptions o;
      for (int i = 0; i < warmup; ++i) reg.detect_sync(name, img, o);
      std::vector<double> fwd, dec, pre, post, total;
      for (int i = 0; i < iters; ++i) {
        auto t0 = Clock::now();
        cv::Mat decoded = cv::imdecode(jpeg, cv::IMREAD_COLOR);
        double d = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        auto r = reg.detect_sync(name, decoded, o);
        double all = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        fwd.push_back(r.timings.inference_ms);
        dec.push_back(d);
        pre.push_back(r.timings.preprocess_ms);
        post.push_back(r.timings.postprocess_ms);
        total.push_back(all);
      }
      auto sf = stats(fwd);
      std::printf("%-20s %-9s %-5d %9.1f %9.1f | %7.1f %7.1f %9.1f %7.1f %9.1f\n", name.c_str(), info.engine.c_str(),
                  threads, sf.median, sf.p99, stats(dec).median, stats(pre).median, sf.median, stats(post).median,
                  stats(total).median);
      std::fflush(stdout);
      reg.unload(name);
    }
  }

  // Throughput: 2 workers x 1 intra-op thread, 2 clients.
  std::printf("\n%-20s %-9s %12s %12s %12s\n", "model", "engine", "2x1 img/s", "req_med_ms", "req_p99_ms");
  config::InferenceConfig c;
  c.models_dir = models_dir;
  c.workers = 2;
  c.engine_threads = 1;
  inference::ModelRegistry reg(c);
  for (auto& name : names) {
    auto info = reg.load(name, nlohmann::json());
    if (info.state != "available") continue;
    for (int i = 0; i < warmup; ++i) reg.detect_sync(name, img, {});
    std::vector<std::vector<double>> lat(2);
    auto t0 = Clock::now();
    std::vector<std::thread> clients;
    for (int t = 0; t < 2; ++t) {
      clients.emplace_back([&, t] {
        for (int i = 0; i < iters; ++i) {
          auto s = Clock::now();
          reg.detect_sync(name, img, {});
          lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
        }
      });
    }
    for (auto& th : clients) th.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    lat[0].insert(lat[0].end(), lat[1].begin(), lat[1].end());
    auto s = stats(lat[0]);
    std::printf("%-20s %-9s %12.1f %12.1f %12.1f\n", name.c_str(), info.engine.c_str(), 2 * iters / secs, s.median,
                s.p99);
    std::fflush(stdout);
    reg.unload(name);
  }
  return 0;
}
