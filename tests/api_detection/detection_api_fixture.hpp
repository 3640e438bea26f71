#pragma once
// The fixture of the detection API tests: a real ModelRegistry on
// $OSPREY_SHARED_DIR/models (three models), the detection routes on an
// http::Router, and call(), which dispatches a Request through the router
// on an io_context like a server's I/O thread. Golden detections are the
// ones documented in shared/models/README.md for yolov8n.

#include <utility>  // before Asio

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <iostream>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "api/detect_command.hpp"
#include "api/detection_routes.hpp"
#include "common/strings.hpp"
#include "http/response.hpp"
#include "inference/preprocess.hpp"
#include "vision/decode.hpp"

namespace osprey::api::apitest {

namespace fs = std::filesystem;
using nlohmann::json;

inline std::string shared_dir() {
  const char* d = std::getenv("OSPREY_SHARED_DIR");
  return d ? d : "/work/shared";
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string image(const std::string& name) { return read_file(shared_dir() + "/images/" + name); }

struct Box {
  double x1, y1, x2, y2;
};

inline double iou(Box a, Box b) {
  const double ix = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double iy = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const double inter = ix * iy;
  const double u = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return u > 0 ? inter / u : 0;
}

// README boxes are x,y,w,h.
inline Box xywh(double x, double y, double w, double h) { return {x, y, x + w, y + h}; }

struct Result {
  http::Response res;
  http::Usage usage;
  json body() const { return json::parse(res.body()); }
  int status() const { return res.result_int(); }
  std::string header(std::string_view name) const { return std::string(res[name]); }
};

class DetectionApi : public ::testing::Test {
 protected:
  static inline std::string dir_;
  static inline config::Config* cfg_ = nullptr;
  static inline inference::ModelRegistry* reg_ = nullptr;
  static inline http::Router* router_ = nullptr;

  static void SetUpTestSuite() {
    std::string tmpl = (fs::temp_directory_path() / "osprey-apidet-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // Only the models these tests need: a fast repository.
    for (const char* m : {"yolov8n-ts", "yolo-fastest-1.1-xl"})
      fs::create_directory_symlink(shared_dir() + "/models/" + m, dir_ + "/" + m);
    // A model that cannot load: an .onnx file that is not one.
    fs::create_directories(dir_ + "/broken");
    std::ofstream(dir_ + "/broken/model.onnx") << "not an ONNX graph";
    cfg_ = new config::Config;
    cfg_->inference.models_dir = dir_;
    cfg_->inference.default_model = "yolov8n-ts";
    reg_ = new inference::ModelRegistry(cfg_->inference);
    reg_->scan();
    router_ = new http::Router;
    add_detection_routes(*router_, *reg_, *cfg_);
    start_io();
  }
  static void TearDownTestSuite() {
    stop_io();
    delete router_;
    delete reg_;
    delete cfg_;
    fs::remove_all(dir_);
  }

  // One io_context for the whole suite, like a server's I/O thread: the
  // registry's workers still hold copies of its executor for a moment after
  // a response is complete, so it must outlive every request.
  static inline boost::asio::io_context* io_ = nullptr;
  static inline std::thread* io_thread_ = nullptr;
  static inline std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> io_work_;

  static void start_io() {
    io_ = new boost::asio::io_context;
    io_work_.emplace(io_->get_executor());
    io_thread_ = new std::thread([] { io_->run(); });
  }
  static void stop_io() {
    io_work_.reset();
    io_thread_->join();
    delete io_thread_;
    delete io_;
  }

  static Result call(http::Verb verb, const std::string& target, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request req{verb, target, 11};
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    http::Context ctx{.request = req,
                      .path = path,
                      .query = http::Query::parse(q == std::string::npos ? "" : target.substr(q + 1))};
    ctx.executor = io_->get_executor();
    auto fut = boost::asio::co_spawn(*io_, router_->dispatch(ctx), boost::asio::use_future);
    return Result{fut.get(), ctx.usage};
  }

  static std::string multipart(const std::vector<std::tuple<std::string, std::string, std::string>>& parts,
                               const std::string& boundary = "----OspreyTestBoundary7MA4YWxk") {
    std::string body;
    for (const auto& [name, filename, content] : parts) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
      if (!filename.empty()) body += "; filename=\"" + filename + "\"\r\nContent-Type: image/jpeg";
      body += "\r\n\r\n" + content + "\r\n";
    }
    return body + "--" + boundary + "--\r\n";
  }
  static std::pair<std::string, std::string> multipart_type() {
    return {"Content-Type", "multipart/form-data; boundary=----OspreyTestBoundary7MA4YWxk"};
  }

  // The best detection of `label` overlapping `golden`, as {confidence, iou}.
  static std::pair<double, double> find(const json& dets, const std::string& label, Box golden) {
    std::pair<double, double> best{0, 0};
    for (const auto& d : dets) {
      if (d["label"] != label) continue;
      Box b{d["box"]["x1"], d["box"]["y1"], d["box"]["x2"], d["box"]["y2"]};
      double o = iou(b, golden);
      if (o > best.second) best = {d["confidence"].get<double>(), o};
    }
    return best;
  }
};


}  // namespace osprey::api::apitest
