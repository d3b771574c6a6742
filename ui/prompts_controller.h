// PromptsController: the view-model behind the Prompts page. The prompt
// library (app/store/prompt_library.h) lives in the conversation database, so
// every read and write is a job on the ChatController's StoreWorker thread;
// answers come back as queued calls and land in the list models below.
//
//   prompts   the library, filtered, last changed first: name, tags,
//             firstLine, version, updatedAt, createdAt
//   versions  the selected prompt's history, newest first
//   current   the version shown: {name, version, body, notes, tags,
//             createdAt, restoredFrom, latest (bool)}
//
// Rendering (variables, preview) runs on the calling thread: it touches no
// disk and is the same engine as `tokamak-cli prompts render`. "Send to chat"
// only emits sendRequested; the window puts the text in the chat composer
// (of the current or a new conversation) or in the system prompt.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QPointer>
#include <QVariantMap>
#include <QVector>
#include <functional>

#include "core/result.h"
#include "row_list_model.h"

namespace tokamak {

class ChatController;
class StoreWorker;
class PromptLibrary;
struct Prompt;

class PromptsController : public QObject {
  Q_OBJECT
  QML_ELEMENT
  Q_PROPERTY(ChatController* chat READ chat WRITE setChat NOTIFY chatChanged)
  Q_PROPERTY(RowListModel* prompts READ prompts CONSTANT)
  Q_PROPERTY(RowListModel* versions READ versions CONSTANT)
  Q_PROPERTY(QVariantMap current READ current NOTIFY currentChanged)
  Q_PROPERTY(QStringList allTags READ allTags NOTIFY allTagsChanged)
  Q_PROPERTY(int numPrompts READ numPrompts NOTIFY allTagsChanged)  // before filtering
  Q_PROPERTY(QString filterText READ filterText NOTIFY filterChanged)
  Q_PROPERTY(QString filterTag READ filterTag NOTIFY filterChanged)
  Q_PROPERTY(QString status READ status NOTIFY statusChanged)  // idle|busy|error
  Q_PROPERTY(QString errorString READ errorString NOTIFY statusChanged)
  Q_PROPERTY(QString notice READ notice NOTIFY statusChanged)  // what the last action did

 public:
  explicit PromptsController(QObject* parent = nullptr);
  ~PromptsController() override;  // waits for its queued store jobs

  ChatController* chat() const { return chat_; }
  void setChat(ChatController* chat);
  RowListModel* prompts() { return &prompts_; }
  RowListModel* versions() { return &versions_; }
  QVariantMap current() const { return current_; }
  QStringList allTags() const { return all_tags_; }
  int numPrompts() const { return num_prompts_; }
  QString filterText() const { return filter_text_; }
  QString filterTag() const { return filter_tag_; }
  QString status() const { return status_; }
  QString errorString() const { return error_; }
  QString notice() const { return notice_; }

  // Reloads the list. The text matches names, bodies, notes and tags
  // (case-insensitive); the tag must be one of the prompt's ("" : any).
  Q_INVOKABLE void setFilter(const QString& text, const QString& tag);
  Q_INVOKABLE void refresh();
  // Shows the prompt's latest version and its history.
  Q_INVOKABLE void select(const QString& name);
  // Shows an older version of the selected prompt (read-only in the page).
  Q_INVOKABLE void viewVersion(int version);
  Q_INVOKABLE void clearSelection();
  // A new prompt (version 1) or a new version of `name`. Tags: comma-separated.
  Q_INVOKABLE void save(const QString& name, const QString& body, const QString& notes,
                        const QString& tags);
  // A new version with the content of `version` of the selected prompt.
  Q_INVOKABLE void restore(int version);
  Q_INVOKABLE void rename(const QString& from, const QString& to);
  Q_INVOKABLE void remove(const QString& name);
  // .json (whole library or `names`, with history) or .md (one prompt);
  // `duplicates`: fail|skip|add. Paths may be file:// URLs.
  Q_INVOKABLE void importFile(const QString& path, const QString& duplicates);
  Q_INVOKABLE void exportFile(const QString& path, const QStringList& names);

  // The variables the text reads, in order of first use; [] when it does not
  // parse (renderPreview says why).
  Q_INVOKABLE QStringList variablesOf(const QString& body) const;
  // {text, error, missing: [names without a value]}. Values are strings; an
  // empty one is no value: undefined (default() applies, else it prints as
  // ""), or with `strict` an error naming it, as `tokamak-cli prompts render`.
  Q_INVOKABLE QVariantMap renderPreview(const QString& body, const QVariantMap& values,
                                        bool strict = false) const;
  // Renders as the preview does and emits sendRequested (target:
  // composer|new|system), or sets errorString; remembers the values for the
  // selected prompt.
  // The values last sent to chat with this prompt (kept in QSettings).
  Q_INVOKABLE QVariantMap savedValues(const QString& name) const;
  Q_INVOKABLE bool sendToChat(const QString& body, const QVariantMap& values,
                              const QString& target);
  Q_INVOKABLE void clearError();

 signals:
  void chatChanged();
  void currentChanged();
  void allTagsChanged();
  void filterChanged();
  void statusChanged();
  void sendRequested(const QString& text, const QString& target);
  // A save, restore, rename, delete or import finished (tests wait on it).
  void changed();

 private:
  // Runs on the store thread; returns what to do on the UI thread, or the
  // error to show (errorString).
  using Job = std::function<Result<std::function<void()>>(PromptLibrary&)>;
  void post(Job job);
  void fail(const QString& message);
  void setBusy();
  void done(const QString& notice);
  void showPrompt(const Prompt& prompt, int version);

  QPointer<ChatController> chat_;
  RowListModel prompts_;
  RowListModel versions_;
  QVariantMap current_;
  QVector<QVariantMap> history_;  // the selected prompt's versions, newest first
  QStringList all_tags_;
  int num_prompts_ = 0;
  QString filter_text_;
  QString filter_tag_;
  QString status_ = "idle";
  QString error_;
  QString notice_;
  int num_pending_ = 0;
};

}  // namespace tokamak
