// Tests for core/kernels/thread_pool.h: split coverage, repeated fork-join, inline pool of 1, the
// balanced runs' takeover, and a caller that does not wait for a worker that cannot run.
#include "core/kernels/thread_pool.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace duet {
namespace {

TEST(ThreadPoolSplit, EveryIndexCoveredExactlyOnceInOrder) {
  for (int64_t n : {0, 1, 2, 3, 7, 16, 33, 100, 4865}) {
    for (int nth = 1; nth <= 9; ++nth) {
      std::vector<int> hits(static_cast<size_t>(n), 0);
      int64_t prevEnd = 0;
      for (int ith = 0; ith < nth; ++ith) {
        int64_t b, e;
        ThreadPool::split(n, ith, nth, b, e);
        ASSERT_EQ(b, prevEnd) << "n=" << n << " nth=" << nth << " ith=" << ith;
        ASSERT_LE(b, e);
        ASSERT_LE(e - b, n / nth + 1);  // nearly equal parts
        for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
        prevEnd = e;
      }
      ASSERT_EQ(prevEnd, n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << i;
    }
  }
}

TEST(ThreadPool, SizeAndDefault) {
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_GE(ThreadPool(0).size(), 1);
}

TEST(ThreadPool, PoolOfOneRunsInlineOnCaller) {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  pool.run([&](int ith, int nth) {
    EXPECT_EQ(ith, 0);
    EXPECT_EQ(nth, 1);
    EXPECT_EQ(std::this_thread::get_id(), caller);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, EachThreadRunsOncePerRunManyTimes) {
  for (int n : {2, 3, 4}) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> counts(static_cast<size_t>(n));
    const auto caller = std::this_thread::get_id();
    const int kRuns = 1000;
    for (int it = 0; it < kRuns; ++it) {
      std::atomic<bool> callerWasZero{false};
      pool.run([&](int ith, int nth) {
        ASSERT_EQ(nth, n);
        counts[static_cast<size_t>(ith)].fetch_add(1);
        if (ith == 0) callerWasZero = std::this_thread::get_id() == caller;
      });
      ASSERT_TRUE(callerWasZero.load());
      // run() returned, so every thread's part of this run must be done.
      for (int i = 0; i < n; ++i) ASSERT_EQ(counts[static_cast<size_t>(i)].load(), it + 1) << i;
    }
  }
}

TEST(ThreadPool, WorkIsCompleteAndVisibleAfterRun) {
  ThreadPool pool(2);
  std::vector<int64_t> data(10007, 0);
  for (int it = 1; it <= 50; ++it) {
    pool.run([&](int ith, int nth) {
      int64_t b, e;
      ThreadPool::split(static_cast<int64_t>(data.size()), ith, nth, b, e);
      for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] += i;
    });
    int64_t sum = 0;
    for (int64_t v : data) sum += v;
    const int64_t n = static_cast<int64_t>(data.size());
    ASSERT_EQ(sum, it * n * (n - 1) / 2);
  }
}

TEST(ThreadPool, WakesAfterWorkersFellAsleep) {
  ThreadPool pool(2);
  std::atomic<int> calls{0};
  for (int it = 0; it < 3; ++it) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin window
    pool.run([&](int, int) { calls.fetch_add(1); });
  }
  EXPECT_EQ(calls.load(), 6);
}

TEST(ThreadPool, DestroysCleanlyWithIdleAndSleepingWorkers) {
  for (int i = 0; i < 20; ++i) {
    ThreadPool pool(3);
    if (i % 2) pool.run([](int, int) {});
  }
  SUCCEED();
}

// runBalanced: the pieces cover [0, n) exactly once, none longer than the grain, each inside one
// thread's split() part and starting at part start + a multiple of the grain (so the pieces, and
// results that depend on them, are the same in every run whichever thread takes them).
TEST(ThreadPool, RunBalancedCoversEveryIndexOnceInFixedPieces) {
  for (int nth : {1, 2, 3}) {
    ThreadPool pool(nth);
    for (int64_t n : {0, 1, 2, 5, 64, 1000}) {
      for (int64_t grain : {1, 7, 64, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<bool> bad{false};
        pool.runBalanced(n, grain, [&](int64_t b, int64_t e) {
          if (b >= e || e - b > grain) bad = true;
          int part = 0;
          int64_t pb = 0, pe = 0;
          for (; part < nth; ++part) {
            ThreadPool::split(n, part, nth, pb, pe);
            if (b >= pb && b < pe) break;
          }
          if (part == nth || e > pe || (b - pb) % grain != 0) bad = true;
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
        ASSERT_FALSE(bad) << "nth " << nth << " n " << n << " grain " << grain;
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1)
              << "nth " << nth << " n " << n << " grain " << grain;
      }
    }
  }
}

// A thread held up in its part leaves the rest of that part to the others: whoever takes piece
// 50 (the first of part 1) waits until another thread has run a later piece of that part, which
// only the takeover makes happen (without it the wait runs into its 10 s limit and the test fails).
TEST(ThreadPool, RunBalancedTakesOverTheRestOfASlowThreadsPart) {
  ThreadPool pool(2);
  std::mutex m;
  std::set<std::thread::id> secondPart;  // threads that ran pieces of part 1, [50, 100)
  std::atomic<bool> laterPieceRun{false};
  pool.runBalanced(100, 1, [&](int64_t b, int64_t) {
    if (b == 50) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!laterPieceRun.load() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } else if (b > 50) {
      laterPieceRun = true;
    }
    if (b >= 50) {
      std::lock_guard<std::mutex> lock(m);
      secondPart.insert(std::this_thread::get_id());
    }
  });
  EXPECT_TRUE(laterPieceRun.load());
  EXPECT_EQ(secondPart.size(), 2u);
}

// A worker that cannot run (here held in a signal handler, as another process's thread holding
// its core would hold it) does not hold up run(): the caller runs that worker's part itself. Before
// the caller took parts over, each run() waited for the held worker; the watchdog then frees it
// after 5 s and the test fails.
std::atomic<bool> g_held{false}, g_release{false};
void holdWorker(int) {
  g_held = true;
  while (!g_release.load()) {
  }
}

TEST(ThreadPool, ACallerRunsTheJobOfAWorkerThatCannotRun) {
  static_assert(std::atomic<bool>::is_always_lock_free);
  ThreadPool pool(2);
  std::atomic<pthread_t> worker{};
  std::atomic<bool> found{false};
  const pthread_t caller = pthread_self();
  pool.run([&](int ith, int) {
    if (ith == 0) {  // busy until the worker has picked up part 1 (else the caller would take it)
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!found.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    } else if (pthread_equal(pthread_self(), caller) == 0) {
      worker = pthread_self();
      found = true;
    }
  });
  ASSERT_TRUE(found.load()) << "the worker did not pick up its part in 2 s";
  struct sigaction sa {
  }, old{};
  sa.sa_handler = holdWorker;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  g_held = false;
  g_release = false;
  ASSERT_EQ(pthread_kill(worker.load(), SIGUSR1), 0);
  while (!g_held.load()) std::this_thread::yield();
  std::atomic<bool> watchdogFired{false}, done{false};
  std::thread watchdog([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!done.load()) watchdogFired = true;
    g_release = true;
  });
  std::vector<int64_t> data(1000, 0);
  for (int it = 1; it <= 100; ++it) {
    std::atomic<int> onCaller{0};
    pool.run([&](int ith, int nth) {
      if (pthread_equal(pthread_self(), caller) != 0) onCaller.fetch_add(1);
      int64_t b, e;
      ThreadPool::split(static_cast<int64_t>(data.size()), ith, nth, b, e);
      for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] += i;
    });
    if (!watchdogFired.load()) {
      ASSERT_EQ(onCaller.load(), 2) << "run " << it;
    }
  }
  done = true;
  watchdog.join();
  EXPECT_FALSE(watchdogFired.load()) << "run() waited for a worker that could not run";
  int64_t sum = 0;
  for (int64_t v : data) sum += v;
  EXPECT_EQ(sum, 100 * 999 * 1000 / 2);
  // Freed, the worker takes its parts again (or at least nothing breaks).
  std::atomic<int> calls{0};
  for (int it = 0; it < 100; ++it) pool.run([&](int, int) { calls.fetch_add(1); });
  EXPECT_EQ(calls.load(), 200);
  sigaction(SIGUSR1, &old, nullptr);
}

}  // namespace
}  // namespace duet
