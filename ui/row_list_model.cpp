#include "row_list_model.h"

namespace tokamak {

RowListModel::RowListModel(QStringList roles, QObject* parent)
    : QAbstractListModel(parent), roles_(std::move(roles)) {}

int RowListModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

QVariant RowListModel::data(const QModelIndex& index, int role) const {
  const int r = index.row(), k = role - Qt::UserRole;
  if (!index.isValid() || r < 0 || r >= rows_.size() || k < 0 || k >= roles_.size()) return {};
  const QVariant v = rows_[r].value(roles_[k]);
  // Never a null string: Qt 6.4's QML crashes concatenating one.
  if (v.typeId() == QMetaType::QString && v.toString().isNull()) return QStringLiteral("");
  return v;
}

QHash<int, QByteArray> RowListModel::roleNames() const {
  QHash<int, QByteArray> names;
  for (int i = 0; i < roles_.size(); ++i) names[Qt::UserRole + i] = roles_[i].toUtf8();
  return names;
}

void RowListModel::setRows(QVector<QVariantMap> rows) {
  const bool count_changed = rows.size() != rows_.size();
  beginResetModel();
  rows_ = std::move(rows);
  endResetModel();
  if (count_changed) emit countChanged();
}

void RowListModel::updateRow(int row, const QVariantMap& values) {
  if (row < 0 || row >= rows_.size()) return;
  QList<int> changed;
  for (auto it = values.begin(); it != values.end(); ++it) {
    rows_[row][it.key()] = it.value();
    const int k = static_cast<int>(roles_.indexOf(it.key()));
    if (k >= 0) changed.push_back(Qt::UserRole + k);
  }
  emit dataChanged(index(row), index(row), changed);
}

int RowListModel::findRow(const QString& key, const QVariant& value) const {
  for (int i = 0; i < rows_.size(); ++i) {
    if (rows_[i].value(key) == value) return i;
  }
  return -1;
}

QVariantMap RowListModel::get(int row) const {
  return row >= 0 && row < rows_.size() ? rows_[row] : QVariantMap{};
}

}  // namespace tokamak
