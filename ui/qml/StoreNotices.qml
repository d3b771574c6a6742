import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// The conversation database's state, told plainly: a dialog when the file
// cannot be opened (naming it and the problem; the file is left untouched
// until the user agrees to start fresh), where the old file went, and a
// banner while another Tokamak has the same history open.
ColumnLayout {
    id: notices
    required property StoreStatus status
    required property var theme
    spacing: 0
    Layout.fillHeight: false  // a layout in a layout fills by default

    readonly property bool failed: status.state === "failed"
    readonly property string explanation: status.problem === "newer"
        ? qsTr("It was written by a newer version of Tokamak, which this version cannot read without risking your history.")
        : status.problem === "corrupt"
          ? qsTr("The file is damaged, or it is not a Tokamak database.")
          : qsTr("The file cannot be read or created.")

    onFailedChanged: if (failed) problemDialog.open()
    Component.onCompleted: if (failed) problemDialog.open()
    Connections {
        target: notices.status
        function onChanged() {
            if (notices.status.state === "ready" && notices.status.asidePath.length > 0 && !movedDialog.shown) {
                movedDialog.shown = true
                movedDialog.open()
            }
        }
    }

    Rectangle {  // history closed: the user chose not to decide yet
        Layout.fillWidth: true
        visible: notices.failed && !problemDialog.visible
        implicitHeight: closedRow.implicitHeight + 16
        color: theme.dark ? "#5c1f1f" : "#fde8e8"
        RowLayout {
            id: closedRow
            anchors.fill: parent
            anchors.margins: 8
            Label {
                Layout.fillWidth: true
                text: qsTr("The conversation history is not open (%1); nothing is saved.").arg(notices.status.path)
                wrapMode: Text.Wrap
            }
            Button { text: qsTr("Details…"); flat: true; onClicked: problemDialog.open() }
        }
    }

    Rectangle {  // the same history open in another window
        objectName: "sharedHistoryBanner"
        Layout.fillWidth: true
        visible: notices.status.state === "ready" && notices.status.otherWriterPid !== 0
        implicitHeight: sharedRow.implicitHeight + 16
        color: theme.dark ? "#4a3f14" : "#fff4d6"
        RowLayout {
            id: sharedRow
            anchors.fill: parent
            anchors.margins: 8
            Label {
                objectName: "sharedHistoryText"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                text: (notices.status.otherWriterPid > 0
                       ? qsTr("This history is also open in another Tokamak (process %1).").arg(notices.status.otherWriterPid)
                       : qsTr("This history is also open in another Tokamak."))
                      + " " + qsTr("Both save safely; answers the other one is writing are left to it, and its new conversations show here after a restart.")
            }
        }
    }

    Dialog {
        id: problemDialog
        objectName: "storeProblemDialog"
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(640, parent ? parent.width - 80 : 640)
        modal: true
        padding: 20
        closePolicy: Popup.CloseOnEscape
        title: qsTr("The conversation history cannot be opened")
        ColumnLayout {
            anchors.fill: parent
            spacing: 10
            Label {
                objectName: "storeProblemText"
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                textFormat: Text.PlainText
                text: qsTr("File: %1").arg(notices.status.path) + "\n\n" + notices.explanation + "\n\n"
                      + notices.status.message
            }
            Label {
                Layout.fillWidth: true
                wrapMode: Text.Wrap
                font.weight: Font.DemiBold
                visible: notices.status.problem !== "io"
                text: qsTr("Nothing in the file has been changed. You can quit and keep it as it is, or start a fresh history: the old file is then renamed, not deleted, and its new name is shown.")
            }
        }
        footer: DialogButtonBox {
            Button {
                objectName: "storeQuitButton"
                text: qsTr("Quit")
                DialogButtonBox.buttonRole: DialogButtonBox.RejectRole
                onClicked: Qt.quit()
            }
            Button {
                objectName: "storeRetryButton"
                visible: notices.status.problem === "io"
                text: qsTr("Try again")
                onClicked: { problemDialog.close(); notices.status.retry() }
            }
            Button {
                objectName: "storeFreshButton"
                visible: notices.status.problem !== "io"
                text: qsTr("Start a fresh history")
                highlighted: true
                onClicked: { problemDialog.close(); notices.status.startFresh() }
            }
        }
    }

    Dialog {
        id: movedDialog
        objectName: "storeMovedDialog"
        property bool shown: false
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(640, parent ? parent.width - 80 : 640)
        modal: true
        padding: 20
        title: qsTr("A fresh history was started")
        standardButtons: Dialog.Ok
        Label {
            objectName: "storeMovedText"
            width: parent.width
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            text: qsTr("The old file was kept, renamed to:\n%1\n\nThe new history is %2.").arg(notices.status.asidePath).arg(notices.status.path)
        }
    }
}
