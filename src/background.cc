#include "background.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace ckptio {

namespace {

class Worker {
 public:
  Worker() {
    try {
      std::thread([this] { Work(); }).detach();
      started_ = true;
    } catch (const std::system_error&) {
      started_ = false;
    }
  }

  bool Submit(std::function<void()> task) {
    if (!started_) return false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
    return true;
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool started_ = false;
};

std::atomic<Worker*> g_worker{nullptr};
std::atomic<pid_t> g_worker_pid{0};
std::mutex g_start_mu;
std::mutex g_state_mu;

// Around fork(): hold both locks across it, so that the child gets them free (it has only the
// forking thread, which then releases them). Registered once, when the library loads.
void LockForFork() {
  g_start_mu.lock();
  g_state_mu.lock();
}
void UnlockAfterFork() {
  g_state_mu.unlock();
  g_start_mu.unlock();
}
[[maybe_unused]] const int g_fork_handlers =
    ::pthread_atfork(LockForFork, UnlockAfterFork, UnlockAfterFork);

}  // namespace

std::mutex& BackgroundStateMutex() { return g_state_mu; }

bool RunInBackground(std::function<void()> task) {
  const pid_t pid = ::getpid();
  Worker* worker = g_worker.load();
  if (worker == nullptr || g_worker_pid.load() != pid) {
    // First use in this process, a forked child's included. The parent's worker is never
    // destroyed: its detached thread may still be waiting on it when the process exits.
    std::lock_guard<std::mutex> lock(g_start_mu);
    worker = g_worker.load();
    if (worker == nullptr || g_worker_pid.load() != pid) {
      worker = new Worker;
      g_worker.store(worker);
      g_worker_pid.store(pid);
    }
  }
  return worker->Submit(std::move(task));
}

}  // namespace ckptio
