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

function showTable(subflows) {
  const body = document.getElementById("subflows");
  body.replaceChildren();
  if (subflows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("No subflows: the connection is not MPTCP.", "empty");
    td.colSpan = 9;
    tr.appendChild(td);
    body.appendChild(tr);
    return;
  }
  for (const s of subflows) {
    const tr = document.createElement("tr");
    tr.append(
      cell(s.id, "num"), cell(s.local, "addr"), cell(s.remote, "addr"), cell(s.state),
      cell(s.rtt_ms.toFixed(1) + " ms", "num"), cell(s.cwnd, "num"),
      cell(humanBytes(s.bytes_sent), "num", s.bytes_sent + " bytes"),
      cell(humanBytes(s.bytes_acked), "num", s.bytes_acked + " bytes"),
      cell(humanBytes(s.bytes_received), "num", s.bytes_received + " bytes"));
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

refresh();
setInterval(refresh, 1000);
