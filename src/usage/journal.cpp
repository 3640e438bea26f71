#include "usage/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <type_traits>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "usage/ledger.hpp"

namespace osprey::usage {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "usage-journal-";
constexpr std::string_view kSuffix = ".log";

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error("usage journal: " + what + ": " + std::strerror(errno));
}

// Writes all of `s`; returns the bytes written before an error (errno set)
// or s.size(). Counts its write(2) calls in `calls`.
std::size_t write_all(int fd, const std::string& s, std::atomic<std::uint64_t>& calls) {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    calls.fetch_add(1, std::memory_order_relaxed);
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return s.size() - left;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return s.size();
}

// One journal line, JSON, written by hand: this runs for every request, and
// building an nlohmann object per record cost ~30 allocations. The line is
// sized once for its worst case (every string byte escaped as \u00XX) and
// then written through a pointer: a push_back per byte, with its capacity
// check, cost more than the rest of the record's path to disk.
class LineWriter {
 public:
  // Appends to `out`; finish() trims it to what was written.
  LineWriter(std::string& out, std::size_t worst_case) : out_(out), start_(out.size()) {
    out_.resize(start_ + worst_case);
    p_ = out_.data() + start_;
  }
  void finish() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }

  // The worst case of a line holding strings of `string_bytes` bytes in all.
  static std::size_t bound(std::size_t string_bytes) { return 512 + 6 * string_bytes; }

  void raw(std::string_view s) {
    if (s.empty()) return;  // data() may be null, which memcpy may not be given
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

  template <class Number>
  void number(Number v) {
    // to_chars: the shortest text that reads back as the same value (what
    // %.17g guarantees too, at several times the cost); finite values only
    // (JSON has no NaN).
    if constexpr (std::is_floating_point_v<Number>)
      p_ = std::to_chars(p_, p_ + 32, std::isfinite(v) ? static_cast<double>(v) : 0.0).ptr;
    else
      p_ = std::to_chars(p_, p_ + 32, v).ptr;
  }

  // A JSON string, escaped. Bytes that are not valid UTF-8 become U+FFFD, so
  // the line always parses back.
  void string(std::string_view v) {
    static constexpr char kHex[] = "0123456789abcdef";
    *p_++ = '"';
    for (std::size_t i = 0; i < v.size();) {
      unsigned char c = static_cast<unsigned char>(v[i]);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
        *p_++ = static_cast<char>(c);
        ++i;
      } else if (c == '"' || c == '\\') {
        *p_++ = '\\';
        *p_++ = static_cast<char>(c);
        ++i;
      } else if (c < 0x20) {
        raw("\\u00");
        *p_++ = kHex[c >> 4];
        *p_++ = kHex[c & 0xf];
        ++i;
      } else {
        // Length of a well-formed UTF-8 sequence starting here, or 0.
        std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= v.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(v[i + k]) & 0xc0) == 0x80;
        if (ok) {
          raw(v.substr(i, len));
          i += len;
        } else {
          raw("\xef\xbf\xbd");
          ++i;
        }
      }
    }
    *p_++ = '"';
  }

 private:
  std::string& out_;
  std::size_t start_;
  char* p_;
};

// Appends the record's line (with its newline) to `out`.
void append_line(std::string& out, std::uint64_t seq, const Record& r) {
  LineWriter w(out, LineWriter::bound(r.request_id.size() + r.key_id.size() + r.route.size() + r.method.size() +
                                      r.model.size()));
  w.raw("{\"s\":");
  w.number(seq);
  w.raw(",\"ts\":");
  w.number(r.ts_ms);
  w.raw(",\"rid\":");
  w.string(r.request_id);
  w.raw(",\"key\":");
  w.string(r.key_id);
  w.raw(",\"route\":");
  w.string(r.route);
  w.raw(",\"method\":");
  w.string(r.method);
  w.raw(",\"model\":");
  w.string(r.model);
  w.raw(",\"status\":");
  w.number(r.status);
  w.raw(",\"lat\":");
  w.number(r.latency_ms);
  w.raw(",\"img\":");
  w.number(r.images);
  w.raw(",\"pt\":");
  w.number(r.prompt_tokens);
  w.raw(",\"ct\":");
  w.number(r.completion_tokens);
  w.raw(",\"usd\":");
  w.number(r.cost_usd);
  if (!r.upstream.empty()) {
    w.raw(",\"up\":");
    w.string(r.upstream);
  }
  w.raw("}\n");
  w.finish();
}

bool from_line(const std::string& line, std::uint64_t& seq, Record& r) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  try {
    seq = j.at("s").get<std::uint64_t>();
    r.ts_ms = j.at("ts").get<std::int64_t>();
    r.request_id = j.at("rid").get<std::string>();
    r.key_id = j.at("key").get<std::string>();
    r.route = j.at("route").get<std::string>();
    r.method = j.at("method").get<std::string>();
    r.model = j.at("model").get<std::string>();
    r.status = j.at("status").get<int>();
    r.latency_ms = j.at("lat").get<double>();
    r.images = j.at("img").get<int>();
    r.prompt_tokens = j.at("pt").get<std::int64_t>();
    r.completion_tokens = j.at("ct").get<std::int64_t>();
    r.cost_usd = j.at("usd").get<double>();
    if (auto up = j.find("up"); up != j.end() && up->is_string()) r.upstream = up->get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

Journal::Journal(std::string data_dir) : dir_(std::move(data_dir)) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  stem_ = std::string(kPrefix) + std::to_string(::getpid()) + "-" + std::to_string(ms);
  open_next();
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
  for (auto& [name, fd] : retired_later_) ::close(fd);
}

void Journal::open_next() {
  auto name = stem_ + "-" + std::to_string(counter_++) + std::string(kSuffix);
  auto path = (fs::path(dir_) / name).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw sys_error("open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw sys_error("lock " + path);
  }
  if (fd_ >= 0) retired_later_.emplace_back(current_, fd_);
  fd_ = fd;
  current_ = name;
  size_ = 0;
}

Journal::Position Journal::append(const Record& r) {
  std::lock_guard lock(mu_);
  Position pos{current_, ++seq_};
  line_.clear();
  append_line(line_, pos.seq, r);
  if (write_all(fd_, line_, writes_) < line_.size()) {
    auto err = sys_error("write");
    // A partial line may be on disk: replay skips it as torn. The next
    // record starts on a fresh line.
    (void)::write(fd_, "\n", 1);
    throw err;
  }
  size_ += line_.size();
  return pos;
}

Journal::Appended Journal::append(const std::vector<Record>& records) {
  std::lock_guard lock(mu_);
  Appended out;
  out.first = {current_, seq_ + 1};
  line_.clear();
  // Where each record's line ends, to tell after a short write which ones
  // are whole on disk.
  thread_local std::vector<std::size_t> ends;
  ends.clear();
  for (const auto& r : records) {
    append_line(line_, ++seq_, r);
    ends.push_back(line_.size());
  }
  std::size_t written = write_all(fd_, line_, writes_);
  size_ += written;
  if (written < line_.size()) {
    out.error = std::make_exception_ptr(sys_error("write"));
    out.durable = static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), written) - ends.begin());
    if (out.durable == 0 || ends[out.durable - 1] != written) {
      // A torn line: end it, so that the next record starts on a fresh one
      // (replay skips the torn one).
      (void)::write(fd_, "\n", 1);
    }
    return out;
  }
  out.durable = records.size();
  return out;
}

Journal::Position Journal::rotate_if_larger(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (size_ <= bytes) return {};
  Position old{current_, seq_};
  open_next();
  return old;
}

void Journal::retire(const std::string& file) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(retired_later_.begin(), retired_later_.end(),
                         [&](const auto& e) { return e.first == file; });
  if (it == retired_later_.end()) return;
  std::error_code ec;
  fs::remove(fs::path(dir_) / file, ec);
  ::close(it->second);
  retired_later_.erase(it);
}

void Journal::retire_all() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  for (auto& [name, fd] : retired_later_) {
    fs::remove(fs::path(dir_) / name, ec);
    ::close(fd);
  }
  retired_later_.clear();
  if (fd_ >= 0) {
    fs::remove(fs::path(dir_) / current_, ec);
    ::close(fd_);
    fd_ = -1;
  }
}

std::vector<Journal::Orphan> Journal::orphans(const std::string& data_dir) {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_dir, ec)) {
    auto name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() < kSuffix.size() ||
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      continue;
    found.emplace_back(e.last_write_time(ec), name);
  }
  std::sort(found.begin(), found.end());
  std::vector<Orphan> out;
  for (auto& [t, name] : found) {
    auto path = (fs::path(data_dir) / name).string();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a live process writes it
      ::close(fd);
      continue;
    }
    out.push_back({name, fd});
  }
  return out;
}

std::vector<std::pair<std::uint64_t, Record>> Journal::read_records(const std::string& data_dir, const Orphan& o,
                                                                     std::size_t& skipped) {
  std::vector<std::pair<std::uint64_t, Record>> out;
  std::ifstream in(fs::path(data_dir) / o.file, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // A line without its newline at the very end of the file is torn.
    if (in.eof()) {
      ++skipped;
      break;
    }
    std::uint64_t seq = 0;
    Record r;
    if (from_line(line, seq, r))
      out.emplace_back(seq, std::move(r));
    else
      ++skipped;
  }
  return out;
}

void Journal::retire_orphan(const std::string& data_dir, Orphan& o) {
  std::error_code ec;
  fs::remove(fs::path(data_dir) / o.file, ec);
  if (o.fd >= 0) ::close(o.fd);
  o.fd = -1;
}

}  // namespace osprey::usage
