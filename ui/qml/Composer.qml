import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

Rectangle {
    id: composer
    required property ChatController controller
    required property var theme
    implicitHeight: frame.implicitHeight + 28
    color: theme.surface

    function setText(text) {
        input.text = text
        input.cursorPosition = input.length
        input.forceActiveFocus()
    }

    function submit() {
        if (input.text.trim().length === 0 || controller.generating) return
        controller.send(input.text)
        input.text = ""
    }

    Rectangle {
        id: frame
        anchors.horizontalCenter: parent.horizontalCenter
        y: 12
        width: Math.min(parent.width - 48, 860)
        implicitHeight: Math.min(Math.max(input.implicitHeight, 44), 200) + 16
        radius: 10
        color: theme.dark ? Qt.lighter(theme.surface, 1.15) : "white"
        border.color: input.activeFocus ? theme.accent : theme.border
        RowLayout {
            anchors.fill: parent
            anchors.margins: 8
            spacing: 8
            ScrollView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                TextArea {
                    id: input
                    objectName: "composerInput"
                    wrapMode: TextEdit.Wrap
                    placeholderText: qsTr("Message the model — Enter sends, Shift+Enter adds a line")
                    background: null
                    focus: true
                    Keys.onPressed: (event) => {
                        if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter)
                                && !(event.modifiers & Qt.ShiftModifier)) {
                            composer.submit()
                            event.accepted = true
                        }
                    }
                }
            }
            Button {
                objectName: controller.generating ? "stopButton" : "sendButton"
                Layout.alignment: Qt.AlignBottom
                text: controller.generating ? qsTr("Stop") : qsTr("Send")
                highlighted: !controller.generating
                enabled: controller.generating || input.text.trim().length > 0
                onClicked: controller.generating ? controller.stop() : composer.submit()
            }
        }
    }
}
