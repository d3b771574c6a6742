// ConversationTransfer: export of a conversation (its current branch or its
// whole tree) to Markdown or JSONL, and import of a JSONL file as a new
// conversation, from the app. The formats are app/store's
// (conversation_export.h); the files are read and written on the store's
// thread, so the UI never waits on the disk.
//
//   exportConversation(id, file, "markdown"|"jsonl", "branch"|"tree")
//       ─► exported(path) | failed(message)
//   importJsonl(file) ─► imported(conversationId) | failed(message)
//
// `lastResult` says what happened last in words ("Exported … to …").
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QString>

namespace tokamak {

class StoreWorker;

class ConversationTransfer : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("owned by ChatController")
  Q_PROPERTY(QString lastResult READ lastResult NOTIFY lastResultChanged)
  Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)

 public:
  explicit ConversationTransfer(StoreWorker* store, QObject* parent = nullptr);

  QString lastResult() const { return last_result_; }
  bool busy() const { return num_busy_ > 0; }

  // `file`: a path or a file:// URL. The file is replaced when it exists.
  Q_INVOKABLE void exportConversation(qint64 conversation_id, const QString& file,
                                      const QString& format, const QString& scope);
  Q_INVOKABLE void importJsonl(const QString& file);
  // A file name for the save dialog: the title made safe for file systems
  // ("Once upon: a time" -> "Once upon a time-branch.md").
  Q_INVOKABLE static QString suggestedFileName(const QString& title, const QString& format,
                                               const QString& scope);

 signals:
  void exported(const QString& path);
  void imported(qint64 conversation_id);
  void failed(const QString& message);
  void lastResultChanged();
  void busyChanged();

 private:
  void begin();
  void end(const QString& result);

  StoreWorker* store_;
  QString last_result_;
  int num_busy_ = 0;
};

}  // namespace tokamak
