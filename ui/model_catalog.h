// ModelCatalog: the Models page's lists: models found where other local tools
// keep them (app/models discovery) and the metadata of one file with the
// memory it needs at a chosen context. Disk work runs on the thread pool;
// results arrive as property changes on the UI thread.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QVariantMap>

#include "row_list_model.h"

namespace tokamak {

class ModelCatalog : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("made by ChatController")
  Q_PROPERTY(RowListModel* discovered READ discovered CONSTANT)
  Q_PROPERTY(bool scanning READ scanning NOTIFY scanningChanged)
  Q_PROPERTY(QStringList folders READ folders NOTIFY foldersChanged)
  // path, name, architecture, numParams, fileSizeBytes, weightsBytes,
  // contextLength, context, kvCacheBytes, totalBytes, quantTypes,
  // supported, hasChatTemplate, error
  Q_PROPERTY(QVariantMap described READ described NOTIFY describedChanged)

 public:
  explicit ModelCatalog(QObject* parent = nullptr);

  RowListModel* discovered() { return &discovered_; }
  bool scanning() const { return scanning_; }
  QStringList folders() const { return folders_; }
  QVariantMap described() const { return described_; }

  Q_INVOKABLE void refresh();
  Q_INVOKABLE void addFolder(const QString& path_or_url);
  Q_INVOKABLE void removeFolder(const QString& path);
  // context <= 0: 4096; capped at the model's context length.
  Q_INVOKABLE void describe(const QString& path_or_url, int context);

  // Waits for the scans and descriptions started so far (tests).
  void waitForIdle();

 signals:
  void scanningChanged();
  void foldersChanged();
  void describedChanged();

 private:
  RowListModel discovered_;
  bool scanning_ = false;
  QStringList folders_;
  QVariantMap described_;
};

// The memory a model needs: its weights plus the CPU KV cache (fp32) for
// `context` positions.
QVariantMap describe_model_file(const QString& path, int context);

}  // namespace tokamak
