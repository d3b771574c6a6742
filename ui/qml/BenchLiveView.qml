import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Tokamak

// Live charts of the running benchmark (or of an opened session's timelines):
// output tokens/s over time per run, running and waiting requests and KV
// blocks of the latest run, and GPU figures where NVML gives them.
Item {
    id: view
    required property BenchController bench
    required property var theme
    required property var page

    function rebuild() {
        const live = bench.liveSeries
        let tps = [], kv = [], queue = [], gpu = []
        let hasGpu = false
        for (let i = 0; i < live.length; ++i) {
            const s = live[i]
            const color = page.colorOf(s.policy)
            const dashed = i < live.length - 1 && live.length > 5 && i < live.length - 5
            tps.push({ name: s.label, color: color, points: s.samples.map(p => ({ x: p.t, y: p.tps })) })
            kv.push({ name: s.label, color: color, points: s.samples.map(p => ({ x: p.t, y: p.kvUsed })) })
        }
        if (live.length > 0) {
            const last = live[live.length - 1]
            queue = [{ name: qsTr("running"), color: "#3b82f6", points: last.samples.map(p => ({ x: p.t, y: p.running })) },
                     { name: qsTr("waiting"), color: "#f59e0b", points: last.samples.map(p => ({ x: p.t, y: p.waiting })) }]
            const g = last.samples.filter(p => p.gpuUtil !== undefined || p.gpuPowerW !== undefined)
            hasGpu = g.length > 0
            if (hasGpu) {
                gpu = [{ name: qsTr("utilisation %"), color: "#16a34a", points: g.map(p => ({ x: p.t, y: p.gpuUtil || 0 })) },
                       { name: qsTr("power W"), color: "#dc2626", points: g.map(p => ({ x: p.t, y: p.gpuPowerW || 0 })) },
                       { name: qsTr("memory GiB"), color: "#7c3aed", points: g.map(p => ({ x: p.t, y: p.gpuMemGiB || 0 })) },
                       { name: qsTr("SM clock GHz"), color: "#0891b2", points: g.map(p => ({ x: p.t, y: (p.smClockMhz || 0) / 1000 })) }]
            }
        }
        // Only the last few runs stay readable in one chart.
        const keep = list => list.length > 4 ? list.slice(list.length - 4) : list
        tpsChart.setData(keep(tps))
        kvChart.setData(keep(kv))
        queueChart.setData(queue)
        gpuChart.setData(gpu)
        gpuChart.visible = hasGpu
        gpuNote.visible = !hasGpu
        kvChart.title = live.length > 0 && live[live.length - 1].samples.length > 0
            ? qsTr("KV blocks in use (of %1)").arg(live[live.length - 1].samples[0].kvTotal) : qsTr("KV blocks in use")
    }

    Timer { id: throttle; interval: 250; onTriggered: view.rebuild() }
    Connections {
        target: view.bench
        function onLiveChanged() { if (!throttle.running) throttle.start() }
    }
    Component.onCompleted: rebuild()

    Label {
        anchors.centerIn: parent
        visible: bench.liveSeries.length === 0
        horizontalAlignment: Text.AlignHCenter
        color: theme.muted
        text: qsTr("Choose a model and a workload, then Run benchmark.\nThroughput, queues, KV blocks and GPU figures appear here as it runs.")
    }

    GridLayout {
        anchors.fill: parent
        anchors.margins: 10
        columns: 2
        rowSpacing: 4
        columnSpacing: 4
        visible: bench.liveSeries.length > 0
        BenchChart {
            id: tpsChart
            objectName: "liveTpsChart"
            theme: view.theme
            title: qsTr("Output tokens/s")
            xTitle: qsTr("seconds")
            Layout.fillWidth: true; Layout.fillHeight: true
        }
        BenchChart {
            id: queueChart
            objectName: "liveQueueChart"
            theme: view.theme
            title: qsTr("Requests running / waiting (latest run)")
            xTitle: qsTr("seconds")
            Layout.fillWidth: true; Layout.fillHeight: true
        }
        BenchChart {
            id: kvChart
            objectName: "liveKvChart"
            legend.visible: false
            theme: view.theme
            xTitle: qsTr("seconds")
            Layout.fillWidth: true; Layout.fillHeight: true
        }
        Item {
            Layout.fillWidth: true; Layout.fillHeight: true
            BenchChart {
                id: gpuChart
                objectName: "liveGpuChart"
                anchors.fill: parent
                theme: view.theme
                title: qsTr("GPU (latest run)")
                xTitle: qsTr("seconds")
            }
            Rectangle {
                id: gpuNote
                objectName: "gpuNote"
                anchors.fill: parent
                anchors.margins: 18
                radius: 10
                color: view.theme.sunken
                border.color: view.theme.border
                ColumnLayout {
                    anchors.centerIn: parent
                    width: parent.width - 40
                    spacing: 6
                    Label { text: qsTr("GPU telemetry"); font.weight: Font.DemiBold; font.pixelSize: 14 }
                    Label {
                        Layout.fillWidth: true
                        wrapMode: Text.Wrap
                        color: view.theme.muted
                        text: view.bench.gpuStatus.length > 0 ? view.bench.gpuStatus
                            : qsTr("Utilisation, memory, clocks and power appear here for runs on an NVIDIA GPU (NVML), with the energy per output token.")
                    }
                }
            }
        }
    }
}
