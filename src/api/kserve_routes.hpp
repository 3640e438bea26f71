#pragma once
// KServe v2 / Open Inference Protocol (the REST half) for the detection
// models, with Triton's binary tensor data extension:
//
//   GET  /v2/models/{model}          metadata: name, versions ["1"], platform,
//                                    inputs/outputs [{name, datatype "FP32", shape}]
//   GET  /v2/models/{model}/ready    200 {"name","ready":true} when servable,
//                                    400 {"error"} while loading/unavailable, 404 unknown
//   POST /v2/models/{model}/infer    raw tensors in, raw tensor out
//   (and the same under /v2/models/{model}/versions/1/...)
//
// An infer request is JSON {"id"?, "parameters"?, "inputs":[{"name","shape",
// "datatype":"FP32","data":[...]}], "outputs"?:[{"name","parameters"?}]}; the
// one input must be the model's preprocessed NCHW tensor (see the metadata;
// RGB, 1/255, letterboxed for the Ultralytics families). `data` may be flat or
// nested (row-major).
//
// Binary extension: with an `Inference-Header-Content-Length: N` header, the
// first N body bytes are the JSON and the rest holds tensor bytes
// (little-endian FP32, row-major) for each input whose parameters carry
// "binary_data_size". Outputs come back as binary when the request output
// says {"parameters":{"binary_data":true}} or the request parameters say
// "binary_data_output": true; the response then carries
// Inference-Header-Content-Length and Content-Type application/octet-stream.
//
// Errors are {"error": message} (route error_style kserve).

#include "config/config.hpp"
#include "http/router.hpp"
#include "inference/model_registry.hpp"

namespace osprey::api {

void add_kserve_routes(http::Router& router, inference::ModelRegistry& registry, const config::Config& config);

}  // namespace osprey::api
