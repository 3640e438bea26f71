// Tests for video/source.hpp. Test videos are made with the ffmpeg CLI from
// the shared test images; every test is skipped when ffmpeg is missing.

#include "video/source.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>


extern char** environ;

namespace osprey::video {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string shared_dir() {
  if (const char* s = std::getenv("OSPREY_SHARED_DIR")) return s;
  const char* src = std::getenv("OSPREY_SOURCE_DIR");
  return (fs::path(src ? src : fs::current_path().string()) / ".." / "shared").string();
}

// A child process that is always killed and reaped.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() { kill(SIGKILL); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  bool running() const { return pid_ > 0; }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int wait() {
    int status = 0;
    if (pid_ <= 0 || waitpid(pid_, &status, 0) < 0) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

bool run(const std::vector<std::string>& args) { return Child(args).wait() == 0; }

bool have_ffmpeg() {
  static const bool ok = run({"ffmpeg", "-loglevel", "quiet", "-version"});
  return ok;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A listening socket on 127.0.0.1 and a free port; returns the fd.
int listen_on_loopback(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(fd, 8);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// A TCP listener that never accepts: the kernel completes the handshake, so
// a client connects fine and then waits forever for a reply.
class SilentServer {
 public:
  SilentServer() {
    fd_ = listen_on_loopback(port_);
  }
  ~SilentServer() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A minimal HTTP server on a thread that answers every request with `body`.
class FixedHttpServer {
 public:
  explicit FixedHttpServer(std::string body) : body_(std::move(body)) {
    fd_ = listen_on_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~FixedHttpServer() {
    done_ = true;
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void serve() {
    while (!done_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++requests_;
      char buf[4096];
      std::string req;
      while (req.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 1000) <= 0) break;
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, size_t(n));
      }
      std::string res = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: " +
                        std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      (void)!send(c, res.data(), res.size(), MSG_NOSIGNAL);
      close(c);
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> done_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Test videos, made once for the whole suite.
struct Videos {
  std::string dir;
  std::string avi;  // mjpeg, 640x480, 10 fps, 2 s
  std::string mp4;  // h264 (or mpeg4), 320x240, 10 fps, 2 s
  std::string ts;   // the same in MPEG-TS, whose timestamps start at 1.4 s
};

const Videos* videos() {
  static const Videos* v = [] () -> const Videos* {
    if (!have_ffmpeg()) return nullptr;
    char tmpl[] = "/tmp/osprey-video-XXXXXX";
    if (!mkdtemp(tmpl)) return nullptr;
    auto* out = new Videos{tmpl, std::string(tmpl) + "/a.avi", std::string(tmpl) + "/b.mp4", std::string(tmpl) + "/c.ts"};
    std::string dog = shared_dir() + "/images/dog.jpg";
    bool ok = run({"ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", dog, "-t", "2", "-r", "10", "-vf",
                   "scale=640:480", "-c:v", "mjpeg", "-q:v", "5", out->avi});
    bool x264 = run({"ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", dog, "-t", "2", "-r", "10", "-vf",
                     "scale=320:240,format=yuv420p", "-c:v", "libx264", "-preset", "veryfast", out->mp4});
    if (!x264)
      ok = ok && run({"ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-i", dog, "-t", "2", "-r", "10", "-vf",
                      "scale=320:240", "-c:v", "mpeg4", out->mp4});
    ok = ok && run({"ffmpeg", "-loglevel", "error", "-y", "-i", out->mp4, "-c", "copy", out->ts});
    if (!ok) {
      fs::remove_all(out->dir);
      delete out;
      return nullptr;
    }
    std::atexit([] { fs::remove_all(videos()->dir); });
    return out;
  }();
  return v;
}

class VideoSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg CLI not found";
    v_ = videos();
    ASSERT_NE(v_, nullptr) << "could not make test videos from " << shared_dir();
  }
  SourceOptions fast() const {
    SourceOptions o;
    o.pace_files = false;
    return o;
  }
  std::string expect_error(const std::string& url, const SourceOptions& o) {
    try {
      VideoSource::open(url, o, stop_);
    } catch (const SourceError& e) {
      return e.kind();
    }
    return "no error";
  }

  const Videos* v_ = nullptr;
  std::atomic<bool> stop_{false};
};

TEST_F(VideoSourceTest, FileGivesAllFramesWithIncreasingIndexAndPts) {
  struct Case { std::string path; int w, h; };
  for (const Case& c : {Case{v_->avi, 640, 480}, Case{v_->mp4, 320, 240}}) {
    SCOPED_TRACE(c.path);
    auto src = VideoSource::open(c.path, fast(), stop_);
    EXPECT_EQ(src->width(), c.w);
    EXPECT_EQ(src->height(), c.h);
    EXPECT_NEAR(src->fps(), 10.0, 0.01);
    EXPECT_FALSE(src->codec().empty());
    EXPECT_FALSE(src->format().empty());
    Frame f;
    int n = 0;
    double last_pts = -1;
    auto before = std::chrono::system_clock::now();
    while (src->read(f)) {
      EXPECT_EQ(f.index, n);
      ASSERT_EQ(f.bgr.type(), CV_8UC3);
      EXPECT_EQ(f.bgr.cols, c.w);
      EXPECT_EQ(f.bgr.rows, c.h);
      EXPECT_GT(f.pts_seconds, last_pts);
      EXPECT_GE(f.received, before);
      last_pts = f.pts_seconds;
      ++n;
      ASSERT_LT(n, 100);
    }
    EXPECT_GE(n, 19);
    EXPECT_LE(n, 21);
    EXPECT_NEAR(last_pts, 1.9, 0.15);
    EXPECT_FALSE(src->read(f));  // stays ended
    EXPECT_EQ(src->corrupt_packets(), 0);
  }
  // The decoded picture is the dog, not garbage: the mean colour is plausible.
  auto src = VideoSource::open(v_->avi, fast(), stop_);
  Frame f;
  ASSERT_TRUE(src->read(f));
  cv::Scalar m = cv::mean(f.bgr);
  EXPECT_GT(m[0] + m[1] + m[2], 100);
  EXPECT_LT(m[0] + m[1] + m[2], 700);
}

TEST_F(VideoSourceTest, FileUrlAndFilePrefixWork) {
  Frame f;
  EXPECT_TRUE(VideoSource::open("file://" + v_->avi, fast(), stop_)->read(f));
  EXPECT_TRUE(VideoSource::open("file:" + v_->avi, fast(), stop_)->read(f));
}

TEST_F(VideoSourceTest, PacingReadsAtNativeRate) {
  auto time_all = [&](bool pace) {
    SourceOptions o;
    o.pace_files = pace;
    auto src = VideoSource::open(v_->avi, o, stop_);
    Frame f;
    auto t0 = Clock::now();
    int n = 0;
    while (src->read(f)) ++n;
    EXPECT_GE(n, 19);
    return seconds_since(t0);
  };
  EXPECT_GE(time_all(true), 1.75);
  EXPECT_LT(time_all(false), 1.0);
}

TEST_F(VideoSourceTest, StopInterruptsPacing) {
  SourceOptions o;
  o.pace_files = true;
  auto src = VideoSource::open(v_->avi, o, stop_);
  Frame f;
  ASSERT_TRUE(src->read(f));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    stop_ = true;
  });
  auto t0 = Clock::now();
  std::string kind;
  try {
    while (src->read(f)) {}
  } catch (const SourceError& e) {
    kind = e.kind();
  }
  t.join();
  EXPECT_EQ(kind, "stopped");
  EXPECT_LT(seconds_since(t0), 0.6);
}

TEST_F(VideoSourceTest, LoopContinuesPastTheEnd) {
  SourceOptions o = fast();
  o.loop_files = true;
  for (const std::string& path : {v_->avi, v_->mp4, v_->ts}) {
    SCOPED_TRACE(path);
    auto src = VideoSource::open(path, o, stop_);
    double first_pts = -1;
    Frame f;
    double last_pts = -1;
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(src->read(f));
      EXPECT_EQ(f.index, i);
      EXPECT_GT(f.pts_seconds, last_pts);
      if (i == 0) first_pts = f.pts_seconds;
      if (i > 0) {
        EXPECT_NEAR(f.pts_seconds - last_pts, 0.1, 0.02);  // no gap or overlap at the seam
      }
      last_pts = f.pts_seconds;
    }
    EXPECT_NEAR(last_pts - first_pts, 4.9, 0.2);
  }
}

TEST_F(VideoSourceTest, LargeFramesAreScaledDownAndHugeOnesRefused) {
  SourceOptions o = fast();
  o.max_side = 320;
  auto src = VideoSource::open(v_->avi, o, stop_);
  Frame f;
  ASSERT_TRUE(src->read(f));
  EXPECT_EQ(f.bgr.cols, 320);
  EXPECT_EQ(f.bgr.rows, 240);
  EXPECT_EQ(src->width(), 640);  // the declared size is unchanged

  o.max_pixels = 640 * 480 - 1;
  EXPECT_EQ(expect_error(v_->avi, o), "invalid");
}

TEST_F(VideoSourceTest, MissingFileIsNotFound) {
  EXPECT_EQ(expect_error(v_->dir + "/nope.mp4", fast()), "not_found");
  EXPECT_EQ(expect_error("file://" + v_->dir + "/nope.mp4", fast()), "not_found");
}

TEST_F(VideoSourceTest, NonVideoFilesAreInvalid) {
  std::string txt = v_->dir + "/text.mp4";
  std::ofstream(txt) << "This is not a video.\nJust some text, long enough to probe.\n";
  EXPECT_EQ(expect_error(txt, fast()), "invalid");
  EXPECT_EQ(expect_error(v_->dir, fast()), "invalid");  // a directory
  // A JPEG is an image, not a video container we allow (image2 could expand
  // file name patterns).
  EXPECT_EQ(expect_error(shared_dir() + "/images/dog.jpg", fast()), "invalid");
  // A playlist-like demuxer may not pull in other files.
  std::string concat = v_->dir + "/list.mp4";
  std::ofstream(concat) << "ffconcat version 1.0\nfile " << v_->avi << "\n";
  EXPECT_EQ(expect_error(concat, fast()), "invalid");
  std::string hls = v_->dir + "/list.m3u8";
  std::ofstream(hls) << "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n" << v_->avi << "\n#EXT-X-ENDLIST\n";
  EXPECT_EQ(expect_error(hls, fast()), "invalid");
}

TEST_F(VideoSourceTest, CorruptedFilesEndOrFailCleanly) {
  std::mt19937 rng(42);
  for (const std::string& good : {v_->avi, v_->mp4}) {
    for (double where : {0.1, 0.5}) {
      SCOPED_TRACE(good + " @" + std::to_string(where));
      std::string bad = v_->dir + "/bad" + fs::path(good).extension().string();
      fs::copy_file(good, bad, fs::copy_options::overwrite_existing);
      auto size = fs::file_size(bad);
      {
        std::fstream io(bad, std::ios::in | std::ios::out | std::ios::binary);
        io.seekp(std::streamoff(size * where));
        for (size_t i = 0; i < size / 3; ++i) io.put(char(rng()));
      }
      auto t0 = Clock::now();
      try {
        auto src = VideoSource::open(bad, fast(), stop_);
        Frame f;
        int n = 0;
        while (src->read(f) && n < 1000) {
          ASSERT_FALSE(f.bgr.empty());
          ++n;
        }
        EXPECT_LT(n, 1000);
      } catch (const SourceError& e) {
        EXPECT_EQ(e.kind(), "invalid") << e.what();
      }
      EXPECT_LT(seconds_since(t0), 5.0);
    }
  }
}

// Opens an HTTP stream served by an `ffmpeg -listen 1` child, retrying while
// the child is still starting.
std::unique_ptr<VideoSource> open_http(const std::string& url, const SourceOptions& o, std::atomic<bool>& stop) {
  auto t0 = Clock::now();
  for (;;) {
    try {
      return VideoSource::open(url, o, stop);
    } catch (const SourceError& e) {
      if (e.kind() != "unreachable" || seconds_since(t0) > 10) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

std::vector<std::string> http_server_args(const std::string& input, int port) {
  return {"ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", input, "-c:v", "copy",
          "-f", "mpjpeg", "-listen", "1", "http://127.0.0.1:" + std::to_string(port) + "/"};
}

TEST_F(VideoSourceTest, HttpStreamReadsFramesThenEndsWhenServerDies) {
  int port = free_port();
  Child server(http_server_args(v_->avi, port));
  ASSERT_TRUE(server.running());
  SourceOptions o;
  o.read_timeout_ms = 2000;
  auto src = open_http("http://127.0.0.1:" + std::to_string(port) + "/", o, stop_);
  EXPECT_EQ(src->codec(), "mjpeg");
  Frame f;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(src->read(f));
    EXPECT_EQ(f.index, i);
    EXPECT_EQ(f.bgr.cols, 640);
    EXPECT_EQ(f.bgr.rows, 480);
  }
  server.kill(SIGKILL);
  auto t0 = Clock::now();
  try {
    int n = 0;
    while (src->read(f)) ASSERT_LT(++n, 50);  // a few frames may still be in flight
  } catch (const SourceError& e) {
    EXPECT_NE(e.kind(), "stopped") << e.what();
  }
  EXPECT_LT(seconds_since(t0), 2.0 + 1.0);
}

TEST_F(VideoSourceTest, HttpStreamThatStallsTimesOut) {
  int port = free_port();
  Child server(http_server_args(v_->avi, port));
  ASSERT_TRUE(server.running());
  SourceOptions o;
  o.read_timeout_ms = 1000;
  auto src = open_http("http://127.0.0.1:" + std::to_string(port) + "/", o, stop_);
  Frame f;
  ASSERT_TRUE(src->read(f));
  server.signal(SIGSTOP);  // the connection stays open, nothing more arrives
  auto t0 = Clock::now();
  std::string kind = "none";
  try {
    int n = 0;
    while (src->read(f)) ASSERT_LT(++n, 50);
  } catch (const SourceError& e) {
    kind = e.kind();
  }
  EXPECT_EQ(kind, "timeout");
  EXPECT_LT(seconds_since(t0), 1.0 + 1.0);
  EXPECT_GT(seconds_since(t0), 0.8);
}

TEST_F(VideoSourceTest, HttpPlaylistCannotReachLocalFiles) {
  FixedHttpServer server("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile://" + v_->avi +
                         "\n#EXT-X-ENDLIST\n");
  SourceOptions o = fast();
  o.open_timeout_ms = 2000;
  o.read_timeout_ms = 2000;
  int frames = 0;
  try {
    auto src = VideoSource::open("http://127.0.0.1:" + std::to_string(server.port()) + "/live.m3u8", o, stop_);
    Frame f;
    while (frames < 5 && src->read(f)) ++frames;
  } catch (const SourceError&) {
  }
  EXPECT_GE(server.requests(), 1);  // the playlist itself was fetched
  EXPECT_EQ(frames, 0);
}

TEST_F(VideoSourceTest, UnreachableHostsFailFast) {
  auto t0 = Clock::now();
  EXPECT_EQ(expect_error("http://127.0.0.1:1/", fast()), "unreachable");
  EXPECT_EQ(expect_error("rtsp://127.0.0.1:1/x", fast()), "unreachable");
  EXPECT_LT(seconds_since(t0), 2.0);
}

TEST_F(VideoSourceTest, SilentServerTimesOutOnOpen) {
  SilentServer server;
  SourceOptions o;
  o.open_timeout_ms = 1000;
  for (const char* scheme : {"http", "rtsp"}) {
    SCOPED_TRACE(scheme);
    auto t0 = Clock::now();
    EXPECT_EQ(expect_error(std::string(scheme) + "://127.0.0.1:" + std::to_string(server.port()) + "/", o),
              "timeout");
    double took = seconds_since(t0);
    EXPECT_GT(took, 0.9);
    EXPECT_LT(took, 2.0);
  }
}

TEST_F(VideoSourceTest, StopEndsAHangingOpenPromptly) {
  SilentServer server;
  SourceOptions o;
  o.open_timeout_ms = 10000;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop_ = true;
  });
  auto t0 = Clock::now();
  EXPECT_EQ(expect_error("http://127.0.0.1:" + std::to_string(server.port()) + "/", o), "stopped");
  EXPECT_LT(seconds_since(t0), 1.0);
  t.join();
}

TEST_F(VideoSourceTest, ErrorMessagesHideCredentialsAndQuery) {
  try {
    VideoSource::open("http://admin:s3cret@127.0.0.1:1/cam?token=abc123", fast(), stop_);
    FAIL() << "opened";
  } catch (const SourceError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("admin"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("abc123"), std::string::npos) << msg;
    EXPECT_NE(msg.find("127.0.0.1:1/cam"), std::string::npos) << msg;
  }
}

TEST_F(VideoSourceTest, UnknownSchemeIsUnsupported) {
  EXPECT_EQ(expect_error("ftp://127.0.0.1/x.mp4", fast()), "unsupported");
}

}  // namespace
}  // namespace osprey::video
