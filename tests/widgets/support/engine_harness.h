// The engine as app/ sets it up, for tests: an EngineWorker moved to a QThread the harness owns,
// and an EngineClient on the test's (GUI) thread. Destruction cancels and joins, like the window.
#pragma once

#include <QThread>
#include <memory>

#include "core/duet/text_model.h"
#include "widgets/engine_client.h"
#include "widgets/engine_worker.h"

namespace duet::gui::test {

class EngineHarness {
 public:
  EngineHarness() {
    worker = new EngineWorker(std::make_shared<ModelCache>());
    worker->moveToThread(&thread);
    QObject::connect(&thread, &QThread::finished, worker, &QObject::deleteLater);
    thread.start();
    client = std::make_unique<EngineClient>(worker);
  }
  ~EngineHarness() { shutdown(); }
  // Returns after the worker thread has finished.
  void shutdown() {
    if (!thread.isRunning()) return;
    client->cancelAll();
    thread.quit();
    thread.wait();
  }
  QThread thread;
  EngineWorker* worker;
  std::unique_ptr<EngineClient> client;
};

}  // namespace duet::gui::test
