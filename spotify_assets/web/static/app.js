// The dashboard page: reads /api and draws each playlist's history with Chart.js. Without
// Chart.js, or where a chart fails, the cards and tables still show and the chart says so.
//
// Every name from the data reaches the page as text only: through textContent, <option> text
// and chart labels (drawn on a canvas), never as HTML. The Content-Security-Policy (no inline
// script, Trusted Types) is the second line of defence, not the first.
"use strict";

(() => {
  const VIEWS = [
    "playlist_length",
    "weekly_changes",
    "top_artists",
    "release_decades",
    "album_types",
    "explicit_share",
    "new_and_dropped",
    "position_movers",
    "tracks_ever",
  ];
  const TOP_ARTISTS = 10;
  const TOKEN_KEY = "spotify-assets.token";
  const SIGN_IN_KEY = "spotify-assets.sign-in";
  const PALETTE = ["#1db954", "#3d7dd8", "#e8743b", "#a05bd5", "#d64d74", "#2bb5b0", "#c9a227", "#7d8691"];

  const state = { auth: null, token: null, charts: {}, summaries: new Map(), shown: 0 };

  const byId = (id) => document.getElementById(id);

  function setStatus(text, kind) {
    const status = byId("status");
    status.textContent = text;
    status.dataset.kind = kind || "";
    status.hidden = !text;
  }

  // --- sign-in (AWS only: Cognito's hosted login, authorization code with PKCE) -------------

  function base64url(bytes) {
    let text = "";
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomString() {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  const redirectUri = () => `${location.origin}/`;

  async function signIn() {
    const verifier = randomString();
    const nonce = randomString();
    sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify({ verifier, nonce, hash: location.hash }));
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const url = new URL("/oauth2/authorize", state.auth.domain);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: state.auth.client_id,
      redirect_uri: redirectUri(),
      scope: state.auth.scopes || "openid",
      state: nonce,
      code_challenge: base64url(digest),
      code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
  }

  async function finishSignIn(params) {
    const saved = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) || "null");
    sessionStorage.removeItem(SIGN_IN_KEY);
    if (!saved || saved.nonce !== params.get("state")) {
      throw new Error("sign-in failed: the answer does not match the request; reload the page");
    }
    const response = await fetch(new URL("/oauth2/token", state.auth.domain), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: state.auth.client_id,
        code: params.get("code"),
        redirect_uri: redirectUri(),
        code_verifier: saved.verifier,
      }),
    });
    if (!response.ok) throw new Error(`sign-in failed: the token endpoint answered ${response.status}`);
    const tokens = await response.json();
    state.token = tokens.access_token;
    const expires = Date.now() + (tokens.expires_in || 3600) * 1000;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token: state.token, expires }));
    history.replaceState(null, "", `/${saved.hash || ""}`);
  }

  // Resolves to false when the page is leaving for the sign-in page.
  async function authenticate() {
    const response = await fetch("/config.json", { headers: { Accept: "application/json" } });
    state.auth = response.ok ? (await response.json()).auth : null;
    if (!state.auth) return true;
    const params = new URLSearchParams(location.search);
    if (params.has("error")) throw new Error(`sign-in failed: ${params.get("error")}`);
    if (params.has("code")) {
      await finishSignIn(params);
    } else {
      const stored = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
      if (stored && stored.expires > Date.now() + 60000) state.token = stored.token;
    }
    if (!state.token) {
      await signIn();
      return false;
    }
    const signOut = byId("sign-out");
    signOut.hidden = false;
    signOut.addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      const url = new URL("/logout", state.auth.domain);
      url.search = new URLSearchParams({ client_id: state.auth.client_id, logout_uri: redirectUri() }).toString();
      location.assign(url.toString());
    });
    return true;
  }

  async function api(path) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(path, { headers });
    if (response.status === 401 && state.auth) {
      sessionStorage.removeItem(TOKEN_KEY);
      await signIn();
      throw new Error("signing in again");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error((body && body.error && body.error.message) || `${path} answered ${response.status}`);
    }
    return body;
  }

  // --- what the charts and tables show: plain functions of a view's rows --------------------

  const latestRows = (rows, week) => rows.filter((row) => row.week === week);
  const decadeLabel = (decade) => (decade === null ? "unknown" : `${decade}s`);

  function chartData(views, week) {
    const length = views.playlist_length;
    const changes = views.weekly_changes;
    const artists = views.top_artists.slice(0, TOP_ARTISTS);
    const decades = latestRows(views.release_decades, week);
    const types = latestRows(views.album_types, week);
    const explicit = latestRows(views.explicit_share, week)[0];
    return {
      length: {
        labels: length.map((row) => row.week),
        series: [length.map((row) => row.entries), length.map((row) => row.hours)],
      },
      changes: {
        labels: changes.map((row) => row.week),
        series: [
          changes.map((row) => row.added),
          changes.map((row) => row.removed),
          changes.map((row) => (row.turnover === null ? null : row.turnover * 100)),
        ],
      },
      topArtists: {
        labels: artists.map((row) => row.artist_name ?? "(unknown)"),
        series: [artists.map((row) => row.tracks)],
      },
      decades: {
        labels: decades.map((row) => decadeLabel(row.decade)),
        series: [decades.map((row) => row.tracks)],
      },
      albumTypes: {
        labels: types.map((row) => row.album_type ?? "unknown"),
        series: [types.map((row) => row.tracks)],
      },
      explicit: {
        labels: explicit ? ["Explicit", "Not explicit"] : [],
        series: [explicit ? [explicit.explicit_tracks, explicit.tracks - explicit.explicit_tracks] : []],
      },
    };
  }

  function tableRows(views, week) {
    const move = (places) => (places > 0 ? `▲ ${places}` : `▼ ${-places}`);
    return {
      "table-new": latestRows(views.new_and_dropped, week)
        .filter((row) => row.change === "added")
        .map((row) => [row.position + 1, row.name, row.artist_name, row.added_by]),
      "table-movers": views.position_movers.map((row) => [
        row.song_name,
        row.artist_name,
        row.previous_position + 1,
        row.position + 1,
        move(row.places_up),
      ]),
      "table-tracks": views.tracks_ever.map((row) => [
        row.song_name,
        row.artist_name,
        row.first_week,
        row.last_week,
        row.snapshots,
        row.still_present ? "yes" : "no",
      ]),
    };
  }

  // --- drawing ------------------------------------------------------------------------------

  function dataset(label, color, extra) {
    return { label, data: [], borderColor: color, backgroundColor: color, ...extra };
  }

  // Each chart's canvas and configuration, by the name chartData() gives its data.
  function chartConfigs() {
    const over = { mode: "index", intersect: false };
    const percent = (context) => `${context.dataset.label}: ${context.parsed.y.toFixed(1)} %`;
    return {
      length: ["chart-length", {
        type: "line",
        data: {
          labels: [],
          datasets: [
            dataset("Entries", PALETTE[0], { yAxisID: "y" }),
            dataset("Hours", PALETTE[1], { yAxisID: "hours" }),
          ],
        },
        options: {
          interaction: over,
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "entries" } },
            hours: {
              position: "right",
              beginAtZero: true,
              grid: { drawOnChartArea: false },
              title: { display: true, text: "hours" },
            },
          },
        },
      }],
      changes: ["chart-changes", {
        type: "line",
        data: {
          labels: [],
          datasets: [
            dataset("Added", PALETTE[0], { yAxisID: "y" }),
            dataset("Removed", PALETTE[4], { yAxisID: "y" }),
            dataset("Turnover", PALETTE[1], { yAxisID: "turnover", borderDash: [6, 4] }),
          ],
        },
        options: {
          interaction: over,
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "items" } },
            turnover: {
              position: "right",
              min: 0,
              suggestedMax: 50,
              grid: { drawOnChartArea: false },
              title: { display: true, text: "turnover %" },
            },
          },
          plugins: {
            tooltip: {
              callbacks: {
                label: (context) => (context.dataset.yAxisID === "turnover" ? percent(context) : undefined),
              },
            },
          },
        },
      }],
      topArtists: ["chart-top-artists", {
        type: "bar",
        data: { labels: [], datasets: [dataset("Tracks", PALETTE[0])] },
        options: {
          indexAxis: "y",
          plugins: { legend: { display: false } },
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      }],
      decades: ["chart-decades", {
        type: "bar",
        data: { labels: [], datasets: [dataset("Tracks", PALETTE[1])] },
        options: {
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      }],
      albumTypes: ["chart-album-types", {
        type: "doughnut",
        data: { labels: [], datasets: [{ label: "Tracks", data: [], backgroundColor: PALETTE }] },
      }],
      explicit: ["chart-explicit", {
        type: "pie",
        data: { labels: [], datasets: [{ label: "Tracks", data: [], backgroundColor: [PALETTE[4], PALETTE[7]] }] },
      }],
    };
  }

  // A chart that cannot be drawn leaves a short note in its place: the cards, the tables and the
  // other charts still show.
  function chartUnavailable(canvas, reason, error) {
    if (error) console.warn(`${canvas.id}:`, error);
    try {
      if (typeof Chart !== "undefined") Chart.getChart(canvas)?.destroy();
    } catch {
      // Broken already: the note takes its place either way.
    }
    const note = document.createElement("p");
    note.className = "chart-unavailable";
    note.textContent = `Chart unavailable: ${reason}.`;
    canvas.replaceWith(note);
  }

  function dropChart(name, error) {
    const chart = state.charts[name];
    if (!chart) return; // dropped already
    delete state.charts[name];
    chartUnavailable(chart.canvas, "it could not be drawn", error);
  }

  // Chart.js also draws on its own (animation frames, resizes), where an error would escape the
  // page's script: there too, a chart that fails to draw is dropped.
  function guardDrawing(name, chart) {
    const draw = chart.draw;
    chart.draw = function () {
      try {
        return draw.call(this);
      } catch (error) {
        dropChart(name, error);
      }
    };
  }

  function makeCharts() {
    const configs = chartConfigs();
    if (typeof Chart === "undefined") {
      for (const [id] of Object.values(configs)) chartUnavailable(byId(id), "Chart.js did not load");
      return;
    }
    const reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;
    Chart.defaults.animation = reduceMotion ? false : { duration: 300 };
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.color = getComputedStyle(document.body).color;
    for (const [name, [id, config]] of Object.entries(configs)) {
      try {
        state.charts[name] = new Chart(byId(id), config);
        guardDrawing(name, state.charts[name]);
      } catch (error) {
        chartUnavailable(byId(id), "it could not be drawn", error);
      }
    }
  }

  function drawCharts(data) {
    for (const [name, chart] of Object.entries(state.charts)) {
      try {
        chart.data.labels = data[name].labels;
        data[name].series.forEach((values, index) => {
          chart.data.datasets[index].data = values;
        });
        chart.update();
      } catch (error) {
        dropChart(name, error);
      }
    }
  }

  // Columns that hold names wrap; the others (numbers, weeks) stay on one line.
  const NAME_COLUMNS = { "table-new": [1, 2, 3], "table-movers": [0, 1], "table-tracks": [0, 1] };

  function fillTable(id, rows) {
    const table = byId(id);
    const body = table.tBodies[0];
    const columns = table.tHead.rows[0].cells.length;
    const fresh = document.createElement("tbody");
    for (const values of rows) {
      const tr = fresh.insertRow();
      values.forEach((value, index) => {
        const cell = tr.insertCell();
        cell.textContent = value ?? "";
        if (!NAME_COLUMNS[id].includes(index)) cell.className = "fixed";
      });
    }
    if (!rows.length) {
      const cell = fresh.insertRow().insertCell();
      cell.colSpan = columns;
      cell.className = "empty";
      cell.textContent = "Nothing this week";
    }
    body.replaceWith(fresh);
  }

  function showSummary(latest) {
    const show = (id, value) => {
      byId(id).textContent = value === null || value === undefined ? "–" : String(value);
    };
    show("stat-week", latest && latest.week);
    show("stat-entries", latest && latest.entries);
    show("stat-hours", latest && latest.hours !== null ? latest.hours.toFixed(1) : null);
    show("stat-added", latest && latest.added);
    show("stat-removed", latest && latest.removed);
    show("stat-artists", latest && latest.distinct_artists);
  }

  // A view's rows, a page at a time: the API answers up to 1,000 rows a request.
  async function viewRows(playlist, view) {
    const path = `/api/playlists/${encodeURIComponent(playlist)}/views/${view}`;
    const rows = [];
    for (let offset = 0; offset !== null; ) {
      const page = await api(`${path}?offset=${offset}`);
      rows.push(...page.rows);
      offset = page.next_offset;
    }
    return rows;
  }

  // Its owner and size as the serving store last saw them; empty while it holds no row for it.
  function aboutPlaylist(summary) {
    const parts = [];
    const owner = summary.owner_name || summary.owner_id;
    if (owner) parts.push(`by ${owner}`);
    if (typeof summary.total === "number") {
      parts.push(`${summary.total} ${summary.total === 1 ? "entry" : "entries"}`);
    }
    return parts.join(" · ");
  }

  async function showPlaylist(playlist) {
    const shown = ++state.shown;
    document.body.dataset.state = "loading";
    setStatus("Loading…");
    const rows = await Promise.all(VIEWS.map((view) => viewRows(playlist, view)));
    if (shown !== state.shown) return; // another playlist was picked meanwhile
    const views = Object.fromEntries(VIEWS.map((view, index) => [view, rows[index]]));
    const summary = state.summaries.get(playlist);
    const weeks = views.playlist_length.map((row) => row.week);
    const week = (summary.latest && summary.latest.week) || weeks[weeks.length - 1] || null;
    showSummary(summary.latest);
    drawCharts(chartData(views, week));
    for (const [id, rows] of Object.entries(tableRows(views, week))) fillTable(id, rows);
    byId("playlist-name").textContent = summary.name ?? playlist;
    byId("playlist-about").textContent = aboutPlaylist(summary);
    document.title = `${summary.name ?? playlist} · Playlist history`;
    document.body.dataset.playlist = playlist;
    document.body.dataset.state = "ready";
    setStatus("");
  }

  function fail(error) {
    document.body.dataset.state = "error";
    setStatus(error.message, "error");
  }

  function selectedFromHash(select) {
    const wanted = decodeURIComponent(location.hash.slice(1));
    return state.summaries.has(wanted) ? wanted : select.options[0].value;
  }

  async function start() {
    if (!(await authenticate())) return;
    const listing = await api("/api/playlists");
    if (!listing.playlists.length) {
      document.body.dataset.state = "empty";
      setStatus(listing.note || "No playlists yet.");
      return;
    }
    const select = byId("playlist");
    for (const summary of listing.playlists) {
      state.summaries.set(summary.playlist, summary);
      const option = document.createElement("option");
      option.value = summary.playlist;
      option.textContent = summary.name ?? summary.playlist;
      select.append(option);
    }
    select.disabled = false;
    makeCharts();
    byId("dashboard").hidden = false;
    select.value = selectedFromHash(select);
    select.addEventListener("change", () => {
      location.hash = encodeURIComponent(select.value);
    });
    window.addEventListener("hashchange", () => {
      select.value = selectedFromHash(select);
      showPlaylist(select.value).catch(fail);
    });
    await showPlaylist(select.value);
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch(fail);
  });
})();
