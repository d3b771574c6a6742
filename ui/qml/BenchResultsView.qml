import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Tokamak

// The results of the run shown (just run, or opened from the history):
// headline figures, per-policy bars, lines against the sweep, latency
// percentiles, and a table with every figure; export as CSV / JSON / PNG.
Item {
    id: view
    required property BenchController bench
    required property var theme
    required property var page
    readonly property var runs: bench.results
    readonly property string axis: bench.sweepAxis()
    readonly property string axisLabel: axis === "batchSize" ? qsTr("batch size") : axis === "rate" ? qsTr("requests/s offered")
                                        : axis === "promptTokens" ? qsTr("prompt tokens") : qsTr("concurrency (clients)")

    function fmt(v, digits) {
        if (v === undefined || v === null) return "—"
        const a = Math.abs(v)
        return a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : v.toFixed(digits === undefined ? 2 : digits)
    }
    function best(key, higher) {
        let b = null
        for (const r of runs) if (r[key] !== undefined && (b === null || (higher ? r[key] > b[key] : r[key] < b[key]))) b = r
        return b
    }
    function rebuild() {
        const bars = bench.bars()
        const cats = bars.map(b => b.policy)
        rpsBars.setData([qsTr("requests/s")], bars.map(b => ({ label: b.policy, color: page.colorOf(b.policy), values: [b.rps] })))
        tpsBars.setData([qsTr("output tokens/s")], bars.map(b => ({ label: b.policy, color: page.colorOf(b.policy), values: [b.outTps] })))
        const tl = bench.lines("outTps").map(l => ({ name: l.name, color: page.colorOf(l.name), points: l.points }))
        thrLines.setData(tl)
        const ll = bench.lines("tpotP50").map(l => ({ name: l.name + " TPOT p50", color: page.colorOf(l.name), points: l.points }))
        const el = bench.lines("ttftP50").map(l => ({ name: l.name + " TTFT p50", color: page.colorOf(l.name), dashed: true, points: l.points }))
        latLines.setData(ll.concat(el))
        // Percentiles at the heaviest point of each policy.
        let heaviest = {}
        for (const r of runs) {
            const k = r.policy
            if (!heaviest[k] || r[axis] >= heaviest[k][axis]) heaviest[k] = r
        }
        const pc = ["TTFT p50", "TTFT p90", "TTFT p99", "TPOT p50", "TPOT p90", "TPOT p99", "ITL p50", "ITL p90", "ITL p99"]
        const keys = ["ttftP50", "ttftP90", "ttftP99", "tpotP50", "tpotP90", "tpotP99", "itlP50", "itlP90", "itlP99"]
        pctBars.setData(pc, Object.keys(heaviest).map(p => ({ label: p, color: page.colorOf(p), values: keys.map(k => heaviest[p][k]) })))
    }
    Connections { target: view.bench; function onResultsChanged() { view.rebuild() } }
    Component.onCompleted: rebuild()

    FileDialog {
        id: saveDialog
        property string format: "csv"
        fileMode: FileDialog.SaveFile
        title: qsTr("Export the session")
        nameFilters: format === "csv" ? [qsTr("CSV (*.csv)")] : format === "json" ? [qsTr("JSON (*.json)")] : [qsTr("PNG image (*.png)")]
        onAccepted: {
            if (format === "png") view.saveChartPng(selectedFile)
            else bench.exportSession(-1, selectedFile.toString(), format)
        }
    }
    function saveChartPng(url) {
        const path = url.toString().replace(/^file:\/\//, "")
        charts.grabToImage(result => { exportNote.text = result.saveToFile(path) ? qsTr("Charts written to %1").arg(path) : qsTr("%1: cannot write").arg(path) })
    }
    Connections { target: view.bench; function onExported(ok, message) { exportNote.text = message } }

    Label {
        anchors.centerIn: parent
        visible: runs.length === 0
        color: theme.muted
        text: qsTr("No results yet: run a benchmark, or open one from the history.")
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        visible: runs.length > 0
        clip: true
        ColumnLayout {
            width: parent.width
            spacing: 10

            RowLayout {  // session line and export
                Layout.fillWidth: true
                Layout.leftMargin: 16; Layout.rightMargin: 16; Layout.topMargin: 10
                Label {
                    Layout.fillWidth: true
                    elide: Text.ElideRight
                    color: theme.muted
                    text: bench.session.title !== undefined ? bench.session.title : qsTr("Current run (not saved yet)")
                }
                Label { id: exportNote; color: theme.muted; font.pixelSize: 12 }
                Button { text: qsTr("CSV"); enabled: bench.session.id !== undefined; onClicked: { saveDialog.format = "csv"; saveDialog.open() } }
                Button { text: qsTr("JSON"); enabled: bench.session.id !== undefined; onClicked: { saveDialog.format = "json"; saveDialog.open() } }
                Button { text: qsTr("PNG"); onClicked: { saveDialog.format = "png"; saveDialog.open() } }
            }

            RowLayout {  // headline figures
                Layout.fillWidth: true
                Layout.leftMargin: 16; Layout.rightMargin: 16
                spacing: 10
                // Four cards that stay: their texts follow `headlines`, so a
                // finished point updates labels instead of destroying and
                // recreating delegates inside a layout that is being laid out.
                Repeater {
                    id: headlineCards
                    readonly property var headlines: {
                        const t = view.best("outTps", true), r = view.best("rps", true), f = view.best("ttftP50", false)
                        const e = view.best("jPerToken", false)
                        return [
                            { k: qsTr("Best output tokens/s"), v: t ? view.fmt(t.outTps, 1) : "—", s: t ? t.label : "" },
                            { k: qsTr("Best requests/s"), v: r ? view.fmt(r.rps) : "—", s: r ? r.label : "" },
                            { k: qsTr("Lowest TTFT p50"), v: f ? view.fmt(f.ttftP50) + " ms" : "—", s: f ? f.label : "" },
                            { k: qsTr("Energy per output token"), v: e ? view.fmt(e.jPerToken, 3) + " J" : qsTr("unavailable"),
                              s: e ? e.label : (runs.length > 0 ? runs[0].energyReason : "") }]
                    }
                    model: 4
                    delegate: Rectangle {
                        required property int index
                        readonly property var modelData: headlineCards.headlines[index]
                        Layout.fillWidth: true
                        Layout.preferredWidth: 1
                        implicitHeight: 78
                        radius: 10
                        color: theme.sunken
                        border.color: theme.border
                        Column {
                            x: 14; y: 10
                            width: parent.width - 28
                            spacing: 2
                            Label { text: modelData.k; color: theme.muted; font.pixelSize: 12 }
                            Label { text: modelData.v; font.pixelSize: 22; font.weight: Font.DemiBold }
                            Label { text: modelData.s; color: theme.muted; font.pixelSize: 11; elide: Text.ElideRight; width: parent.width }
                        }
                    }
                }
            }

            GridLayout {
                id: charts
                Layout.fillWidth: true
                Layout.leftMargin: 10; Layout.rightMargin: 10
                columns: 2
                rowSpacing: 0
                columnSpacing: 0
                BenchBars { id: rpsBars; objectName: "resultsRpsBars"; theme: view.theme; title: qsTr("Requests/s per policy"); Layout.fillWidth: true; Layout.preferredHeight: 250 }
                BenchBars { id: tpsBars; objectName: "resultsTpsBars"; theme: view.theme; title: qsTr("Output tokens/s per policy"); Layout.fillWidth: true; Layout.preferredHeight: 250 }
                BenchChart { id: thrLines; objectName: "resultsThroughputLines"; theme: view.theme; title: qsTr("Throughput vs %1").arg(view.axisLabel); xTitle: view.axisLabel; yTitle: qsTr("output tokens/s"); Layout.fillWidth: true; Layout.preferredHeight: 270 }
                BenchChart { id: latLines; objectName: "resultsLatencyLines"; theme: view.theme; title: qsTr("Latency vs %1").arg(view.axisLabel); xTitle: view.axisLabel; yTitle: qsTr("ms"); Layout.fillWidth: true; Layout.preferredHeight: 270 }
                BenchBars { id: pctBars; objectName: "resultsPercentiles"; theme: view.theme; title: qsTr("TTFT / TPOT / ITL percentiles (ms) at the heaviest load"); Layout.columnSpan: 2; Layout.fillWidth: true; Layout.preferredHeight: 270 }
            }

            Label { text: qsTr("Every figure"); font.pixelSize: 15; font.weight: Font.DemiBold; Layout.leftMargin: 16 }
            BenchTable {
                Layout.fillWidth: true
                Layout.leftMargin: 16; Layout.rightMargin: 16; Layout.bottomMargin: 16
                theme: view.theme
                columns: view.bench.figureColumns
                rows: view.runs
                colorOf: view.page.colorOf
            }
        }
    }
}
