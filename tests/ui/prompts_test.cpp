// The Prompts page: PromptsController over a scratch database (versions,
// restore, search by text and tag, variables and the rendered preview,
// import/export, errors shown), then the page itself through the real QML:
// create a prompt, edit it (version 2), restore version 1 (version 3), fill
// its variables, see the preview, and send it into the chat composer.
#include <unistd.h>

#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtQml/QQmlExtensionPlugin>
#include <QtTest>
#include <filesystem>
#include <fstream>

#include "chat_controller.h"
#include "prompts_controller.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

using namespace tokamak;

namespace {

std::filesystem::path scratch(const std::string& name) {
  const auto dir =
      std::filesystem::path(TOKAMAK_TEST_TMP) / ("ui-prompts-" + std::to_string(getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// An item by objectName among the visual descendants (Repeater delegates
// have no QObject parent, so findChild misses them).
QQuickItem* find_item(QQuickItem* root, const QString& name) {
  for (QQuickItem* child : root->childItems()) {
    if (child->objectName() == name) return child;
    if (QQuickItem* found = find_item(child, name)) return found;
  }
  return nullptr;
}

QString db_in(const std::string& name) {
  return QString::fromStdString((scratch(name) / "tokamak.db").string());
}

const char* kSummaryV1 = "Summarise {{ text }} in {{ n }} lines.";
const char* kSummaryV2 = "Summarise this for {{ reader | default('a colleague') }}:\n{{ text }}";

}  // namespace

class PromptsTest : public QObject {
  Q_OBJECT

  // Runs `action` and waits for the controller's answer; false on an error.
  template <class F>
  bool act(PromptsController& p, F action) {
    QSignalSpy changed(&p, &PromptsController::changed);
    QSignalSpy status(&p, &PromptsController::statusChanged);
    action();
    const bool ok =
        QTest::qWaitFor([&] { return changed.count() > 0 || p.status() == "error"; }, 10000);
    if (!ok || p.status() == "error") qWarning() << "prompts:" << p.errorString();
    return ok && p.status() != "error";
  }

  bool waitForRows(PromptsController& p, int n) {
    return QTest::qWaitFor([&] { return p.prompts()->rowCount() == n && p.status() == "idle"; },
                           10000);
  }

 private slots:
  void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

  void versionsGrowAndRestoreCopies() {
    ChatController chat(db_in("versions"));
    PromptsController p;
    p.setChat(&chat);
    QVERIFY(act(p, [&] { p.save("summary", kSummaryV1, "for e-mails", "writing, email "); }));
    QCOMPARE(p.current()["version"].toInt(), 1);
    QCOMPARE(p.current()["tags"].toStringList(), QStringList({"email", "writing"}));
    QVERIFY(act(p, [&] { p.save("summary", kSummaryV2, "for e-mails", "writing, email"); }));
    QCOMPARE(p.current()["version"].toInt(), 2);
    QVERIFY(act(p, [&] { p.restore(1); }));
    QCOMPARE(p.current()["version"].toInt(), 3);
    QCOMPARE(p.current()["restoredFrom"].toInt(), 1);
    QCOMPARE(p.current()["body"].toString(), QString(kSummaryV1));
    QVERIFY(p.current()["latest"].toBool());
    // The history, newest first; an older version is shown as it was.
    QCOMPARE(p.versions()->rowCount(), 3);
    QCOMPARE(p.versions()->get(0)["version"].toInt(), 3);
    QCOMPARE(p.versions()->get(2)["version"].toInt(), 1);
    p.viewVersion(2);
    QCOMPARE(p.current()["body"].toString(), QString(kSummaryV2));
    QVERIFY(!p.current()["latest"].toBool());
    // Another controller on the same file sees the same history.
    PromptsController again;
    again.setChat(&chat);
    QVERIFY(waitForRows(again, 1));
    QCOMPARE(again.prompts()->get(0)["version"].toInt(), 3);
    QCOMPARE(again.prompts()->get(0)["firstLine"].toString(),
             QString("Summarise {{ text }} in {{ n }} lines."));
  }

  void searchMatchesTextAndTags() {
    ChatController chat(db_in("search"));
    PromptsController p;
    p.setChat(&chat);
    QVERIFY(act(p, [&] { p.save("summary", kSummaryV1, "", "writing"); }));
    QVERIFY(
        act(p, [&] { p.save("review", "Review this diff:\n{{ diff }}", "catches bugs", "code"); }));
    QVERIFY(act(p, [&] { p.save("haiku", "A haiku about {{ topic }}", "", "writing, fun"); }));
    QVERIFY(waitForRows(p, 3));
    QCOMPARE(p.allTags(), QStringList({"code", "fun", "writing"}));
    p.setFilter("", "writing");
    QVERIFY(waitForRows(p, 2));
    QCOMPARE(p.prompts()->get(0)["name"].toString(), QString("haiku"));
    p.setFilter("BUGS", "");  // notes, any case
    QVERIFY(waitForRows(p, 1));
    QCOMPARE(p.prompts()->get(0)["name"].toString(), QString("review"));
    p.setFilter("diff", "writing");  // text and tag together: none
    QVERIFY(waitForRows(p, 0));
    QCOMPARE(p.numPrompts(), 3);
  }

  void variablesAndPreview() {
    PromptsController p;
    QCOMPARE(p.variablesOf(kSummaryV2), QStringList({"reader", "text"}));
    // Jinja semantics (as jinja2 renders it): default() for an undefined
    // variable, filters, loops.
    QVariantMap r = p.renderPreview(kSummaryV2, {{"text", "The build is green."}});
    QCOMPARE(r["error"].toString(), QString());
    QCOMPARE(r["text"].toString(), QString("Summarise this for a colleague:\nThe build is green."));
    QCOMPARE(r["missing"].toStringList(), QStringList({"reader"}));
    r = p.renderPreview("{% for w in words.split(',') %}[{{ w | trim | upper }}]{% endfor %}",
                        {{"words", "a, b ,c"}});
    QCOMPARE(r["text"].toString(), QString("[A][B][C]"));
    // Strict: a variable without a value is named.
    r = p.renderPreview(kSummaryV1, {{"text", "x"}}, true);
    QVERIFY2(r["error"].toString().contains("no value for variable n"),
             qPrintable(r["error"].toString()));
    // A broken template: located message, no variables.
    r = p.renderPreview("Hello {{ name", {});
    QVERIFY2(r["error"].toString().startsWith("prompt:1:"), qPrintable(r["error"].toString()));
    QCOMPARE(p.variablesOf("Hello {{ name"), QStringList());
  }

  void sendToChatRendersExactlyThePreview() {
    PromptsController p;
    QSignalSpy sent(&p, &PromptsController::sendRequested);
    QVERIFY(p.sendToChat(kSummaryV1, {{"text", "the notes"}}, "new"));
    QCOMPARE(sent.count(), 1);
    QCOMPARE(sent[0][0].toString(), QString("Summarise the notes in  lines."));
    QCOMPARE(sent[0][1].toString(), QString("new"));
    // An empty field is no value: default() applies, as in the preview.
    QVERIFY(p.sendToChat(kSummaryV2, {{"text", "t"}, {"reader", ""}}, "system"));
    QCOMPARE(sent[1][0].toString(), QString("Summarise this for a colleague:\nt"));
    QCOMPARE(sent[1][1].toString(), QString("system"));
    QVERIFY(!p.sendToChat("{% if %}", {}, "composer"));
    QCOMPARE(sent.count(), 2);
    QCOMPARE(p.status(), QString("error"));
    QVERIFY(!p.errorString().isEmpty());
  }

  void importExportRoundTrip() {
    const auto dir = scratch("files");
    ChatController chat(db_in("export"));
    PromptsController p;
    p.setChat(&chat);
    QVERIFY(act(p, [&] { p.save("summary", kSummaryV1, "v1 notes", "writing"); }));
    QVERIFY(act(p, [&] { p.save("summary", kSummaryV2, "v2 notes", "writing"); }));
    const QString json = QString::fromStdString((dir / "all.json").string());
    QVERIFY(act(p, [&] { p.exportFile(QUrl::fromLocalFile(json).toString(), {}); }));
    QVERIFY(std::filesystem::file_size(json.toStdString()) > 0);

    // A hand-written Markdown prompt file (docs/prompt-library.md).
    const auto md = dir / "greet.md";
    std::ofstream(md) << "---\nname: greet\ntags: short, social\n---\nHello {{ who }}!";
    ChatController chat2(db_in("import"));
    PromptsController q;
    q.setChat(&chat2);
    QVERIFY(act(q, [&] { q.importFile(json, "fail"); }));
    QVERIFY(act(q, [&] { q.importFile(QString::fromStdString(md.string()), "fail"); }));
    QVERIFY(waitForRows(q, 2));
    q.select("summary");
    QTRY_COMPARE(q.current()["name"].toString(), QString("summary"));
    QCOMPARE(q.versions()->rowCount(), 2);
    QCOMPARE(q.current()["body"].toString(), QString(kSummaryV2));
    QCOMPARE(q.current()["notes"].toString(), QString("v2 notes"));
    q.select("greet");
    QTRY_COMPARE(q.current()["name"].toString(), QString("greet"));
    QCOMPARE(q.current()["tags"].toStringList(), QStringList({"short", "social"}));
    QCOMPARE(q.current()["body"].toString(), QString("Hello {{ who }}!"));
    // The same file again: refused whole (the names exist), nothing changes.
    QVERIFY(!act(q, [&] { q.importFile(json, "fail"); }));
    QVERIFY(q.errorString().contains("summary"));
    q.clearError();
    QVERIFY(act(q, [&] { q.importFile(json, "add"); }));
    q.select("summary");
    QTRY_COMPARE(q.versions()->rowCount(), 4);
  }

  void errorsAreShown() {
    ChatController chat(db_in("errors"));
    PromptsController p;
    p.setChat(&chat);
    QVERIFY(act(p, [&] { p.save("a", "x", "", ""); }));
    QVERIFY(act(p, [&] { p.save("b", "y", "", ""); }));
    QVERIFY(!act(p, [&] { p.rename("a", "b"); }));
    QVERIFY2(p.errorString().contains("b"), qPrintable(p.errorString()));
    p.clearError();
    QVERIFY(!act(p, [&] { p.save(" ", "z", "", ""); }));  // bad name
    p.clearError();
    QVERIFY(!act(p, [&] { p.importFile("/nonexistent/prompts.json", "fail"); }));
    QVERIFY2(p.errorString().contains("prompts.json"), qPrintable(p.errorString()));
  }

  // The page itself: create, edit, restore, fill, preview, send.
  void pageFlow() {
    ChatController chat(db_in("page"));
    QTRY_VERIFY_WITH_TIMEOUT(!chat.storePath().isEmpty(), 10000);
    QQmlApplicationEngine qml;
    qml.setInitialProperties(
        {{"controller", QVariant::fromValue(&chat)}, {"initialPage", QString("prompts")}});
    // TOKAMAK_QML_DIR: the pages from a source folder, as the app allows.
    const QString qml_dir = qEnvironmentVariable("TOKAMAK_QML_DIR");
    qml.load(qml_dir.isEmpty() ? QUrl("qrc:/Tokamak/qml/Main.qml")
                               : QUrl::fromLocalFile(qml_dir + "/Main.qml"));
    QVERIFY(!qml.rootObjects().isEmpty());
    auto* window = qobject_cast<QQuickWindow*>(qml.rootObjects().first());
    QVERIFY(window);
    QVERIFY(QTest::qWaitForWindowExposed(window));
    auto* p = window->property("prompts").value<PromptsController*>();
    QVERIFY(p);
    const auto item = [&](const char* name) { return find_item(window->contentItem(), name); };
    // A click on a visible, enabled button (its clicked() signal: the
    // offscreen screen, 800x800, is smaller than the window).
    const auto click = [&](QQuickItem* it) {
      QVERIFY(it && it->isVisible() && it->isEnabled());
      QVERIFY(QMetaObject::invokeMethod(it, "clicked"));
    };

    click(item("newPromptButton"));
    QTRY_VERIFY(item("promptName")->isVisible());
    item("promptName")->setProperty("text", "summary");
    item("promptBody")->setProperty("text", kSummaryV1);
    item("promptTags")->setProperty("text", "writing");
    QVERIFY(act(*p, [&] { click(item("savePromptButton")); }));
    QCOMPARE(p->current()["version"].toInt(), 1);

    item("promptBody")->setProperty("text", kSummaryV2);
    QVERIFY(act(*p, [&] { click(item("savePromptButton")); }));
    QCOMPARE(p->current()["version"].toInt(), 2);
    QCOMPARE(p->current()["body"].toString(), QString(kSummaryV2));

    // History: version 1 is the second row; its Restore makes version 3.
    auto* history = item("historyList");
    QTRY_COMPARE(history->property("count").toInt(), 2);
    QQuickItem* v1 = nullptr;
    QMetaObject::invokeMethod(history, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, v1), Q_ARG(int, 1));
    click(v1);
    QTRY_COMPARE(p->current()["version"].toInt(), 1);
    QCOMPARE(item("promptBody")->property("readOnly").toBool(), true);
    QVERIFY(act(*p, [&] { click(item("restoreButton")); }));
    QCOMPARE(p->current()["version"].toInt(), 3);
    QCOMPARE(item("promptBody")->property("text").toString(), QString(kSummaryV1));
    QCOMPARE(item("promptBody")->property("readOnly").toBool(), false);

    // Variables: one field each; the preview follows them.
    QTRY_VERIFY(item("variable_text") && item("variable_n"));
    item("variable_text")->setProperty("text", "the release notes");
    item("variable_n")->setProperty("text", "3");
    QTRY_COMPARE(item("promptPreview")->property("text").toString(),
                 QString("Summarise the release notes in 3 lines."));

    // Send to chat: the chat page shows it in the composer.
    click(item("sendComposerButton"));
    QTRY_COMPARE(item("composerInput")->property("text").toString(),
                 QString("Summarise the release notes in 3 lines."));
    QTRY_VERIFY(item("composerInput")->isVisible());
    QVERIFY(!item("promptBody")->isVisible());
    // The values are kept for the next visit.
    const QVariantMap saved = p->savedValues("summary");
    QCOMPARE(saved["text"].toString(), QString("the release notes"));
    QCOMPARE(saved["n"].toString(), QString("3"));
    // Selected again, the prompt shows them in its fields.
    item("variable_text")->setProperty("text", "");
    p->clearSelection();
    p->select("summary");
    const auto text_of = [&](const char* name) {
      QQuickItem* it = item(name);  // null while the fields are made again
      return it ? it->property("text").toString() : QString();
    };
    QTRY_COMPARE(text_of("variable_text"), QString("the release notes"));
    QCOMPARE(text_of("variable_n"), QString("3"));

    // As the system prompt: the conversation's settings take it.
    QVERIFY(QMetaObject::invokeMethod(window, "showPage", Q_ARG(QVariant, "prompts")));
    QTRY_VERIFY(item("sendSystemButton") && item("sendSystemButton")->isVisible());
    click(item("sendSystemButton"));
    QTRY_COMPARE(chat.settings()["systemPrompt"].toString(),
                 QString("Summarise the release notes in 3 lines."));
    QTRY_VERIFY(item("composerInput")->isVisible());
  }
};

QTEST_MAIN(PromptsTest)
#include "prompts_test.moc"
