#include "store_worker.h"

#include <QSemaphore>

namespace tokamak {

StoreWorker::StoreWorker(const QString& db_path, QObject* parent)
    : QObject(parent), store_(std::make_shared<std::unique_ptr<ConversationStore>>()) {
  thread_.setObjectName("tokamak-store-writer");
  ctx_ = new QObject;
  ctx_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, ctx_, &QObject::deleteLater);
  thread_.start();
  QMetaObject::invokeMethod(ctx_, [this, store = store_, db_path] {
    DatabaseOptions o;
    o.path = db_path.toStdString();
    auto s = ConversationStore::open(o, StoreRole::Writer);
    if (!s.ok()) {
      emit openFailed(db_path, QString::fromStdString(s.error().message));
      return;
    }
    *store = std::move(s).value();
    Database& db = (*store)->database();
    emit opened(QString::fromStdString(db.path()), QString::fromStdString(db.backup_path()),
                static_cast<int>((*store)->interrupted_on_open().size()));
  });
}

StoreWorker::~StoreWorker() {
  drain();
  QMetaObject::invokeMethod(ctx_, [store = store_] { store->reset(); });
  thread_.quit();
  thread_.wait();
}

void StoreWorker::post(Job job) {
  QMetaObject::invokeMethod(ctx_, [store = store_, job = std::move(job)] {
    if (*store) job(**store);
  });
}

void StoreWorker::drain() {
  QSemaphore done;
  QMetaObject::invokeMethod(ctx_, [&done] { done.release(); });
  done.acquire();
}

}  // namespace tokamak
