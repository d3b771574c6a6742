import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

ApplicationWindow {
    id: window
    required property ChatController controller
    property string initialPage: "chat"
    property BenchController bench: null  // the Benchmarks page's (none: no page)
    property string benchTab: "live"
    width: 1280
    height: 820
    minimumWidth: 900
    minimumHeight: 560
    visible: true
    title: controller.currentTitle.length > 0 ? controller.currentTitle + " — Tokamak" : "Tokamak"

    SystemPalette { id: sys; colorGroup: SystemPalette.Active }
    readonly property bool dark: sys.window.hslLightness < 0.5
    readonly property color surface: sys.window
    readonly property color sunken: dark ? Qt.darker(sys.window, 1.25) : Qt.darker(sys.window, 1.04)
    readonly property color border: dark ? Qt.lighter(sys.window, 1.6) : Qt.darker(sys.window, 1.15)
    readonly property color muted: Qt.rgba(sys.windowText.r, sys.windowText.g, sys.windowText.b, 0.6)
    readonly property color accent: sys.highlight
    readonly property color text: sys.windowText
    font.pixelSize: 14

    // The pages, in the order of the navigation rail and the StackLayout.
    readonly property var pageKeys: ["chat", "models", "prompts", "benchmarks"]
    readonly property var pageLabels: [qsTr("Chat"), qsTr("Models"), qsTr("Prompts"), qsTr("Bench")]
    readonly property var pageGlyphs: ["▤", "▦", "✎", "▥"]
    function showPage(key) { pages.currentIndex = Math.max(0, pageKeys.indexOf(key)) }

    // The prompt library; "send to chat" lands in the chat page.
    property alias prompts: promptLibrary
    PromptsController { id: promptLibrary; chat: window.controller }
    Connections {
        target: promptLibrary
        function onSendRequested(text, where) {
            if (where === "system") {
                window.controller.applySettings({ systemPrompt: text })
            } else {
                if (where === "new") window.controller.newConversation()
                chatPage.setComposerText(text)
            }
            window.showPage("chat")
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Rectangle {  // navigation rail
            Layout.fillHeight: true
            Layout.preferredWidth: 72
            color: window.sunken
            ColumnLayout {
                anchors.fill: parent
                anchors.topMargin: 14
                spacing: 6
                Label {
                    Layout.alignment: Qt.AlignHCenter
                    text: "◎"
                    font.pixelSize: 26
                    color: window.accent
                }
                Item { Layout.preferredHeight: 10 }
                Repeater {
                    model: window.pageKeys.map((key, i) => ({ key: key, label: window.pageLabels[i], glyph: window.pageGlyphs[i] }))
                    delegate: ItemDelegate {
                        required property var modelData
                        required property int index
                        Layout.alignment: Qt.AlignHCenter
                        Layout.preferredWidth: 64
                        Layout.preferredHeight: 58
                        highlighted: pages.currentIndex === index
                        onClicked: pages.currentIndex = index
                        contentItem: Column {
                            spacing: 2
                            Label { anchors.horizontalCenter: parent.horizontalCenter; text: modelData.glyph; font.pixelSize: 18 }
                            Label { anchors.horizontalCenter: parent.horizontalCenter; text: modelData.label; font.pixelSize: 11 }
                        }
                    }
                }
                Item { Layout.fillHeight: true }
            }
            Rectangle { anchors.right: parent.right; width: 1; height: parent.height; color: window.border }
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            StoreNotices { Layout.fillWidth: true; status: controller.storeStatus; theme: window }

            Rectangle {  // errors are shown, never swallowed
                Layout.fillWidth: true
                visible: controller.errorMessage.length > 0
                implicitHeight: errRow.implicitHeight + 16
                color: window.dark ? "#5c1f1f" : "#fde8e8"
                RowLayout {
                    id: errRow
                    anchors.fill: parent
                    anchors.margins: 8
                    Label { Layout.fillWidth: true; text: controller.errorMessage; wrapMode: Text.Wrap }
                    Button { text: qsTr("Dismiss"); flat: true; onClicked: controller.clearError() }
                }
            }

            StackLayout {
                id: pages
                Layout.fillWidth: true
                Layout.fillHeight: true
                currentIndex: Math.max(0, window.pageKeys.indexOf(window.initialPage))
                ChatPage { id: chatPage; controller: window.controller; theme: window; openSettings: window.initialPage === "settings"; onOpenModels: window.showPage("models") }
                ModelsPage {
                    controller: window.controller; theme: window
                    onSpeedTest: (path) => { window.showPage("benchmarks"); if (benchLoader.item) benchLoader.item.runSpeedTest(path) }
                }
                PromptsPage { prompts: promptLibrary; theme: window }
                Loader {
                    id: benchLoader
                    active: window.bench !== null
                    sourceComponent: BenchmarksPage {
                        bench: window.bench
                        theme: window
                        chatModels: window.controller.recentModels
                        tab: Math.max(0, ["live", "results", "history"].indexOf(window.benchTab))
                    }
                }
            }
        }
    }
}
