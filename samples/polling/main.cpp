// polling: a poller watches a file and prints each change. It checks every
// interval with jitter (so many pollers would not fire together), and when
// the file is missing it backs off exponentially, then returns to the
// interval on the first success.
//
//   polling                      demo: a writer actor changes a temp file,
//                                and now and then deletes it for a while
//   polling --file PATH          watch PATH until Ctrl-C
//   --interval MS (default 1000) --changes N (exit after N changes)

#include "courier/courier.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot open " + path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct step {};

// The demo's "outside world": rewrites the file each period; every fourth
// step it deletes the file for two periods, so the poller fails and backs
// off.
class writer : public courier::actor {
 public:
  writer(std::string path, std::chrono::milliseconds period)
      : path_(std::move(path)), period_(period) {}

 protected:
  courier::behavior behavior() override {
    return {[this](step) {
      ++n_;
      if (n_ % 6 == 4 || n_ % 6 == 5) {
        std::filesystem::remove(path_);
        return;
      }
      write(100 - 3 * n_);
    }};
  }
  void on_start() override {
    write(100);
    every(period_, step{});
  }

 private:
  // Write then rename, so that a reader sees the old or the new content,
  // never a half-written file.
  void write(int level) {
    std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << "stock level " << level << "\n";
    std::filesystem::rename(tmp, path_);
  }

  std::string path_;
  std::chrono::milliseconds period_;
  int n_ = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  long interval_ms = 1000;
  long max_changes = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--file" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--interval" && i + 1 < argc) {
      interval_ms = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--changes" && i + 1 < argc) {
      max_changes = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: polling [--file PATH] [--interval MS] "
                   "[--changes N]\n");
      return 2;
    }
  }
  bool demo = path.empty();
  if (demo) {
    path = (std::filesystem::temp_directory_path() /
            ("courier-polling-" + std::to_string(::getpid()) + ".txt"))
               .string();
  }
  const auto interval = std::chrono::milliseconds(interval_ms);

  courier::system sys;
  sys.handle_signals();
  auto t0 = std::chrono::steady_clock::now();
  if (demo) {
    sys.spawn<writer>(path, interval * 3 / 2);
  }

  long changes = 0;  // touched only on the poller's loop
  courier::poll_options<std::string> opts{
      .interval = interval,
      .jitter = 0.2,
      .backoff_factor = 2.0,
      .backoff_cap = interval * 8,
      .on_outcome =
          [t0](const courier::poll_outcome& o) {
            if (!o.ok) {
              std::printf(
                  "[%6.2fs] poll %llu failed (%s); next try in %lld ms\n",
                  seconds_since(t0), static_cast<unsigned long long>(o.attempt),
                  o.error.c_str(),
                  static_cast<long long>(o.next_delay.count()));
              std::fflush(stdout);
            }
          },
  };
  courier::spawn_poller<std::string>(
      sys, [path] { return read_file(path); },
      [&](const std::string& text) {
        ++changes;
        std::printf("[%6.2fs] change %ld: %s", seconds_since(t0), changes,
                    text.c_str());
        std::fflush(stdout);
        if (max_changes > 0 && changes >= max_changes) {
          sys.request_shutdown();
        }
      },
      std::move(opts));
  std::printf(
      "watching %s every %ld ms (jitter 20%%, backoff up to %ld ms)%s\n",
      path.c_str(), interval_ms, interval_ms * 8,
      max_changes > 0 ? "" : "; Ctrl-C to stop");
  std::fflush(stdout);

  sys.wait_for_shutdown();
  if (demo) {
    std::filesystem::remove(path);
  }
  std::printf("stopped after %ld changes\n", changes);
  return 0;
}
