#include "chat_controller.h"

#include <QClipboard>
#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QRandomGenerator64>
#include <QRegularExpression>
#include <QSettings>

#include "chat_prompt.h"
#include "chat_rows.h"
#include "device/device_choice.h"
#include "engine_bridge.h"
#include "local_path.h"
#include "markdown_blocks.h"
#include "model/model.h"
#include "store/sampling_json.h"
#include "store/sha256.h"
#include "store_worker.h"
#include "template/builtin_templates.h"

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QString default_cache_dir() {
  if (QString d = qEnvironmentVariable("TOKAMAK_CACHE_DIR"); !d.isEmpty()) return d;
  if (QString d = qEnvironmentVariable("XDG_CACHE_HOME"); !d.isEmpty()) return d + "/tokamak";
  return QDir::homePath() + "/.cache/tokamak";
}

SamplingSettings sampling_of(const ConversationSettings& s) {
  auto r = parse_sampling_settings(s.sampling_json);
  return r.ok() ? r.value() : SamplingSettings{};
}

ConversationSettings settings_from(const QVariantMap& v, ConversationSettings base) {
  if (v.contains("systemPrompt")) base.system_prompt = v["systemPrompt"].toString().toStdString();
  if (v.contains("templateName")) base.template_name = v["templateName"].toString().toStdString();
  if (v.contains("templateText")) base.template_text = v["templateText"].toString().toStdString();
  SamplingSettings ss = sampling_of(base);
  SamplingParams& p = ss.params;
  if (v.contains("temperature")) p.temperature = v["temperature"].toFloat();
  if (v.contains("topP")) p.top_p = v["topP"].toFloat();
  if (v.contains("topK")) p.top_k = v["topK"].toInt();
  if (v.contains("minP")) p.min_p = v["minP"].toFloat();
  if (v.contains("repeatPenalty")) p.repeat_penalty = v["repeatPenalty"].toFloat();
  if (v.contains("frequencyPenalty")) p.frequency_penalty = v["frequencyPenalty"].toFloat();
  if (v.contains("presencePenalty")) p.presence_penalty = v["presencePenalty"].toFloat();
  if (v.contains("seed")) p.seed = v["seed"].toULongLong();
  if (v.contains("maxTokens")) ss.max_tokens = v["maxTokens"].toInt();
  base.sampling_json = sampling_settings_json(ss);
  return base;
}

}  // namespace

ChatController::ChatController(const QString& db_path, QObject* parent)
    : QObject(parent),
      store_(std::make_unique<StoreWorker>(db_path)),
      store_status_(std::make_unique<StoreStatus>(store_.get())),
      transfer_(std::make_unique<ConversationTransfer>(store_.get())),
      bridge_(std::make_unique<EngineBridge>()),
      conversations_({"conversationId", "title", "updatedAt"}),
      messages_({"messageId",       "role",         "content",      "status",
                 "siblingIndex",    "numSiblings",  "hasRecord",    "ttftMs",
                 "prefillTps",      "decodeTps",    "numTokens",    "numPromptTokens",
                 "numCachedTokens", "finishReason", "errorMessage", "modelFile",
                 "templateName",    "seed",         "streaming",    "device"}),
      search_hits_({"conversationId", "conversationTitle", "messageId", "role", "snippet"}) {
  recent_ = QSettings().value("recentModels").toStringList();
  device_pref_ = QSettings().value("device", "auto").toString();
  connect(store_.get(), &StoreWorker::opened, this,
          [this](const QString& path, const QString&, int num_interrupted, qint64) {
            store_path_ = path;
            emit storeChanged();
            if (num_interrupted > 0) {
              setError(num_interrupted == 1
                           ? tr("An answer was interrupted when the app last stopped; its saved "
                                "text is shown, marked interrupted.")
                           : tr("%1 answers were interrupted when the app last stopped; their "
                                "saved text is shown, marked interrupted.")
                                 .arg(num_interrupted));
            }
            refreshConversations();
          });
  // A database that cannot be opened: StoreStatus (the store dialog) says so.
  connect(store_.get(), &StoreWorker::jobFailed, this, &ChatController::setError);
  connect(transfer_.get(), &ConversationTransfer::failed, this, &ChatController::setError);
  connect(transfer_.get(), &ConversationTransfer::imported, this, [this](qint64 id) {
    refreshConversations();
    selectConversation(id);
  });
  connect(bridge_.get(), &EngineBridge::loadingStarted, this, [this](const QString& path) {
    model_error_.clear();
    model_path_ = path;
    load_progress_ = 0;
    load_stage_.clear();
    emit loadProgressChanged();
    setModelState("loading");
  });
  connect(bridge_.get(), &EngineBridge::loadingProgress, this,
          [this](const QString&, double fraction, const QString& stage) {
            load_progress_ = fraction;
            load_stage_ = stage;
            emit loadProgressChanged();
          });
  connect(bridge_.get(), &EngineBridge::modelLoaded, this,
          [this](const QString& path, const QVariantMap& info) {
            model_path_ = loaded_path_ = path;
            model_info_ = info;
            recent_.removeAll(path);
            recent_.prepend(path);
            while (recent_.size() > 10) recent_.removeLast();
            QSettings().setValue("recentModels", recent_);
            emit recentModelsChanged();
            setModelState("ready");
          });
  // A failed or cancelled load leaves the model loaded before it working
  // (the bridge replaces a model only with one that is ready).
  connect(bridge_.get(), &EngineBridge::modelFailed, this,
          [this](const QString& path, const QString& message) {
            model_error_ = message;
            model_path_ = loaded_path_;
            if (loaded_path_.isEmpty()) model_info_.clear();
            setModelState(loaded_path_.isEmpty() ? "error" : "ready");
          });
  connect(bridge_.get(), &EngineBridge::loadCancelled, this, [this] {
    model_path_ = loaded_path_;
    setModelState(loaded_path_.isEmpty() ? "none" : "ready");
  });
  connect(bridge_.get(), &EngineBridge::modelUnloaded, this, [this] {
    model_info_.clear();
    model_path_.clear();
    loaded_path_.clear();
    setModelState("none");
  });
  connect(bridge_.get(), &EngineBridge::tokenArrived, this, &ChatController::onToken);
  connect(bridge_.get(), &EngineBridge::generationFinished, this, &ChatController::onFinished);
  connect(bridge_.get(), &EngineBridge::generationFailed, this, &ChatController::onFailed);
  save_timer_.setInterval(250);
  connect(&save_timer_, &QTimer::timeout, this, &ChatController::flushSave);
  view_timer_.setInterval(40);
  view_timer_.setSingleShot(true);
  connect(&view_timer_, &QTimer::timeout, this, &ChatController::flushView);
  undo_timer_.setInterval(8000);
  undo_timer_.setSingleShot(true);
  connect(&undo_timer_, &QTimer::timeout, this, [this] {
    undo_id_ = 0;
    emit undoableDeleteChanged();
  });
}

ChatController::~ChatController() {
  if (ticket_) bridge_->cancel(ticket_);
  flushSave();
  catalog_.waitForIdle();
  bridge_.reset();  // joins the engine: no more events
  store_->drain();  // the queued writes, then the reloads they posted
  store_->drain();
  store_.reset();
}

void ChatController::setError(const QString& message) {
  error_ = message;
  emit errorMessageChanged();
}

void ChatController::clearError() {
  setError({});
  if (model_error_.isEmpty()) return;
  model_error_.clear();
  setModelState(model_state_ == "error" ? "none" : model_state_);
}

void ChatController::setModelState(const QString& state) {
  model_state_ = state;
  emit modelChanged();
}

QStringList ChatController::builtinTemplates() const {
  QStringList names;
  for (const BuiltinTemplate& t : builtin_templates()) names << q(std::string(t.name));
  return names;
}

QVariantMap ChatController::settings() const {
  const SamplingSettings ss = sampling_of(settings_);
  const SamplingParams& p = ss.params;
  return {{"systemPrompt", q(settings_.system_prompt)},
          {"templateName", q(settings_.template_name)},
          {"templateText", q(settings_.template_text)},
          {"temperature", p.temperature},
          {"topP", p.top_p},
          {"topK", p.top_k},
          {"minP", p.min_p},
          {"repeatPenalty", p.repeat_penalty},
          {"frequencyPenalty", p.frequency_penalty},
          {"presencePenalty", p.presence_penalty},
          {"maxTokens", ss.max_tokens},
          {"seed", QString::number(p.seed)}};
}

// --- Models -------------------------------------------------------------------

void ChatController::loadModel(const QString& path_or_url) {
  bridge_->loadModel(local_path(path_or_url), device_pref_);
}

void ChatController::loadDemoModel() {
  bridge_->loadDemoModel(default_cache_dir() + "/models", device_pref_);
}

void ChatController::setDevicePreference(const QString& preference) {
  if (preference == device_pref_) return;
  device_pref_ = preference;
  QSettings().setValue("device", preference);
  emit deviceChanged();
}

QVariantMap ChatController::deviceChoice() const {
  const DeviceDecision d = decide_device(device_pref_.toStdString());
  return {{"device", q(d.device)},
          {"reason", q(d.reason)},
          {"asAsked", d.as_asked},
          {"builtWithCuda", built_with_cuda()},
          {"numCudaDevices", num_cuda_devices()}};
}

void ChatController::cancelLoad() { bridge_->cancelLoad(); }

void ChatController::unloadModel() {
  if (ticket_) stop();
  bridge_->unloadModel();
}

// --- Conversations ------------------------------------------------------------

void ChatController::refreshConversations() {
  store_->post([this](ConversationStore& s) {
    auto list = s.list_conversations();
    if (!list.ok()) return emit store_->jobFailed(q(list.error().message));
    QVector<QVariantMap> rows;
    for (const Conversation& c : list.value()) {
      rows.push_back({{"conversationId", static_cast<qlonglong>(c.id)},
                      {"title", q(c.title)},
                      {"updatedAt", q(c.updated_at)}});
    }
    QMetaObject::invokeMethod(this, [this, rows] {
      conversations_.setRows(rows);
      // At start the most recent conversation is shown again, as it was left.
      if (reopen_latest_ && !rows.empty() && current_ == 0 && !ticket_ &&
          messages_.rowCount() == 0) {
        reloadBranch(rows.front()["conversationId"].toLongLong());
      }
      reopen_latest_ = false;
    });
  });
}

void ChatController::newConversation() {
  if (ticket_) return;
  current_ = 0;
  current_title_.clear();
  messages_.setRows({});
  emit currentConversationChanged();
}

void ChatController::selectConversation(qint64 id) {
  if (ticket_ || id == current_) return;
  reveal_id_ = 0;
  reloadBranch(id);
}

void ChatController::reloadBranch(qint64 conversation) { finishJob(conversation, 0); }

void ChatController::finishJob(qint64 conversation, qint64 answer_id) {
  store_->post([this, conversation, answer_id](ConversationStore& s) {
    auto conv = s.conversation(conversation);
    auto branch = s.current_branch(conversation);
    if (!conv.ok() || !branch.ok()) {
      return emit store_->jobFailed(q((conv.ok() ? branch.error() : conv.error()).message));
    }
    QVector<QVariantMap> rows;
    for (const Message& m : branch.value()) {
      auto r = s.record(m.id);
      rows.push_back(message_row(m, r.ok() ? r.value() : std::nullopt));
    }
    std::vector<Message> prior = branch.value();
    if (answer_id > 0 && !prior.empty()) prior.pop_back();  // the empty answer itself
    QMetaObject::invokeMethod(
        this, [this, conversation, answer_id, rows, c = conv.value(), turns = turns_of(prior)] {
          showBranch(conversation, rows, q(c.title), c.settings);
          if (answer_id > 0) startGeneration(answer_id, turns);
        });
  });
}

void ChatController::showBranch(qint64 conversation, const QVector<QVariantMap>& rows,
                                const QString& title, const ConversationSettings& settings) {
  const bool changed = conversation != current_ || title != current_title_;
  current_ = conversation;
  current_title_ = title;
  settings_ = settings;
  messages_.setRows(rows);
  if (changed) emit currentConversationChanged();
  emit settingsChanged();
  emit branchLoaded();
  if (const int row = reveal_id_ ? messages_.findRow("messageId", reveal_id_) : -1; row >= 0) {
    reveal_id_ = 0;
    emit messageRevealed(row);
  }
}

void ChatController::renameConversation(qint64 id, const QString& title) {
  const std::string t = title.trimmed().toStdString();
  if (t.empty()) return;
  store_->post([this, id, t](ConversationStore& s) {
    if (Status st = s.rename(id, t); !st.ok()) return emit store_->jobFailed(q(st.error().message));
    QMetaObject::invokeMethod(this, [this, id, t] {
      if (id == current_) {
        current_title_ = q(t);
        emit currentConversationChanged();
      }
      refreshConversations();
    });
  });
}

void ChatController::deleteConversation(qint64 id) {
  if (ticket_ && id == current_) return;
  store_->post([this, id](ConversationStore& s) {
    if (Status st = s.remove(id); !st.ok()) return emit store_->jobFailed(q(st.error().message));
    QMetaObject::invokeMethod(this, [this, id] {
      undo_id_ = id;
      emit undoableDeleteChanged();
      undo_timer_.start();
      if (id == current_) newConversation();
      refreshConversations();
    });
  });
}

void ChatController::undoDelete() {
  if (!undo_id_) return;
  const qint64 id = undo_id_;
  undo_id_ = 0;
  undo_timer_.stop();
  emit undoableDeleteChanged();
  store_->post([this, id](ConversationStore& s) {
    if (Status st = s.restore(id); !st.ok()) return emit store_->jobFailed(q(st.error().message));
    QMetaObject::invokeMethod(this, [this] { refreshConversations(); });
  });
}

void ChatController::search(const QString& text) {
  const std::string words = text.trimmed().toStdString();
  if (words.empty()) return search_hits_.setRows({});
  store_->post([this, words](ConversationStore& s) {
    SearchOptions o;
    o.open_mark = "\x01";
    o.close_mark = "\x02";
    o.limit = 30;
    auto hits = s.search(words, o);
    QVector<QVariantMap> rows;
    if (hits.ok()) {
      for (const SearchHit& h : hits.value()) {
        rows.push_back({{"conversationId", static_cast<qlonglong>(h.conversation_id)},
                        {"conversationTitle", q(h.conversation_title)},
                        {"messageId", static_cast<qlonglong>(h.message_id)},
                        {"role", q(std::string(role_name(h.role)))},
                        {"snippet", highlight(h.snippet)}});
      }
    }
    QMetaObject::invokeMethod(this, [this, rows] { search_hits_.setRows(rows); });
  });
}

void ChatController::openSearchHit(qint64 conversation_id, qint64 message_id) {
  if (ticket_) return;
  reveal_id_ = message_id;  // showBranch emits messageRevealed
  store_->post([this, conversation_id, message_id](ConversationStore& s) {
    if (auto r = s.select_message(message_id); !r.ok()) {
      return emit store_->jobFailed(q(r.error().message));
    }
    finishJob(conversation_id, 0);
  });
}

// --- Chat flows -----------------------------------------------------------------

void ChatController::send(const QString& text) {
  const std::string content = text.trimmed().toStdString();
  if (content.empty() || ticket_) return;
  if (model_state_ != "ready") return setError(tr("Load a model first (Models page)."));
  const qint64 conv = current_;
  const ConversationSettings settings = settings_;
  // The title: the first line, without Markdown marks.
  QString first_line = text.trimmed().section('\n', 0, 0);
  first_line.remove(QRegularExpression("[*`#_>]"));
  std::string title = first_line.simplified().left(48).toStdString();
  store_->post([this, conv, content, settings, title](ConversationStore& s) {
    int64_t id = conv;
    if (id == 0) {
      auto c = s.create_conversation(title, settings);
      if (!c.ok()) return emit store_->jobFailed(q(c.error().message));
      id = c.value();
    }
    auto c = s.conversation(id);
    if (!c.ok()) return emit store_->jobFailed(q(c.error().message));
    auto user = s.add_message(id, c->current_leaf, MessageRole::User, content);
    if (!user.ok()) return emit store_->jobFailed(q(user.error().message));
    auto answer = s.begin_answer(id, user.value());
    if (!answer.ok()) return emit store_->jobFailed(q(answer.error().message));
    finishJob(id, answer.value());
    if (conv == 0) QMetaObject::invokeMethod(this, [this] { refreshConversations(); });
  });
}

void ChatController::regenerate(qint64 assistant_message_id) {
  if (ticket_ || model_state_ != "ready") {
    if (model_state_ != "ready") setError(tr("Load a model first (Models page)."));
    return;
  }
  store_->post([this, assistant_message_id](ConversationStore& s) {
    auto m = s.message(assistant_message_id);
    if (!m.ok()) return emit store_->jobFailed(q(m.error().message));
    auto answer = s.begin_answer(m->conversation_id, m->parent_id);
    if (!answer.ok()) return emit store_->jobFailed(q(answer.error().message));
    finishJob(m->conversation_id, answer.value());
  });
}

void ChatController::editAndResend(qint64 user_message_id, const QString& text) {
  const std::string content = text.trimmed().toStdString();
  if (content.empty() || ticket_) return;
  if (model_state_ != "ready") return setError(tr("Load a model first (Models page)."));
  store_->post([this, user_message_id, content](ConversationStore& s) {
    auto edited = s.edit_message(user_message_id, content);
    if (!edited.ok()) return emit store_->jobFailed(q(edited.error().message));
    auto m = s.message(edited.value());
    if (!m.ok()) return emit store_->jobFailed(q(m.error().message));
    auto answer = s.begin_answer(m->conversation_id, m->id);
    if (!answer.ok()) return emit store_->jobFailed(q(answer.error().message));
    finishJob(m->conversation_id, answer.value());
  });
}

void ChatController::switchBranch(qint64 message_id, int delta) {
  if (ticket_) return;
  const qint64 conv = current_;
  store_->post([this, message_id, delta, conv](ConversationStore& s) {
    auto sibs = s.siblings(message_id);
    if (!sibs.ok()) return emit store_->jobFailed(q(sibs.error().message));
    const auto& v = sibs.value();
    const auto it = std::find(v.begin(), v.end(), message_id);
    const int64_t i = (it - v.begin()) + delta;
    if (it == v.end() || i < 0 || i >= static_cast<int64_t>(v.size())) return;
    if (auto r = s.select_message(v[i]); !r.ok())
      return emit store_->jobFailed(q(r.error().message));
    finishJob(conv, 0);
  });
}

void ChatController::copyText(const QString& text) {
  if (QClipboard* c = QGuiApplication::clipboard()) c->setText(text);
}

void ChatController::startGeneration(qint64 answer_id, const std::vector<ChatTurn>& turns) {
  auto model = bridge_->model();
  record_ = GenerationRecord{};
  answer_id_ = answer_id;
  answer_text_.clear();
  unsaved_.clear();
  if (!model) return endGeneration("error", {}, tr("No model is loaded."));
  auto prompt = build_chat_prompt(*model, settings_, turns);
  if (!prompt.ok()) return endGeneration("error", {}, q(prompt.error().message));
  SamplingSettings ss = sampling_of(settings_);
  // The answer fits in what the context leaves after the prompt.
  const int context = model_info_.value("contextLength").toInt();
  const int num_prompt = static_cast<int>(prompt->tokens.size());
  if (context > 0 && num_prompt >= context) {
    return endGeneration("error", {},
                         tr("The conversation is %1 tokens long, the model's context %2: start "
                            "a new conversation or shorten the system prompt.")
                             .arg(num_prompt)
                             .arg(context));
  }
  if (context > 0) ss.max_tokens = std::min(ss.max_tokens, context - num_prompt);
  if (ss.params.seed == 0) ss.params.seed = QRandomGenerator64::global()->generate() | 1;
  Request req;
  req.prompt = prompt->tokens;
  req.sampling = ss.params;
  req.stop = prompt->stop;
  req.max_tokens = ss.max_tokens;
  record_.model_path = bridge_->modelPath().toStdString();
  record_.model_size_bytes = model_info_.value("fileSizeBytes").toLongLong();
  record_.model_header_sha256 = model_info_.value("headerSha256").toString().toStdString();
  record_.template_sha256 = sha256_hex(prompt->template_source);
  record_.template_name = prompt->template_name;
  record_.sampling_json = sampling_settings_json(ss);
  record_.seed = ss.params.seed;
  record_.engine_version = TOKAMAK_VERSION;
  record_.device = bridge_->device().toStdString();
  ticket_ = bridge_->submit(std::move(req));
  if (!ticket_) return endGeneration("error", {}, tr("No model is loaded."));
  const int row = messages_.findRow("messageId", answer_id);
  messages_.updateRow(row, {{"streaming", true}, {"status", "partial"}});
  save_timer_.start();
  emit generatingChanged();
}

void ChatController::onToken(quint64 ticket, const QString& text) {
  if (ticket != ticket_) return;
  answer_text_ += text;
  unsaved_ += text.toStdString();
  if (!view_timer_.isActive()) view_timer_.start();
}

void ChatController::flushView() {
  const int row = messages_.findRow("messageId", answer_id_);
  if (row >= 0) messages_.updateRow(row, {{"content", answer_text_}});
}

void ChatController::flushSave() {
  if (unsaved_.empty() || !answer_id_) return;
  const qint64 id = answer_id_;
  store_->post([this, id, delta = std::move(unsaved_)](ConversationStore& s) {
    if (Status st = s.append_answer(id, delta); !st.ok())
      emit store_->jobFailed(q(st.error().message));
  });
  unsaved_.clear();
}

void ChatController::stop() {
  if (ticket_) bridge_->cancel(ticket_);
}

void ChatController::onFinished(quint64 ticket, const QString& reason, const QVariantMap& timings) {
  if (ticket == ticket_) endGeneration(reason, timings, {});
}

void ChatController::onFailed(quint64 ticket, const QString& message) {
  if (ticket == ticket_) endGeneration("error", {}, message);
}

void ChatController::endGeneration(const QString& reason, const QVariantMap& t,
                                   const QString& error) {
  save_timer_.stop();
  view_timer_.stop();
  flushView();
  record_.finish_reason = reason.toStdString();
  record_.error_message = error.toStdString();
  record_.num_prompt_tokens = t.value("numPromptTokens").toInt();
  record_.num_cached_tokens = t.value("numCachedTokens").toInt();
  record_.num_generated_tokens = t.value("numGeneratedTokens").toInt();
  record_.ttft_ms = t.value("ttftMs").toDouble();
  record_.prefill_tokens_per_second = t.value("prefillTps").toDouble();
  record_.decode_tokens_per_second = t.value("decodeTps").toDouble();
  record_.e2e_ms = t.value("e2eMs").toDouble();
  if (!error.isEmpty()) setError(error);
  const qint64 id = answer_id_, conv = current_;
  store_->post([this, id, conv, tail = std::move(unsaved_), rec = record_](ConversationStore& s) {
    if (Status st = s.finish_answer(id, tail, rec); !st.ok()) {
      emit store_->jobFailed(q(st.error().message));
    }
    finishJob(conv, 0);
  });
  unsaved_.clear();
  ticket_ = 0;
  answer_id_ = 0;
  emit generatingChanged();
  emit generationEnded(reason);
}

// --- Settings -------------------------------------------------------------------

void ChatController::applySettings(const QVariantMap& values) {
  settings_ = settings_from(values, settings_);
  emit settingsChanged();
  if (!current_) return;
  store_->post([this, id = current_, st = settings_](ConversationStore& s) {
    if (Status r = s.set_settings(id, st); !r.ok()) emit store_->jobFailed(q(r.error().message));
  });
}

QVariantMap ChatController::previewPrompt(const QVariantMap& values) const {
  auto model = bridge_->model();
  if (!model) return {{"error", tr("Load a model to preview its prompt.")}};
  const ConversationSettings st = settings_from(values, settings_);
  std::vector<ChatTurn> turns;
  for (int i = 0; i < messages_.rowCount(); ++i) {
    const QVariantMap r = messages_.get(i);
    turns.push_back({r["role"].toString().toStdString(), r["content"].toString().toStdString()});
  }
  if (turns.empty() || turns.back().role != "user") turns.push_back({"user", "Hello!"});
  auto p = build_chat_prompt(*model, st, turns);
  if (!p.ok()) return {{"error", q(p.error().message)}};
  return {{"text", q(p->text)},
          {"numTokens", static_cast<int>(p->tokens.size())},
          {"templateName", q(p->template_name)},
          {"templateSource", q(p->template_source)},
          {"error", QString()}};
}

QVariantList ChatController::markdownBlocks(const QString& text, bool keepLineBreaks) const {
  QVariantList out;
  for (const MarkdownBlock& b : split_markdown_blocks(text.toStdString())) {
    const std::string body = keepLineBreaks && !b.code ? keep_line_breaks(b.text) : b.text;
    out.push_back(QVariantMap{{"code", b.code}, {"language", q(b.language)}, {"text", q(body)}});
  }
  return out;
}

}  // namespace tokamak
