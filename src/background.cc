#include "background.h"

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

}  // namespace

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
