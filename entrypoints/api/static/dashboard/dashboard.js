// The live dashboard: polls /v1/dashboard every 2 s and redraws its uPlot charts.
// Plain script, no build step. State for tests and the curious: window.dashboard.
(() => {
  "use strict";

  const API = "/v1/dashboard";
  const POLL_MS = 2000;
  const TIMEOUT_MS = 8000;
  const KEY_STORE = "analytics.dashboard.key";
  const HISTORY = 300; // latency points kept (about 10 minutes of commits)
  const HEIGHT = 220;
  const COLORS = { blue: "#2f6fdf", orange: "#e8710a", green: "#1b7f4b", purple: "#7b3fc4", red: "#c2352b", teal: "#138a8a" };

  const $ = (id) => document.getElementById(id);
  const state = { updates: 0, snapshot: null, latency: [[], []], charts: {} };
  window.dashboard = state;

  // ---- API key: from the URL fragment (then removed from the address bar) or the form ----

  function keyFromFragment() {
    const key = new URLSearchParams(location.hash.slice(1)).get("key");
    if (key) {
      sessionStorage.setItem(KEY_STORE, key);
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function askForKey(message) {
    $("key-form").hidden = false;
    showStatus(message, "error");
    $("key-input").focus();
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("key-input").value.trim());
    $("key-input").value = "";
    $("key-form").hidden = true;
    showStatus("Loading…", "");
    poll();
  });

  // ---- status line ----

  function showStatus(text, level) {
    const status = $("status");
    status.textContent = text;
    status.className = "status " + level;
  }

  // ---- charts ----

  function chartWidth(el) {
    return Math.max(el.clientWidth, 280);
  }

  function lineChart(id, label, color, valueFormat) {
    const el = $(id);
    const options = {
      width: chartWidth(el),
      height: HEIGHT,
      legend: { show: false },
      cursor: { points: { size: 6 } },
      scales: { y: { range: (u, min, max) => [0, Math.max(max * 1.15, 1)] } },
      axes: [{}, { size: 56, values: (u, splits) => splits.map(valueFormat) }],
      series: [{}, { label, stroke: color, width: 2, fill: color + "22", points: { show: false } }],
    };
    return new uPlot(options, [[], []], el);
  }

  function barChart(id, label, color) {
    const el = $(id);
    const bars = { labels: [] };
    const options = {
      width: chartWidth(el),
      height: HEIGHT,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: () => [-0.5, Math.max(bars.labels.length, 1) - 0.5] },
        y: { range: (u, min, max) => [0, Math.max(max * 1.15, 1)] },
      },
      axes: [
        {
          splits: () => bars.labels.map((_, i) => i),
          values: (u, splits) => splits.map((i) => bars.labels[i] ?? ""),
          rotate: () => (bars.labels.length > 6 ? -30 : 0), // long category names would overlap
          size: () => (bars.labels.length > 6 ? 64 : 40),
          grid: { show: false },
        },
        { size: 56, values: (u, splits) => splits.map(compact) },
      ],
      series: [{}, { label, stroke: color, fill: color + "bb", paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
    };
    const plot = new uPlot(options, [[], []], el);
    plot.setBars = (entries) => {
      bars.labels = entries.map(([name]) => name);
      plot.setData([entries.map((_, i) => i), entries.map(([, value]) => value)]);
    };
    return plot;
  }

  function createCharts() {
    const c = state.charts;
    c.throughput = lineChart("chart-throughput", "events/s", COLORS.blue, compact);
    c.latency = lineChart("chart-latency", "latency (s)", COLORS.orange, seconds);
    c.lag = barChart("chart-lag", "lag", COLORS.red);
    c.types = barChart("chart-types", "events", COLORS.purple);
    c.countries = barChart("chart-countries", "events", COLORS.teal);
    c.revenue = lineChart("chart-revenue", "revenue", COLORS.green, compact);
    window.addEventListener("resize", () => {
      for (const plot of Object.values(c)) plot.setSize({ width: chartWidth(plot.root.parentElement), height: HEIGHT });
    });
  }

  // ---- rendering a snapshot ----

  const epoch = (iso) => Date.parse(iso) / 1000;
  const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  function compact(value) {
    return Math.abs(value) >= 10000 ? (value / 1000).toFixed(0) + "k" : number.format(value);
  }
  function seconds(value) {
    return value < 1 ? Math.round(value * 1000) + " ms" : number.format(value) + " s";
  }
  const clock = (iso) => new Date(iso).toLocaleTimeString();

  function render(snap) {
    const c = state.charts;
    c.throughput.setData([snap.throughput.map((b) => epoch(b.bucket_start)), snap.throughput.map((b) => b.events_per_second)]);
    c.revenue.setData([snap.revenue_by_minute.map((m) => epoch(m.window_start)), snap.revenue_by_minute.map((m) => Number(m.revenue))]);
    c.types.setBars(Object.entries(snap.by_event_type));
    c.countries.setBars(Object.entries(snap.by_country).slice(0, 12));
    c.lag.setBars(snap.partitions.map((p) => ["p" + p.partition, p.lag ?? 0]));
    addLatencyPoint(snap);

    $("tile-rate").textContent = number.format(snap.events_per_second);
    $("tile-latency").textContent = snap.latency_s === null ? "–" : seconds(snap.latency_s);
    $("tile-lag").textContent = snap.lag === null ? "unknown" : compact(snap.lag);
    $("tile-revenue").textContent = money.format(Number(snap.revenue));
    $("tile-watermark").textContent = snap.watermark ? clock(snap.watermark) : "none yet";
    $("lag-note").textContent = snap.lag_error ? "— unknown: " + snap.lag_error : "";
    $("minutes-note").textContent = "(" + snap.closed_minutes + " closed minutes)";
    renderAnomalies(snap.anomalies);
  }

  // The snapshot has only the latest commit's latency: the history is built up poll by poll.
  function addLatencyPoint(snap) {
    const committed = Math.max(...snap.partitions.filter((p) => p.committed_at).map((p) => epoch(p.committed_at)));
    const [xs, ys] = state.latency;
    if (!Number.isFinite(committed) || snap.latency_s === null || xs[xs.length - 1] === committed) return;
    xs.push(committed);
    ys.push(snap.latency_s);
    if (xs.length > HISTORY) { xs.shift(); ys.shift(); }
    state.charts.latency.setData([xs, ys]);
  }

  function renderAnomalies(anomalies) {
    const list = $("anomalies");
    list.replaceChildren();
    if (anomalies.length === 0) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "None flagged yet.";
      list.append(empty);
      return;
    }
    for (const a of anomalies) {
      const item = document.createElement("li");
      const score = Object.assign(document.createElement("span"), { className: "score", textContent: a.score.toFixed(2) });
      const when = Object.assign(document.createElement("time"), { dateTime: a.detected_at, textContent: clock(a.detected_at) });
      const user = Object.assign(document.createElement("code"), { textContent: a.user_id });
      const reasons = Object.assign(document.createElement("span"), { textContent: a.reasons.join("; ") || "(no reason given)" });
      item.append(score, when, user, reasons);
      list.append(item);
    }
  }

  // ---- polling ----

  let timer = null;

  async function poll() {
    clearTimeout(timer);
    const key = sessionStorage.getItem(KEY_STORE);
    if (!key) {
      askForKey("Enter an API key with the read role to see the dashboard.");
      return;
    }
    let response;
    try {
      response = await fetch(API, { headers: { "X-API-Key": key, Accept: "application/json" }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      showStatus("The API is unreachable (" + error.message + "); retrying every " + POLL_MS / 1000 + " s.", "error");
      timer = setTimeout(poll, POLL_MS);
      return;
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_STORE);
      const why = response.status === 401 ? "The API key was not accepted (401)." : "This API key lacks the read role (403).";
      askForKey(why + " Enter another key.");
      return;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      showStatus("The API answered " + response.status + (body.detail ? ": " + body.detail : "") + "; retrying.", "warn");
      timer = setTimeout(poll, POLL_MS);
      return;
    }
    const snap = await response.json();
    state.snapshot = snap;
    render(snap);
    state.updates += 1;
    document.body.dataset.updates = String(state.updates);
    document.body.dataset.ready = "true";
    const lagNote = snap.lag === null ? " Lag unknown: the broker did not answer." : "";
    showStatus("Live · updated " + clock(snap.generated_at) + lagNote, snap.lag === null ? "warn" : "ok");
    timer = setTimeout(poll, POLL_MS);
  }

  keyFromFragment();
  createCharts();
  poll();
})();
