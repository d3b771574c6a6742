#include "conversation_transfer.h"

#include <QFile>
#include <QRegularExpression>
#include <QSaveFile>

#include "local_path.h"
#include "store/conversation_export.h"
#include "store/conversation_import.h"
#include "store_worker.h"

namespace tokamak {
ConversationTransfer::ConversationTransfer(StoreWorker* store, QObject* parent)
    : QObject(parent), store_(store) {}

void ConversationTransfer::begin() {
  if (num_busy_++ == 0) emit busyChanged();
}

void ConversationTransfer::end(const QString& result) {
  last_result_ = result;
  emit lastResultChanged();
  if (--num_busy_ == 0) emit busyChanged();
}

QString ConversationTransfer::suggestedFileName(const QString& title, const QString& format,
                                                const QString& scope) {
  QString base = title;
  base.remove(QRegularExpression(R"([/\\:*?"<>|\x00-\x1f])"));
  base = base.simplified().left(60);
  if (base.isEmpty()) base = QStringLiteral("conversation");
  const QString ext =
      format == QStringLiteral("jsonl") ? QStringLiteral("jsonl") : QStringLiteral("md");
  return QStringLiteral("%1-%2.%3")
      .arg(base, scope == QStringLiteral("tree") ? "tree" : "branch", ext);
}

void ConversationTransfer::exportConversation(qint64 conversation_id, const QString& file,
                                              const QString& format, const QString& scope) {
  const QString path = local_path(file);
  if (conversation_id <= 0 || path.isEmpty()) {
    emit failed(tr("Nothing to export: choose a conversation and a file."));
    return;
  }
  const bool jsonl = format == QStringLiteral("jsonl");
  const ExportScope sc =
      scope == QStringLiteral("tree") ? ExportScope::WholeTree : ExportScope::CurrentBranch;
  begin();
  store_->post([this, conversation_id, path, jsonl, sc](ConversationStore& s) {
    auto text = jsonl ? export_conversation_jsonl(s, conversation_id, sc)
                      : export_conversation_markdown(s, conversation_id, sc);
    QString error;
    if (!text.ok()) {
      error = QString::fromStdString(text.error().message);
    } else {
      QSaveFile out(path);  // all or nothing: an old file stays whole on a failure
      const QByteArray bytes = QByteArray::fromStdString(text.value());
      if (!out.open(QIODevice::WriteOnly) || out.write(bytes) != bytes.size() || !out.commit())
        error = tr("%1: cannot write the export: %2").arg(path, out.errorString());
    }
    QMetaObject::invokeMethod(this, [this, path, error] {
      if (!error.isEmpty()) {
        end(error);
        emit failed(error);
        return;
      }
      end(tr("Exported to %1").arg(path));
      emit exported(path);
    });
  });
}

void ConversationTransfer::importJsonl(const QString& file) {
  const QString path = local_path(file);
  if (path.isEmpty()) return;
  begin();
  store_->post([this, path](ConversationStore& s) {
    QString error;
    qint64 id = 0;
    QFile in(path);
    if (!in.open(QIODevice::ReadOnly)) {
      error = tr("%1: cannot read: %2").arg(path, in.errorString());
    } else {
      const QByteArray bytes = in.readAll();
      auto r = import_conversation_jsonl(s, std::string_view(bytes.constData(), bytes.size()));
      if (r.ok())
        id = r.value();
      else
        error = tr("%1: not imported: %2").arg(path, QString::fromStdString(r.error().message));
    }
    QMetaObject::invokeMethod(this, [this, path, error, id] {
      if (!error.isEmpty()) {
        end(error);
        emit failed(error);
        return;
      }
      end(tr("Imported %1").arg(path));
      emit imported(id);
    });
  });
}

}  // namespace tokamak
