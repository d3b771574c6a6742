#include "model_catalog.h"

#include <QFileInfo>
#include <QSettings>
#include <QThreadPool>

#include "gguf/gguf_file.h"
#include "local_path.h"
#include "model/model_info.h"
#include "models/model_discovery.h"

namespace tokamak {
ModelCatalog::ModelCatalog(QObject* parent)
    : QObject(parent), discovered_({"path", "name", "source", "sizeBytes"}) {
  folders_ = QSettings().value("modelFolders").toStringList();
}

void ModelCatalog::refresh() {
  scanning_ = true;
  emit scanningChanged();
  DiscoveryOptions o;
  for (const QString& f : folders_) o.extra_folders.push_back(f.toStdString());
  QThreadPool::globalInstance()->start([this, o] {
    const auto found = discover_models(o);
    QVector<QVariantMap> rows;
    for (const DiscoveredModel& m : found) {
      rows.push_back({{"path", QString::fromStdString(m.path)},
                      {"name", QString::fromStdString(m.display_name)},
                      {"source", QString::fromStdString(m.source)},
                      {"sizeBytes", static_cast<qlonglong>(m.size_bytes)}});
    }
    QMetaObject::invokeMethod(this, [this, rows] {
      discovered_.setRows(rows);
      scanning_ = false;
      emit scanningChanged();
    });
  });
}

void ModelCatalog::addFolder(const QString& path_or_url) {
  const QString path = local_path(path_or_url);
  if (path.isEmpty() || folders_.contains(path)) return;
  folders_.push_back(path);
  QSettings().setValue("modelFolders", folders_);
  emit foldersChanged();
  refresh();
}

void ModelCatalog::removeFolder(const QString& path) {
  if (!folders_.removeAll(path)) return;
  QSettings().setValue("modelFolders", folders_);
  emit foldersChanged();
  refresh();
}

QVariantMap describe_model_file(const QString& path, int context) {
  QVariantMap d{{"path", path}, {"name", QFileInfo(path).fileName()}};
  auto file = gguf::File::open(path.toStdString());
  if (!file.ok()) {
    d["error"] = QString::fromStdString(file.error().message);
    return d;
  }
  auto info = ModelInfo::describe(*file.value());
  if (!info.ok()) {
    d["error"] = QString::fromStdString(info.error().message);
    return d;
  }
  const ModelInfo& m = info.value();
  if (!m.name.empty()) d["name"] = QString::fromStdString(m.name);
  int64_t ctx = context > 0 ? context : 4096;
  if (m.context_length > 0) ctx = std::min<int64_t>(ctx, m.context_length);
  QStringList types;
  for (const auto& [type, n] : m.type_counts)
    types << QString("%1 × %2").arg(n).arg(QString::fromStdString(type));
  d["architecture"] = QString::fromStdString(m.arch_name);
  d["supported"] = m.architecture_supported && m.unsupported_types.empty();
  d["unsupported"] = QString::fromStdString(m.unsupported_types);
  d["numParams"] = static_cast<qlonglong>(m.num_params);
  d["fileSizeBytes"] = static_cast<qlonglong>(m.file_size_bytes);
  d["weightsBytes"] = static_cast<qlonglong>(m.weights_bytes);
  d["contextLength"] = static_cast<qlonglong>(m.context_length);
  d["context"] = static_cast<qlonglong>(ctx);
  const uint64_t kv = m.architecture_supported ? m.kv_cache_bytes(ctx, 4) : 0;
  d["kvCacheBytes"] = static_cast<qlonglong>(kv);
  d["totalBytes"] = static_cast<qlonglong>(m.weights_bytes + kv);
  d["quantTypes"] = types.join(", ");
  d["vocabSize"] = static_cast<qlonglong>(m.vocab_size);
  d["hasChatTemplate"] = m.has_chat_template;
  d["error"] = QString();
  return d;
}

void ModelCatalog::describe(const QString& path_or_url, int context) {
  const QString path = local_path(path_or_url);
  QThreadPool::globalInstance()->start([this, path, context] {
    QVariantMap d = describe_model_file(path, context);
    QMetaObject::invokeMethod(this, [this, d] {
      described_ = d;
      emit describedChanged();
    });
  });
}

void ModelCatalog::waitForIdle() { QThreadPool::globalInstance()->waitForDone(); }

}  // namespace tokamak
