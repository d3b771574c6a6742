import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// Prose as Markdown; fenced code in a monospace block with a copy button.
Column {
    id: md
    required property ChatController controller
    required property var theme
    property string text
    property bool keepLineBreaks: false  // a person's Shift+Enter lines stay lines
    spacing: 8

    // Delegates are kept while the number of blocks stays the same, so a
    // streamed answer updates its last block's text instead of rebuilding.
    readonly property var blocks: controller.markdownBlocks(text, keepLineBreaks)
    Repeater {
        model: md.blocks.length
        delegate: Loader {
            required property int index
            readonly property var block: md.blocks[index] || ({ code: false, language: "", text: "" })
            width: md.width
            sourceComponent: block.code ? codeBlock : prose
        }
    }

    Component {
        id: prose
        TextEdit {
            width: md.width
            readOnly: true
            selectByMouse: true
            textFormat: TextEdit.MarkdownText
            wrapMode: TextEdit.Wrap
            text: block.text
            color: md.theme.text
            selectionColor: md.theme.accent
            font.pixelSize: 14
            onLinkActivated: (link) => Qt.openUrlExternally(link)
        }
    }

    Component {
        id: codeBlock
        Rectangle {
            width: md.width
            implicitHeight: codeCol.implicitHeight
            radius: 6
            color: md.theme.dark ? "#1b1d22" : "#f4f5f7"
            border.color: md.theme.border
            Column {
                id: codeCol
                width: parent.width
                RowLayout {
                    width: parent.width
                    Label {
                        Layout.leftMargin: 10
                        Layout.fillWidth: true
                        text: block.language.length > 0 ? block.language : qsTr("code")
                        color: md.theme.muted
                        font.pixelSize: 12
                    }
                    ToolButton {
                        objectName: "copyCode"
                        text: qsTr("Copy")
                        font.pixelSize: 12
                        onClicked: md.controller.copyText(block.text)
                    }
                }
                TextEdit {
                    x: 12
                    width: parent.width - 24
                    bottomPadding: 10
                    readOnly: true
                    selectByMouse: true
                    wrapMode: TextEdit.WrapAnywhere
                    text: block.text
                    color: md.theme.text
                    font.family: "monospace"
                    font.pixelSize: 13
                }
            }
        }
    }
}
