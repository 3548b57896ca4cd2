// Refreshes the subflow table every second from /?format=json, over the
// connection that loaded the page when the browser keeps it alive.
"use strict";
const pageRemote = document.body.dataset.remote;
let updates = 0;

async function refresh() {
  try {
    const resp = await fetch("/?format=json", { cache: "no-store" });
    const c = (await resp.json()).connection;
    document.getElementById("mptcp").textContent = c.mptcp ? "yes" : "no";
    document.getElementById("same").textContent =
      c.remote === pageRemote ? "yes" : "no (now " + c.remote + ")";
    const body = document.getElementById("subflows");
    body.replaceChildren();
    for (const s of c.subflows || []) {
      const tr = document.createElement("tr");
      for (const v of [s.id, s.local, s.remote, s.state, s.rtt_ms, s.cwnd, s.bytes_sent, s.bytes_received]) {
        const td = document.createElement("td");
        td.textContent = String(v);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    updates++;
    document.getElementById("updates").textContent = String(updates);
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = String(e);
  }
}

refresh();
setInterval(refresh, 1000);
