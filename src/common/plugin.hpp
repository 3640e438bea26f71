#pragma once
// Plugins: shared modules the server dlopen()s the first time it needs them,
// so that a process that never does (a gateway with no models) never maps
// the heavy libraries behind them. Three exist: libosprey_torch.so (libtorch,
// inference/torch_loader.cpp), libosprey_codecs.so (OpenCV imgcodecs,
// vision/codecs.cpp) and libosprey_video.so (FFmpeg, video/source.cpp).
//
//   plugin::Module m = plugin::open("libosprey_codecs.so", "OSPREY_CODECS_PLUGIN", BUILD_PATH);
//   if (!m.handle) throw std::runtime_error(m.error);
//   auto fn = plugin::symbol<int (*)()>(m, "osprey_codecs_abi");
//
// Where it looks, in order: the file named by $env_var; next to the
// executable; <executable dir>/../lib/osprey/; build_path (the build tree the
// server was built in: make run and the tests use that).

#include <string>

namespace osprey::plugin {

struct Module {
  void* handle = nullptr;
  std::string path;   // the file that was loaded
  std::string error;  // why none was, when handle is null
};

Module open(const std::string& file_name, const char* env_var, const char* build_path);

void* raw_symbol(const Module& m, const char* name);

template <class Fn>
Fn symbol(const Module& m, const char* name) {
  return reinterpret_cast<Fn>(raw_symbol(m, name));
}

}  // namespace osprey::plugin
