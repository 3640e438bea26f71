// What it costs to answer "is this body valid JSON, and what are its
// top-level model/stream members?" for the documents the gateway checks on
// every request: common/json_scan (what the server uses), simdjson's DOM
// parser (validates everything; needs a padded copy of the body, counted
// here because a request body does not come padded), simdjson On Demand
// (fast, but it validates only what it visits, so it walks every value
// here to be comparable), and nlohmann::json::accept (the reference the
// scanner reproduces).
//
//   build/bench/common/osprey_bench_json [--benchmark_min_time=0.5]

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <string>

#include "common/json_scan.hpp"

namespace {

// On Demand is compiled into the caller: without -march flags its "builtin"
// implementation is the portable fallback. This file is built with
// -march=haswell (CMakeLists.txt) to give it its AVX2 kernel, which the
// server could only have by giving up running on older x86-64 CPUs.
namespace OD = simdjson::builtin::ondemand;

std::string chat_request() {
  return R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},)"
         R"({"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64,"temperature":0,)"
         R"("stream":true,"stream_options":{"include_usage":true}})";
}

std::string chat_response() {
  return R"({"id":"chatcmpl-AbCdEf0123456789","object":"chat.completion","created":1733450000,)"
         R"("model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant",)"
         R"("content":"Hello! I hope you are having a wonderful day \u2014 how can I help?","refusal":null},)"
         R"("logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":17,)"
         R"("total_tokens":41,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":)"
         R"({"reasoning_tokens":0}},"system_fingerprint":"fp_0123456789"})";
}

// A long conversation: 40 turns of ~400 bytes each (about 17 KB).
std::string long_request() {
  std::string s = R"({"model":"gpt-4o","messages":[)";
  for (int i = 0; i < 40; ++i) {
    if (i) s += ',';
    s += R"({"role":")";
    s += i % 2 ? "assistant" : "user";
    s += R"(","content":")";
    for (int j = 0; j < 8; ++j) s += "The quick brown fox jumps over the lazy dog, twice. ";
    s += R"("})";
  }
  s += R"(],"temperature":0.7,"stream":false})";
  return s;
}

const std::string& doc(int which) {
  static const std::string docs[] = {chat_request(), chat_response(), long_request()};
  return docs[which];
}

void label(benchmark::State& state, int which) {
  static const char* names[] = {"chat request", "chat response", "17 KB request"};
  state.SetLabel(names[which]);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * doc(which).size()));
}

void JsonScan(benchmark::State& state) {
  int which = static_cast<int>(state.range(0));
  const auto& text = doc(which);
  for (auto _ : state) {
    std::string_view model;
    bool stream = false;
    auto r = osprey::json_scan::scan(text, [&](const osprey::json_scan::Member& m) {
      if (m.key_is("model")) model = m.value;
      else if (m.key_is("stream")) stream = m.value == "true";
    });
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(model);
    benchmark::DoNotOptimize(stream);
  }
  label(state, which);
}

void SimdjsonDom(benchmark::State& state) {
  int which = static_cast<int>(state.range(0));
  const auto& text = doc(which);
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::padded_string padded(text);  // a request body arrives unpadded
    simdjson::dom::element root;
    auto err = parser.parse(padded).get(root);
    std::string_view model;
    bool stream = false;
    if (!err && root.is_object()) {
      if (root["model"].get(model)) model = {};
      if (root["stream"].get(stream)) stream = false;
    }
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(model);
    benchmark::DoNotOptimize(stream);
  }
  label(state, which);
}

// Walks every value so that all of the document is validated.
bool walk(OD::value v) {
  OD::json_type t;
  if (v.type().get(t)) return false;
  switch (t) {
    case OD::json_type::object: {
      OD::object o;
      if (v.get_object().get(o)) return false;
      for (auto field : o) {
        std::string_view k;
        if (field.unescaped_key().get(k)) return false;
        if (!walk(field.value())) return false;
      }
      return true;
    }
    case OD::json_type::array: {
      OD::array a;
      if (v.get_array().get(a)) return false;
      for (auto e : a) {
        OD::value ev;
        if (e.get(ev) || !walk(ev)) return false;
      }
      return true;
    }
    case OD::json_type::string: {
      std::string_view s;
      return !v.get_string().get(s);
    }
    case OD::json_type::number: {
      double d;
      return !v.get_double().get(d);
    }
    case OD::json_type::boolean: {
      bool b;
      return !v.get_bool().get(b);
    }
    case OD::json_type::null: return v.is_null();
  }
  return false;
}

void SimdjsonOnDemand(benchmark::State& state) {
  int which = static_cast<int>(state.range(0));
  const auto& text = doc(which);
  OD::parser parser;
  for (auto _ : state) {
    simdjson::padded_string padded(text);
    OD::document d;
    bool ok = !parser.iterate(padded).get(d);
    if (ok) {
      OD::value v;
      ok = !d.get_value().get(v) && walk(v);
    }
    benchmark::DoNotOptimize(ok);
  }
  label(state, which);
}

void NlohmannAccept(benchmark::State& state) {
  int which = static_cast<int>(state.range(0));
  const auto& text = doc(which);
  for (auto _ : state) benchmark::DoNotOptimize(nlohmann::json::accept(text));
  label(state, which);
}

BENCHMARK(JsonScan)->DenseRange(0, 2);
BENCHMARK(SimdjsonDom)->DenseRange(0, 2);
BENCHMARK(SimdjsonOnDemand)->DenseRange(0, 2);
BENCHMARK(NlohmannAccept)->DenseRange(0, 2);

}  // namespace

BENCHMARK_MAIN();
