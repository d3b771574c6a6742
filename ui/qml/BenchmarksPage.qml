import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// The Benchmarks page: configure a serving benchmark on the left; watch it
// live, read its results, and browse / compare / export the saved history on
// the right.
Item {
    id: page
    required property BenchController bench
    required property var theme
    property var chatModels: []
    property alias tab: tabs.currentIndex
    readonly property var policyColors: ({ none: "#8e8e93", static: "#e6a23c", dynamic: "#a06cd5",
                                           continuous: "#3b82f6", paged: "#16a34a" })
    function colorOf(policy) { return policyColors[policy] || "#607d8b" }
    function startRun() {
        if (bench.start(config.config)) tabs.currentIndex = 0
    }
    function runSpeedTest(path) { bench.speedTest(path) }
    // A run started elsewhere (--bench-run, tests) shows its configuration.
    Connections {
        target: page.bench
        function onStateChanged() { if (page.bench.phase === "loading") config.applyConfig(page.bench.lastConfig) }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Rectangle {
            Layout.fillHeight: true
            Layout.preferredWidth: 300
            color: page.theme.sunken
            BenchConfigPanel {
                id: config
                objectName: "benchConfig"
                anchors.fill: parent
                bench: page.bench
                theme: page.theme
                chatModels: page.chatModels
                onRunRequested: page.startRun()
            }
            Rectangle { anchors.right: parent.right; width: 1; height: parent.height; color: page.theme.border }
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            // Header: title, state, progress, cancel.
            ColumnLayout {
                Layout.fillWidth: true
                Layout.margins: 16
                Layout.bottomMargin: 6
                spacing: 6
                RowLayout {
                    Layout.fillWidth: true
                    Label { text: qsTr("Benchmarks"); font.pixelSize: 22; font.weight: Font.DemiBold }
                    Label {
                        Layout.leftMargin: 12
                        Layout.fillWidth: true
                        elide: Text.ElideRight
                        objectName: "benchStatus"
                        text: bench.status
                        color: bench.phase === "error" ? "#c0392b" : page.theme.muted
                    }
                    Button {
                        objectName: "benchCancelButton"
                        visible: bench.running
                        text: qsTr("■  Cancel")
                        onClicked: bench.cancel()
                    }
                }
                ProgressBar {
                    objectName: "benchProgress"
                    Layout.fillWidth: true
                    visible: bench.running
                    value: bench.progress
                }
                Label {
                    visible: bench.running
                    text: bench.progressText
                    color: page.theme.muted
                    font.pixelSize: 12
                }
                Label {
                    visible: bench.error.length > 0
                    Layout.fillWidth: true
                    wrapMode: Text.Wrap
                    text: bench.error
                    color: "#c0392b"
                }
                SpeedTestCard { bench: page.bench; theme: page.theme; Layout.fillWidth: true }
            }

            TabBar {
                id: tabs
                Layout.fillWidth: true
                Layout.leftMargin: 16
                Layout.rightMargin: 16
                TabButton { text: qsTr("Live"); objectName: "tabLive" }
                TabButton { text: qsTr("Results"); objectName: "tabResults" }
                TabButton { text: qsTr("History && compare"); objectName: "tabHistory" }
            }
            Rectangle { Layout.fillWidth: true; height: 1; color: page.theme.border }

            StackLayout {
                Layout.fillWidth: true
                Layout.fillHeight: true
                currentIndex: tabs.currentIndex
                BenchLiveView { bench: page.bench; theme: page.theme; page: page }
                BenchResultsView { bench: page.bench; theme: page.theme; page: page }
                BenchHistoryView { bench: page.bench; theme: page.theme; page: page }
            }
        }
    }
}
