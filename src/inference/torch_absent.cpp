// Built instead of torch_engine.cpp when the build has no libtorch.
#include <stdexcept>

#include "inference/torch_engine.hpp"

namespace osprey::inference {

bool torch_available() { return false; }

std::unique_ptr<Engine> make_torch_engine(const std::string&, std::string*, bool) {
  throw std::runtime_error("this build has no libtorch (built with OSPREY_WITH_TORCH=OFF)");
}

void torch_set_threads(int) {}

}  // namespace osprey::inference
