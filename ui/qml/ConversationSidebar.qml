import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

Rectangle {
    id: side
    required property ChatController controller
    required property var theme
    color: theme.sunken

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 10

        RowLayout {
            Layout.fillWidth: true
            spacing: 6
            Button {
                objectName: "newConversation"
                Layout.fillWidth: true
                text: qsTr("+  New conversation")
                highlighted: true
                enabled: !controller.generating
                onClicked: controller.newConversation()
            }
            ImportButton { controller: side.controller }
        }
        TextField {
            id: searchBox
            objectName: "searchBox"
            Layout.fillWidth: true
            placeholderText: qsTr("Search all messages")
            selectByMouse: true
            onTextChanged: searchDelay.restart()
            Timer { id: searchDelay; interval: 200; onTriggered: controller.search(searchBox.text) }
        }

        ListView {  // search hits, highlighted
            id: hits
            objectName: "searchHits"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: searchBox.text.length > 0
            clip: true
            spacing: 2
            model: controller.searchHits
            delegate: ItemDelegate {
                required property var model
                width: hits.width
                onClicked: controller.openSearchHit(model.conversationId, model.messageId)
                contentItem: Column {
                    spacing: 2
                    Label { text: model.conversationTitle; font.weight: Font.DemiBold; elide: Text.ElideRight; width: parent.width }
                    Label {
                        width: parent.width
                        text: model.snippet
                        textFormat: Text.StyledText
                        wrapMode: Text.Wrap
                        maximumLineCount: 3
                        elide: Text.ElideRight
                        color: theme.muted
                        font.pixelSize: 12
                    }
                }
            }
            Label {
                anchors.centerIn: parent
                visible: hits.count === 0
                text: qsTr("No matches")
                color: theme.muted
            }
        }

        ListView {
            id: list
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: searchBox.text.length === 0
            clip: true
            spacing: 2
            model: controller.conversations
            delegate: ItemDelegate {
                id: row
                required property var model
                width: list.width
                highlighted: model.conversationId === controller.currentConversation
                property bool editing: false
                onClicked: controller.selectConversation(model.conversationId)
                onDoubleClicked: editing = true
                contentItem: RowLayout {
                    spacing: 6
                    Label {
                        visible: !row.editing
                        Layout.fillWidth: true
                        Layout.preferredHeight: 26  // as the hover buttons: the row keeps its height
                        verticalAlignment: Text.AlignVCenter
                        text: row.model.title
                        elide: Text.ElideRight
                    }
                    TextField {  // Enter or leaving the field renames, Escape cancels
                        visible: row.editing
                        Layout.fillWidth: true
                        text: row.model.title
                        property bool cancelled: false
                        onVisibleChanged: if (visible) { cancelled = false; text = row.model.title; forceActiveFocus(); selectAll() }
                        onEditingFinished: {
                            if (!row.editing) return
                            if (!cancelled && text.trim().length > 0 && text !== row.model.title)
                                controller.renameConversation(row.model.conversationId, text)
                            row.editing = false
                        }
                        Keys.onEscapePressed: { cancelled = true; row.editing = false }
                    }
                    ToolButton {
                        visible: row.hovered && !row.editing
                        Layout.preferredHeight: 26
                        text: "✎"
                        ToolTip.visible: hovered
                        ToolTip.text: qsTr("Rename")
                        onClicked: row.editing = true
                    }
                    ToolButton {
                        visible: row.hovered && !row.editing
                        Layout.preferredHeight: 26
                        text: "✕"
                        ToolTip.visible: hovered
                        ToolTip.text: qsTr("Delete")
                        onClicked: controller.deleteConversation(row.model.conversationId)
                    }
                }
            }
            Label {
                anchors.centerIn: parent
                width: parent.width - 20
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                visible: list.count === 0
                text: qsTr("Your conversations appear here.")
                color: theme.muted
            }
        }

        Rectangle {  // undo a delete
            Layout.fillWidth: true
            visible: controller.undoableDelete !== 0
            implicitHeight: 40
            radius: 6
            color: theme.surface
            border.color: theme.border
            RowLayout {
                anchors.fill: parent
                anchors.leftMargin: 10
                Label { Layout.fillWidth: true; text: qsTr("Conversation deleted") }
                Button { objectName: "undoDelete"; text: qsTr("Undo"); flat: true; onClicked: controller.undoDelete() }
            }
        }
    }
    Rectangle { anchors.right: parent.right; width: 1; height: parent.height; color: theme.border }
}
