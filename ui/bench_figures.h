// The Benchmarks page's figures as QML values, from the runs' JSON (the
// same object `tokamak-cli bench serve --json-out` writes and the store keeps
// in result_json), and what the charts and the compare view derive from them.
//
//   run map   {policy, workload, concurrency, rate, batchSize, requests,
//              completed, errors, durationS, rps, outTps, totalTps,
//              ttftMean/P50/P90/P99 (and tpot, itl, e2e), kvWaste,
//              peakRunning, meanRunning, jPerToken (absent: not measured),
//              energyStatus, energyReason, gpuName, timeline: [sample]}
//   sample    {t, tps, running, waiting, kvUsed, kvTotal, gpuUtil, gpuPowerW,
//              gpuMemGiB, smClockMhz} (GPU keys only where measured)
#pragma once

#include <QString>
#include <QVariantList>
#include <QVariantMap>
#include <nlohmann/json.hpp>

#include "bench/serve_timeline.h"

namespace tokamak {

QVariantMap bench_sample_map(const TimelineSample& s);
QVariantMap bench_run_map(const nlohmann::json& run);

// Per policy, the run with the most requests/s: [{policy, rps, outTps,
// jPerToken?}] in the order the policies first appear.
QVariantList bench_bars(const QVariantList& runs);

// Lines of `y` against `x` (a run-map key: concurrency, batchSize, rate),
// one per policy, points sorted by x: [{name, points: [{x, y}]}].
QVariantList bench_lines(const QVariantList& runs, const QString& x, const QString& y);

// The axis a sweep varies: "concurrency" when runs differ in it, else
// "batchSize", else "rate", else "promptTokens" (or "concurrency" for a
// single point).
QString bench_sweep_axis(const QVariantList& runs);

// Two or more sessions side by side. A row per figure and per run key
// (policy, workload, concurrency, batch size, rate) present in the first
// session: {label, key, higherIsBetter, values: [v or null per session],
// deltas: [% vs the first session, null for it], best: index, differs: bool}
// where `differs` marks a figure that moves by more than `threshold_percent`
// between any two sessions. `sessions`: [{title, runs: [run map]}].
QVariantList bench_compare(const QVariantList& sessions, double threshold_percent = 5.0);

// The figures the results table and the compare view show, in order:
// [{key, label, unit, higherIsBetter}].
QVariantList bench_figure_columns();

}  // namespace tokamak
