// Releasing and taking the GIL in a way that survives interpreter exit. While CPython (before
// 3.14) finalizes, a thread taking the GIL back is ended with pthread_exit, which unwinds its
// stack; unwinding out of a destructor (pybind11's gil_scoped_release takes the GIL back in
// one) is std::terminate. So a daemon thread inside ckptio when the program ends would abort
// the whole process ("terminate called without an active exception"). These park such a
// thread instead, as CPython 3.14 does itself: the process is exiting, the thread must not run
// on, and nothing waits for it.
#ifndef CKPTIO_PY_GIL_H_
#define CKPTIO_PY_GIL_H_

#include <Python.h>

#include <chrono>
#include <thread>
#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace ckptio {

[[noreturn]] inline void ParkForExit() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

inline bool InterpreterFinalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// `take` takes the GIL; where the interpreter ends the thread instead, the thread parks.
template <typename Take>
void TakeGilOrPark(const Take& take) noexcept {
  if (InterpreterFinalizing()) ParkForExit();
#if defined(__GLIBCXX__)
  try {
    take();
  } catch (abi::__forced_unwind&) {  // finalizing began after the check: not rethrown, parked
    ParkForExit();
  }
#else
  take();
#endif
}

// The GIL released for the scope (heavy C++ work), taken back at its end.
class GilReleased {
 public:
  GilReleased() : state_(PyEval_SaveThread()) {}
  ~GilReleased() {
    TakeGilOrPark([this] { PyEval_RestoreThread(state_); });
  }
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  PyThreadState* state_;
};

// The GIL held for the scope, from any thread (C++ worker threads included).
class GilHeld {
 public:
  GilHeld() {
    TakeGilOrPark([this] { state_ = PyGILState_Ensure(); });
  }
  ~GilHeld() { PyGILState_Release(state_); }
  GilHeld(const GilHeld&) = delete;
  GilHeld& operator=(const GilHeld&) = delete;

 private:
  PyGILState_STATE state_{};
};

}  // namespace ckptio

#endif  // CKPTIO_PY_GIL_H_
