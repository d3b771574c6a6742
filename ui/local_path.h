// A path from QML: file dialogs and drops give file: URLs, text fields plain
// paths; both become a local path.
#pragma once

#include <QString>
#include <QUrl>

namespace tokamak {

inline QString local_path(const QString& path_or_url) {
  const QUrl url(path_or_url);
  return url.isLocalFile() ? url.toLocalFile() : path_or_url;
}

}  // namespace tokamak
