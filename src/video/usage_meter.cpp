#include "video/usage_meter.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "usage/ledger.hpp"

namespace osprey::video {

UsageMeter::UsageMeter(usage::Ledger* ledger, Labels labels, std::int64_t started_ms)
    : ledger_(ledger), labels_(std::move(labels)), minute_(started_ms / 60'000), since_ms_(started_ms) {}

void UsageMeter::add_images(std::int64_t n, std::int64_t now_ms) {
  if (now_ms / 60'000 != minute_) {
    if (images_ > 0) write(now_ms);
    minute_ = now_ms / 60'000;
    since_ms_ = now_ms;
  }
  images_ += n;
}

void UsageMeter::finish(std::int64_t now_ms) {
  if (finished_) return;
  finished_ = true;
  // A connection that processed nothing still leaves one record of its time.
  if (images_ > 0 || records_ == 0) write(now_ms);
}

void UsageMeter::write(std::int64_t now_ms) {
  if (ledger_) {
    usage::Record r;
    r.ts_ms = now_ms;
    r.request_id = fmt::format("{}-{}", labels_.id_prefix, ++records_);
    r.key_id = labels_.key_id;
    r.route = labels_.route;
    r.method = labels_.method;
    r.model = labels_.model;
    r.status = 200;
    r.images = static_cast<int>(images_);
    r.latency_ms = static_cast<double>(now_ms - since_ms_);
    ledger_->record(std::move(r), [id = labels_.id_prefix](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("{}: usage record lost: {}", id, ex.what());
      }
    });
  }
  minute_ = now_ms / 60'000;
  since_ms_ = now_ms;
  images_ = 0;
}

}  // namespace osprey::video
