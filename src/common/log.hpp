#pragma once
// Logging for the whole process, with secret redaction at one choke point.
//
// Every log line in Osprey goes through spdlog's default logger, and that
// logger's only sink is a RedactingSink: before a line is written, every
// registered secret (upstream API keys, the master key, client keys seen in
// flight, ...) is replaced by "[REDACTED]". Code that learns a secret calls
// register_secret() once; nothing else has to remember to scrub.
//
//   osprey::log::init("info");            // once, at startup
//   osprey::log::register_secret(key);    // whenever a secret is loaded
//   spdlog::info("upstream {} ready", url);
//
// redact() applies the same scrubbing to any string (error bodies, crash
// output) for code that must emit text by other means.

#include <string>
#include <string_view>

namespace osprey::log {

// Sets up the default logger (stderr, or `file` if non-empty) at `level`
// ("trace", "debug", "info", "warn", "error", "off"). Throws
// std::invalid_argument on an unknown level name.
void init(std::string_view level, const std::string& file = {});

// Changes the level of the running logger (used by --reload).
void set_level(std::string_view level);

// Secrets shorter than 6 characters are ignored: redacting them would mangle
// ordinary text and they are not worth protecting by redaction anyway.
void register_secret(std::string_view secret);
void forget_all_secrets();

std::string redact(std::string_view text);

// Flushes the logger (call before exit and after fatal errors).
void flush();

}  // namespace osprey::log
