// The libtorch plugin (libosprey_torch.so): the only file that includes torch
// headers, built as a module that torch_loader.cpp dlopen()s when the first
// TorchScript model loads. Linking libtorch into the server itself cost
// ~150 MB of RSS at startup (its static initialisers and ~280 libraries),
// paid even by a gateway-only deployment with no models.
//
// The plugin exports three C entry points (see torch_plugin.hpp); everything
// else is hidden, so nothing in it can collide with the server's symbols.
#include "inference/torch_plugin.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <ATen/Parallel.h>
#include <torch/script.h>

// GNU libgomp's (linked, see CMakeLists.txt); declared here rather than
// through <omp.h>, which would tie the header to one compiler's runtime.
extern "C" void omp_set_num_threads(int);

namespace osprey::inference {
namespace {

class TorchEngine final : public Engine {
 public:
  TorchEngine(const std::string& path, std::string* config_txt, bool bf16) : bf16_(bf16) {
    try {
      torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
      module_ = torch::jit::load(path, torch::kCPU, extra);
      module_.eval();
      // bf16 before freezing, so that the prepacked oneDNN convolutions are
      // bf16 ones (AVX512-BF16 / AMX kernels): about half the time of fp32.
      if (bf16_) module_.to(torch::kBFloat16);
      if (config_txt) *config_txt = extra["config.txt"];
      // freeze + optimize_for_inference turns every Conv2d into a prepacked
      // oneDNN conv. Without it ATen sends 1x1 convs to its "THNN" path when
      // at::get_num_threads() == 1, and that path's GEMM is Debian's
      // reference BLAS: a forward then takes 4-5x longer at 1 thread than at 2.
      // Its output is bit-identical (models/README.md, TorchScript timings).
      const char* no_opt = std::getenv("OSPREY_TORCH_NO_OPTIMIZE");  // "1": A/B against the plain module
      if (!(no_opt && std::string(no_opt) == "1")) module_ = torch::jit::optimize_for_inference(module_);
    } catch (const c10::Error& e) {
      throw std::runtime_error(std::string("torch::jit::load failed: ") + e.what_without_backtrace());
    }
  }

  // OpenMP's team size is a setting of the thread that opens the parallel
  // region, and oneDNN and ATen read it at each region, so a worker can give
  // each forward the cores that are free right now. at::set_num_threads
  // would also resize ATen's process-wide pthreadpool on every change.
  void set_threads(int n) override {
    at::internal::lazy_init_num_threads();
    omp_set_num_threads(std::max(1, n));
  }
  bool threads_per_call() const override { return true; }

  cv::Mat forward(const cv::Mat& blob) override {
    if (blob.type() != CV_32F || !blob.isContinuous()) throw std::runtime_error("torch: blob must be continuous float");
    std::vector<int64_t> shape(blob.size.p, blob.size.p + blob.dims);
    // oneDNN convolutions open OpenMP regions sized by this thread's own
    // OpenMP setting, which ATen only aligns with at::set_num_threads() lazily
    // (on the thread's first at::parallel_for): do it before the first forward.
    at::internal::lazy_init_num_threads();
    try {
      c10::InferenceMode guard;
      // from_blob does not copy; the blob outlives the forward call.
      at::Tensor in = torch::from_blob(const_cast<float*>(blob.ptr<float>()), shape, torch::kFloat32);
      if (bf16_) in = in.to(torch::kBFloat16);
      c10::IValue out = module_.forward({in});
      at::Tensor t;
      if (out.isTuple()) {
        t = out.toTuple()->elements().at(0).toTensor();  // yolov5 export: (pred,)
      } else if (out.isTensorList()) {
        t = out.toTensorList().get(0);
      } else if (out.isList()) {
        t = out.toList().get(0).toTensor();
      } else {
        t = out.toTensor();  // v8/v11
      }
      t = t.to(torch::kFloat32).contiguous();
      std::vector<int> sizes(t.sizes().begin(), t.sizes().end());
      cv::Mat m(int(sizes.size()), sizes.data(), CV_32F);
      std::memcpy(m.ptr<float>(), t.data_ptr<float>(), sizeof(float) * size_t(t.numel()));
      return m;
    } catch (const c10::Error& e) {
      throw std::runtime_error(std::string("torch forward failed: ") + e.what_without_backtrace());
    }
  }

 private:
  torch::jit::Module module_;
  bool bf16_ = false;
};

}  // namespace

static Engine* make_engine(const char* path, std::string* config_txt, int bf16) {
  return new TorchEngine(path, config_txt, bf16 != 0);
}

static void set_threads(int n) {
  at::set_num_threads(std::max(1, n));
  // Inter-op parallelism only helps graphs with parallel branches (fork/wait);
  // a traced YOLO has none, and the pool's threads would only compete. It can
  // be set once per process, before first use.
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
    }
  });
}

}  // namespace osprey::inference

extern "C" {

OSPREY_TORCH_EXPORT int osprey_torch_abi() { return osprey::inference::kTorchPluginAbi; }

OSPREY_TORCH_EXPORT osprey::inference::Engine* osprey_torch_make_engine(const char* path, std::string* config_txt,
                                                                        int bf16) {
  return osprey::inference::make_engine(path, config_txt, bf16);
}

OSPREY_TORCH_EXPORT void osprey_torch_set_threads(int n) { osprey::inference::set_threads(n); }

}  // extern "C"
