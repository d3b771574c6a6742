// The Benchmarks page through its real QML (in a bare window): configure a small run on
// aidreams260K from the page's controls, press Run, see the live charts fill
// while it runs, then the result charts, the table and the history.
#include <unistd.h>

#include <QQmlApplicationEngine>
#include <QQmlComponent>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtQml/QQmlExtensionPlugin>
#include <QtTest>
#include <filesystem>

#include "bench_controller.h"

Q_IMPORT_QML_PLUGIN(TokamakPlugin)

using namespace tokamak;

class BenchFlowTest : public QObject {
  Q_OBJECT

  std::unique_ptr<BenchController> bench_;
  std::unique_ptr<QQmlApplicationEngine> qml_;
  QQuickWindow* window_ = nullptr;

  template <class T = QObject>
  T* item(const char* name) {
    return window_->findChild<T*>(name);
  }

  void click(QQuickItem* it) {
    const QPointF c = it->mapToScene(QPointF(it->width() / 2, it->height() / 2));
    QTest::mouseClick(window_, Qt::LeftButton, {}, c.toPoint());
  }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const auto dir =
        std::filesystem::path(TOKAMAK_TEST_TMP) / ("ui-bench-flow-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const QString db = QString::fromStdString((dir / "tokamak.db").string());
    qputenv("TOKAMAK_CACHE_DIR", QByteArray::fromStdString(dir.string()));
    bench_ = std::make_unique<BenchController>(db);
    qml_ = std::make_unique<QQmlApplicationEngine>();
    qml_->setInitialProperties({{"bench", QVariant::fromValue(bench_.get())}});
    QQmlComponent page(qml_.get(), QUrl("qrc:/Tokamak/qml/BenchmarksPage.qml"));
    QVERIFY2(page.errors().isEmpty(), qPrintable(page.errorString()));
    // The page in a window with the app's theme properties (Main.qml's), so
    // that the test does not depend on the other pages.
    qml_->loadData(
        "import QtQuick\n"
        "import QtQuick.Controls\n"
        "import Tokamak\n"
        "ApplicationWindow {\n"
        "id: window\n"
        "required property BenchController bench\n"
        "width: 1280; height: 820; visible: true\n"
        "SystemPalette { id: sys }\n"
        "readonly property bool dark: false\n"
        "readonly property color surface: sys.window\n"
        "readonly property color sunken: Qt.darker(sys.window, 1.04)\n"
        "readonly property color border: Qt.darker(sys.window, 1.15)\n"
        "readonly property color muted: \"#777777\"\n"
        "readonly property color accent: sys.highlight\n"
        "readonly property color text: sys.windowText\n"
        "BenchmarksPage { anchors.fill: parent; bench: window.bench; theme: window }\n"
        "}\n",
        // Next to the pages, so that they resolve as in the app.
        QUrl("qrc:/Tokamak/qml/BenchFlowHost.qml"));
    QVERIFY(!qml_->rootObjects().isEmpty());
    window_ = qobject_cast<QQuickWindow*>(qml_->rootObjects().first());
    QVERIFY(window_);
    QVERIFY(QTest::qWaitForWindowExposed(window_));
  }
  void cleanupTestCase() {
    qml_.reset();
    bench_.reset();
  }

  void runFromThePageFillsTheCharts() {
    QObject* panel = item("benchConfig");
    QVERIFY(panel);
    QMetaObject::invokeMethod(
        panel, "setModel",
        Q_ARG(QVariant,
              QString(TOKAMAK_SHARED_DATA "/models/aidreams260K/aidreams260K-llamacpp-f32.gguf")));
    item("benchRequests")->setProperty("value", 12);
    item("benchPromptMax")->setProperty("value", 8);
    item("benchOutputMax")->setProperty("value", 24);
    item("benchSweepValues")->setProperty("text", "1,4");
    QTRY_COMPARE(panel->property("problem").toString(), QString(""));
    // Three policies are ticked by default: none, continuous, paged.
    QCOMPARE(panel->property("summary").toMap()["points"].toInt(), 6);

    auto* run = item<QQuickItem>("benchRunButton");
    QVERIFY(run && run->isEnabled());
    QSignalSpy finished(bench_.get(), &BenchController::finished);
    click(run);
    QTRY_VERIFY_WITH_TIMEOUT(bench_->running(), 5000);
    QTRY_VERIFY(item<QQuickItem>("benchCancelButton")->isVisible());
    // Live: the throughput chart fills (aidreams is fast: the run may end first).
    QObject* tps = item("liveTpsChart");
    QVERIFY(tps);
    QTRY_VERIFY_WITH_TIMEOUT(tps->property("pointCount").toInt() > 0, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() > 0, 180000);
    QCOMPARE(finished[0][0].toBool(), true);
    QTRY_COMPARE(tps->property("seriesCount").toInt(), 4);  // the latest 4 of the 6 runs
    QTRY_VERIFY(item("liveQueueChart")->property("pointCount").toInt() >= 4);
    QVERIFY(item("liveKvChart")->property("pointCount").toInt() > 0);
    QVERIFY(item<QQuickItem>("gpuNote")->isVisible());  // the CPU: no GPU figures

    // Results: bars per policy, lines against concurrency, percentiles.
    click(item<QQuickItem>("tabResults"));
    QTRY_COMPARE(item("resultsRpsBars")->property("setCount").toInt(), 3);
    QCOMPARE(item("resultsTpsBars")->property("setCount").toInt(), 3);
    QCOMPARE(item("resultsThroughputLines")->property("seriesCount").toInt(), 3);
    QCOMPARE(item("resultsThroughputLines")->property("pointCount").toInt(), 6);
    QCOMPARE(item("resultsLatencyLines")->property("seriesCount").toInt(), 6);
    QCOMPARE(item("resultsPercentiles")->property("setCount").toInt(), 3);

    // History: the saved session is listed.
    click(item<QQuickItem>("tabHistory"));
    QTRY_COMPARE_WITH_TIMEOUT(item("historyList")->property("count").toInt(), 1, 10000);
  }
};

QTEST_MAIN(BenchFlowTest)
#include "bench_flow_test.moc"
