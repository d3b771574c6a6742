import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// Every figure of every run: a row per run, a column per figure
// (columns: [{key, label, unit}]), scrolling sideways.
Rectangle {
    id: table
    property var theme
    property var columns: []
    property var rows: []
    property var colorOf: function(p) { return "gray" }
    readonly property int labelWidth: 230
    readonly property int cellWidth: 92
    implicitHeight: flick.contentHeight + 2
    radius: 8
    color: "transparent"
    border.color: theme.border

    function cell(r, c) {
        const v = r[c.key]
        if (v === undefined || v === null) return c.key === "jPerToken" ? qsTr("n/a") : "—"
        if (typeof v !== "number") return String(v)
        const a = Math.abs(v)
        return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3)
    }

    Flickable {
        id: flick
        anchors.fill: parent
        anchors.margins: 1
        contentWidth: table.labelWidth + table.columns.length * table.cellWidth
        contentHeight: col.implicitHeight
        flickableDirection: Flickable.HorizontalFlick
        clip: true
        ScrollBar.horizontal: ScrollBar { policy: ScrollBar.AsNeeded }
        Column {
            id: col
            Row {  // header
                Rectangle {
                    width: table.labelWidth; height: 40; color: table.theme.sunken
                    Label { anchors.verticalCenter: parent.verticalCenter; x: 10; text: qsTr("Run"); font.weight: Font.DemiBold; font.pixelSize: 12 }
                }
                Repeater {
                    model: table.columns
                    delegate: Rectangle {
                        required property var modelData
                        width: table.cellWidth; height: 40; color: table.theme.sunken
                        Column {
                            anchors.right: parent.right; anchors.rightMargin: 8; anchors.verticalCenter: parent.verticalCenter
                            Label { anchors.right: parent.right; text: modelData.label; font.weight: Font.DemiBold; font.pixelSize: 12 }
                            Label { anchors.right: parent.right; text: modelData.unit; color: table.theme.muted; font.pixelSize: 10 }
                        }
                    }
                }
            }
            Repeater {
                model: table.rows
                delegate: Row {
                    id: rowItem
                    required property var modelData
                    required property int index
                    Rectangle {
                        width: table.labelWidth; height: 28
                        color: rowItem.index % 2 ? Qt.rgba(0.5, 0.5, 0.5, 0.06) : "transparent"
                        Rectangle { x: 8; anchors.verticalCenter: parent.verticalCenter; width: 8; height: 8; radius: 4; color: table.colorOf(rowItem.modelData.policy) }
                        Label { x: 22; width: parent.width - 26; anchors.verticalCenter: parent.verticalCenter; text: rowItem.modelData.label; elide: Text.ElideRight; font.pixelSize: 12 }
                    }
                    Repeater {
                        model: table.columns
                        delegate: Rectangle {
                            required property var modelData
                            width: table.cellWidth; height: 28
                            color: rowItem.index % 2 ? Qt.rgba(0.5, 0.5, 0.5, 0.06) : "transparent"
                            Label {
                                anchors.right: parent.right; anchors.rightMargin: 8; anchors.verticalCenter: parent.verticalCenter
                                text: table.cell(rowItem.modelData, modelData)
                                font.pixelSize: 12
                                font.family: "monospace"
                            }
                        }
                    }
                }
            }
        }
    }
}
