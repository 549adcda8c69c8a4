#include "core/kernels/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DUET_CPU_RELAX() _mm_pause()
#else
#define DUET_CPU_RELAX() std::this_thread::yield()
#endif

namespace duet {
namespace {

// How long an idle worker keeps spinning before it sleeps. Decode calls run() a few hundred
// times per token with microseconds in between, so a worker that slept would pay a futex wake
// (~5-20 us) each time; spinning this long covers the gaps inside one token.
constexpr auto kSpinTime = std::chrono::microseconds(300);

}  // namespace

ThreadPool::ThreadPool(int nThreads) {
  if (nThreads <= 0) nThreads = static_cast<int>(std::thread::hardware_concurrency());
  m_nThreads = nThreads > 0 ? nThreads : 1;
  m_parts = std::make_unique<Part[]>(static_cast<size_t>(m_nThreads));
  m_slots = std::make_unique<Slot[]>(static_cast<size_t>(m_nThreads));
  m_workers.reserve(static_cast<size_t>(m_nThreads - 1));
  for (int i = 1; i < m_nThreads; ++i) m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop.store(true);
    m_generation.fetch_add(1);
  }
  m_cv.notify_all();
  for (auto& t : m_workers) t.join();
}

void ThreadPool::run(FunctionRef<void(int ith, int nth)> fn) {
  if (m_nThreads == 1) {
    fn(0, 1);
    return;
  }
  m_job = &fn;
  const uint64_t gen = m_generation.load(std::memory_order_relaxed) + 1;
  for (int k = 1; k < m_nThreads; ++k)
    m_slots[static_cast<size_t>(k)].state.store(gen * 4 + kOpen, std::memory_order_relaxed);
  m_generation.store(gen);  // seq_cst: publishes the job and the slots; pairs with the sleeper count
  if (m_sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(m_mutex);  // a sleeper between its check and wait holds it
    m_cv.notify_all();
  }
  fn(0, m_nThreads);
  // Parts whose workers have not picked the job up run here, without waiting for them; then the
  // parts the workers took are waited for.
  for (int k = 1; k < m_nThreads; ++k) {
    std::atomic<uint64_t>& state = m_slots[static_cast<size_t>(k)].state;
    uint64_t open = gen * 4 + kOpen;
    if (state.compare_exchange_strong(open, gen * 4 + kTaken, std::memory_order_acquire)) {
      fn(k, m_nThreads);
      state.store(gen * 4 + kDone, std::memory_order_relaxed);
    }
  }
  for (int k = 1; k < m_nThreads; ++k) {
    const std::atomic<uint64_t>& state = m_slots[static_cast<size_t>(k)].state;
    for (int spins = 0; state.load(std::memory_order_acquire) != gen * 4 + kDone; ++spins) {
      if (spins < 2000) {
        DUET_CPU_RELAX();
      } else {
        std::this_thread::yield();  // oversubscribed machine: let the worker finish
      }
    }
  }
  m_job = nullptr;
}

void ThreadPool::runBalanced(int64_t n, int64_t grain, FunctionRef<void(int64_t begin, int64_t end)> fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (m_nThreads == 1) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  for (int i = 0; i < m_nThreads; ++i) {
    Part& p = m_parts[static_cast<size_t>(i)];
    int64_t b, e;
    split(n, i, m_nThreads, b, e);
    p.next.store(b, std::memory_order_relaxed);
    p.end = e;  // run() publishes both to the workers
  }
  run([&](int ith, int nth) {
    for (int k = 0; k < nth; ++k) {
      Part& p = m_parts[static_cast<size_t>((ith + k) % nth)];
      for (int64_t b; (b = p.next.fetch_add(grain, std::memory_order_relaxed)) < p.end;)
        fn(b, std::min(b + grain, p.end));
    }
  });
}

void ThreadPool::workerLoop(int ith) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for new work, then sleep.
    const auto start = std::chrono::steady_clock::now();
    for (int spins = 0; m_generation.load(std::memory_order_acquire) == seen; ++spins) {
      if (spins < 4096) {
        DUET_CPU_RELAX();
        continue;
      }
      // Still polling, but politely: on a busy or oversubscribed machine the thread that must
      // publish the work (or finish its share) may need this core.
      std::this_thread::yield();
      if ((spins & 15) == 15 && std::chrono::steady_clock::now() - start > kSpinTime) {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_sleepers.fetch_add(1);
        m_cv.wait(lock, [&] { return m_generation.load() != seen; });
        m_sleepers.fetch_sub(1);
        break;
      }
    }
    seen = m_generation.load(std::memory_order_acquire);
    if (m_stop.load()) return;
    // The job of generation `seen` is ours to run if the caller has not taken it (or moved on to
    // a later job, whose slot value differs): the caller then waits for kDone before it returns.
    std::atomic<uint64_t>& state = m_slots[static_cast<size_t>(ith)].state;
    uint64_t open = seen * 4 + kOpen;
    if (!state.compare_exchange_strong(open, seen * 4 + kTaken, std::memory_order_acquire)) continue;
    (*m_job)(ith, m_nThreads);
    state.store(seen * 4 + kDone, std::memory_order_release);
  }
}

}  // namespace duet
