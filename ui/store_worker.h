// StoreWorker: the app's one writer connection to the conversation store, on
// its own thread. The UI posts jobs (lambdas run there, in order) and gets
// answers back as queued calls on a receiver object, so the UI thread never
// waits on the disk.
//
//   worker.post([=](ConversationStore& s) { auto r = s.rename(id, t); ... },
//   // then, to get back to the UI thread:
//   QMetaObject::invokeMethod(receiver, [=] { ... });
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <functional>
#include <memory>

#include "store/conversation_store.h"

namespace tokamak {

class StoreWorker : public QObject {
  Q_OBJECT

 public:
  // Opens the store at `db_path` ("" : the default path) on the worker
  // thread; opened() or openFailed() tells how it went.
  explicit StoreWorker(const QString& db_path, QObject* parent = nullptr);
  ~StoreWorker() override;  // finishes the queued jobs, then closes

  using Job = std::function<void(ConversationStore&)>;
  // Jobs posted before the store opened run once it has; if it failed, they
  // are dropped.
  void post(Job job);
  // Blocks until every job posted so far has run (tests and shutdown only).
  void drain();

 signals:
  void opened(const QString& path, const QString& backupPath, int numInterrupted);
  void openFailed(const QString& path, const QString& message);
  void jobFailed(const QString& message);

 private:
  QThread thread_;
  QObject* ctx_ = nullptr;  // lives on thread_
  std::shared_ptr<std::unique_ptr<ConversationStore>> store_;
};

}  // namespace tokamak
