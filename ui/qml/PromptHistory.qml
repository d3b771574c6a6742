import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// The selected prompt's versions, newest first; a click shows one.
Rectangle {
    id: history
    required property PromptsController prompts
    required property var theme
    color: theme.sunken

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 8
        Label { text: qsTr("History"); font.pixelSize: 15; font.weight: Font.DemiBold; Layout.topMargin: 6 }
        ListView {
            id: list
            objectName: "historyList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            spacing: 2
            model: history.prompts.versions
            ScrollBar.vertical: ScrollBar {}
            delegate: ItemDelegate {
                id: row
                required property var model
                required property int index
                width: list.width
                highlighted: history.prompts.current.version === model.version
                onClicked: history.prompts.viewVersion(model.version)
                contentItem: ColumnLayout {
                    spacing: 2
                    RowLayout {
                        Label { text: qsTr("Version %1").arg(row.model.version); font.weight: Font.DemiBold; Layout.fillWidth: true }
                        Label { visible: row.index === 0; text: qsTr("latest"); color: theme.accent; font.pixelSize: 11 }
                    }
                    Label {
                        text: row.model.createdAt.replace("T", " ").replace("Z", "")
                        color: theme.muted
                        font.pixelSize: 11
                    }
                    Label {
                        visible: row.model.restoredFrom > 0
                        text: qsTr("restored from version %1").arg(row.model.restoredFrom)
                        color: "#b07800"
                        font.pixelSize: 11
                    }
                    Label {
                        Layout.fillWidth: true
                        text: row.model.firstLine
                        color: theme.muted
                        font.pixelSize: 11
                        elide: Text.ElideRight
                    }
                }
            }
        }
    }
}
