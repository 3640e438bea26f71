#pragma once
// Detection models as REST resources.
//
//   GET    /v1/detection/models          list (scope detect)
//   GET    /v1/detection/models/{model}  one model: state, format, engine, family,
//                                        input size, classes, load time, reason (scope detect)
//   PUT    /v1/detection/models/{model}  load or reload from the repository folder;
//                                        optional JSON body of overrides, the keys of
//                                        model.toml (scope admin)
//   DELETE /v1/detection/models/{model}  unload once its in-flight requests finish (scope admin)
//
// Why not /v1/models: that path is the OpenAI-compatible model list served by
// the gateway, and OpenAI clients expect its exact shape there. Detection
// models live under their own collection so the two never collide.
//
// PUT answers 200 with the model when it is available, 422 (code
// model_load_failed, message = the reason) when the folder exists but the
// model does not load; on a failed reload the previous instance keeps serving.

#include "http/router.hpp"
#include "inference/model_registry.hpp"

namespace osprey::api {

void add_model_routes(http::Router& router, inference::ModelRegistry& registry);

}  // namespace osprey::api
