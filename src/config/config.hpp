#pragma once
// Config: every setting of `osprey serve`, resolved from four layers, each
// overriding the one before:
//
//   built-in defaults  <  config file (TOML)  <  environment (OSPREY_*, and a
//   .env file loaded if present, real environment winning)  <  command line
//
// Every setting is declared once in config/settings.cpp with its TOML key
// (e.g. "server.port"), its environment name (OSPREY_PORT) and its flag
// (--port); `osprey serve --help` lists them all. A value that does not parse
// raises ConfigError naming the key and the layer it came from.
//
// Sections that are tables rather than scalars (model prices, per-model
// config) are read by their owners from `file` (the parsed TOML), if any.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace osprey::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8000;  // 0 = pick a free port
  int threads = 0;  // I/O threads; 0 = number of cores
  int busy_poll_us = 100;  // the most an I/O thread polls after an event before sleeping (adaptive); 0 = off
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;          // default per-route cap
  std::size_t max_upload_bytes = 32 * 1024 * 1024;   // image routes
  int header_timeout_ms = 10'000;  // whole header must arrive in this time
  int body_timeout_ms = 30'000;
  int idle_timeout_ms = 60'000;    // keep-alive connection with no request
  int shutdown_grace_ms = 10'000;  // in-flight requests get this long on SIGTERM
  bool access_log = true;
  std::vector<std::string> cors_origins;  // empty = CORS off; "*" = any
  bool metrics_public = true;
};

struct InferenceConfig {
  std::string models_dir = "models";
  int workers = 0;             // inference threads; 0 = number of cores
  int engine_threads = 0;      // intra-op threads per forward; 0 = auto
  int max_batch = 4;           // dynamic batching (capped by workers), where a model gains from it
  int batch_delay_us = 2000;   // max queue delay while forming a batch
  int max_queue = 64;          // per model; beyond that requests get 503
  std::int64_t max_image_pixels = 40'000'000;  // decompression-bomb guard
  std::string default_model;   // used when a request names none
  std::string precision = "auto";  // TorchScript models without their own: fp32 | bf16 | auto
};

struct GatewayConfig {
  std::string base_url = "https://api.openai.com/v1";
  std::vector<std::string> api_keys;  // resolved secrets, never logged
  std::string ca_file;                // extra CA bundle for the upstream
  int connect_timeout_ms = 10'000;
  int first_byte_timeout_ms = 120'000;
  int idle_timeout_ms = 120'000;  // between stream chunks
  int max_attempts = 3;
  int retry_base_ms = 250;
  int retry_max_total_ms = 30'000;
  int models_cache_ms = 60'000;
  std::size_t max_response_bytes = 64 * 1024 * 1024;
  int pool_size = 64;  // idle keep-alive connections kept per upstream
  // Keys are resolved again this often (env, NAME_FILE, .env, key files),
  // so a rotated secret takes effect without a restart; 0 = never.
  int key_refresh_ms = 10'000;
  // An upstream that failed a request (after its retries) is skipped for
  // this long while another upstream serves the model.
  int cooldown_ms = 30'000;
  // Models that accept images in chat messages (glob patterns): what
  // /v1/vision/describe sends the picture itself to.
  std::vector<std::string> vision_models = {"gpt-4o*", "gpt-4.1*", "gpt-5*", "o3*", "o4*", "*vision*", "llava*"};
  // Filled per upstream by the service that builds the gateways.
  std::string name = "openai";
  bool key_required = true;  // false: a local server (Ollama, vLLM) that takes no key
};

// One [[upstreams]] entry of the config file: an OpenAI-compatible server
// and the models it serves. Without any, the single upstream is `gateway.*`
// (name "openai", every model).
struct UpstreamConfig {
  std::string name;
  std::string base_url;
  // Key sources, at most one: literal keys (or enc: values), an environment
  // name resolved like OPENAI_API_KEY (NAME, NAME_FILE, .env), or a file
  // (a mounted secret). None: the server takes no key (Ollama, llama.cpp).
  std::vector<std::string> api_keys;
  std::string api_key_env;
  std::string api_key_file;
  std::vector<std::string> models;  // names or glob patterns ('*'); empty: every model
  int weight = 1;                   // share of the requests among upstreams of one priority serving a model
  int priority = 0;                 // lower first: a backup gets a higher number
  int timeout_ms = 0;               // first-byte timeout; 0: gateway.first_byte_timeout_ms
  int max_attempts = 0;             // 0: gateway.max_attempts
  std::string ca_file;              // empty: gateway.ca_file
};

struct VideoConfig {
  std::vector<std::string> allowed_dirs;  // local files may be streamed only from these; empty = none
  std::vector<std::string> schemes = {"rtsp", "rtsps", "http", "https"};
  int max_streams = 8;
  int open_timeout_ms = 10'000;
  int read_timeout_ms = 10'000;
};

struct AccessConfig {
  bool auth_required = true;     // false: every route is public (development)
  std::string redis_url;         // empty = limits in this process only
  bool redis_fail_open = false;  // what to do when Redis is unreachable
  std::string pepper;            // HMAC pepper for key hashes (secret)
  std::string bootstrap_admin_key;  // OSPREY_ADMIN_KEY(_FILE): created at startup if absent
};

struct Config {
  ServerConfig server;
  InferenceConfig inference;
  GatewayConfig gateway;
  std::vector<UpstreamConfig> upstreams;  // [[upstreams]]; empty: gateway.base_url alone
  AccessConfig access;
  VideoConfig video;
  std::string data_dir = "data";
  std::string log_level = "info";
  std::string log_file;
  bool reload = false;
  std::string config_file;  // path given with --config / OSPREY_CONFIG
  std::string env_file = ".env";
  std::string master_key;  // OSPREY_MASTER_KEY(_FILE): decrypts enc: values
  // Usage ledger durability: "normal" (WAL, survives a process crash such as
  // kill -9) or "full" (also survives power loss, at one fsync per batch).
  std::string ledger_sync = "normal";

  // Model price table, USD per million tokens: model -> {input, output}.
  struct Price {
    double input_per_mtok = 0;
    double output_per_mtok = 0;
  };
  std::map<std::string, Price, std::less<>> prices;
};

}  // namespace osprey::config
