// RowListModel: a QAbstractListModel over rows of named values, with the
// role names fixed at construction. The conversation list, the current
// branch's messages and the search hits are each one of these.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QAbstractListModel>
#include <QVariantMap>
#include <QVector>

namespace tokamak {

class RowListModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("made by ChatController")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)

 public:
  explicit RowListModel(QStringList roles = {}, QObject* parent = nullptr);

  int rowCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void setRows(QVector<QVariantMap> rows);
  // Changes some values of one row (dataChanged for those roles only).
  void updateRow(int row, const QVariantMap& values);
  int findRow(const QString& key, const QVariant& value) const;
  Q_INVOKABLE QVariantMap get(int row) const;

 signals:
  void countChanged();

 private:
  QStringList roles_;
  QVector<QVariantMap> rows_;
};

}  // namespace tokamak
