// StoreWorker: the app's one writer connection to the conversation store, on
// its own thread. The UI posts jobs (lambdas run there, in order) and gets
// answers back as queued calls on a receiver object, so the UI thread never
// waits on the disk.
//
//   worker.post([=](ConversationStore& s) { auto r = s.rename(id, t); ... },
//   // then, to get back to the UI thread:
//   QMetaObject::invokeMethod(receiver, [=] { ... });
//
// A file that cannot be opened (corrupt, from a newer Tokamak) is left as it
// is: openFailed() says why, and only startFresh() (the user agreed) moves it
// aside (store/database_aside.h) and creates a fresh one at the same path.
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

  // The database file (the default path resolved).
  QString path() const { return path_; }

  using Job = std::function<void(ConversationStore&)>;
  // Jobs posted before the store opened run once it has; if it failed, they
  // are dropped.
  void post(Job job);
  // Blocks until every job posted so far has run (tests and shutdown only).
  void drain();
  // After openFailed: moves the file (and its journals) aside to a name
  // with `reason` in it, then opens a fresh database at the path; emits
  // movedAside() and opened(), or openFailed().
  void startFresh(const QString& reason);
  // After openFailed: tries to open the same file again.
  void retry();

 signals:
  // otherWriterPid: another live process writing this file (0: none; -1:
  // unknown pid), see ConversationStore::other_writer_pid().
  void opened(const QString& path, const QString& backupPath, int numInterrupted,
              qint64 otherWriterPid);
  // problem: "corrupt" (not a readable Tokamak database), "newer" (written by
  // a newer Tokamak), "io" (cannot be read or created).
  void openFailed(const QString& path, const QString& message, const QString& problem);
  void movedAside(const QString& path, const QString& asidePath);
  void jobFailed(const QString& message);

 private:
  void open();  // on thread_

  QThread thread_;
  QObject* ctx_ = nullptr;  // lives on thread_
  QString path_;
  std::unique_ptr<ConversationStore> store_;  // used on thread_ only (joined before it goes)
};

}  // namespace tokamak
