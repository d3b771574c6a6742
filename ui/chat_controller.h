// ChatController: the view-model behind the app's pages. It owns the
// EngineBridge (model + Engine on their threads) and the StoreWorker (the
// conversation store on its thread), keeps the conversation list, the current
// branch's messages and the search hits as list models, and runs the chat
// flows: send, stop, regenerate, edit-and-resend, branch navigation, rename,
// delete with undo, per-conversation settings.
//
// A streamed answer: tokens arrive as queued signals; the text shown is
// refreshed at most every 40 ms, and the text not yet saved goes to the store
// every 250 ms (append_answer), the rest with finish_answer and the record.
#pragma once

#include <QtQml/qqmlregistration.h>

#include <QObject>
#include <QTimer>
#include <QVariantMap>
#include <memory>

#include "conversation_transfer.h"
#include "model_catalog.h"
#include "row_list_model.h"
#include "store/conversation_types.h"
#include "store_status.h"

namespace tokamak {

class EngineBridge;

// Qt 6.4's QML engine crashes concatenating a null QString with a literal
// (`title + " - Tokamak"`): string properties are never null.
inline QString nonNull(const QString& s) { return s.isNull() ? QStringLiteral("") : s; }
class StoreWorker;
struct ChatTurn;

class ChatController : public QObject {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("made by main()")
  Q_PROPERTY(RowListModel* conversations READ conversations CONSTANT)
  Q_PROPERTY(RowListModel* messages READ messages CONSTANT)
  Q_PROPERTY(RowListModel* searchHits READ searchHits CONSTANT)
  Q_PROPERTY(ModelCatalog* catalog READ catalog CONSTANT)
  Q_PROPERTY(qint64 currentConversation READ currentConversation NOTIFY currentConversationChanged)
  Q_PROPERTY(QString currentTitle READ currentTitle NOTIFY currentConversationChanged)
  Q_PROPERTY(bool generating READ generating NOTIFY generatingChanged)
  Q_PROPERTY(QString modelState READ modelState NOTIFY modelChanged)  // none|loading|ready|error
  Q_PROPERTY(QString modelName READ modelName NOTIFY modelChanged)
  Q_PROPERTY(QString modelPath READ modelPath NOTIFY modelChanged)
  Q_PROPERTY(QString modelError READ modelError NOTIFY modelChanged)
  Q_PROPERTY(QVariantMap modelInfo READ modelInfo NOTIFY modelChanged)
  Q_PROPERTY(double loadProgress READ loadProgress NOTIFY loadProgressChanged)  // 0..1
  Q_PROPERTY(QString loadStage READ loadStage NOTIFY loadProgressChanged)
  // auto | cpu | cuda (kept in QSettings; used by the next load).
  Q_PROPERTY(
      QString devicePreference READ devicePreference WRITE setDevicePreference NOTIFY deviceChanged)
  // What the preference gives here: device, reason, asAsked, builtWithCuda, numCudaDevices.
  Q_PROPERTY(QVariantMap deviceChoice READ deviceChoice NOTIFY deviceChanged)
  Q_PROPERTY(QStringList recentModels READ recentModels NOTIFY recentModelsChanged)
  Q_PROPERTY(QVariantMap settings READ settings NOTIFY settingsChanged)
  Q_PROPERTY(QStringList builtinTemplates READ builtinTemplates CONSTANT)
  Q_PROPERTY(QString errorMessage READ errorMessage NOTIFY errorMessageChanged)
  Q_PROPERTY(QString storePath READ storePath NOTIFY storeChanged)
  Q_PROPERTY(qint64 undoableDelete READ undoableDelete NOTIFY undoableDeleteChanged)
  Q_PROPERTY(StoreStatus* storeStatus READ storeStatus CONSTANT)
  Q_PROPERTY(ConversationTransfer* transfer READ transfer CONSTANT)

 public:
  // db_path "" : the default database; settings_scope names the QSettings
  // group for recent models ("" : the app's own).
  explicit ChatController(const QString& db_path = {}, QObject* parent = nullptr);
  ~ChatController() override;

  RowListModel* conversations() { return &conversations_; }
  RowListModel* messages() { return &messages_; }
  RowListModel* searchHits() { return &search_hits_; }
  ModelCatalog* catalog() { return &catalog_; }
  qint64 currentConversation() const { return current_; }
  QString currentTitle() const { return nonNull(current_title_); }
  bool generating() const { return ticket_ != 0; }
  QString modelState() const { return model_state_; }
  QString modelName() const { return nonNull(model_info_.value("name").toString()); }
  QString modelPath() const { return nonNull(model_path_); }
  QString modelError() const { return nonNull(model_error_); }
  QVariantMap modelInfo() const { return model_info_; }
  QStringList recentModels() const { return recent_; }
  double loadProgress() const { return load_progress_; }
  QString loadStage() const { return nonNull(load_stage_); }
  QString devicePreference() const { return device_pref_; }
  void setDevicePreference(const QString& preference);
  QVariantMap deviceChoice() const;
  QVariantMap settings() const;
  QStringList builtinTemplates() const;
  QString errorMessage() const { return nonNull(error_); }
  QString storePath() const { return nonNull(store_path_); }
  qint64 undoableDelete() const { return undo_id_; }
  StoreWorker* store() { return store_.get(); }
  StoreStatus* storeStatus() { return store_status_.get(); }
  ConversationTransfer* transfer() { return transfer_.get(); }

  Q_INVOKABLE void loadModel(const QString& path_or_url);
  Q_INVOKABLE void loadDemoModel();
  Q_INVOKABLE void unloadModel();
  // Stops a load under way, keeping the model loaded before it.
  Q_INVOKABLE void cancelLoad();
  Q_INVOKABLE void clearError();

  Q_INVOKABLE void newConversation();
  Q_INVOKABLE void selectConversation(qint64 id);
  Q_INVOKABLE void renameConversation(qint64 id, const QString& title);
  Q_INVOKABLE void deleteConversation(qint64 id);
  Q_INVOKABLE void undoDelete();
  Q_INVOKABLE void search(const QString& text);
  // Opens a search hit: its conversation on the branch through the message
  // (also when it is the current conversation, on another branch), then
  // emits messageRevealed with the message's row.
  Q_INVOKABLE void openSearchHit(qint64 conversation_id, qint64 message_id);

  Q_INVOKABLE void send(const QString& text);
  Q_INVOKABLE void stop();
  Q_INVOKABLE void regenerate(qint64 assistant_message_id);
  Q_INVOKABLE void editAndResend(qint64 user_message_id, const QString& text);
  Q_INVOKABLE void switchBranch(qint64 message_id, int delta);
  Q_INVOKABLE void copyText(const QString& text);

  // keys: systemPrompt, templateName, templateText, temperature, topP, topK,
  // minP, repeatPenalty, frequencyPenalty, presencePenalty, maxTokens, seed
  // (0: a new random seed per answer).
  Q_INVOKABLE void applySettings(const QVariantMap& values);
  // The exact prompt the next answer would see with `values`: text,
  // numTokens, templateName, error.
  Q_INVOKABLE QVariantMap previewPrompt(const QVariantMap& values) const;
  // Markdown split into blocks for the chat view: [{code, language, text}];
  // keepLineBreaks: single line breaks in prose stay (a person's messages).
  Q_INVOKABLE QVariantList markdownBlocks(const QString& text, bool keepLineBreaks = false) const;

 signals:
  void currentConversationChanged();
  void generatingChanged();
  void modelChanged();
  void recentModelsChanged();
  void loadProgressChanged();
  void deviceChanged();
  void settingsChanged();
  void errorMessageChanged();
  void storeChanged();
  void undoableDeleteChanged();
  // A generation ended (reason as the engine says, or "error").
  void generationEnded(const QString& reason);
  void branchLoaded();
  // A search hit was opened: the chat view shows this row of `messages`.
  void messageRevealed(int row);

 private:
  struct Branch;
  void setError(const QString& message);
  void refreshConversations();
  void showBranch(qint64 conversation, const QVector<QVariantMap>& rows, const QString& title,
                  const ConversationSettings& settings);
  void reloadBranch(qint64 conversation);
  // On the store thread: the branch as rows; posts it back and, when
  // answer_id > 0, starts generating into that answer.
  void finishJob(qint64 conversation, qint64 answer_id);
  void startGeneration(qint64 answer_id, const std::vector<ChatTurn>& turns);
  void onToken(quint64 ticket, const QString& text);
  void onFinished(quint64 ticket, const QString& reason, const QVariantMap& timings);
  void onFailed(quint64 ticket, const QString& message);
  void endGeneration(const QString& reason, const QVariantMap& timings, const QString& error);
  void flushSave();
  void flushView();
  void setModelState(const QString& state);

  std::unique_ptr<StoreWorker> store_;
  std::unique_ptr<StoreStatus> store_status_;
  std::unique_ptr<ConversationTransfer> transfer_;
  std::unique_ptr<EngineBridge> bridge_;
  RowListModel conversations_;
  RowListModel messages_;
  RowListModel search_hits_;
  ModelCatalog catalog_;
  qint64 current_ = 0;
  QString current_title_;
  ConversationSettings settings_;
  QString model_state_ = "none";
  QString model_path_;
  QString loaded_path_;  // the model the bridge announced loaded ("" none)
  QString model_error_;
  QVariantMap model_info_;
  double load_progress_ = 0;
  QString load_stage_;
  QString device_pref_;
  QStringList recent_;
  QString error_;
  QString store_path_;
  qint64 undo_id_ = 0;
  qint64 reveal_id_ = 0;
  bool reopen_latest_ = true;  // the first conversation list reopens the latest one  // a search
                               // hit's message, shown when its branch loads
  QTimer undo_timer_;

  // The answer being generated.
  quint64 ticket_ = 0;
  qint64 answer_id_ = 0;
  QString answer_text_;
  std::string unsaved_;
  GenerationRecord record_;
  QTimer save_timer_;
  QTimer view_timer_;
};

}  // namespace tokamak
