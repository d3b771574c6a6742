#include "store_worker.h"

#include <QSemaphore>

#include "store/database_aside.h"

namespace tokamak {
namespace {

QString problem_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadFormat:
      return QStringLiteral("corrupt");
    case ErrorCode::Unsupported:
      return QStringLiteral("newer");
    default:
      return QStringLiteral("io");
  }
}

}  // namespace

StoreWorker::StoreWorker(const QString& db_path, QObject* parent)
    : QObject(parent),
      path_(db_path.isEmpty() ? QString::fromStdString(default_database_path()) : db_path) {
  thread_.setObjectName("tokamak-store-writer");
  ctx_ = new QObject;
  ctx_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, ctx_, &QObject::deleteLater);
  thread_.start();
  QMetaObject::invokeMethod(ctx_, [this] { open(); });
}

StoreWorker::~StoreWorker() {
  drain();
  QMetaObject::invokeMethod(ctx_, [this] { store_.reset(); });
  thread_.quit();
  thread_.wait();
}

// The outcome is emitted from the UI thread (a queued call on this object):
// whoever connects right after constructing the worker still hears it.
void StoreWorker::open() {
  DatabaseOptions o;
  o.path = path_.toStdString();
  auto s = ConversationStore::open(o, StoreRole::Writer);
  if (!s.ok()) {
    QMetaObject::invokeMethod(
        this, [this, message = QString::fromStdString(s.error().message),
               problem = problem_of(s.error().code)] { emit openFailed(path_, message, problem); });
    return;
  }
  store_ = std::move(s).value();
  ConversationStore& store = *store_;
  QMetaObject::invokeMethod(this,
                            [this, path = QString::fromStdString(store.database().path()),
                             backup = QString::fromStdString(store.database().backup_path()),
                             num_interrupted = static_cast<int>(store.interrupted_on_open().size()),
                             other = static_cast<qint64>(store.other_writer_pid())] {
                              emit opened(path, backup, num_interrupted, other);
                            });
}

void StoreWorker::startFresh(const QString& reason) {
  QMetaObject::invokeMethod(ctx_, [this, reason] {
    if (store_) return;  // open already: nothing to replace
    auto aside = move_database_aside(path_.toStdString(), reason.toStdString());
    if (!aside.ok() && aside.error().code != ErrorCode::NotFound) {
      QMetaObject::invokeMethod(this,
                                [this, message = QString::fromStdString(aside.error().message)] {
                                  emit openFailed(path_, message, QStringLiteral("io"));
                                });
      return;
    }
    if (aside.ok()) {
      QMetaObject::invokeMethod(this, [this, moved = QString::fromStdString(aside.value())] {
        emit movedAside(path_, moved);
      });
    }
    open();
  });
}

void StoreWorker::retry() {
  QMetaObject::invokeMethod(ctx_, [this] {
    if (!store_) open();
  });
}

void StoreWorker::post(Job job) {
  QMetaObject::invokeMethod(ctx_, [this, job = std::move(job)] {
    if (store_) job(*store_);
  });
}

void StoreWorker::drain() {
  QSemaphore done;
  QMetaObject::invokeMethod(ctx_, [&done] { done.release(); });
  done.acquire();
}

}  // namespace tokamak
