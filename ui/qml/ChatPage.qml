import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

Item {
    id: page
    required property ChatController controller
    required property var theme
    property bool openSettings: false
    signal openModels()
    Component.onCompleted: if (openSettings) settings.open()
    // Puts `text` in the composer (a prompt sent from the library).
    function setComposerText(text) { composer.setText(text) }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        ConversationSidebar {
            Layout.fillHeight: true
            Layout.preferredWidth: 280
            controller: page.controller
            theme: page.theme
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            Rectangle {  // header: title, model, settings
                Layout.fillWidth: true
                implicitHeight: 52
                color: theme.surface
                RowLayout {
                    anchors.fill: parent
                    anchors.leftMargin: 20
                    anchors.rightMargin: 12
                    spacing: 12
                    Label {
                        Layout.fillWidth: true
                        text: controller.currentTitle.length > 0 ? controller.currentTitle : qsTr("New conversation")
                        font.pixelSize: 16
                        font.weight: Font.DemiBold
                        elide: Text.ElideRight
                    }
                    Button {
                        objectName: "modelChip"
                        flat: true
                        text: controller.modelState === "ready" ? "● " + controller.modelName
                            : controller.modelState === "loading" ? qsTr("Loading model…")
                            : qsTr("No model — choose one")
                        onClicked: page.openModels()
                    }
                    ExportButton { controller: page.controller }
                    Button {
                        objectName: "settingsButton"
                        text: qsTr("Settings")
                        onClicked: settings.open()
                    }
                }
                Rectangle { anchors.bottom: parent.bottom; width: parent.width; height: 1; color: theme.border }
            }

            ListView {
                id: chatView
                objectName: "chatView"
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                model: controller.messages
                spacing: 4
                topMargin: 16
                bottomMargin: 16
                boundsBehavior: Flickable.StopAtBounds
                ScrollBar.vertical: ScrollBar {}
                property bool stick: true
                onMovementEnded: stick = atYEnd
                onContentHeightChanged: if (stick) Qt.callLater(positionViewAtEnd)
                onCountChanged: { stick = true; Qt.callLater(positionViewAtEnd) }
                property int revealRow: -1
                function reveal() { if (revealRow >= 0) positionViewAtIndex(revealRow, ListView.Center) }
                Connections {  // an opened search hit: its message, not the end
                    target: page.controller
                    function onMessageRevealed(row) {
                        chatView.stick = false
                        chatView.revealRow = row
                        Qt.callLater(chatView.reveal)
                    }
                }
                delegate: MessageDelegate {
                    width: chatView.width
                    controller: page.controller
                    theme: page.theme
                }

                Column {  // empty state
                    anchors.centerIn: parent
                    visible: chatView.count === 0
                    spacing: 10
                    Label {
                        anchors.horizontalCenter: parent.horizontalCenter
                        text: qsTr("Start a conversation")
                        font.pixelSize: 22
                        font.weight: Font.DemiBold
                    }
                    Label {
                        anchors.horizontalCenter: parent.horizontalCenter
                        color: theme.muted
                        text: controller.modelState === "ready"
                              ? qsTr("Type below. Answers stream in and are saved as they grow.")
                              : qsTr("Load a model on the Models page, or try the built-in demo model.")
                    }
                    Button {
                        anchors.horizontalCenter: parent.horizontalCenter
                        visible: controller.modelState !== "ready" && controller.modelState !== "loading"
                        text: qsTr("Load the demo model")
                        onClicked: controller.loadDemoModel()
                    }
                }
            }

            Composer {
                id: composer
                Layout.fillWidth: true
                controller: page.controller
                theme: page.theme
            }
        }
    }

    SettingsDrawer {
        id: settings
        controller: page.controller
        theme: page.theme
        height: page.height
    }
}
