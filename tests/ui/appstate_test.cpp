// The app's states around the history file and the model, through the real
// QML window: a corrupt database or one from a newer Tokamak (a dialog naming
// the file and the problem; the file untouched until the user agrees; then
// moved aside and a fresh history opened, the dialog saying where the old one
// went), the same history open twice (a banner, and nothing lost), export and
// import of conversations, model loading (progress, unload, a missing file and
// a corrupt GGUF told plainly) and the device choice.
#include <SQLiteCpp/SQLiteCpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtQml/QQmlExtensionPlugin>
#include <QtTest>
#include <filesystem>

#include "aidreams.h"
#include "chat_controller.h"
#include "device/device_choice.h"
#include "scratch_dir.h"
#include "store/conversation_export.h"
#include "store/conversation_store.h"
#include "store/database.h"
#include "store_worker.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

using namespace tokamak;
namespace fs = std::filesystem;

namespace {

// test::scratch_dir(name) (removed when the process exits), emptied.
QString fresh_dir(const QString& name) {
  const std::string dir = test::scratch_dir(name.toStdString());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return QString::fromStdString(dir);
}

QByteArray read_all(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void write_all(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
  f.write(bytes);
}

QStringList files_in(const QString& dir) {
  QStringList names;
  for (const auto& e : fs::directory_iterator(dir.toStdString()))
    names << QString::fromStdString(e.path().filename().string());
  names.sort();
  return names;
}

// One window over one controller, as main() makes them.
struct App {
  std::unique_ptr<ChatController> controller;
  std::unique_ptr<QQmlApplicationEngine> qml;
  QQuickWindow* window = nullptr;

  explicit App(const QString& db, const QString& page = "chat") {
    controller = std::make_unique<ChatController>(db);
    qml = std::make_unique<QQmlApplicationEngine>();
    qml->setInitialProperties(
        {{"controller", QVariant::fromValue(controller.get())}, {"initialPage", page}});
    qml->load(QUrl("qrc:/Tokamak/qml/Main.qml"));
    if (!qml->rootObjects().isEmpty())
      window = qobject_cast<QQuickWindow*>(qml->rootObjects().first());
  }
  ~App() {
    qml.reset();
    controller.reset();
  }
  QObject* find(const char* name) const { return window->findChild<QObject*>(name); }
  QString text(const char* name) const {
    QObject* o = find(name);
    return o ? o->property("text").toString() : QString("<no %1>").arg(name);
  }
  // A real mouse click at the middle of a visible item.
  bool click(const char* name) const {
    auto* item = qobject_cast<QQuickItem*>(find(name));
    if (!item || !item->isVisible()) return false;
    const QPointF centre = item->mapToScene(QPointF(item->width() / 2, item->height() / 2));
    QTest::mouseClick(window, Qt::LeftButton, {}, centre.toPoint());
    return true;
  }
  bool opened(const char* name) const {
    QObject* o = find(name);
    return o && o->property("opened").toBool();
  }
  StoreStatus* store() const { return controller->storeStatus(); }
  // With $TOKAMAK_UI_SHOTS set: a PNG of the window there (to look at).
  void shot(const char* name, bool settle = true) const {
    const QString dir = qEnvironmentVariable("TOKAMAK_UI_SHOTS");
    if (dir.isEmpty()) return;
    if (settle) QTest::qWait(300);  // let the popups finish opening
    window->grabWindow().save(dir + "/" + name + ".png");
  }
};

// A visible item named `name` whose text starts with `prefix`, searched in
// the visual tree (list delegates have no QObject parent to find them by).
bool visible_item_text_starts(QQuickItem* item, const QString& name, const QString& prefix) {
  if (item->objectName() == name && item->isVisible() &&
      item->property("text").toString().startsWith(prefix))
    return true;
  for (QQuickItem* child : item->childItems())
    if (visible_item_text_starts(child, name, prefix)) return true;
  return false;
}

// A database at the latest schema whose header claims `version`.
void make_database_claiming(const QString& path, int version) {
  {
    DatabaseOptions o;
    o.path = path.toStdString();
    auto db = Database::open(o);
    QVERIFY2(db.ok(), db.ok() ? "" : db.error().message.c_str());
  }
  SQLite::Database raw(path.toStdString(), SQLite::OPEN_READWRITE);
  raw.exec("PRAGMA user_version = " + std::to_string(version));
}

}  // namespace

class AppStateTest : public QObject {
  Q_OBJECT

  // Refused with `problem`, the dialog names the file and says why; agreeing
  // moves the file aside unchanged and opens a fresh history.
  void refusedThenFresh(const QString& dir, const QString& path, const char* problem,
                        const QString& words) {
    const QByteArray before = read_all(path);
    App app(path);
    QVERIFY(app.window);
    QTRY_COMPARE_WITH_TIMEOUT(app.store()->state(), QString("failed"), 10000);
    QCOMPARE(app.store()->problem(), QString(problem));
    QTRY_VERIFY(app.opened("storeProblemDialog"));
    const QString text = app.text("storeProblemText");
    QVERIFY2(text.contains(path), qPrintable(text));
    QVERIFY2(text.contains(words, Qt::CaseInsensitive), qPrintable(text));
    QCOMPARE(read_all(path), before);  // nothing written while the dialog is up
    app.shot(problem);
    QVERIFY(app.click("storeFreshButton"));
    QTRY_COMPARE_WITH_TIMEOUT(app.store()->state(), QString("ready"), 10000);
    const QString aside = app.store()->asidePath();
    QVERIFY2(aside.startsWith(path + "." + problem + "-"), qPrintable(aside));
    QCOMPARE(read_all(aside), before);
    QTRY_VERIFY(app.opened("storeMovedDialog"));
    QVERIFY2(app.text("storeMovedText").contains(aside), qPrintable(app.text("storeMovedText")));
    app.shot((std::string(problem) + "-moved").c_str());
    QCOMPARE(app.controller->storePath(), path);
    QTRY_COMPARE(app.controller->conversations()->rowCount(), 0);
    QVERIFY(files_in(dir).contains(QFileInfo(aside).fileName()));
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // settings: not the user's
  }

  void aCorruptDatabaseIsMovedAsideOnlyWhenTheUserAgrees() {
    const QString dir = fresh_dir("corrupt");
    const QString path = dir + "/tokamak.db";
    make_database_claiming(path, latest_schema_version());
    QByteArray bytes = read_all(path);
    for (qsizetype i = 4096; i < bytes.size(); ++i) bytes[i] = char(0x3C ^ (i & 0xff));
    write_all(path, bytes);
    refusedThenFresh(dir, path, "corrupt", "damaged");
  }

  void aNewerDatabaseIsMovedAsideOnlyWhenTheUserAgrees() {
    const QString dir = fresh_dir("newer");
    const QString path = dir + "/tokamak.db";
    make_database_claiming(path, latest_schema_version() + 3);
    refusedThenFresh(dir, path, "newer", "newer version of Tokamak");
  }

  // Closing the app at the dialog changes nothing on disk.
  void declinedTheFileStaysAsItWas() {
    const QString dir = fresh_dir("declined");
    const QString path = dir + "/tokamak.db";
    make_database_claiming(path, latest_schema_version() + 1);
    const QByteArray before = read_all(path);
    const QStringList names = files_in(dir);
    {
      App app(path);
      QVERIFY(app.window);
      QTRY_COMPARE_WITH_TIMEOUT(app.store()->state(), QString("failed"), 10000);
      QTRY_VERIFY(app.opened("storeProblemDialog"));
      QVERIFY(app.find("storeQuitButton"));
    }
    QCOMPARE(read_all(path), before);
    QCOMPARE(files_in(dir), names);
  }

  // A writer process killed mid-answer: the next start says so and shows the
  // saved text marked interrupted.
  void aKilledWritersAnswerIsShownInterrupted() {
    const QString path = fresh_dir("killed") + "/tokamak.db";
    int fds[2];
    QCOMPARE(pipe(fds), 0);
    const pid_t pid = fork();
    QVERIFY(pid >= 0);
    if (pid == 0) {  // the child: SQLite only, no Qt
      close(fds[0]);
      DatabaseOptions o;
      o.path = path.toStdString();
      auto s = ConversationStore::open(o);
      if (!s.ok()) _exit(3);
      const int64_t conv = (*s)->create_conversation("killed").value();
      const int64_t q = (*s)->add_message(conv, 0, MessageRole::User, "tell me").value();
      const int64_t a = (*s)->begin_answer(conv, q).value();
      if (!(*s)->append_answer(a, "Once upon a ").ok()) _exit(4);
      if (!(*s)->append_answer(a, "time there").ok()) _exit(5);
      if (write(fds[1], &a, sizeof a) != sizeof a) _exit(6);
      pause();
      _exit(7);
    }
    close(fds[1]);
    int64_t answer = 0;
    const bool started = read(fds[0], &answer, sizeof answer) == sizeof answer;
    kill(pid, SIGKILL);
    int wstatus = 0;
    QCOMPARE(waitpid(pid, &wstatus, 0), pid);
    close(fds[0]);
    QVERIFY2(started, "the writer process could not start");

    App app(path);
    QVERIFY(app.window);
    QTRY_VERIFY_WITH_TIMEOUT(app.controller->errorMessage().contains("interrupted"), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->conversations()->rowCount(), 1, 5000);
    app.controller->selectConversation(
        app.controller->conversations()->get(0)["conversationId"].toLongLong());
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->messages()->rowCount(), 2, 5000);
    const QVariantMap row = app.controller->messages()->get(1);
    QCOMPARE(row["messageId"].toLongLong(), qint64(answer));
    QCOMPARE(row["status"].toString(), QString("interrupted"));
    QCOMPARE(row["content"].toString(), QString("Once upon a time there"));
    QTRY_VERIFY(visible_item_text_starts(app.window->contentItem(), "statusNote", "Interrupted"));
    app.shot("interrupted");
  }

  // A second window on the same history says so, and both save.
  void aSecondInstanceSaysTheHistoryIsShared() {
    const QString path = fresh_dir("shared") + "/tokamak.db";
    App first(path);
    QVERIFY(first.window);
    QTRY_COMPARE_WITH_TIMEOUT(first.store()->state(), QString("ready"), 10000);
    QCOMPARE(first.store()->otherWriterPid(), 0);
    App second(path);
    QVERIFY(second.window);
    QTRY_COMPARE_WITH_TIMEOUT(second.store()->state(), QString("ready"), 10000);
    QCOMPARE(second.store()->otherWriterPid(), qint64(getpid()));
    auto* banner = qobject_cast<QQuickItem*>(second.find("sharedHistoryBanner"));
    QVERIFY(banner && banner->isVisible());
    QVERIFY(second.text("sharedHistoryText").contains(QString::number(getpid())));
    second.shot("shared");
    auto* none = qobject_cast<QQuickItem*>(first.find("sharedHistoryBanner"));
    QVERIFY(none && !none->isVisible());
    first.controller->store()->post(
        [](ConversationStore& s) { (void)s.create_conversation("one"); });
    second.controller->store()->post(
        [](ConversationStore& s) { (void)s.create_conversation("two"); });
    first.controller->store()->drain();
    second.controller->store()->drain();
    DatabaseOptions o;
    o.path = path.toStdString();
    auto reader = ConversationStore::open(o, StoreRole::Reader);
    QVERIFY(reader.ok());
    QCOMPARE((*reader)->list_conversations().value().size(), size_t{2});
  }

  // Export (branch and tree, Markdown and JSONL) writes exactly what the
  // store's exporters give, with the records' parameters and speeds; the
  // JSONL comes back as a new conversation, shown in the sidebar.
  void exportAndImport() {
    const QString dir = fresh_dir("transfer");
    const QString path = dir + "/tokamak.db";
    qint64 conv = 0;
    {
      DatabaseOptions o;
      o.path = path.toStdString();
      auto s = ConversationStore::open(o);
      QVERIFY(s.ok());
      conv = (*s)->create_conversation("Tides: why?").value();
      const int64_t q =
          (*s)->add_message(conv, 0, MessageRole::User, "Why are there tides?").value();
      GenerationRecord r;
      r.model_path = "/models/m.gguf";
      r.sampling_json = R"({"temperature":0.7,"top_p":0.9,"max_tokens":64})";
      r.seed = 1234;
      r.device = "cpu";
      r.num_generated_tokens = 12;
      r.ttft_ms = 41.5;
      r.prefill_tokens_per_second = 812.25;
      r.decode_tokens_per_second = 37.75;
      r.finish_reason = "stop";
      for (const char* text : {"The Moon pulls.", "Gravity of the Moon and Sun."}) {
        const int64_t a = (*s)->begin_answer(conv, q).value();
        QVERIFY((*s)->finish_answer(a, text, r).ok());
      }
    }
    App app(path);
    QVERIFY(app.window);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->conversations()->rowCount(), 1, 10000);
    app.controller->selectConversation(conv);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->messages()->rowCount(), 2, 5000);
    auto* button = qobject_cast<QQuickItem*>(app.find("exportButton"));
    QTRY_VERIFY(button && button->isEnabled());
    QVERIFY(app.click("exportButton"));
    QTRY_VERIFY(app.opened("exportMenu"));
    app.shot("export-menu");
    QTest::keyClick(app.window, Qt::Key_Escape);

    ConversationTransfer* t = app.controller->transfer();
    QCOMPARE(t->suggestedFileName("Tides: why?", "jsonl", "tree"), QString("Tides why-tree.jsonl"));
    QSignalSpy exported(t, &ConversationTransfer::exported);
    const QString tree = dir + "/tree.jsonl", branch = dir + "/branch.md";
    t->exportConversation(conv, QUrl::fromLocalFile(tree).toString(), "jsonl", "tree");
    t->exportConversation(conv, branch, "markdown", "branch");
    QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 2, 5000);
    QVERIFY(t->lastResult().contains(branch));
    {
      DatabaseOptions o;
      o.path = path.toStdString();
      auto s = ConversationStore::open(o, StoreRole::Reader);
      QVERIFY(s.ok());
      QCOMPARE(read_all(tree).toStdString(),
               export_conversation_jsonl(**s, conv, ExportScope::WholeTree).value());
      QCOMPARE(read_all(branch).toStdString(),
               export_conversation_markdown(**s, conv, ExportScope::CurrentBranch).value());
    }
    // Both answers (two branches) with their parameters and speeds.
    const QList<QByteArray> lines = read_all(tree).trimmed().split('\n');
    QCOMPARE(lines.size(), 4);
    const QJsonObject gen = QJsonDocument::fromJson(lines[3]).object()["generation"].toObject();
    QCOMPARE(gen["decode_tokens_per_second"].toDouble(), 37.75);
    QCOMPARE(gen["seed"].toInteger(), 1234);
    QCOMPARE(gen["sampling"].toObject()["temperature"].toDouble(), 0.7);
    QVERIFY(read_all(branch).contains("Gravity of the Moon and Sun."));
    QVERIFY(!read_all(branch).contains("The Moon pulls."));

    QSignalSpy imported(t, &ConversationTransfer::imported);
    t->importJsonl(QUrl::fromLocalFile(tree).toString());
    QTRY_COMPARE_WITH_TIMEOUT(imported.count(), 1, 5000);
    const qint64 copy = imported[0][0].toLongLong();
    QVERIFY(copy != conv);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->conversations()->rowCount(), 2, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->currentConversation(), copy, 5000);
    QTRY_COMPARE(app.controller->messages()->rowCount(), 2);
    QCOMPARE(app.controller->messages()->get(1)["content"].toString(),
             QString("Gravity of the Moon and Sun."));
    QCOMPARE(app.controller->messages()->get(1)["numSiblings"].toInt(), 2);
    QCOMPARE(app.controller->messages()->get(1)["decodeTps"].toDouble(), 37.75);

    // A bad file: nothing imported, the error names the file and the line.
    QSignalSpy failed(t, &ConversationTransfer::failed);
    const QString bad = dir + "/bad.jsonl";
    write_all(bad, lines[0] + "\n{\"type\":\"message\",\"id\":1,\"parent\":7}\n");
    t->importJsonl(bad);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
    QVERIFY2(app.controller->errorMessage().contains(bad),
             qPrintable(app.controller->errorMessage()));
    QVERIFY2(app.controller->errorMessage().contains("line 2"),
             qPrintable(app.controller->errorMessage()));
    app.controller->store()->drain();
    QCOMPARE(app.controller->conversations()->rowCount(), 2);
  }

  // A missing file and a corrupt GGUF are told plainly on the Models page;
  // a real model loads with progress and unloads.
  void modelLoadingProgressErrorsAndUnload() {
    const QString dir = fresh_dir("models");
    App app(dir + "/tokamak.db", "models");
    QVERIFY(app.window);
    const QString missing = dir + "/no-such-model.gguf";
    app.controller->loadModel(missing);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("error"), 10000);
    QVERIFY2(app.controller->modelError().contains(missing),
             qPrintable(app.controller->modelError()));
    QVERIFY(app.controller->modelError().contains("No such file"));
    QTRY_COMPARE(app.text("modelErrorText"), app.controller->modelError());
    app.shot("model-missing");

    // The real model's header with its data cut off.
    const QString corrupt = dir + "/cut.gguf";
    write_all(corrupt, read_all(QString::fromStdString(test::kAidreamsGguf)).left(20000));
    app.controller->loadModel(corrupt);
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("error"), 10000);
    QVERIFY2(app.controller->modelError().contains(corrupt),
             qPrintable(app.controller->modelError()));
    QVERIFY2(app.controller->modelError().contains("20000"),
             qPrintable(app.controller->modelError()));
    app.shot("model-corrupt");

    QList<double> fractions;
    QStringList stages;
    connect(app.controller.get(), &ChatController::loadProgressChanged, this, [&] {
      fractions << app.controller->loadProgress();
      stages << app.controller->loadStage();
      if (stages.last().startsWith("Reading the weights") && fractions.last() < 0.5)
        app.shot("model-loading", false);
    });
    app.controller->loadModel(QString::fromStdString(test::kAidreamsGguf));
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("ready"), 30000);
    QVERIFY(fractions.size() >= 4);
    for (int i = 1; i < fractions.size(); ++i) QVERIFY(fractions[i] >= fractions[i - 1]);
    QVERIFY(fractions.last() >= 0.9);
    QVERIFY(stages.filter("Reading the weights").size() >= 1);
    const DeviceDecision expected = decide_device(app.controller->devicePreference().toStdString());
    QCOMPARE(app.controller->modelInfo()["device"].toString(),
             QString::fromStdString(expected.device));
    QCOMPARE(app.text("loadedDevice"), QString::fromStdString(expected.reason));
    app.shot("model-loaded");

    // A failed load leaves the loaded model working, and says so.
    const QVariantMap loaded = app.controller->modelInfo();
    app.controller->loadModel(corrupt);
    QTRY_VERIFY_WITH_TIMEOUT(!app.controller->modelError().isEmpty(), 10000);
    QCOMPARE(app.controller->modelState(), QString("ready"));
    QCOMPARE(app.controller->modelPath(), QString::fromStdString(test::kAidreamsGguf));
    QCOMPARE(app.controller->modelInfo(), loaded);
    QVERIFY(app.controller->modelError().contains(corrupt));
    QTRY_VERIFY(app.text("modelErrorText").contains("this one stays loaded"));
    QVERIFY(app.text("modelErrorText").contains(corrupt));
    app.shot("model-failed-kept");
    QVERIFY(app.click("clearModelError"));
    QTRY_VERIFY(app.controller->modelError().isEmpty());
    QCOMPARE(app.controller->modelState(), QString("ready"));

    // Cancelling a load keeps the model too (whichever of the two is loaded
    // when the cancel lands, a model stays ready).
    app.controller->loadModel(QString::fromStdString(test::kAidreamsGguf));
    QCOMPARE(app.controller->modelState(), QString("loading"));
    app.controller->cancelLoad();  // what "Cancel loading" calls while loading
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("ready"), 5000);
    QCOMPARE(app.controller->modelPath(), QString::fromStdString(test::kAidreamsGguf));
    QVERIFY(!app.controller->modelInfo().isEmpty());

    QVERIFY(app.click("unloadButton"));
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("none"), 5000);
    QVERIFY(app.controller->modelInfo().isEmpty());
  }

  // A load overtaken by another one never shows as loaded.
  void anOvertakenLoadIsNotShown() {
    const QString dir = fresh_dir("overtaken");
    App app(dir + "/tokamak.db");
    QVERIFY(app.window);
    QStringList states;
    connect(app.controller.get(), &ChatController::modelChanged, this,
            [&] { states << app.controller->modelState(); });
    app.controller->loadModel(QString::fromStdString(test::kAidreamsGguf));
    app.controller->loadModel(dir + "/missing.gguf");
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("error"), 10000);
    // A later load of the real model: the bridge has worked through both.
    app.controller->loadModel(QString::fromStdString(test::kAidreamsGguf));
    QTRY_COMPARE_WITH_TIMEOUT(app.controller->modelState(), QString("ready"), 30000);
    QCOMPARE(states, (QStringList{"loading", "loading", "error", "loading", "ready"}));
  }

  void theDeviceChoiceSaysWhy() {
    QCOMPARE(decide_device("cpu", true, 2).device, std::string("cpu"));
    const DeviceDecision no_build = decide_device("cuda", false, 0);
    QCOMPARE(no_build.device, std::string("cpu"));
    QVERIFY(!no_build.as_asked);
    QVERIFY(QString::fromStdString(no_build.reason).contains("no CUDA backend"));
    const DeviceDecision no_gpu = decide_device("auto", true, 0);
    QCOMPARE(no_gpu.device, std::string("cpu"));
    QVERIFY(no_gpu.as_asked);
    QVERIFY(QString::fromStdString(no_gpu.reason).contains("no CUDA device"));
    const DeviceDecision gpu = decide_device("auto", true, 1);
    QCOMPARE(gpu.device, std::string("cuda"));
    QCOMPARE(decide_device("cuda", true, 3).reason, std::string("CUDA device 0 (of 3)"));
    // This build and machine, as the Models page shows it.
    const QString dir = fresh_dir("device");
    App app(dir + "/tokamak.db");
    app.controller->setDevicePreference("cuda");
    const QVariantMap choice = app.controller->deviceChoice();
    QCOMPARE(choice["builtWithCuda"].toBool(), built_with_cuda());
    if (!built_with_cuda() || num_cuda_devices() == 0) {
      QCOMPARE(choice["device"].toString(), QString("cpu"));
      QVERIFY(!choice["asAsked"].toBool());
      QVERIFY(!choice["reason"].toString().isEmpty());
    } else {
      QCOMPARE(choice["device"].toString(), QString("cuda"));
    }
    app.controller->setDevicePreference("auto");
  }
};

QTEST_MAIN(AppStateTest)
#include "appstate_test.moc"
