// StoreStatus: how the conversation database stands, for the pages. A file
// that cannot be opened is never changed behind the user's back: the page
// shows `problem` and `message` naming the file, and only startFresh() (the
// user agreed) moves it aside and opens a fresh one; `asidePath` then says
// where the old file is. `otherWriterPid` > 0: another Tokamak (or the CLI)
// has the same history open; both save safely, and answers it is writing are
// left to it.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QString>

namespace tokamak {

class StoreWorker;

class StoreStatus : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("owned by ChatController")
  Q_PROPERTY(QString state READ state NOTIFY changed)            // opening | ready | failed
  Q_PROPERTY(QString path READ path NOTIFY changed)              // the database file
  Q_PROPERTY(QString problem READ problem NOTIFY changed)        // corrupt | newer | io | ""
  Q_PROPERTY(QString message READ message NOTIFY changed)        // the store's own words
  Q_PROPERTY(QString asidePath READ asidePath NOTIFY changed)    // where the old file went
  Q_PROPERTY(QString backupPath READ backupPath NOTIFY changed)  // copy made before migrating
  Q_PROPERTY(qint64 otherWriterPid READ otherWriterPid NOTIFY changed)

 public:
  explicit StoreStatus(StoreWorker* worker, QObject* parent = nullptr);

  QString state() const { return state_; }
  QString path() const { return path_; }
  QString problem() const { return problem_; }
  QString message() const { return message_; }
  QString asidePath() const { return aside_path_; }
  QString backupPath() const { return backup_path_; }
  qint64 otherWriterPid() const { return other_writer_pid_; }

  // The user agreed: move the unusable file aside and open a fresh one.
  // ("corrupt" and "newer" only; the file is renamed, never rewritten.)
  Q_INVOKABLE void startFresh();
  // Tries to open the same file again (after an "io" problem was fixed).
  Q_INVOKABLE void retry();

 signals:
  void changed();

 private:
  StoreWorker* worker_;
  QString state_ = QStringLiteral("opening");
  QString path_;
  QString problem_;
  QString message_;
  QString aside_path_;
  QString backup_path_;
  qint64 other_writer_pid_ = 0;
};

}  // namespace tokamak
