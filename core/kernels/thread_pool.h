// ThreadPool: a fixed set of worker threads that run one job at a time, all threads together
// (fork-join), for the matmul and attention kernels. The calling thread takes part as thread 0,
// so ThreadPool(1) runs everything inline with no synchronisation. A job's part ith (1..n-1) is
// claimed by worker ith when it picks the job up, or, when that worker has not by the time the
// caller is done with part 0 (asleep, or its core taken by another process), by the caller, who
// runs it itself rather than wait: on a machine where something else keeps a core busy the pool
// slows to about one thread's pace instead of stalling at every join.
// Thread-safety: run() must be called from one thread at a time (the owner of the pool). The job
// must not call run() on the same pool. run() does not allocate.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/util/function_ref.h"

namespace duet {

class ThreadPool {
 public:
  // nThreads <= 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int nThreads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return m_nThreads; }
  // Calls fn(ith, nth) once for each ith in [0, nth = size()) and returns when all are done: ith 0
  // on the calling thread, each other ith on its worker or, if that worker is late to claim it,
  // also on the calling thread. fn must not depend on which thread runs an ith.
  void run(FunctionRef<void(int ith, int nth)> fn);

  // Calls fn(begin, end) on pieces of at most `grain` that together cover [0, n) once each.
  // Thread ith starts on part ith of split(n) and takes its pieces in order (its reads stay one
  // forward stream); a thread that runs out then takes the pieces still left in the others' parts,
  // so a thread slowed down (by the OS, another tenant, a late start) does not keep the rest waiting
  // at the join. Which thread ran a piece must not change its result.
  void runBalanced(int64_t n, int64_t grain, FunctionRef<void(int64_t begin, int64_t end)> fn);

  // Splits [0, n) into nth nearly equal contiguous parts; part ith is [begin, end).
  static void split(int64_t n, int ith, int nth, int64_t& begin, int64_t& end) {
    const int64_t q = n / nth, r = n % nth;
    begin = ith * q + (ith < r ? ith : r);
    end = begin + q + (ith < r ? 1 : 0);
  }

 private:
  void workerLoop(int ith);

  // runBalanced's parts: the next unclaimed index of each and its end, a cache line each.
  struct alignas(64) Part {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };

  // A worker's part of the current job: generation * 4 + kOpen / kTaken / kDone. The caller opens
  // it; the worker or, if the worker is late, the caller takes it, runs it and marks it done.
  struct alignas(64) Slot {
    std::atomic<uint64_t> state{0};
  };
  static constexpr uint64_t kOpen = 0, kTaken = 1, kDone = 2;

  int m_nThreads = 1;
  std::unique_ptr<Part[]> m_parts;
  std::unique_ptr<Slot[]> m_slots;
  std::vector<std::thread> m_workers;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  // run() publishes m_job, then bumps m_generation; workers spin on m_generation for a short
  // while before sleeping on m_cv (m_sleepers says whether a notify is needed).
  const FunctionRef<void(int, int)>* m_job = nullptr;
  std::atomic<uint64_t> m_generation{0};
  std::atomic<int> m_sleepers{0};
  std::atomic<bool> m_stop{false};
};

}  // namespace duet
