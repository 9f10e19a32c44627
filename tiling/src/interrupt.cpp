// Ctrl-C handling. The handler only touches async-signal-safe state: an atomic flag, a fixed
// table of temporary paths, unlink() and _exit().
#include <csignal>
#include <cstring>
#include <mutex>
#include <unistd.h>

#include "temp_registry.h"
#include "tm/testing/interrupt.h"
#include "tm/tiling.h"

namespace terramind {
namespace {

constexpr int kMaxTemps = 64;
constexpr int kMaxPath = 4096;

volatile std::sig_atomic_t g_signal_count = 0;
std::atomic<bool> g_interrupted{false};
char g_temp_paths[kMaxTemps][kMaxPath];
std::atomic<bool> g_temp_used[kMaxTemps];
std::mutex g_temp_mutex;  // registration only, never taken in the handler

extern "C" void on_interrupt(int) {
  g_signal_count = g_signal_count + 1;
  g_interrupted.store(true);
  if (g_signal_count >= 2) {
    // Second Ctrl-C: the user does not want to wait for unwinding.
    for (int i = 0; i < kMaxTemps; ++i)
      if (g_temp_used[i].load()) unlink(g_temp_paths[i]);
    _exit(130);
  }
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);  // a closed terminal or ssh session: stop cleanly too
}

bool interrupt_requested() { return g_interrupted.load(); }

void throw_if_interrupted() {
  if (interrupt_requested()) throw Interrupted();
}

void reset_interrupt_for_tests() {
  g_interrupted.store(false);
  g_signal_count = 0;
}

int register_temp_path(const std::string& path) {
  if (path.size() >= kMaxPath) return -1;
  std::lock_guard<std::mutex> lock(g_temp_mutex);
  for (int i = 0; i < kMaxTemps; ++i) {
    if (!g_temp_used[i].load()) {
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      g_temp_used[i].store(true);
      return i;
    }
  }
  return -1;  // table full: the destructor still cleans up on the normal path
}

void unregister_temp_path(int slot) {
  if (slot < 0) return;
  std::lock_guard<std::mutex> lock(g_temp_mutex);
  g_temp_used[slot].store(false);
}

}  // namespace terramind
