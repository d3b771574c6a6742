#include "prompts_controller.h"

#include <QSettings>
#include <QUrl>
#include <algorithm>
#include <set>

#include "chat_controller.h"
#include "local_path.h"
#include "store/prompt_files.h"
#include "store/prompt_library.h"
#include "store/prompt_render.h"
#include "store_worker.h"

namespace tokamak {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

QStringList tag_list(const std::vector<std::string>& tags) {
  QStringList out;
  for (const std::string& t : tags) out << q(t);
  return out;
}

// "a, b ,c" → ["a", "b", "c"] (normalize_tags sorts and checks them).
std::vector<std::string> split_tags(const QString& text) {
  std::vector<std::string> tags;
  for (const QString& t : text.split(',', Qt::SkipEmptyParts)) {
    if (!t.trimmed().isEmpty()) tags.push_back(t.trimmed().toStdString());
  }
  return tags;
}

QString first_line(const std::string& body) {
  const QString text = q(body).trimmed();
  return text.section('\n', 0, 0).simplified().left(120);
}

bool matches(const Prompt& p, const QString& text, const std::string& tag) {
  const PromptContent& c = p.latest().content;
  if (!tag.empty() && std::find(c.tags.begin(), c.tags.end(), tag) == c.tags.end()) return false;
  if (text.isEmpty()) return true;
  const auto has = [&](const std::string& s) { return q(s).contains(text, Qt::CaseInsensitive); };
  return has(p.name) || has(c.body) || has(c.notes) ||
         std::any_of(c.tags.begin(), c.tags.end(), has);
}

QVariantMap version_map(const std::string& name, const PromptVersion& v, bool latest) {
  return {{"name", q(name)},
          {"version", v.version},
          {"body", q(v.content.body)},
          {"notes", q(v.content.notes)},
          {"tags", tag_list(v.content.tags)},
          {"tagsText", tag_list(v.content.tags).join(", ")},
          {"createdAt", q(v.created_at)},
          {"restoredFrom", v.restored_from},
          {"latest", latest}};
}

DuplicatePolicy policy_of(const QString& name) {
  if (name == "skip") return DuplicatePolicy::Skip;
  if (name == "add") return DuplicatePolicy::AddVersions;
  return DuplicatePolicy::Fail;
}

nlohmann::ordered_json values_json(const QVariantMap& values) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto it = values.begin(); it != values.end(); ++it) {
    // An empty field is no value: undefined, so default() applies.
    if (it.value().toString().isEmpty()) continue;
    j[it.key().toStdString()] = it.value().toString().toStdString();
  }
  return j;
}

// The settings group of a prompt's last values: promptValues/<name, %-encoded>.
QString values_group(const QString& name) {
  return "promptValues/" + QString::fromLatin1(QUrl::toPercentEncoding(name));
}

}  // namespace

PromptsController::PromptsController(QObject* parent)
    : QObject(parent),
      prompts_({"name", "tags", "firstLine", "version", "updatedAt", "createdAt"}),
      versions_({"version", "createdAt", "restoredFrom", "notes", "firstLine"}) {}

PromptsController::~PromptsController() {
  // Jobs capture `this`: let them run; their queued answers die with us.
  if (chat_ && chat_->store()) chat_->store()->drain();
}

void PromptsController::setChat(ChatController* chat) {
  if (chat == chat_) return;
  if (chat_) disconnect(chat_, nullptr, this, nullptr);
  chat_ = chat;
  emit chatChanged();
  if (!chat_) return;
  // The database opens (or is reopened) on the store thread.
  connect(chat_, &ChatController::storeChanged, this, &PromptsController::refresh);
  refresh();
}

void PromptsController::post(Job job) {
  StoreWorker* store = chat_ ? chat_->store() : nullptr;
  if (!store)
    return fail(tr("The prompt library is kept in the app's database, which is not open."));
  ++num_pending_;
  setBusy();
  store->post([this, job = std::move(job)](ConversationStore& s) {
    PromptLibrary lib(s.database());
    auto then = std::make_shared<Result<std::function<void()>>>(job(lib));
    QMetaObject::invokeMethod(this, [this, then] {
      --num_pending_;
      if (!then->ok()) return fail(q(then->error().message));
      then->value()();
      if (num_pending_ == 0 && status_ == "busy") {
        status_ = "idle";
        emit statusChanged();
      }
    });
  });
}

void PromptsController::fail(const QString& message) {
  status_ = "error";
  error_ = message;
  notice_.clear();
  emit statusChanged();
}

void PromptsController::setBusy() {
  if (status_ == "error") return;  // shown until dismissed
  status_ = "busy";
  emit statusChanged();
}

void PromptsController::done(const QString& notice) {
  notice_ = notice;
  emit statusChanged();
  emit changed();
}

void PromptsController::clearError() {
  error_.clear();
  notice_.clear();
  status_ = num_pending_ > 0 ? "busy" : "idle";
  emit statusChanged();
}

// --- Browsing -------------------------------------------------------------------

void PromptsController::setFilter(const QString& text, const QString& tag) {
  if (text == filter_text_ && tag == filter_tag_) return;
  filter_text_ = text;
  filter_tag_ = tag;
  emit filterChanged();
  refresh();
}

void PromptsController::refresh() {
  const QString text = filter_text_.trimmed();
  const std::string tag = filter_tag_.toStdString();
  post([this, text, tag](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_ASSIGN(std::vector<Prompt> all, lib.list());
    QVector<QVariantMap> rows;
    std::set<std::string> tags;
    for (const Prompt& p : all) {
      const PromptVersion& v = p.latest();
      tags.insert(v.content.tags.begin(), v.content.tags.end());
      if (!matches(p, text, tag)) continue;
      rows.push_back({{"name", q(p.name)},
                      {"tags", tag_list(v.content.tags)},
                      {"firstLine", first_line(v.content.body)},
                      {"version", v.version},
                      {"updatedAt", q(v.created_at)},
                      {"createdAt", q(p.created_at)}});
    }
    std::stable_sort(rows.begin(), rows.end(), [](const QVariantMap& a, const QVariantMap& b) {
      return a["updatedAt"].toString() > b["updatedAt"].toString();
    });
    QStringList tag_names = tag_list(std::vector<std::string>(tags.begin(), tags.end()));
    const int num = static_cast<int>(all.size());
    return std::function<void()>([this, rows, tag_names, num] {
      prompts_.setRows(rows);
      all_tags_ = tag_names;
      num_prompts_ = num;
      emit allTagsChanged();
    });
  });
}

void PromptsController::select(const QString& name) {
  post([this, name = name.toStdString()](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_ASSIGN(Prompt p, lib.load(name));
    return std::function<void()>([this, p] { showPrompt(p, p.latest().version); });
  });
}

void PromptsController::showPrompt(const Prompt& prompt, int version) {
  QVector<QVariantMap> rows;
  history_.clear();
  for (auto it = prompt.versions.rbegin(); it != prompt.versions.rend(); ++it) {
    const bool latest = it == prompt.versions.rbegin();
    history_.push_back(version_map(prompt.name, *it, latest));
    rows.push_back({{"version", it->version},
                    {"createdAt", q(it->created_at)},
                    {"restoredFrom", it->restored_from},
                    {"notes", q(it->content.notes)},
                    {"firstLine", first_line(it->content.body)}});
  }
  versions_.setRows(rows);
  viewVersion(version);
}

void PromptsController::viewVersion(int version) {
  for (const QVariantMap& v : history_) {
    if (v["version"].toInt() == version) {
      current_ = v;
      emit currentChanged();
      return;
    }
  }
}

void PromptsController::clearSelection() {
  history_.clear();
  versions_.setRows({});
  current_.clear();
  emit currentChanged();
}

// --- Editing --------------------------------------------------------------------

void PromptsController::save(const QString& name, const QString& body, const QString& notes,
                             const QString& tags) {
  PromptContent c{body.toStdString(), notes.toStdString(), split_tags(tags)};
  post([this, name = name.trimmed().toStdString(),
        c](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_ASSIGN(std::vector<std::string> tags, normalize_tags(c.tags));
    PromptContent content = c;
    content.tags = std::move(tags);
    TK_TRY(lib.save(name, content));
    TK_ASSIGN(Prompt p, lib.load(name));
    return std::function<void()>([this, p] {
      showPrompt(p, p.latest().version);
      done(p.versions.size() == 1
               ? tr("Saved %1").arg(q(p.name))
               : tr("Saved %1 as version %2").arg(q(p.name)).arg(p.latest().version));
      refresh();
    });
  });
}

void PromptsController::restore(int version) {
  const std::string name = current_.value("name").toString().toStdString();
  if (name.empty()) return;
  post([this, name, version](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_TRY(lib.restore(name, version));
    TK_ASSIGN(Prompt p, lib.load(name));
    return std::function<void()>([this, p, version] {
      showPrompt(p, p.latest().version);
      done(tr("Version %1 restored as version %2").arg(version).arg(p.latest().version));
      refresh();
    });
  });
}

void PromptsController::rename(const QString& from, const QString& to) {
  post([this, from = from.toStdString(),
        to = to.trimmed().toStdString()](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_TRY(lib.rename(from, to));
    TK_ASSIGN(Prompt p, lib.load(to));
    return std::function<void()>([this, p, from] {
      showPrompt(p, p.latest().version);
      done(tr("Renamed %1 to %2").arg(q(from), q(p.name)));
      refresh();
    });
  });
}

void PromptsController::remove(const QString& name) {
  post([this, name = name.toStdString()](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_TRY(lib.remove(name));
    return std::function<void()>([this, name] {
      if (current_.value("name").toString() == q(name)) clearSelection();
      done(tr("Deleted %1").arg(q(name)));
      refresh();
    });
  });
}

void PromptsController::importFile(const QString& path, const QString& duplicates) {
  const std::string file = local_path(path).toStdString();
  const DuplicatePolicy policy = policy_of(duplicates);
  post([this, file, policy](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_ASSIGN(std::vector<Prompt> read, read_prompt_file(file));
    TK_ASSIGN(ImportReport r, lib.import_prompts(read, policy));
    return std::function<void()>([this, r] {
      QString n = tr("Imported %n new prompt(s)", "", static_cast<int>(r.created.size()));
      if (!r.updated.empty())
        n += tr(", added versions to %n", "", static_cast<int>(r.updated.size()));
      if (!r.skipped.empty())
        n += tr(", skipped %n already here", "", static_cast<int>(r.skipped.size()));
      done(n);
      refresh();
    });
  });
}

void PromptsController::exportFile(const QString& path, const QStringList& names) {
  const std::string file = local_path(path).toStdString();
  std::vector<std::string> wanted;
  for (const QString& n : names) wanted.push_back(n.toStdString());
  post([this, file, wanted](PromptLibrary& lib) -> Result<std::function<void()>> {
    TK_ASSIGN(std::vector<Prompt> prompts, lib.export_prompts(wanted));
    TK_TRY(write_prompt_file(file, prompts));
    return std::function<void()>([this, file, n = static_cast<int>(prompts.size())] {
      done(tr("Exported %n prompt(s) to %1", "", n).arg(q(file)));
    });
  });
}

// --- Variables and sending ------------------------------------------------------

QStringList PromptsController::variablesOf(const QString& body) const {
  auto vars = prompt_variables(body.toStdString());
  return vars.ok() ? tag_list(vars.value()) : QStringList{};
}

QVariantMap PromptsController::renderPreview(const QString& body, const QVariantMap& values,
                                             bool strict) const {
  const std::string name = nonNull(current_.value("name").toString()).toStdString();
  QStringList missing;
  for (const QString& v : variablesOf(body)) {
    if (values.value(v).toString().isEmpty()) missing << v;
  }
  auto text = render_prompt(body.toStdString(), name.empty() ? "prompt" : name, values_json(values),
                            !strict);
  if (!text.ok()) return {{"text", ""}, {"error", q(text.error().message)}, {"missing", missing}};
  return {{"text", q(text.value())}, {"error", ""}, {"missing", missing}};
}

bool PromptsController::sendToChat(const QString& body, const QVariantMap& values,
                                   const QString& target) {
  // Exactly the preview: a variable without a value prints as "".
  const QVariantMap r = renderPreview(body, values);
  if (!r["error"].toString().isEmpty()) {
    fail(r["error"].toString());
    return false;
  }
  if (const QString name = current_.value("name").toString(); !name.isEmpty()) {
    QSettings settings;
    settings.beginGroup(values_group(name));
    settings.remove("");
    for (auto it = values.begin(); it != values.end(); ++it)
      settings.setValue(it.key(), it.value());
  }
  emit sendRequested(r["text"].toString(), target);
  return true;
}

QVariantMap PromptsController::savedValues(const QString& name) const {
  QSettings settings;
  settings.beginGroup(values_group(name));
  QVariantMap values;
  for (const QString& key : settings.childKeys()) values[key] = settings.value(key).toString();
  return values;
}

}  // namespace tokamak
