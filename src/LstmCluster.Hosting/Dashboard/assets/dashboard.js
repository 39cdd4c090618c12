// LstmCluster dashboard: one page over the job API, no framework, no build step.
// Pages are hash routes (#/jobs, #/job/<id>, #/cluster, #/submit). API calls carry the token the user typed
// (sessionStorage: gone when the tab closes) as "Authorization: Bearer"; images and downloads are fetched the same way
// and shown as blobs, since an <img src> or a link cannot send that header.
"use strict";

const TOKEN_KEY = "lstmcluster.token";
const POLL_MS = 1500;
const SVG_NS = "http://www.w3.org/2000/svg";
const ENDED = new Set(["Succeeded", "Failed", "Cancelled"]);

const $ = (id) => document.getElementById(id);
let timer = null;          // the current page's polling timer
let generation = 0;        // bumps on every navigation: late answers for a page left behind are dropped
const blobUrls = [];       // object URLs of the current job page, revoked when it is left
const lastStates = new Map(); // job id -> state, to announce changes in the list
const openGroups = new Set();  // groups whose member list the user opened: kept open across polls

// ---------- API ----------

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const t = token();
  if (t) headers.set("Authorization", "Bearer " + t);
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  const response = await fetch(path, { ...options, headers, credentials: "omit", cache: "no-store" });
  if (!response.ok) {
    let reason = response.statusText || "request failed";
    try {
      const body = await response.clone().json();
      if (body && body.error) reason = body.error;
    } catch { /* not JSON */ }
    if (response.status === 401) reason = t ? "The API token was not accepted." : "This server needs an API token: type it in the API token field above.";
    throw new ApiError(response.status, reason);
  }
  return response;
}

const json = async (path, options) => (await api(path, options)).json();

// ---------- formatting ----------

const fmt = (v, digits = 3) => v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toPrecision(digits);
const fmtRate = (v) => v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en");
const fmtTime = (t) => t ? new Date(t).toLocaleString() : "–";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function stateBadge(state) { return el("span", { class: "state state-" + state, text: state }); }

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

// ---------- routing ----------

function route() {
  const hash = location.hash || "#/jobs";
  const job = hash.match(/^#\/job\/(.+)$/);
  if (job) return { page: "job", id: decodeURIComponent(job[1]) };
  const page = hash.replace(/^#\//, "");
  return { page: ["jobs", "cluster", "submit"].includes(page) ? page : "jobs" };
}

function navigate(focus) {
  clearTimeout(timer);
  generation++;
  while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop());
  showError("");
  const r = route();
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== "page-" + r.page;
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === r.page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const title = { jobs: "Jobs", job: "Job " + (r.id || ""), cluster: "Cluster", submit: "Submit a job" }[r.page];
  document.title = title + " · LstmCluster";
  // Moving to another page puts the keyboard and screen-reader focus on its heading, as a page load would.
  if (focus) {
    const heading = document.querySelector("#page-" + r.page + " h1");
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
  ({ jobs: showJobs, job: () => { resetJobPage(r.id); showJob(r.id); }, cluster: showCluster, submit: showSubmit })[r.page]();
}

function poll(fn, gen) {
  if (gen !== generation) return;
  timer = setTimeout(() => fn(gen), POLL_MS);
}

// ---------- jobs ----------

async function showJobs(gen = generation) {
  try {
    const [list, groups] = await Promise.all([json("/jobs"), json("/groups")]);
    if (gen !== generation) return;
    renderJobs(list.jobs || []);
    renderGroups(groups.groups || []);
    showError("");
  } catch (e) {
    if (gen !== generation) return;
    showError(e.message);
    if (e.status === 401) return; // until a token is entered (which reloads the page's data)
  }
  poll(showJobs, gen);
}

function renderJobs(jobs) {
  jobs = [...jobs].sort((a, b) => String(b.submitted || "").localeCompare(String(a.submitted || "")) || b.id.localeCompare(a.id, "en", { numeric: true }));
  const body = $("jobs-body");
  const rows = jobs.map((j) => {
    const epochs = Math.max(j.epochs || 0, 1);
    const progress = el("progress", { max: epochs, value: Math.min(j.epoch || 0, epochs), "aria-label": `${j.id}: epoch ${j.epoch} of ${j.epochs}` });
    const best = j.best_baseline ? `${j.best_baseline} (${fmt(j.best_baseline_mase)})` : "–";
    const mase = j.test_mase === null || j.test_mase === undefined ? "–" : fmt(j.test_mase);
    const beats = j.test_mase !== null && j.best_baseline_mase !== null && j.test_mase !== undefined && j.best_baseline_mase !== undefined
      ? (j.test_mase < j.best_baseline_mase ? " (beats it)" : " (does not beat it)") : "";
    return el("tr", { "data-job-id": j.id, "data-state": j.state },
      el("th", { scope: "row" }, el("a", { href: "#/job/" + encodeURIComponent(j.id), text: j.id })),
      el("td", {}, stateBadge(j.state), j.reason && (j.state === "Failed" || j.state === "Queued") ? el("div", { class: "muted", text: j.reason }) : null,
        typeof j.ahead === "number" ? el("div", { class: "muted", text: j.ahead === 0 ? "next to start" : j.ahead === 1 ? "1 job ahead" : `${j.ahead} jobs ahead` }) : null),
      el("td", {}, progress, el("span", { class: "progress-text", "aria-hidden": "true", text: `${Math.round(100 * (j.epoch || 0) / epochs)}%` })),
      el("td", { class: "num", text: `${j.epoch} / ${j.epochs}` }),
      el("td", { class: "num", text: fmtRate(j.samples_per_second) }),
      el("td", { class: "num", text: String(j.workers) }),
      el("td", { class: "num", text: mase + (mase === "–" ? "" : beats) }),
      el("td", { text: best }),
      el("td", { text: j.data ? `${j.data}${j.target ? " · " + j.target : ""}` : "–" }));
  });
  body.replaceChildren(...rows);
  $("jobs-empty").hidden = jobs.length > 0;
  $("jobs-updated").textContent = "Updated " + new Date().toLocaleTimeString() + " (every " + POLL_MS / 1000 + " s)";
  // Announce state changes only: re-reading the table every poll would drown a screen reader.
  const changes = [];
  for (const j of jobs) {
    const before = lastStates.get(j.id);
    if (before !== undefined && before !== j.state) changes.push(`${j.id} is ${j.state}`);
    lastStates.set(j.id, j.state);
  }
  if (changes.length) $("jobs-live").textContent = changes.join(". ");
}

// ---------- job groups ----------

function renderGroups(groups) {
  const rows = groups.map((g) => {
    const counts = ["Queued", "Running", "Succeeded", "Failed", "Cancelled"]
      .map((s) => [s, g[s.toLowerCase()] || 0]).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(", ");
    const members = el("details", { "data-group": g.id, open: openGroups.has(g.id) },
      el("summary", { text: `${g.series} member${g.series === 1 ? "" : "s"}${counts ? ": " + counts : ""}` }),
      el("ul", { class: "members" }, ...g.members.map((m) => el("li", { "data-member": m.job || m.symbol },
        m.job ? el("a", { href: "#/job/" + encodeURIComponent(m.job), text: m.job }) : el("span", { class: "muted", text: "no job" }),
        " ", el("span", { text: m.symbol }), " ", stateBadge(m.state),
        m.validation_mase !== null && m.validation_mase !== undefined ? el("span", { class: "muted", text: ` validation MASE ${fmt(m.validation_mase)}` }) : null,
        m.reason && m.state !== "Succeeded" ? el("span", { class: "muted", text: " " + m.reason }) : null))));
    members.addEventListener("toggle", () => { if (members.open) openGroups.add(g.id); else openGroups.delete(g.id); });
    let sweep = "–";
    if (g.sweep) {
      const rounds = g.sweep.rounds.length;
      const best = g.sweep.leaderboard.length ? g.sweep.leaderboard[0] : null;
      sweep = `${g.sweep.trials} trials, round ${g.sweep.round} of ${rounds}`;
      if (best && best.validation_mase !== null) sweep += `; ${g.state === "Succeeded" ? "best" : "leading"}: trial ${best.trial} (validation MASE ${fmt(best.validation_mase)})`;
    }
    const progress = el("progress", { max: 1, value: Math.min(g.progress || 0, 1), "aria-label": `${g.id}: ${Math.round(100 * (g.progress || 0))}% done` });
    return el("tr", { "data-group-id": g.id, "data-state": g.state },
      el("th", { scope: "row", text: g.id }),
      el("td", { text: g.strategy }),
      el("td", {}, stateBadge(g.state), g.reason && g.state !== "Succeeded" ? el("div", { class: "muted", text: g.reason }) : null),
      el("td", {}, progress, el("span", { class: "progress-text", "aria-hidden": "true", text: `${Math.round(100 * (g.progress || 0))}%` })),
      el("td", {}, members),
      el("td", { class: "sweep", text: sweep }),
      el("td", { text: g.data ? `${g.data}${g.target ? " · " + g.target : ""}` : "–" }));
  });
  $("groups-body").replaceChildren(...rows);
  $("groups-empty").hidden = groups.length > 0;
}

// ---------- one job ----------

async function showJob(id, gen = generation) {
  try {
    const [job, history] = await Promise.all([json("/jobs/" + encodeURIComponent(id)), json("/jobs/" + encodeURIComponent(id) + "/history")]);
    if (gen !== generation) return;
    renderJob(job);
    drawLoss(history.epochs || [], job);
    showError("");
    if (ENDED.has(job.state)) {
      if (job.state === "Succeeded" && $("job-results").hidden) await showResults(job, gen);
      return; // nothing changes any more
    }
  } catch (e) {
    if (gen !== generation) return;
    showError(e.message);
    if (e.status === 404 || e.status === 401) return;
  }
  poll((g) => showJob(id, g), gen);
}

function resetJobPage(id) {
  const page = $("page-job");
  page.dataset.job = id;
  $("job-title").textContent = "Job " + id;
  $("job-facts").replaceChildren();
  $("job-live").textContent = "";
  $("loss-chart").replaceChildren();
  $("loss-chart").setAttribute("data-points", "0");
  $("loss-summary").textContent = "";
  $("job-results").hidden = true;
  $("forecast-plot").removeAttribute("src");
  $("forecast-plot-status").textContent = "";
  $("downloads").replaceChildren();
  $("forecast-table").tHead.replaceChildren();
  $("forecast-table").tBodies[0].replaceChildren();
  $("predictions-table").tHead.replaceChildren();
  $("predictions-table").tBodies[0].replaceChildren();
}

function renderJob(j) {
  const page = $("page-job");
  const facts = [
    ["State", stateBadge(j.state)], ["Epoch", `${j.epoch} / ${j.epochs}`],
    ["Train loss", fmt(j.train_loss, 4)], ["Validation loss", fmt(j.validation_loss, 4)],
    ["Samples/s", fmtRate(j.samples_per_second)], ["Workers", String(j.workers)],
    ["Test MASE", fmt(j.test_mase)], ["Best naive baseline", j.best_baseline ? `${j.best_baseline} (MASE ${fmt(j.best_baseline_mase)})` : "–"],
    ["Data", j.data ? `${j.data}${j.target ? " · " + j.target : ""}` : "–"], ["Attempts", String(j.attempts || 0)],
    ["Submitted", fmtTime(j.submitted)], ["Finished", fmtTime(j.finished)],
  ];
  $("job-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  if (j.reason) $("job-facts").append(el("dt", { text: "Reason" }), el("dd", { text: j.reason }));
  const line = ENDED.has(j.state) ? `${j.state}.` : `${j.state}: epoch ${j.epoch} of ${j.epochs}.`;
  // The live region changes on state and epoch, not on every poll.
  if ($("job-live").textContent !== line) $("job-live").textContent = line;
  page.dataset.state = j.state;
  const cancel = $("job-cancel");
  cancel.textContent = ENDED.has(j.state) ? "Delete job" : "Cancel job";
  cancel.dataset.ended = ENDED.has(j.state) ? "true" : "false";
}

async function cancelJob() {
  const id = $("page-job").dataset.job;
  const ended = $("job-cancel").dataset.ended === "true";
  if (ended && !confirm(`Delete job ${id} and its files?`)) return;
  $("job-cancel").disabled = true;
  try {
    await api("/jobs/" + encodeURIComponent(id), { method: "DELETE" });
    if (ended) { location.hash = "#/jobs"; return; }
    $("job-live").textContent = `Cancelling ${id}.`;
    clearTimeout(timer);
    showJob(id, ++generation);
  } catch (e) {
    showError(e.message);
  } finally {
    $("job-cancel").disabled = false;
  }
}

/** The loss curves as inline SVG: epochs across, loss up (log scale when it spans more than a factor 20). */
function drawLoss(epochs, job) {
  const svg = $("loss-chart");
  const W = 720, H = 300, L = 64, R = 16, T = 34, B = 40;
  const pts = epochs.filter((e) => e.train_loss !== null || e.validation_loss !== null);
  const values = pts.flatMap((e) => [e.train_loss, e.validation_loss]).filter((v) => v !== null && Number.isFinite(v));
  svg.replaceChildren();
  svg.setAttribute("data-points", String(pts.length));
  if (pts.length === 0 || values.length === 0) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, job.state === "Queued" ? "Waiting for the first epoch (queued)" : "No epochs yet"));
    $("loss-summary").textContent = job.state === "Queued" ? "Queued: no epochs yet." : "No epoch has been reported yet.";
    return;
  }
  const positive = values.every((v) => v > 0);
  let lo = Math.min(...values), hi = Math.max(...values);
  const log = positive && hi / lo > 20;
  const f = log ? Math.log10 : (v) => v;
  let flo = f(lo), fhi = f(hi);
  if (fhi - flo < 1e-12) { flo -= 0.5 * Math.abs(flo || 1); fhi += 0.5 * Math.abs(fhi || 1); }
  if (!log) flo = Math.min(flo, 0) === 0 && lo >= 0 ? 0 : flo;
  const first = pts[0].epoch, last = Math.max(pts[pts.length - 1].epoch, job.epochs || 0, first + 1);
  const x = (e) => L + (W - L - R) * (e - first) / (last - first);
  const y = (v) => T + (H - T - B) * (1 - (f(v) - flo) / (fhi - flo));

  // grid and y ticks
  const ticks = log ? logTicks(lo, hi) : linTicks(flo, fhi);
  for (const t of ticks) {
    const ty = y(t);
    if (ty < T - 1 || ty > H - B + 1) continue;
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: ty, y2: ty, class: "grid" }));
    svg.append(svgEl("text", { x: L - 6, y: ty + 4, "text-anchor": "end" }, shortNum(t)));
  }
  for (const e of linTicks(first, last, 8).filter((e) => Number.isInteger(e))) {
    svg.append(svgEl("line", { x1: x(e), x2: x(e), y1: H - B, y2: H - B + 5, class: "axis" }));
    svg.append(svgEl("text", { x: x(e), y: H - B + 18, "text-anchor": "middle" }, String(e)));
  }
  svg.append(svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  svg.append(svgEl("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  svg.append(svgEl("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, "epoch"));
  svg.append(svgEl("text", { x: 14, y: (T + H - B) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(T + H - B) / 2})` }, log ? "loss (log scale)" : "loss"));

  for (const [key, cls, label, lx] of [["train_loss", "train", "train", L + 8], ["validation_loss", "validation", "validation", L + 110]]) {
    const series = pts.filter((e) => e[key] !== null && Number.isFinite(e[key]));
    if (series.length > 1) svg.append(svgEl("polyline", { class: cls, points: series.map((e) => `${x(e.epoch).toFixed(1)},${y(e[key]).toFixed(1)}`).join(" ") }));
    if (series.length <= 60) for (const e of series) svg.append(svgEl("circle", { class: "point-" + cls, cx: x(e.epoch).toFixed(1), cy: y(e[key]).toFixed(1), r: 2.5 }));
    svg.append(svgEl("line", { x1: lx, x2: lx + 24, y1: 16, y2: 16, class: cls }));
    svg.append(svgEl("text", { x: lx + 30, y: 20 }, label));
  }
  const end = pts[pts.length - 1];
  $("loss-summary").textContent = `${pts.length} epoch${pts.length === 1 ? "" : "s"}${ENDED.has(job.state) ? "" : " so far"}; epoch ${end.epoch}: train loss ${fmt(end.train_loss, 4)}, validation loss ${fmt(end.validation_loss, 4)}.`;
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function linTicks(lo, hi, count = 5) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function logTicks(lo, hi) {
  const out = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) out.push(Math.pow(10, p));
  return out;
}

function shortNum(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

async function showResults(job, gen) {
  const id = encodeURIComponent(job.id);
  $("job-results").hidden = false;

  // Forecast values (from the status).
  const ft = $("forecast-table");
  ft.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col", class: "num", text: "Step" }), el("th", { scope: "col", text: "Time" }),
    el("th", { scope: "col", class: "num", text: "Forecast" + (job.target ? ` (${job.target})` : "") })));
  ft.tBodies[0].replaceChildren(...(job.forecast || []).map((v, i) => el("tr", {},
    el("td", { class: "num", text: String(i + 1) }), el("td", { text: (job.forecast_times || [])[i] || String(i + 1) }),
    el("td", { class: "num", text: v === null ? "–" : Number(v).toFixed(3) }))));

  // Downloads: fetched with the token, saved from a blob.
  const downloads = [
    ["Model (zip)", `/jobs/${id}/model`, `${job.id}-model.zip`],
    ["Forecast (CSV)", `/jobs/${id}/files/forecast.csv`, `${job.id}-forecast.csv`],
    ["Test predictions (CSV)", `/jobs/${id}/files/test_predictions.csv`, `${job.id}-test_predictions.csv`],
    ["Metrics (JSON)", `/jobs/${id}/metrics`, `${job.id}-metrics.json`],
    ["Forecast plot (PNG)", `/jobs/${id}/plot`, `${job.id}-forecast.png`],
    ["Loss plot (PNG)", `/jobs/${id}/plot?kind=loss`, `${job.id}-loss.png`],
  ];
  $("downloads").replaceChildren(...downloads.map(([label, path, name]) => {
    const button = el("button", { type: "button", "data-path": path, text: "Download " + label.toLowerCase() });
    button.addEventListener("click", () => download(path, name));
    return el("li", {}, button);
  }));

  // The forecast plot.
  try {
    const blob = await (await api(`/jobs/${id}/plot`, { headers: { Accept: "image/png" } })).blob();
    if (gen !== generation) return;
    const url = URL.createObjectURL(blob);
    blobUrls.push(url);
    $("forecast-plot").src = url;
  } catch (e) {
    $("forecast-plot-status").textContent = "No forecast plot: " + e.message;
  }

  // Test predictions (one-step-ahead and beyond), as the CSV the run wrote.
  try {
    const text = await (await api(`/jobs/${id}/files/test_predictions.csv`, { headers: { Accept: "text/csv" } })).text();
    if (gen !== generation) return;
    renderCsv($("predictions-table"), text, 500);
  } catch (e) {
    $("predictions-note").textContent = "No test predictions: " + e.message;
  }
}

function renderCsv(table, text, max) {
  const lines = text.trim().split(/\r?\n/);
  const header = lines.shift().split(",");
  table.tHead.replaceChildren(el("tr", {}, ...header.map((h) => el("th", { scope: "col", text: h }))));
  const rows = lines.slice(0, max).map((line) => el("tr", {}, ...line.split(",").map((c) => {
    const n = Number(c);
    return el("td", { class: c !== "" && Number.isFinite(n) ? "num" : null, text: c !== "" && Number.isFinite(n) && !Number.isInteger(n) ? n.toFixed(3) : c });
  })));
  table.tBodies[0].replaceChildren(...rows);
  $("predictions-note").textContent = `${lines.length} predictions on the test split` + (lines.length > max ? ` (the first ${max} shown; download the CSV for all)` : "") + ".";
}

async function download(path, name) {
  try {
    const blob = await (await api(path, { headers: { Accept: "*/*" } })).blob();
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    showError(`Could not download ${name}: ${e.message}`);
  }
}

// ---------- cluster ----------

async function showCluster(gen = generation) {
  try {
    // /ready answers 503 (with the same body) while the cluster is not ready: read it either way.
    const response = await fetch("/ready", { headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit" });
    const ready = await response.json();
    if (gen !== generation) return;
    renderCluster(ready);
    showError("");
  } catch (e) {
    if (gen !== generation) return;
    showError("Could not read /ready: " + e.message);
  }
  await showThroughput(gen);
  poll(showCluster, gen);
}

function renderCluster(ready) {
  const line = (ready.ready ? "Ready: " : "Not ready: ") + ready.detail + (ready.converged ? "" : " (membership not converged)");
  if ($("cluster-ready").textContent !== line) $("cluster-ready").textContent = line;
  $("page-cluster").dataset.members = String((ready.members || []).length);
  $("members-body").replaceChildren(...(ready.members || []).map((m) => el("tr", { "data-address": m.address },
    el("th", { scope: "row", text: m.address }),
    el("td", { text: (m.roles || []).join(", ") }),
    el("td", { text: m.status }),
    el("td", { text: m.reachable ? "yes" : "NO (unreachable)" }))));
  $("roles-list").replaceChildren(...Object.entries(ready.roles || {}).map(([role, n]) => el("li", { text: `${role}: ${n}` })));
}

let throughputJob = null; // the job whose per-worker figures are shown, and when they were read
async function showThroughput(gen) {
  const note = $("throughput-note");
  let jobs;
  try {
    jobs = (await json("/jobs")).jobs || [];
  } catch (e) {
    note.textContent = "Per-worker throughput needs the job API: " + e.message;
    return;
  }
  const done = jobs.filter((j) => j.state === "Succeeded").sort((a, b) => String(b.finished || "").localeCompare(String(a.finished || "")))[0];
  const running = jobs.filter((j) => j.state === "Running");
  const live = running.length
    ? "Live per-worker throughput is not tracked; running now: " + running.map((j) => `${j.id} at ${fmtRate(j.samples_per_second)} samples/s on ${j.workers} workers`).join("; ") + ". "
    : "Live per-worker throughput is not tracked (nodes export cluster-wide rounds and samples at /metrics). ";
  if (!done) {
    note.textContent = live + "No job has finished yet, so there are no per-worker figures.";
    $("throughput-table").hidden = true;
    return;
  }
  if (throughputJob !== done.id) {
    try {
      const metrics = await json(`/jobs/${encodeURIComponent(done.id)}/metrics`);
      if (gen !== generation) return;
      const engine = metrics.engine || {};
      const seconds = engine.seconds || (metrics.training || {}).seconds || 0;
      const workers = engine.per_worker || [];
      $("throughput-body").replaceChildren(...workers.map((w) => el("tr", {},
        el("th", { scope: "row", text: "worker " + w.worker }),
        el("td", { class: "num", text: String(w.rounds) }),
        el("td", { class: "num", text: String(w.samples) }),
        el("td", { class: "num", text: seconds > 0 ? fmtRate(w.samples / seconds) : "–" }),
        el("td", { class: "num", text: String(w.dropped_gradients ?? 0) }))));
      $("throughput-table").hidden = workers.length === 0;
      throughputJob = done.id;
      $("throughput-table").dataset.job = done.id;
      $("throughput-table").dataset.note = workers.length === 0 ? "none" : "";
      note.dataset.base = workers.length
        ? `Per worker over the latest finished job, ${done.id} (${seconds} s of training).`
        : `The latest finished job, ${done.id}, has no per-worker figures.`;
    } catch (e) {
      note.dataset.base = `No per-worker figures for ${done.id}: ${e.message}`;
    }
  }
  note.textContent = live + (note.dataset.base || "");
}

// ---------- submit ----------

function showSubmit() {
  $("submit-button").disabled = false;
}

async function submitJob(event) {
  event.preventDefault();
  const form = $("submit-form");
  const status = $("submit-status");
  const file = $("f-data").files[0];
  const target = $("f-target").value.trim();
  const problems = [];
  if (!file) problems.push("choose a CSV file");
  if (!target) problems.push("give the target column");
  $("f-data").setAttribute("aria-invalid", file ? "false" : "true");
  $("f-target").setAttribute("aria-invalid", target ? "false" : "true");
  if (problems.length) {
    status.textContent = "Not submitted: " + problems.join(" and ") + ".";
    (file ? $("f-target") : $("f-data")).focus();
    return;
  }
  // Only the fields given: an empty one takes the server's default.
  const body = new FormData();
  for (const input of form.querySelectorAll("input[name]")) {
    if (input.type === "file") continue;
    const value = input.value.trim();
    if (value !== "") body.append(input.name, value);
  }
  body.append("data", file, file.name);
  $("submit-button").disabled = true;
  status.textContent = "Submitting " + file.name + "…";
  try {
    const answer = await json("/jobs", { method: "POST", body });
    status.textContent = `Submitted as ${answer.id}.`;
    location.hash = "#/job/" + encodeURIComponent(answer.id);
  } catch (e) {
    status.textContent = "Not submitted: " + e.message;
    status.focus();
  } finally {
    $("submit-button").disabled = false;
  }
}

// ---------- token ----------

function updateTokenStatus() {
  $("token-status").textContent = token() ? "A token is set for this tab." : "No token set.";
}

function init() {
  $("token").value = "";
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    updateTokenStatus();
    navigate(false);
  });
  $("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    updateTokenStatus();
    navigate(false);
  });
  $("submit-form").addEventListener("submit", submitJob);
  $("job-cancel").addEventListener("click", cancelJob);
  $("submit-status").setAttribute("tabindex", "-1");
  // Only page routes navigate; other fragments (none today) stay in-page.
  window.addEventListener("hashchange", () => { if (location.hash === "" || location.hash.startsWith("#/")) navigate(true); });
  // The skip link moves focus without touching the route (its #main would otherwise replace the page's hash).
  document.querySelector(".skip").addEventListener("click", (e) => { e.preventDefault(); $("main").focus(); });
  updateTokenStatus();
  navigate(false);
}

document.addEventListener("DOMContentLoaded", init);
