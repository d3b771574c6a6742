import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// The quick speed test (prefill / decode tokens/s at batch 1, like llama-bench).
Rectangle {
    id: card
    required property BenchController bench
    required property var theme
    readonly property var s: bench.speed
    visible: s.state !== undefined
    implicitHeight: row.implicitHeight + 16
    radius: 8
    color: theme.sunken
    border.color: theme.border
    RowLayout {
        id: row
        x: 12; y: 8
        width: parent.width - 24
        spacing: 18
        BusyIndicator { running: card.s.state === "running"; visible: running; Layout.preferredWidth: 26; Layout.preferredHeight: 26 }
        Label { text: qsTr("Speed test · %1").arg(card.s.model || ""); font.weight: Font.DemiBold }
        Label {
            visible: card.s.state === "running"
            text: qsTr("measuring prefill and decode at batch 1…")
            color: card.theme.muted
        }
        Label {
            objectName: "speedPrefill"
            visible: card.s.state === "done"
            textFormat: Text.RichText
            text: "pp%1 <b>%2</b> tok/s".arg(card.s.ppTokens).arg(Number(card.s.pp || 0).toFixed(1))
        }
        Label {
            objectName: "speedDecode"
            visible: card.s.state === "done"
            textFormat: Text.RichText
            text: "tg%1 <b>%2</b> tok/s".arg(card.s.tgTokens).arg(Number(card.s.tg || 0).toFixed(1))
        }
        Label {
            visible: card.s.state === "done"
            color: card.theme.muted
            text: qsTr("%1 threads · %2% of the memory-bandwidth bound").arg(card.s.threads).arg(Number(card.s.percentOfBound || 0).toFixed(0))
        }
        Label {
            visible: card.s.state === "error"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: "#c0392b"
            text: card.s.message || ""
        }
        Item { Layout.fillWidth: true }
    }
}
