#pragma once
// The C entry points of libosprey_codecs.so (codecs_plugin.cpp), as
// codecs.cpp looks them up. Built together with the server, so C++ types
// cross the boundary; the ABI number catches a plugin from another build.

#include <cstddef>
#include <vector>

#include <opencv2/core.hpp>

#define OSPREY_CODECS_EXPORT __attribute__((visibility("default")))

namespace osprey::vision {
inline constexpr int kCodecsPluginAbi = 1;
}

extern "C" {
int osprey_codecs_abi();
bool osprey_codecs_decode(const char* data, std::size_t size, cv::Mat* out);
bool osprey_codecs_encode_png(const cv::Mat* bgr, int level, std::vector<unsigned char>* out);
}
