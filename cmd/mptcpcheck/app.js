// Refreshes the verdict and the subflow table every second from
// /?format=json, over the connection that loaded the page when the
// browser keeps it alive. Words and units as page.go gives them.
"use strict";
const pageRemote = document.body.dataset.remote;
let updates = 0;

function humanBytes(n) {
  if (n < 1024) return n + " B";
  let v = n;
  for (const unit of ["KiB", "MiB", "GiB", "TiB"]) {
    v /= 1024;
    if (v < 1024 || unit === "TiB") return v.toFixed(1) + " " + unit;
  }
}

function verdict(c) {
  const n = (c.subflows || []).length;
  if (!c.mptcp) return "Your connection is not MPTCP: it uses plain TCP.";
  if (n === 0) return "Your connection uses MPTCP.";
  return "Your connection uses MPTCP with " + n + (n === 1 ? " subflow." : " subflows.");
}

function cell(text, cls, title) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  if (title) td.title = title;
  return td;
}

// duration formats milliseconds as Go's time.Duration prints them to
// the microsecond, as mptcpcheck's text does: 48µs, 1.25ms, 1.5s.
function duration(ms) {
  const us = Math.round(ms * 1000);
  if (us < 1000) return us + "µs";
  if (us < 1000000) return us / 1000 + "ms";
  return us / 1000000 + "s";
}

function showTable(subflows) {
  const body = document.getElementById("subflows");
  body.replaceChildren();
  if (subflows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("No subflows: the connection is not MPTCP.", "empty");
    td.colSpan = 10;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const s of subflows) {
    const tr = document.createElement("tr");
    tr.append(
      cell(s.subflow_id, "num"), cell(s.local, "addr"), cell(s.remote, "addr"), cell(s.state),
      cell(duration(s.rtt_ms), "num"), cell(s.cwnd, "num"),
      cell(humanBytes(s.bytes_sent), "num", s.bytes_sent + " bytes"),
      cell(humanBytes(s.bytes_acked), "num", s.bytes_acked + " bytes"),
      cell(humanBytes(s.bytes_received), "num", s.bytes_received + " bytes"),
      cell(s.retrans, "num"));
    body.appendChild(tr);
  }
}

// showConn names the connection the last refresh describes.
function showConn(c) {
  const addr = (text) => {
    const span = document.createElement("span");
    span.className = "addr";
    span.textContent = text;
    return span;
  };
  const parts = ["From ", addr(c.remote), " \u2192 ", addr(c.local)];
  if (c.token) parts.push(", token ", addr(c.token));
  document.getElementById("conn").replaceChildren(...parts);
}

async function refresh() {
  try {
    const resp = await fetch("/?format=json", { cache: "no-store" });
    const c = (await resp.json()).connection;
    const box = document.getElementById("verdict");
    box.classList.toggle("yes", c.mptcp);
    box.classList.toggle("no", !c.mptcp);
    document.getElementById("verdict-text").textContent = verdict(c);
    document.getElementById("reason").textContent = c.error || "";
    showConn(c);
    document.getElementById("howto").hidden = c.mptcp;
    document.getElementById("same").textContent =
      c.remote === pageRemote ? "yes" : "no (now " + c.remote + ")";
    showTable(c.subflows || []);
    updates++;
    document.getElementById("updates").textContent = String(updates);
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e);
  }
}

// The download test. The download's connection is busy with the body,
// so its subflows are polled over another connection, from
// /download/status with the id the download's response carries: the
// server answers only to that id, and only while the download runs.
// Rates come from the change of each subflow's bytes_acked (what the
// browser acknowledged) between two polls, over the server's elapsed_ms,
// so that late polls do not distort them. Polls and samples are bounded:
// one poll at a time, every pollMillis, and the chart keeps the last
// maxSamples of at most maxSeries subflows.
const pollMillis = 500;
const maxSamples = 120; // one minute
const maxSeries = 8; // the kernel's most subflows
const svgNS = "http://www.w3.org/2000/svg";
const chartW = 640, chartH = 240;
const plot = { left: 56, right: 12, top: 12, bottom: 30 };
let downloading = false;

// A series is one subflow: its label (the server's address and the
// browser's), its last counters and its rates in Mbit/s, each with the
// time it was measured at, in seconds since the download started.
function seriesKey(s) { return s.local + " \u2194 " + s.remote; }

function sample(series, st) {
  const t = st.elapsed_ms / 1000;
  const seen = new Set();
  for (const s of (st.connection && st.connection.subflows) || []) {
    const key = seriesKey(s);
    seen.add(key);
    let se = series.get(key);
    if (!se) {
      if (series.size >= maxSeries) continue;
      se = { label: key, index: series.size, points: [], last: null };
      series.set(key, se);
    }
    if (se.last && t > se.last.t) {
      const bits = Math.max(0, s.bytes_acked - se.last.bytes) * 8;
      se.points.push({ t, mbps: bits / (t - se.last.t) / 1e6 });
    }
    se.last = { t, bytes: s.bytes_acked };
  }
  // A subflow that is gone carries nothing any more.
  for (const se of series.values()) {
    if (!seen.has(se.label) && se.last) {
      se.points.push({ t, mbps: 0 });
      se.last = null;
    }
    if (se.points.length > maxSamples) se.points.splice(0, se.points.length - maxSamples);
  }
}

function svg(name, attrs, text) {
  const el = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// niceMax rounds a rate up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function draw(series) {
  const chart = document.getElementById("chart");
  let tMin = Infinity, tMax = -Infinity, yMax = 0;
  for (const se of series.values()) {
    for (const p of se.points) {
      tMin = Math.min(tMin, p.t);
      tMax = Math.max(tMax, p.t);
      yMax = Math.max(yMax, p.mbps);
    }
  }
  if (tMin === Infinity) { tMin = 0; tMax = 1; }
  if (tMax - tMin < 1) tMax = tMin + 1;
  yMax = niceMax(yMax);
  const w = chartW - plot.left - plot.right, h = chartH - plot.top - plot.bottom;
  const x = (t) => plot.left + (t - tMin) / (tMax - tMin) * w;
  const y = (v) => plot.top + h - v / yMax * h;
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    const v = yMax * f;
    parts.push(svg("line", { class: "grid", x1: plot.left, x2: plot.left + w, y1: y(v), y2: y(v) }));
    parts.push(svg("text", { class: "axis", x: plot.left - 6, y: y(v) + 4, "text-anchor": "end" },
      (v < 10 ? v.toFixed(1) : v.toFixed(0))));
  }
  parts.push(svg("text", { class: "axis unit", x: 4, y: plot.top + 4 }, "Mbit/s"));
  parts.push(svg("text", { class: "axis", x: plot.left, y: chartH - 8 }, tMin.toFixed(0) + " s"));
  parts.push(svg("text", { class: "axis", x: plot.left + w, y: chartH - 8, "text-anchor": "end" },
    tMax.toFixed(0) + " s since the download started"));
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  for (const se of series.values()) {
    // data-rates holds the series' values for scripts and tests that
    // read the page.
    parts.push(svg("polyline", {
      class: "series s" + se.index,
      "data-subflow": se.label,
      "data-rates": se.points.map((p) => p.mbps.toFixed(3)).join(" "),
      points: se.points.map((p) => x(p.t).toFixed(1) + "," + y(p.mbps).toFixed(1)).join(" "),
    }));
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch s" + se.index;
    const name = document.createElement("span");
    name.className = "addr";
    name.textContent = se.label;
    const last = se.points.length ? se.points[se.points.length - 1].mbps : 0;
    li.append(swatch, name, " " + last.toFixed(1) + " Mbit/s");
    legend.appendChild(li);
  }
  chart.replaceChildren(...parts);
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function pollStatus(id, state) {
  while (!state.done) {
    await sleep(pollMillis);
    if (state.done) break;
    try {
      const resp = await fetch("/download/status?id=" + encodeURIComponent(id), { cache: "no-store" });
      if (resp.status === 404) break; // the download ended
      if (!resp.ok) throw new Error("status: " + resp.status);
      sample(state.series, await resp.json());
      draw(state.series);
    } catch (e) {
      document.getElementById("dl-error").textContent = String(e);
    }
  }
}

async function startDownload() {
  if (downloading) return;
  downloading = true;
  const button = document.getElementById("dl-start");
  const progress = document.getElementById("dl-progress");
  const error = document.getElementById("dl-error");
  button.disabled = true;
  error.textContent = "";
  const size = Number(document.getElementById("download").dataset.size);
  const state = { series: new Map(), done: false };
  draw(state.series);
  let polling = null;
  try {
    const resp = await fetch("/download?size=" + size, { cache: "no-store" });
    if (!resp.ok) throw new Error("download: " + resp.status + " " + resp.statusText);
    const id = resp.headers.get("Mptcpcheck-Download-Id");
    if (id) polling = pollStatus(id, state);
    const reader = resp.body.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
      progress.textContent = humanBytes(got) + " of " + humanBytes(size);
    }
    progress.textContent = humanBytes(got) + " downloaded.";
  } catch (e) {
    error.textContent = String(e);
  } finally {
    state.done = true;
    if (polling) await polling;
    button.disabled = false;
    downloading = false;
  }
}

document.getElementById("dl-start").addEventListener("click", startDownload);
refresh();
setInterval(refresh, 1000);
