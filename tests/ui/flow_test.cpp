// The chat flows through the real QML pages with a tiny real model
// (aidreams260K): send with Enter and see the answer stream into the view,
// stop, regenerate makes a branch (< 2/2 >), edit-and-resend, search finds an
// old message, and after a restart the history is there.
#include <unistd.h>

#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QtQml/QQmlExtensionPlugin>
#include <QtTest>
#include <filesystem>

#include "chat_controller.h"
#include "store_worker.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

using namespace tokamak;

namespace {

const QString kModel =
    QString(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf";

QString scratch_db() {
  const auto dir =
      std::filesystem::path(TOKAMAK_TEST_TMP) / ("ui-flow-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return QString::fromStdString((dir / "tokamak.db").string());
}

QVariantMap row(ChatController& c, int i) { return c.messages()->get(i); }

void type_text(QWindow* window, const char* text) {
  for (const char* p = text; *p; ++p) QTest::keyClick(window, *p);
}

}  // namespace

class FlowTest : public QObject {
  Q_OBJECT

  QString db_;
  std::unique_ptr<ChatController> c_;
  std::unique_ptr<QQmlApplicationEngine> qml_;
  QQuickWindow* window_ = nullptr;

  void start() {
    c_ = std::make_unique<ChatController>(db_);
    QTRY_VERIFY2_WITH_TIMEOUT(!c_->storePath().isEmpty(), qPrintable(c_->errorMessage()), 10000);
    qml_ = std::make_unique<QQmlApplicationEngine>();
    qml_->setInitialProperties({{"controller", QVariant::fromValue(c_.get())}});
    qml_->load(QUrl("qrc:/Tokamak/qml/Main.qml"));
    QVERIFY(!qml_->rootObjects().isEmpty());
    window_ = qobject_cast<QQuickWindow*>(qml_->rootObjects().first());
    QVERIFY(window_);
    QVERIFY(QTest::qWaitForWindowExposed(window_));
    c_->loadModel(kModel);
    QTRY_COMPARE_WITH_TIMEOUT(c_->modelState(), QString("ready"), 20000);
  }

  void stopApp() {
    qml_.reset();
    c_.reset();
  }

  template <class T = QQuickItem>
  T* item(const char* name) {
    return window_->findChild<T*>(name);
  }

  // Runs `action` (which starts a generation) and waits until it ended and
  // the branch was reloaded with its saved record; returns the end reason.
  template <class F>
  QString runAndWait(F action) {
    QSignalSpy ended(c_.get(), &ChatController::generationEnded);
    QSignalSpy loaded(c_.get(), &ChatController::branchLoaded);
    action();
    if (!QTest::qWaitFor([&] { return ended.count() > 0; }, 30000)) return "timeout";
    const int loads = loaded.count();
    QTest::qWaitFor([&] { return loaded.count() > loads; }, 5000);
    const QString reason = ended[0][0].toString();
    if (reason == "error") qWarning() << "generation failed:" << c_->errorMessage();
    return reason;
  }

 private slots:
  void initTestCase() {
    db_ = scratch_db();
    start();
  }
  void cleanupTestCase() { stopApp(); }

  void sendStreamsTheAnswer() {
    c_->applySettings({{"maxTokens", 48}});
    auto* input = item("composerInput");
    QVERIFY(input);
    input->forceActiveFocus();
    type_text(window_, "Once upon a time");
    QTest::keyClick(window_, Qt::Key_Return, Qt::ShiftModifier);  // a new line, not a send
    QVERIFY(!c_->generating());
    type_text(window_, "there was");
    QSignalSpy changed(c_->messages(), &QAbstractItemModel::dataChanged);
    const QString reason = runAndWait([&] { QTest::keyClick(window_, Qt::Key_Return); });
    QVERIFY2(reason == "length" || reason == "eos", qPrintable(reason));
    // The answer's text reached the view before the end (streamed).
    int content_updates = 0;
    for (const auto& args : changed) {
      if (args[2].value<QList<int>>().contains(Qt::UserRole + 2)) ++content_updates;
    }
    QVERIFY(content_updates >= 1);
    QCOMPARE(c_->messages()->rowCount(), 2);
    QCOMPARE(row(*c_, 0)["content"].toString(), QString("Once upon a time\nthere was"));
    QCOMPARE(row(*c_, 1)["role"].toString(), QString("assistant"));
    QVERIFY(!row(*c_, 1)["content"].toString().isEmpty());
    QCOMPARE(row(*c_, 1)["status"].toString(), QString("complete"));
    QVERIFY(row(*c_, 1)["hasRecord"].toBool());
    QVERIFY(row(*c_, 1)["numTokens"].toInt() > 0);
    QVERIFY(row(*c_, 1)["ttftMs"].toDouble() > 0);
    // The view shows both messages; the sidebar lists the conversation.
    QTRY_COMPARE(item<QQuickItem>("chatView")->property("count").toInt(), 2);
    QTRY_COMPARE(c_->conversations()->rowCount(), 1);
  }

  void stopEndsTheAnswer() {
    c_->applySettings({{"maxTokens", 300}, {"temperature", 0.9}});
    QSignalSpy tokens(c_->messages(), &QAbstractItemModel::dataChanged);
    const QString reason = runAndWait([&] {
      c_->send("The little dog");
      QTRY_VERIFY_WITH_TIMEOUT(c_->generating(), 10000);
      QTRY_VERIFY_WITH_TIMEOUT(tokens.count() > 0, 10000);  // streaming has begun
      auto* stop = item("stopButton");
      QVERIFY(stop);
      QMetaObject::invokeMethod(stop, "clicked");
    });
    QCOMPARE(reason, QString("cancelled"));
    QCOMPARE(c_->messages()->rowCount(), 4);
    QCOMPARE(row(*c_, 3)["finishReason"].toString(), QString("cancelled"));
    QVERIFY(row(*c_, 3)["numTokens"].toInt() < 400);
  }

  void regenerateMakesABranch() {
    const qint64 answer = row(*c_, 3)["messageId"].toLongLong();
    c_->applySettings({{"maxTokens", 24}});
    const QString reason = runAndWait([&] { c_->regenerate(answer); });
    QVERIFY2(reason == "length" || reason == "eos", qPrintable(reason));
    QCOMPARE(c_->messages()->rowCount(), 4);
    QVERIFY(row(*c_, 3)["messageId"].toLongLong() != answer);
    QCOMPARE(row(*c_, 3)["numSiblings"].toInt(), 2);
    QCOMPARE(row(*c_, 3)["siblingIndex"].toInt(), 1);
    // < 1/2 : back to the stopped answer.
    QSignalSpy loaded(c_.get(), &ChatController::branchLoaded);
    c_->switchBranch(row(*c_, 3)["messageId"].toLongLong(), -1);
    QVERIFY(loaded.wait(5000));
    QCOMPARE(row(*c_, 3)["messageId"].toLongLong(), answer);
    QCOMPARE(row(*c_, 3)["siblingIndex"].toInt(), 0);
  }

  void editAndResendBranchesTheQuestion() {
    const qint64 question = row(*c_, 2)["messageId"].toLongLong();
    const QString reason = runAndWait([&] { c_->editAndResend(question, "The big cat"); });
    QVERIFY2(reason == "length" || reason == "eos", qPrintable(reason));
    QCOMPARE(row(*c_, 2)["content"].toString(), QString("The big cat"));
    QCOMPARE(row(*c_, 2)["numSiblings"].toInt(), 2);
    QCOMPARE(row(*c_, 0)["content"].toString(), QString("Once upon a time\nthere was"));
  }

  void searchFindsAnOldMessage() {
    c_->search("little do");
    QTRY_VERIFY_WITH_TIMEOUT(c_->searchHits()->rowCount() >= 1, 5000);
    const QString snippet = c_->searchHits()->get(0)["snippet"].toString();
    QVERIFY2(snippet.contains("<b><font color=\"#e0a000\">little</font></b>"), qPrintable(snippet));
  }

  void historySurvivesARestart() {
    const qint64 conv = c_->currentConversation();
    stopApp();
    start();
    QTRY_COMPARE_WITH_TIMEOUT(c_->conversations()->rowCount(), 1, 5000);
    c_->selectConversation(conv);
    QTRY_COMPARE_WITH_TIMEOUT(c_->messages()->rowCount(), 4, 5000);
    QCOMPARE(row(*c_, 2)["content"].toString(), QString("The big cat"));
  }

  void deleteAndUndo() {
    const qint64 conv = c_->currentConversation();
    c_->deleteConversation(conv);
    QTRY_COMPARE_WITH_TIMEOUT(c_->conversations()->rowCount(), 0, 5000);
    QCOMPARE(c_->undoableDelete(), conv);
    c_->undoDelete();
    QTRY_COMPARE_WITH_TIMEOUT(c_->conversations()->rowCount(), 1, 5000);
  }
};

QTEST_MAIN(FlowTest)
#include "flow_test.moc"
