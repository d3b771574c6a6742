import QtQuick
import QtCharts

// A line chart of series [{name, color, points: [{x, y}]}] that rescales its
// axes to the data. Call setData() to replace everything.
ChartView {
    id: chart
    property var theme
    property string xTitle: ""
    property string yTitle: ""
    property int seriesCount: 0
    property int pointCount: 0
    antialiasing: true
    backgroundColor: "transparent"
    plotAreaColor: theme ? theme.surface : "white"
    legend.alignment: Qt.AlignBottom
    legend.font.pixelSize: 11
    legend.labelColor: theme ? theme.text : "black"
    titleColor: theme ? theme.text : "black"
    titleFont.pixelSize: 13
    titleFont.weight: Font.DemiBold
    margins { left: 4; right: 8; top: 4; bottom: 4 }

    ValueAxis {
        id: ax
        titleText: chart.xTitle
        min: 0; max: 1
        labelFormat: "%.3g"
        labelsColor: chart.theme ? chart.theme.muted : "gray"
        gridLineColor: chart.theme ? chart.theme.border : "#ddd"
        titleFont.pixelSize: 11
        labelsFont.pixelSize: 10
        titleBrush: chart.theme ? chart.theme.muted : "gray"
    }
    ValueAxis {
        id: ay
        titleText: chart.yTitle
        min: 0; max: 1
        labelFormat: "%.3g"
        labelsColor: chart.theme ? chart.theme.muted : "gray"
        gridLineColor: chart.theme ? chart.theme.border : "#ddd"
        titleFont.pixelSize: 11
        labelsFont.pixelSize: 10
        titleBrush: chart.theme ? chart.theme.muted : "gray"
    }

    function niceMax(v) {
        if (v <= 0) return 1
        const p = Math.pow(10, Math.floor(Math.log10(v)))
        for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p
        return 10 * p
    }

    function setData(list, minX) {
        removeAllSeries()
        let xmax = 0, ymax = 0, xmin = Infinity, n = 0
        for (const s of list) {
            const line = createSeries(ChartView.SeriesTypeLine, s.name, ax, ay)
            line.width = 2.2
            if (s.color) line.color = s.color
            if (s.dashed) line.style = Qt.DashLine
            line.pointsVisible = s.points.length <= 12
            for (const p of s.points) {
                line.append(p.x, p.y)
                xmax = Math.max(xmax, p.x); ymax = Math.max(ymax, p.y); xmin = Math.min(xmin, p.x)
                ++n
            }
        }
        ax.min = minX !== undefined ? minX : (xmin === Infinity ? 0 : Math.min(0, xmin))
        ax.max = Math.max(ax.min + 1e-9, xmax > 0 ? (minX !== undefined ? xmax : niceMax(xmax)) : 1)
        ay.min = 0
        ay.max = niceMax(ymax * 1.05)
        ay.labelFormat = ay.max >= 20 ? "%.0f" : ay.max >= 2 ? "%.1f" : "%.2f"
        ax.labelFormat = ax.max >= 20 ? "%.0f" : ax.max >= 2 ? "%.1f" : "%.2f"
        seriesCount = list.length
        pointCount = n
    }
}
