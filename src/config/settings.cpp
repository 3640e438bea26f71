#include "config/settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "common/strings.hpp"

namespace osprey::config {

long long parse_int(const std::string& raw, long long min, long long max) {
  auto v = str::trim(raw);
  long long out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty())
    throw std::invalid_argument("expected an integer, got '" + std::string(v) + "'");
  if (out < min || out > max)
    throw std::invalid_argument("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                ", got " + std::to_string(out));
  return out;
}

double parse_number(const std::string& raw, double min, double max) {
  std::string v(str::trim(raw));
  std::size_t used = 0;
  double out = 0;
  try {
    out = std::stod(v, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != v.size() || !std::isfinite(out))
    throw std::invalid_argument("expected a number, got '" + v + "'");
  if (out < min || out > max) throw std::invalid_argument("out of range: " + v);
  return out;
}

bool parse_bool(const std::string& raw) {
  auto v = str::lower(str::trim(raw));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw std::invalid_argument("expected true or false, got '" + v + "'");
}

std::vector<std::string> parse_list(const std::string& raw) {
  std::vector<std::string> out;
  for (auto part : str::split(raw, ',')) {
    auto t = str::trim(part);
    if (!t.empty()) out.emplace_back(t);
  }
  return out;
}

std::size_t parse_size(const std::string& raw) {
  std::string v = str::lower(str::trim(raw));
  std::size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  if (i == 0) throw std::invalid_argument("expected a size like 1048576, 64k or 32m, got '" + v + "'");
  auto number = static_cast<std::size_t>(parse_int(v.substr(0, i), 0, 1LL << 40));
  auto unit = v.substr(i);
  std::size_t mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1024;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1024 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1024ULL * 1024 * 1024;
  else throw std::invalid_argument("unknown size unit '" + unit + "'");
  return number * mult;
}

namespace {

int ms(const std::string& v) { return static_cast<int>(parse_int(v, 1, 24LL * 3600 * 1000)); }

Setting S(std::string key, std::string env, std::string flag, std::string help, Kind kind,
          std::function<void(Config&, const std::string&)> apply, std::string def, bool secret = false) {
  Setting s;
  s.key = std::move(key);
  s.env = std::move(env);
  s.flag = std::move(flag);
  s.help = std::move(help);
  s.kind = kind;
  s.apply = std::move(apply);
  s.default_text = std::move(def);
  s.secret = secret;
  return s;
}

std::vector<Setting> build() {
  using K = Kind;
  std::vector<Setting> t;
  // --- server -----------------------------------------------------------
  t.push_back(S("server.host", "OSPREY_HOST", "--host", "address to listen on", K::string,
                [](Config& c, const std::string& v) {
                  if (str::trim(v).empty()) throw std::invalid_argument("must not be empty");
                  c.server.host = std::string(str::trim(v));
                }, "127.0.0.1"));
  t.push_back(S("server.port", "OSPREY_PORT", "--port", "TCP port; 0 picks a free port (the log says which)",
                K::integer, [](Config& c, const std::string& v) { c.server.port = static_cast<int>(parse_int(v, 0, 65535)); },
                "8000"));
  t.push_back(S("server.threads", "OSPREY_THREADS", "--threads", "I/O threads (0 = one per core)", K::integer,
                [](Config& c, const std::string& v) { c.server.threads = static_cast<int>(parse_int(v, 0, 256)); }, "0"));
  t.push_back(S("server.busy_poll_us", "OSPREY_BUSY_POLL_US", "--busy-poll-us",
                "the most microseconds an I/O thread keeps polling after an event before it sleeps; the window "
                "adapts to the gaps between events, so only threads whose events come closer together than this "
                "poll at all (0 = off: always sleep)",
                K::integer,
                [](Config& c, const std::string& v) { c.server.busy_poll_us = static_cast<int>(parse_int(v, 0, 100'000)); },
                "100"));
  t.push_back(S("server.max_header_bytes", "OSPREY_MAX_HEADER_BYTES", "--max-header-bytes",
                "largest request header block; larger gets 431", K::string,
                [](Config& c, const std::string& v) {
                  c.server.max_header_bytes = parse_size(v);
                  if (c.server.max_header_bytes < 1024) throw std::invalid_argument("must be at least 1k");
                }, "16k"));
  t.push_back(S("server.max_body_bytes", "OSPREY_MAX_BODY_BYTES", "--max-body-bytes",
                "default request body cap per route; larger gets 413", K::string,
                [](Config& c, const std::string& v) { c.server.max_body_bytes = parse_size(v); }, "1m"));
  t.push_back(S("server.max_upload_bytes", "OSPREY_MAX_UPLOAD_BYTES", "--max-upload-bytes",
                "body cap for image upload routes", K::string,
                [](Config& c, const std::string& v) { c.server.max_upload_bytes = parse_size(v); }, "32m"));
  t.push_back(S("server.header_timeout_ms", "OSPREY_HEADER_TIMEOUT_MS", "--header-timeout-ms",
                "time a client has to send the whole request header", K::integer,
                [](Config& c, const std::string& v) { c.server.header_timeout_ms = ms(v); }, "10000"));
  t.push_back(S("server.body_timeout_ms", "OSPREY_BODY_TIMEOUT_MS", "--body-timeout-ms",
                "time a client has to send the request body", K::integer,
                [](Config& c, const std::string& v) { c.server.body_timeout_ms = ms(v); }, "30000"));
  t.push_back(S("server.idle_timeout_ms", "OSPREY_IDLE_TIMEOUT_MS", "--idle-timeout-ms",
                "keep-alive connections idle this long are closed", K::integer,
                [](Config& c, const std::string& v) { c.server.idle_timeout_ms = ms(v); }, "60000"));
  t.push_back(S("server.shutdown_grace_ms", "OSPREY_SHUTDOWN_GRACE_MS", "--shutdown-grace-ms",
                "on SIGTERM/SIGINT, in-flight requests get this long to finish", K::integer,
                [](Config& c, const std::string& v) { c.server.shutdown_grace_ms = ms(v); }, "10000"));
  t.push_back(S("server.access_log", "OSPREY_ACCESS_LOG", "--access-log", "one log line per request", K::boolean,
                [](Config& c, const std::string& v) { c.server.access_log = parse_bool(v); }, "true"));
  t.push_back(S("server.cors_origins", "OSPREY_CORS_ORIGINS", "--cors-origins",
                "comma-separated origins allowed by CORS ('*' = any; empty = CORS off)", K::list,
                [](Config& c, const std::string& v) { c.server.cors_origins = parse_list(v); }, ""));
  t.push_back(S("server.metrics_public", "OSPREY_METRICS_PUBLIC", "--metrics-public",
                "serve /metrics without a key (false: admin key required)", K::boolean,
                [](Config& c, const std::string& v) { c.server.metrics_public = parse_bool(v); }, "true"));
  // --- inference --------------------------------------------------------
  t.push_back(S("inference.models_dir", "OSPREY_MODELS", "--models", "model repository: one folder per model",
                K::string, [](Config& c, const std::string& v) { c.inference.models_dir = v; }, "models"));
  t.push_back(S("inference.default_model", "OSPREY_DEFAULT_MODEL", "--default-model",
                "model used when a request names none", K::string,
                [](Config& c, const std::string& v) { c.inference.default_model = v; }, ""));
  t.push_back(S("inference.precision", "OSPREY_PRECISION", "--precision",
                "arithmetic of TorchScript models that set none in model.toml: fp32, bf16, or auto (bf16 where the "
                "CPU has AVX512-BF16 or AMX, else fp32)", K::string,
                [](Config& c, const std::string& v) {
                  auto l = str::lower(str::trim(v));
                  if (l != "fp32" && l != "bf16" && l != "auto") throw std::invalid_argument("expected fp32, bf16 or auto");
                  c.inference.precision = l;
                }, "auto"));
  t.push_back(S("inference.workers", "OSPREY_INFERENCE_WORKERS", "--inference-workers",
                "inference threads (0 = one per core)", K::integer,
                [](Config& c, const std::string& v) { c.inference.workers = static_cast<int>(parse_int(v, 0, 256)); }, "0"));
  t.push_back(S("inference.engine_threads", "OSPREY_ENGINE_THREADS", "--engine-threads",
                "threads inside one forward pass (0 = auto)", K::integer,
                [](Config& c, const std::string& v) { c.inference.engine_threads = static_cast<int>(parse_int(v, 0, 256)); }, "0"));
  t.push_back(S("inference.max_batch", "OSPREY_MAX_BATCH", "--max-batch",
                "largest dynamic batch (at most one request per worker; a model batches where that measured faster)",
                K::integer,
                [](Config& c, const std::string& v) { c.inference.max_batch = static_cast<int>(parse_int(v, 1, 64)); }, "4"));
  t.push_back(S("inference.batch_delay_us", "OSPREY_BATCH_DELAY_US", "--batch-delay-us",
                "longest wait while forming a batch", K::integer,
                [](Config& c, const std::string& v) { c.inference.batch_delay_us = static_cast<int>(parse_int(v, 0, 1000000)); }, "2000"));
  t.push_back(S("inference.max_queue", "OSPREY_MAX_QUEUE", "--max-queue",
                "requests queued per model before 503", K::integer,
                [](Config& c, const std::string& v) { c.inference.max_queue = static_cast<int>(parse_int(v, 1, 100000)); }, "64"));
  t.push_back(S("inference.max_image_pixels", "OSPREY_MAX_IMAGE_PIXELS", "--max-image-pixels",
                "largest decoded image (width*height); guards against decompression bombs", K::integer,
                [](Config& c, const std::string& v) { c.inference.max_image_pixels = parse_int(v, 1, 1LL << 40); }, "40000000"));
  // --- gateway ----------------------------------------------------------
  t.push_back(S("gateway.base_url", "OPENAI_BASE_URL", "--openai-base-url", "upstream OpenAI-compatible base URL",
                K::string, [](Config& c, const std::string& v) {
                  auto t = std::string(str::trim(v));
                  if (t.rfind("http://", 0) != 0 && t.rfind("https://", 0) != 0)
                    throw std::invalid_argument("must start with http:// or https://");
                  while (!t.empty() && t.back() == '/') t.pop_back();
                  c.gateway.base_url = t;
                }, "https://api.openai.com/v1"));
  t.push_back(S("gateway.api_keys", "OPENAI_API_KEY", "",
                "upstream key(s), comma-separated for rotation; also OPENAI_API_KEY_FILE, .env, or enc: values",
                K::list, [](Config& c, const std::string& v) { c.gateway.api_keys = parse_list(v); }, "", true));
  t.push_back(S("gateway.ca_file", "OSPREY_UPSTREAM_CA_FILE", "--upstream-ca-file",
                "extra CA bundle (PEM) trusted for the upstream", K::string,
                [](Config& c, const std::string& v) { c.gateway.ca_file = v; }, ""));
  t.push_back(S("gateway.connect_timeout_ms", "OSPREY_UPSTREAM_CONNECT_TIMEOUT_MS", "--upstream-connect-timeout-ms",
                "upstream connect + TLS handshake timeout", K::integer,
                [](Config& c, const std::string& v) { c.gateway.connect_timeout_ms = ms(v); }, "10000"));
  t.push_back(S("gateway.first_byte_timeout_ms", "OSPREY_UPSTREAM_FIRST_BYTE_TIMEOUT_MS",
                "--upstream-first-byte-timeout-ms", "time to the upstream's response header", K::integer,
                [](Config& c, const std::string& v) { c.gateway.first_byte_timeout_ms = ms(v); }, "120000"));
  t.push_back(S("gateway.idle_timeout_ms", "OSPREY_UPSTREAM_IDLE_TIMEOUT_MS", "--upstream-idle-timeout-ms",
                "longest silence between upstream stream chunks", K::integer,
                [](Config& c, const std::string& v) { c.gateway.idle_timeout_ms = ms(v); }, "120000"));
  t.push_back(S("gateway.max_attempts", "OSPREY_UPSTREAM_MAX_ATTEMPTS", "--upstream-max-attempts",
                "attempts per upstream call (1 = no retry)", K::integer,
                [](Config& c, const std::string& v) { c.gateway.max_attempts = static_cast<int>(parse_int(v, 1, 20)); }, "3"));
  t.push_back(S("gateway.retry_base_ms", "OSPREY_UPSTREAM_RETRY_BASE_MS", "--upstream-retry-base-ms",
                "first backoff step (doubles per attempt, full jitter)", K::integer,
                [](Config& c, const std::string& v) { c.gateway.retry_base_ms = ms(v); }, "250"));
  t.push_back(S("gateway.retry_max_total_ms", "OSPREY_UPSTREAM_RETRY_MAX_TOTAL_MS", "--upstream-retry-max-total-ms",
                "give up retrying after this long in total", K::integer,
                [](Config& c, const std::string& v) { c.gateway.retry_max_total_ms = ms(v); }, "30000"));
  t.push_back(S("gateway.models_cache_ms", "OSPREY_MODELS_CACHE_MS", "--models-cache-ms",
                "how long GET /v1/models caches the upstream list", K::integer,
                [](Config& c, const std::string& v) { c.gateway.models_cache_ms = static_cast<int>(parse_int(v, 0, 86400000)); }, "60000"));
  t.push_back(S("gateway.max_response_bytes", "OSPREY_UPSTREAM_MAX_RESPONSE_BYTES", "--upstream-max-response-bytes",
                "largest upstream response accepted", K::string,
                [](Config& c, const std::string& v) { c.gateway.max_response_bytes = parse_size(v); }, "64m"));
  t.push_back(S("gateway.key_refresh_ms", "OSPREY_UPSTREAM_KEY_REFRESH_MS", "--upstream-key-refresh-ms",
                "upstream keys are read again from their source this often, so a rotated key needs no restart (0 = never)",
                K::integer,
                [](Config& c, const std::string& v) { c.gateway.key_refresh_ms = static_cast<int>(parse_int(v, 0, 86400000)); }, "10000"));
  t.push_back(S("gateway.cooldown_ms", "OSPREY_UPSTREAM_COOLDOWN_MS", "--upstream-cooldown-ms",
                "an upstream that failed a request is skipped this long while another serves the model", K::integer,
                [](Config& c, const std::string& v) { c.gateway.cooldown_ms = static_cast<int>(parse_int(v, 0, 86400000)); }, "30000"));
  t.push_back(S("gateway.vision_models", "OSPREY_VISION_MODELS", "--vision-models",
                "models (glob patterns) that take images: /v1/vision/describe sends them the picture too", K::list,
                [](Config& c, const std::string& v) { c.gateway.vision_models = parse_list(v); },
                "gpt-4o*,gpt-4.1*,gpt-5*,o3*,o4*,*vision*,llava*"));
  t.push_back(S("gateway.pool_size", "OSPREY_UPSTREAM_POOL_SIZE", "--upstream-pool-size",
                "idle keep-alive upstream connections kept", K::integer,
                [](Config& c, const std::string& v) { c.gateway.pool_size = static_cast<int>(parse_int(v, 0, 10000)); }, "64"));
  // --- video -------------------------------------------------------------
  t.push_back(S("video.allowed_dirs", "OSPREY_VIDEO_DIRS", "--video-dirs",
                "comma-separated folders whose video files may be streamed (empty = no local files)", K::list,
                [](Config& c, const std::string& v) { c.video.allowed_dirs = parse_list(v); }, ""));
  t.push_back(S("video.schemes", "OSPREY_VIDEO_SCHEMES", "--video-schemes",
                "URL schemes a stream source may use (of rtsp, rtsps, http, https)", K::list,
                [](Config& c, const std::string& v) {
                  auto l = parse_list(v);
                  for (auto& x : l) {
                    x = str::lower(x);
                    if (x != "rtsp" && x != "rtsps" && x != "http" && x != "https")
                      throw std::invalid_argument("unknown video scheme '" + x + "' (rtsp, rtsps, http, https)");
                  }
                  c.video.schemes = l;
                },
                "rtsp,rtsps,http,https"));
  t.push_back(S("video.max_streams", "OSPREY_MAX_STREAMS", "--max-streams", "server-side video streams at once",
                K::integer,
                [](Config& c, const std::string& v) { c.video.max_streams = static_cast<int>(parse_int(v, 0, 1024)); },
                "8"));
  t.push_back(S("video.open_timeout_ms", "OSPREY_VIDEO_OPEN_TIMEOUT_MS", "--video-open-timeout-ms",
                "a stream source must connect and show its first frame header within this", K::integer,
                [](Config& c, const std::string& v) {
                  c.video.open_timeout_ms = static_cast<int>(parse_int(v, 100, 600'000));
                },
                "10000"));
  t.push_back(S("video.read_timeout_ms", "OSPREY_VIDEO_READ_TIMEOUT_MS", "--video-read-timeout-ms",
                "a stream source silent this long is reconnected", K::integer,
                [](Config& c, const std::string& v) {
                  c.video.read_timeout_ms = static_cast<int>(parse_int(v, 100, 600'000));
                },
                "10000"));
  // --- access -----------------------------------------------------------
  t.push_back(S("access.auth_required", "OSPREY_AUTH", "--auth",
                "require API keys on non-public routes (false only for local development)", K::boolean,
                [](Config& c, const std::string& v) { c.access.auth_required = parse_bool(v); }, "true"));
  t.push_back(S("access.redis_url", "OSPREY_REDIS_URL", "--redis",
                "redis://host:port[/db] to share limits across replicas", K::string,
                [](Config& c, const std::string& v) { c.access.redis_url = v; }, ""));
  t.push_back(S("access.redis_fail_open", "OSPREY_REDIS_FAIL_OPEN", "--redis-fail-open",
                "when Redis is unreachable, allow requests (default: refuse with 503)", K::boolean,
                [](Config& c, const std::string& v) { c.access.redis_fail_open = parse_bool(v); }, "false"));
  t.push_back(S("access.pepper", "OSPREY_KEY_PEPPER", "", "HMAC pepper for stored key hashes (default: generated in the data dir)",
                K::string, [](Config& c, const std::string& v) { c.access.pepper = v; }, "", true));
  t.push_back(S("access.bootstrap_admin_key", "OSPREY_ADMIN_KEY", "",
                "an admin key created at startup if absent (also OSPREY_ADMIN_KEY_FILE)", K::string,
                [](Config& c, const std::string& v) { c.access.bootstrap_admin_key = std::string(str::trim(v)); }, "", true));
  // --- process ----------------------------------------------------------
  t.push_back(S("data_dir", "OSPREY_DATA_DIR", "--data-dir", "state: usage ledger, keys", K::string,
                [](Config& c, const std::string& v) { c.data_dir = v; }, "./data"));
  t.push_back(S("log_level", "OSPREY_LOG_LEVEL", "--log-level", "trace, debug, info, warn, error or off", K::string,
                [](Config& c, const std::string& v) {
                  static const char* levels[] = {"trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
                  auto l = str::lower(str::trim(v));
                  if (std::find(std::begin(levels), std::end(levels), l) == std::end(levels))
                    throw std::invalid_argument("unknown level '" + l + "'");
                  c.log_level = l == "warning" ? "warn" : l;
                }, "info"));
  t.push_back(S("log_file", "OSPREY_LOG_FILE", "--log-file", "write the log here instead of stderr", K::string,
                [](Config& c, const std::string& v) { c.log_file = v; }, ""));
  t.push_back(S("reload", "OSPREY_RELOAD", "--reload",
                "watch the config file and model repository and apply changes live", K::boolean,
                [](Config& c, const std::string& v) { c.reload = parse_bool(v); }, "false"));
  t.push_back(S("usage.synchronous", "OSPREY_LEDGER_SYNC", "--ledger-sync",
                "usage ledger durability: normal (records acknowledged once in the append-only journal; survives kill -9) or full (each response waits for an fsynced SQLite commit; also power loss)", K::string,
                [](Config& c, const std::string& v) {
                  auto l = str::lower(str::trim(v));
                  if (l != "normal" && l != "full") throw std::invalid_argument("expected normal or full");
                  c.ledger_sync = l;
                }, "normal"));
  t.push_back(S("master_key", "OSPREY_MASTER_KEY", "", "decrypts enc: values in the config file (also OSPREY_MASTER_KEY_FILE)",
                K::string, [](Config& c, const std::string& v) { c.master_key = std::string(str::trim(v)); }, "", true));
  return t;
}

}  // namespace

const std::vector<Setting>& all_settings() {
  static const std::vector<Setting> table = build();
  return table;
}

}  // namespace osprey::config
