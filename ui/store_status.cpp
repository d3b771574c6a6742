#include "store_status.h"

#include "store_worker.h"

namespace tokamak {

StoreStatus::StoreStatus(StoreWorker* worker, QObject* parent)
    : QObject(parent), worker_(worker), path_(worker->path()) {
  connect(worker, &StoreWorker::opened, this,
          [this](const QString& path, const QString& backup, int, qint64 other_writer_pid) {
            state_ = QStringLiteral("ready");
            path_ = path;
            problem_.clear();
            message_.clear();
            backup_path_ = backup;
            other_writer_pid_ = other_writer_pid;
            emit changed();
          });
  connect(worker, &StoreWorker::openFailed, this,
          [this](const QString& path, const QString& message, const QString& problem) {
            state_ = QStringLiteral("failed");
            path_ = path;
            problem_ = problem;
            message_ = message;
            emit changed();
          });
  connect(worker, &StoreWorker::movedAside, this, [this](const QString&, const QString& aside) {
    aside_path_ = aside;
    emit changed();
  });
}

void StoreStatus::startFresh() {
  // Only a file that is there but unusable is moved; an I/O failure is retried.
  if (state_ != QStringLiteral("failed") || problem_ == QStringLiteral("io")) return;
  state_ = QStringLiteral("opening");
  emit changed();
  worker_->startFresh(problem_);
}

void StoreStatus::retry() {
  if (state_ != QStringLiteral("failed")) return;
  state_ = QStringLiteral("opening");
  emit changed();
  worker_->retry();
}

}  // namespace tokamak
