#pragma once
// PollWindow: how long an I/O thread keeps polling after its last event
// before it sleeps, adapted to the gaps it has seen between events.
//
//   PollWindow w(std::chrono::microseconds(100));  // never poll longer than 100 us
//   ... after each sleep, with the time from the last event to the wake-up:
//   w.after_sleep(gap);
//   ... poll while (now - last_event) < w.current(), then sleep again.
//
// Why adaptive: a fixed window costs `cap` of spinning after every event,
// even when the next event is milliseconds away (an inference result, a
// token from a real upstream, a client that thinks between requests). Then
// the spin buys nothing. The window only pays when events come closer
// together than it, so it grows while the gaps fit under the cap and
// shrinks while they do not. An idle thread's window decays to 0 after a
// few sleeps, and from then on the thread sleeps at once, like plain
// io_context::run().
//
// Grow: a gap within the cap would have been caught by a window of that
// size; the window becomes the larger of twice itself and the gap plus a
// quarter, at most the cap. The margin keeps a window that was just right
// from missing the next, slightly longer gap.
// Shrink: a gap longer than the cap halves the window (under 1 us: 0). One
// long gap among short ones costs half the window, not all of it.

#include <algorithm>
#include <chrono>

namespace osprey::server {

class PollWindow {
 public:
  explicit PollWindow(std::chrono::microseconds cap) : cap_(std::max(cap, std::chrono::microseconds(0))) {}

  std::chrono::microseconds current() const { return window_; }
  std::chrono::microseconds cap() const { return cap_; }

  // `gap`: from the thread's last event to the event that ended its sleep.
  void after_sleep(std::chrono::microseconds gap) {
    using std::chrono::microseconds;
    if (gap <= cap_) {
      window_ = std::min(cap_, std::max(window_ * 2, gap + gap / 4 + microseconds(1)));
    } else {
      window_ /= 2;
      if (window_ < microseconds(1)) window_ = microseconds(0);
    }
  }

 private:
  std::chrono::microseconds cap_;
  std::chrono::microseconds window_{0};
};

}  // namespace osprey::server
