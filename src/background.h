// One background thread for work nobody waits on: read-ahead hints. A hint costs CPU (the
// kernel allocates and submits every page of the range before returning), so the thread that
// reads must not make it: measured on a cold 2 GB read, the hints took a third of the reading
// thread's time, during which its next read had not started. Process-wide, started on first
// use; a forked child, which inherits none of the parent's threads, starts its own.
#pragma once

#include <functional>
#include <mutex>

namespace ckptio {

// Run `task` on the background thread, after the tasks submitted before it. False when no
// thread can be had: the task is not run (the caller runs it, or drops it).
bool RunInBackground(std::function<void()> task);

// The lock for state shared with the background thread (the files' queued hints). fork()
// waits until no thread holds it: a child inheriting it held, from a thread the child does not
// have, would wait on it forever at its first read.
std::mutex& BackgroundStateMutex();

}  // namespace ckptio
