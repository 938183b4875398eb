// A small coverage-guided fuzzing driver for compilers without libFuzzer (GCC). The core and the
// target are compiled with -fsanitize-coverage=trace-pc, so every basic block they execute calls
// __sanitizer_cov_trace_pc below; inputs that reach new edges (or new hit-count buckets) join
// the corpus and are mutated further. With clang, link the same targets with -fsanitize=fuzzer
// instead and this file is not used.
//
// Usage (flags follow libFuzzer's): driver [-max_total_time=S] [-runs=N] [-seed=N]
//                                          [-artifact_prefix=DIR/] [-max_len=N] CORPUS...
// Prints a final line "fuzz: <execs> execs in <s> s, corpus <n>, edges <e>, crashes 0".
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

constexpr size_t kMapSize = 1 << 16;
uint8_t g_hits[kMapSize];
uintptr_t g_previous = 0;

const std::vector<uint8_t>* g_current = nullptr;
std::string g_artifact_prefix = "./";

void DumpCurrent(const char* kind) {
  if (g_current == nullptr) return;
  const std::string path = g_artifact_prefix + kind + "-input";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f != nullptr) {
    std::fwrite(g_current->data(), 1, g_current->size(), f);
    std::fclose(f);
    std::fprintf(stderr, "fuzz: input written to %s\n", path.c_str());
  }
}

void OnDeath() { DumpCurrent("crash"); }
void OnTimeout(int) {
  DumpCurrent("timeout");
  std::fprintf(stderr, "fuzz: timeout\n");
  std::_Exit(77);
}

// AFL-style hit-count buckets: a change of bucket counts as new behaviour.
uint8_t Bucket(uint8_t hits) {
  if (hits == 0) return 0;
  if (hits <= 3) return uint8_t(1u << (hits - 1));
  if (hits <= 7) return 8;
  if (hits <= 15) return 16;
  if (hits <= 31) return 32;
  if (hits <= 127) return 64;
  return 128;
}

struct Fuzzer {
  std::vector<std::vector<uint8_t>> corpus;
  uint8_t seen[kMapSize] = {};
  size_t edges = 0;
  uint64_t execs = 0;
  size_t max_len = 1 << 20;
  std::mt19937_64 rng;

  // Run one input; true if it showed behaviour never seen before.
  bool Run(const std::vector<uint8_t>& input) {
    std::memset(g_hits, 0, sizeof(g_hits));
    g_previous = 0;
    g_current = &input;
    LLVMFuzzerTestOneInput(input.data(), input.size());
    g_current = nullptr;
    ++execs;
    bool fresh = false;
    for (size_t i = 0; i < kMapSize; ++i) {
      if (g_hits[i] == 0) continue;
      const uint8_t b = Bucket(g_hits[i]);
      if ((seen[i] & b) == 0) {
        if (seen[i] == 0) ++edges;
        seen[i] |= b;
        fresh = true;
      }
    }
    return fresh;
  }

  size_t Below(size_t n) { return n ? size_t(rng() % n) : 0; }

  std::vector<uint8_t> Mutate(std::vector<uint8_t> in) {
    static const uint8_t kInteresting[] = {0, 1, 0x7f, 0x80, 0xff, 0x3f, 0x40, 0xfe};
    const int rounds = 1 + int(Below(4));
    for (int r = 0; r < rounds; ++r) {
      switch (Below(in.empty() ? 1 : 8)) {
        case 0: {  // insert random bytes
          const size_t at = Below(in.size() + 1), n = 1 + Below(8);
          std::vector<uint8_t> bytes(n);
          for (auto& b : bytes) b = uint8_t(rng());
          in.insert(in.begin() + long(at), bytes.begin(), bytes.end());
          break;
        }
        case 1: in[Below(in.size())] ^= uint8_t(1u << Below(8)); break;
        case 2: in[Below(in.size())] = uint8_t(rng()); break;
        case 3: in[Below(in.size())] = kInteresting[Below(sizeof(kInteresting))]; break;
        case 4: {  // erase a range
          const size_t at = Below(in.size()), n = 1 + Below(std::min<size_t>(16, in.size() - at));
          in.erase(in.begin() + long(at), in.begin() + long(at + n));
          break;
        }
        case 5: {  // nudge a byte (lengths, varints)
          uint8_t& b = in[Below(in.size())];
          b = uint8_t(b + (Below(2) ? 1 : -1) * int(1 + Below(4)));
          break;
        }
        case 6: {  // overwrite with a chunk of another corpus entry
          const auto& other = corpus[Below(corpus.size())];
          if (other.empty()) break;
          const size_t from = Below(other.size()), at = Below(in.size());
          const size_t n = std::min({other.size() - from, in.size() - at, size_t(1 + Below(64))});
          std::memcpy(in.data() + at, other.data() + from, n);
          break;
        }
        default: {  // splice: our head, another entry's tail
          const auto& other = corpus[Below(corpus.size())];
          const size_t cut = Below(in.size() + 1), from = Below(other.size() + 1);
          in.resize(cut);
          in.insert(in.end(), other.begin() + long(from), other.end());
          break;
        }
      }
    }
    if (in.size() > max_len) in.resize(max_len);
    return in;
  }
};

void LoadInputs(const std::string& path, std::vector<std::vector<uint8_t>>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = opendir(path.c_str());
    if (dir == nullptr) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) LoadInputs(n, out);
    return;
  }
  std::ifstream f(path, std::ios::binary);
  out->emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace

extern "C" void __sanitizer_cov_trace_pc() {
  const uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  const uintptr_t current = (pc ^ (pc >> 16)) & (kMapSize - 1);
  uint8_t& hits = g_hits[current ^ g_previous];
  if (hits != 255) ++hits;
  g_previous = current >> 1;
}

int main(int argc, char** argv) {
  double max_seconds = 60;
  uint64_t max_runs = UINT64_MAX;
  uint64_t seed = 1;
  int timeout = 10;
  Fuzzer fuzzer;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) { return a.substr(std::strlen(flag)); };
    if (a.rfind("-max_total_time=", 0) == 0) max_seconds = std::stod(value("-max_total_time="));
    else if (a.rfind("-runs=", 0) == 0) max_runs = std::stoull(value("-runs="));
    else if (a.rfind("-seed=", 0) == 0) seed = std::stoull(value("-seed="));
    else if (a.rfind("-timeout=", 0) == 0) timeout = std::stoi(value("-timeout="));
    else if (a.rfind("-max_len=", 0) == 0) fuzzer.max_len = std::stoull(value("-max_len="));
    else if (a.rfind("-artifact_prefix=", 0) == 0) g_artifact_prefix = value("-artifact_prefix=");
    else if (a[0] == '-') std::fprintf(stderr, "fuzz: ignoring flag %s\n", a.c_str());
    else inputs.push_back(a);
  }
  fuzzer.rng.seed(seed);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(OnDeath);
  signal(SIGALRM, OnTimeout);

  std::vector<std::vector<uint8_t>> seeds;
  for (const auto& path : inputs) LoadInputs(path, &seeds);
  if (seeds.empty()) seeds.emplace_back();
  for (auto& s : seeds) {
    if (s.size() > fuzzer.max_len) s.resize(fuzzer.max_len);
    alarm(unsigned(timeout));
    fuzzer.Run(s);
    fuzzer.corpus.push_back(std::move(s));  // seeds stay, new coverage or not
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double next_report = 10;
  while (fuzzer.execs < max_runs && elapsed() < max_seconds) {
    std::vector<uint8_t> input = fuzzer.Mutate(fuzzer.corpus[fuzzer.Below(fuzzer.corpus.size())]);
    alarm(unsigned(timeout));
    if (fuzzer.Run(input)) fuzzer.corpus.push_back(std::move(input));
    if (elapsed() > next_report) {
      std::fprintf(stderr, "fuzz: #%llu corpus %zu edges %zu\n",
                   static_cast<unsigned long long>(fuzzer.execs), fuzzer.corpus.size(),
                   fuzzer.edges);
      next_report += 10;
    }
  }
  alarm(0);
  std::printf("fuzz: %llu execs in %.1f s, corpus %zu, edges %zu, crashes 0\n",
              static_cast<unsigned long long>(fuzzer.execs), elapsed(), fuzzer.corpus.size(),
              fuzzer.edges);
  return 0;
}
