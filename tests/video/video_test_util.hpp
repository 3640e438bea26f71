#pragma once
// Test helpers for the video tests: videos made with the ffmpeg CLI from
// ../shared/images, an ffmpeg child serving MJPEG over HTTP on 127.0.0.1,
// and a free port.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "support.hpp"

namespace osprey::test {

inline bool have_ffmpeg() { return std::system("ffmpeg -version >/dev/null 2>&1") == 0; }

// A `seconds`-long 640x480 MJPEG AVI of `image` (in ../shared/images) at
// `fps`, panning slowly right so that tracked boxes move.
inline std::string make_video(const std::string& dir, const std::string& name, const std::string& image = "dog.jpg",
                              int seconds = 4, int fps = 10) {
  std::string out = dir + "/" + name;
  std::string cmd = "ffmpeg -loglevel error -y -loop 1 -i '" + shared_dir() + "/images/" + image + "' -t " +
                    std::to_string(seconds) + " -r " + std::to_string(fps) +
                    " -vf \"scale=680:480,crop=640:480:'min(40,t*10)':0\" -c:v mjpeg -q:v 4 '" + out + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("ffmpeg failed: " + cmd);
  return out;
}

// Whether an established TCP connection to 127.0.0.1:port exists
// (/proc/net/tcp: local address, remote address, state 01 = ESTABLISHED).
inline bool connected_to(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    if (state == "01" && remote.size() > 5 && remote.substr(remote.size() - 5) == want) return true;
  }
  return false;
}

inline int free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// ffmpeg serving `video` in a loop, in real time, as MJPEG over HTTP at
// http://127.0.0.1:port/ (one client at a time, as a camera's HTTP server).
class FfmpegServer {
 public:
  FfmpegServer(const std::string& video, int port) : port_(port) { relaunch(video); }
  ~FfmpegServer() { kill(); }
  void kill() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void relaunch(const std::string& video) {
    kill();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
      execlp("ffmpeg", "ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", video.c_str(), "-c:v",
             "copy", "-f", "mpjpeg", "-listen", "1", url.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Until it listens (a probe would be its one client: ffmpeg -listen 1
    // serves one connection, then exits).
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }


 private:
  int port_;
  pid_t pid_ = -1;
};

}  // namespace osprey::test
