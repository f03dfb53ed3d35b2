/* Caudal · the readers' mobile page (/lecturas/campo/).
 *
 * Works without a connection:
 * - a service worker (field_sw.js, served by Django under /lecturas/campo/) caches this
 *   page and its assets; the routes and each route's accounts (JSON) are kept in
 *   IndexedDB as well, so an opened route can be read offline;
 * - every reading is stored in IndexedDB ("queue") with a UUID made on the phone, and
 *   sent in batches to the sync endpoint when there is a connection: on load, on the
 *   browser's "online" event, after each reading, and every 30 s while something waits.
 *   The server ignores a reading it already has (same UUID), so a re-send never
 *   duplicates; a rejected reading stays in the queue with the server's reason.
 * Plain JavaScript, no libraries.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("field-config").textContent);
  const T = {};
  document
    .getElementById("i18n")
    .content.querySelectorAll("[data-k]")
    .forEach((el) => (T[el.dataset.k] = el.textContent));
  const t = (key, values) =>
    (T[key] || key).replace(/\{(\w+)\}/g, (_m, k) => (values && k in values ? values[k] : ""));
  const $ = (id) => document.getElementById(id);

  const BATCH = 50;
  const RETRY_MS = 30000;
  const PHOTO_MAX = 1024;
  const FIX_MAX_AGE_MS = 120000;

  // ---- IndexedDB ----------------------------------------------------------------------

  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open("caudal-field", 1);
        req.onupgradeneeded = () => {
          const d = req.result;
          d.createObjectStore("queue", { keyPath: "client_uuid" });
          d.createObjectStore("kv");
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbPromise;
  }
  function tx(store, mode, fn) {
    return db().then(
      (d) =>
        new Promise((resolve, reject) => {
          const transaction = d.transaction(store, mode);
          const result = fn(transaction.objectStore(store));
          transaction.oncomplete = () => resolve(result && "result" in result ? result.result : result);
          transaction.onerror = () => reject(transaction.error);
          transaction.onabort = () => reject(transaction.error);
        })
    );
  }
  const kvGet = (key) => tx("kv", "readonly", (s) => s.get(key));
  const kvPut = (key, value) => tx("kv", "readwrite", (s) => s.put(value, key));
  const queueAll = () => tx("queue", "readonly", (s) => s.getAll());
  const queuePut = (item) => tx("queue", "readwrite", (s) => s.put(item));
  const queueDelete = (keys) =>
    tx("queue", "readwrite", (s) => keys.forEach((k) => s.delete(k)));

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- state ----------------------------------------------------------------------------

  const state = {
    csrf: config.csrf,
    routes: [],
    route: null, // the route JSON being read
    index: 0,
    queue: [], // items in IndexedDB
    local: {}, // "period|route|account" → last reading saved on this phone
    syncing: false,
    confirmed: false,
    photo: null,
    fix: null,
    watch: null,
    sessionLost: false,
    pushed: false, // the route view was opened from the list (Back returns to it)
  };

  const localKey = (period, route, account) => `${period}|${route}|${account}`;

  // ---- connection and banner ------------------------------------------------------------

  function online() {
    return navigator.onLine !== false;
  }
  function showNet() {
    const net = $("net");
    const on = online();
    net.dataset.state = state.syncing ? "syncing" : on ? "online" : "offline";
    net.textContent = state.syncing ? t("syncing") : on ? t("online") : t("offline");
  }
  let bannerTimer = null;
  function banner(text, kind, sticky) {
    const el = $("banner");
    el.textContent = "";
    el.className = "banner banner-" + (kind || "info");
    el.append(text);
    el.hidden = false;
    clearTimeout(bannerTimer);
    if (!sticky) bannerTimer = setTimeout(() => (el.hidden = true), 4000);
    return el;
  }

  // ---- queue ----------------------------------------------------------------------------

  async function loadQueue() {
    state.queue = (await queueAll()) || [];
    state.queue.sort((a, b) => (a.saved_at < b.saved_at ? -1 : 1));
    const pending = state.queue.length;
    $("queue-count").textContent = String(pending);
    $("queue-button").dataset.state = state.queue.some((q) => q.state === "rejected")
      ? "rejected"
      : pending
        ? "pending"
        : "empty";
    renderQueue();
  }

  function renderQueue() {
    const list = $("queue-list");
    list.textContent = "";
    if (!state.queue.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("empty_queue");
      list.append(li);
      return;
    }
    for (const item of state.queue) {
      const li = document.createElement("li");
      li.dataset.state = item.state;
      const head = document.createElement("div");
      const what = item.value === null ? item.observation_label : String(item.value);
      const strong = document.createElement("strong");
      strong.textContent = item.account;
      head.append(strong, ` · ${what} · ${item.route} ${item.period}`);
      li.append(head);
      if (item.state === "rejected") {
        const why = document.createElement("div");
        why.className = "why";
        why.textContent = Object.entries(item.errors || {})
          .map(([k, v]) => `${k}: ${v}`)
          .join("; ");
        const drop = document.createElement("button");
        drop.type = "button";
        drop.className = "btn btn-sm";
        drop.textContent = t("discard");
        drop.addEventListener("click", async () => {
          await queueDelete([item.client_uuid]);
          await loadQueue();
          renderAccount();
        });
        li.append(why, drop);
      }
      list.append(li);
    }
  }

  async function sync() {
    if (state.syncing || !online()) return;
    const pending = state.queue.filter((q) => q.state === "pending");
    if (!pending.length) return;
    state.syncing = true;
    showNet();
    let sent = 0;
    let rejected = 0;
    try {
      for (let i = 0; i < pending.length; i += BATCH) {
        const batch = pending.slice(i, i + BATCH);
        const body = JSON.stringify({ readings: batch.map(wireItem) });
        let response = await post(body);
        if (response.status === 403 && (await refreshToken())) response = await post(body);
        if (response.redirected || response.type === "opaqueredirect" || response.status === 401) {
          sessionLost();
          return;
        }
        if (response.status !== 200 && response.status !== 422) {
          banner(`${response.status} ${response.statusText}`, "error");
          return;
        }
        state.sessionLost = false;
        const data = await response.json();
        const done = [];
        for (const r of data.results) {
          const item = batch.find((q) => q.client_uuid === r.client_uuid);
          if (!item) continue;
          if (r.status === "rejected") {
            item.state = "rejected";
            item.errors = r.errors || {};
            rejected += 1;
            await queuePut(item);
          } else {
            done.push(item.client_uuid);
            const key = localKey(item.period, item.route, item.account);
            if (state.local[key] && state.local[key].client_uuid === item.client_uuid) {
              state.local[key].state = "sent";
            }
            sent += 1;
          }
        }
        await queueDelete(done);
        await kvPut("local", state.local);
      }
    } catch (_err) {
      // offline or server unreachable: the queue stays, retried later
    } finally {
      state.syncing = false;
      showNet();
      await loadQueue();
      renderAccount();
      if (sent) banner(t("sent", { n: sent }), "ok");
      if (rejected) banner(t("rejected_n", { n: rejected }), "error", true);
    }
  }

  function wireItem(q) {
    const item = {
      client_uuid: q.client_uuid,
      period: q.period,
      route: q.route,
      account: q.account,
      value: q.value,
      observation: q.observation,
      read_at: q.read_at,
    };
    if (q.latitude !== null && q.latitude !== undefined) {
      item.latitude = q.latitude;
      item.longitude = q.longitude;
    }
    if (q.photo) item.photo = q.photo;
    return item;
  }

  function post(body) {
    return fetch(config.sync_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": state.csrf },
      body,
    });
  }

  async function refreshToken() {
    try {
      const response = await fetch(config.routes_url, { credentials: "same-origin" });
      if (!response.ok || response.redirected) return false;
      const data = await response.json();
      state.csrf = data.csrf;
      return true;
    } catch (_err) {
      return false;
    }
  }

  function sessionLost() {
    state.sessionLost = true;
    const el = banner(t("session") + " ", "error", true);
    const a = document.createElement("a");
    a.href = config.login_url;
    a.textContent = t("login");
    el.append(a);
  }

  // ---- routes ---------------------------------------------------------------------------

  async function fetchJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.redirected) {
      sessionLost();
      throw new Error("session");
    }
    const data = await response.json();
    if (!response.ok) throw Object.assign(new Error(data.error || response.status), { data });
    return data;
  }

  async function loadRoutes() {
    let data = null;
    try {
      data = await fetchJSON(config.routes_url);
      state.csrf = data.csrf || state.csrf;
      await kvPut("routes", data);
    } catch (_err) {
      data = await kvGet("routes");
    }
    state.routes = (data && data.routes) || [];
    if (data) {
      // forget readings of routes no longer listed (their period is over)
      const open = new Set(state.routes.map((r) => `${r.period}|${r.route}|`));
      for (const key of Object.keys(state.local)) {
        if (![...open].some((prefix) => key.startsWith(prefix))) delete state.local[key];
      }
      await kvPut("local", state.local);
    }
    renderRoutes();
  }

  function routeDone(route) {
    // readings taken on this phone not yet counted by the server
    let extra = 0;
    for (const [key, local] of Object.entries(state.local)) {
      if (key.startsWith(`${route.period}|${route.route}|`) && local.state !== "sent") extra += 1;
    }
    return Math.min(route.total, route.done + extra);
  }

  function renderRoutes() {
    const list = $("routes");
    list.textContent = "";
    $("routes-empty").hidden = state.routes.length > 0;
    for (const route of state.routes) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "route";
      button.dataset.route = route.route;
      button.dataset.period = route.period;
      const head = document.createElement("div");
      head.className = "route-head";
      const name = document.createElement("strong");
      name.textContent = `${t("route")} ${route.route}`;
      head.append(name);
      if (route.mode === "reread") {
        const badge = document.createElement("span");
        badge.className = "badge badge-warn";
        badge.textContent = `${t("reread")} (${route.rereads})`;
        head.append(badge);
      }
      if (route.assigned_to_me) {
        const badge = document.createElement("span");
        badge.className = "badge badge-info";
        badge.textContent = t("assigned");
        head.append(badge);
      }
      const sub = document.createElement("div");
      sub.className = "muted";
      sub.textContent = [
        route.route_name,
        `${t("period")} ${route.period}`,
        `${t("cycle")} ${route.cycle}`,
        `${t("window")} ${fmtDay(route.read_from)}–${fmtDay(route.read_to)}`,
      ]
        .filter(Boolean)
        .join(" · ");
      const done = routeDone(route);
      const bar = document.createElement("div");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = route.total ? `${Math.round((done * 100) / route.total)}%` : "0%";
      bar.append(fill);
      const count = document.createElement("div");
      count.className = "route-count";
      count.textContent = `${done} ${t("of")} ${route.total} ${t("done")}`;
      button.append(head, sub, bar, count);
      button.addEventListener("click", () => openRoute(route));
      li.append(button);
      list.append(li);
    }
  }

  function fmtDay(iso) {
    if (!iso) return "";
    const [, m, d] = iso.split("-");
    return `${d}/${m}`;
  }

  async function openRoute(route, replace) {
    const url = config.route_url.replace("PERIOD", route.period).replace("ROUTE", encodeURIComponent(route.route));
    const key = `route:${route.period}:${route.route}`;
    let data = null;
    try {
      data = await fetchJSON(url);
      await kvPut(key, data);
    } catch (err) {
      if (err && err.data) {
        banner(err.data.error, "error");
        return;
      }
      data = await kvGet(key);
    }
    if (!data) {
      banner(t("route_offline"), "error");
      return;
    }
    state.route = data;
    const saved = Number(localStorage.getItem(`caudal-field-pos:${key}`));
    state.index = Number.isFinite(saved) && saved < data.accounts.length ? saved : firstUnread(0);
    showView("route");
    renderList();
    renderAccount();
    const hash = `#${route.period}/${route.route}`;
    state.pushed = !replace;
    if (replace) history.replaceState({ route: key }, "", hash);
    else history.pushState({ route: key }, "", hash);
  }

  function showView(name) {
    $("view-routes").hidden = name !== "routes";
    $("view-route").hidden = name !== "route";
    $("back").hidden = name !== "route";
    if (name === "routes") {
      $("title").textContent = document.title.split(" · ")[0];
      $("subtitle").textContent = config.user;
      stopGps();
      renderRoutes();
    } else if (state.route) {
      $("title").textContent = `${t("route")} ${state.route.route}`;
      $("subtitle").textContent = [state.route.period, state.route.route_name || `${t("cycle")} ${state.route.cycle}`].join(" · ");
      if ($("gps").checked) startGps();
    }
  }

  // ---- one account ------------------------------------------------------------------------

  function accountState(acc) {
    const r = state.route;
    const local = state.local[localKey(r.period, r.route, acc.account_number)];
    const queued = state.queue.find(
      (q) => q.period === r.period && q.route === r.route && q.account === acc.account_number
    );
    if (queued && queued.state === "rejected") return { kind: "rejected", value: queued.value, item: queued };
    if (queued) return { kind: "queued", value: queued.value, observation: queued.observation };
    if (local) return { kind: "read", value: local.value, observation: local.observation };
    if (acc.reread) return { kind: "reread" };
    if (acc.value !== null || acc.observation) return { kind: "read", value: acc.value, observation: acc.observation };
    return { kind: "pending" };
  }

  function firstUnread(from) {
    const accounts = state.route.accounts;
    for (let i = 0; i < accounts.length; i++) {
      const j = (from + i) % accounts.length;
      const s = accountState(accounts[j]).kind;
      if (s === "pending" || s === "reread" || s === "rejected") return j;
    }
    return Math.min(from, Math.max(accounts.length - 1, 0));
  }

  function counts() {
    let done = 0;
    for (const acc of state.route.accounts) {
      const k = accountState(acc).kind;
      if (k === "read" || k === "queued") done += 1;
    }
    return { done, total: state.route.accounts.length };
  }

  function renderList() {
    const list = $("account-list");
    list.textContent = "";
    state.route.accounts.forEach((acc, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.state = accountState(acc).kind;
      b.textContent = `${acc.sequence} · ${acc.account_number} · ${acc.address}`;
      b.addEventListener("click", () => {
        state.index = i;
        $("account-list").hidden = true;
        renderAccount();
      });
      li.append(b);
      list.append(li);
    });
  }

  function renderAccount() {
    if (!state.route || $("view-route").hidden) return;
    const accounts = state.route.accounts;
    const c = counts();
    $("route-bar").style.width = c.total ? `${Math.round((c.done * 100) / c.total)}%` : "0%";
    $("route-count").textContent = `${c.done} ${t("of")} ${c.total} ${t("done")}`;
    if (!accounts.length) return;
    const acc = accounts[state.index];
    localStorage.setItem(`caudal-field-pos:route:${state.route.period}:${state.route.route}`, String(state.index));
    const st = accountState(acc);
    $("acc-seq").textContent = `#${acc.sequence} · ${state.index + 1} ${t("of")} ${accounts.length}`;
    const badge = $("acc-state");
    badge.hidden = st.kind === "pending";
    badge.className = "badge badge-" + { read: "ok", queued: "info", rejected: "danger", reread: "warn" }[st.kind];
    badge.textContent =
      st.kind === "read"
        ? `${t("read")}: ${st.value === null || st.value === undefined ? obsLabel(st.observation) : st.value}`
        : st.kind === "queued"
          ? `${t("queued")}: ${st.value === null ? obsLabel(st.observation) : st.value}`
          : st.kind === "rejected"
            ? `${t("rejected")}: ${Object.values(st.item.errors || {}).join("; ")}`
            : t("reread");
    $("acc-number").textContent = acc.account_number;
    $("acc-address").textContent = acc.address;
    $("acc-customer").textContent = acc.customer;
    $("acc-meter").textContent = acc.meter_serial;
    $("acc-digits").textContent = `${acc.meter_digits} ${t("digits")}`;
    $("acc-previous").textContent = acc.previous_value === null ? t("none") : String(acc.previous_value);
    $("acc-expected").textContent =
      acc.expected_min === null ? t("none") : `${acc.expected_min} – ${acc.expected_max}`;
    $("acc-history").textContent = acc.consumptions.map((x) => (x === null ? "—" : x)).join(" · ") || t("none");
    const value = $("value");
    value.value = st.kind === "queued" || st.kind === "rejected" ? (st.value ?? "") : "";
    value.maxLength = acc.meter_digits;
    $("observation").value = st.kind === "queued" ? st.observation || "" : "";
    resetForm();
    $("prev").disabled = state.index === 0;
  }

  function obsLabel(code) {
    const o = config.observations.find((x) => x.code === code);
    return o ? o.label : code || "";
  }

  function resetForm() {
    state.confirmed = false;
    state.photo = null;
    $("photo").value = "";
    $("photo-preview").hidden = true;
    message(null);
    $("save").textContent = `${t("save")} ›`;
  }

  function message(text, kind) {
    const el = $("form-message");
    el.hidden = !text;
    el.textContent = text || "";
    el.className = "alert alert-" + (kind || "warn");
  }

  function check(acc, rawValue, observation) {
    const text = rawValue.trim();
    if (!text && !observation) return { error: t("need_value") };
    if (!text) return { value: null };
    if (!/^\d+$/.test(text)) return { error: t("not_number") };
    if (text.length > acc.meter_digits) return { error: t("too_long") };
    const value = Number(text);
    const prev = acc.previous_value;
    const warnings = [];
    if (prev !== null) {
      const modulus = 10 ** acc.meter_digits;
      const rolled = value < prev && prev - value > modulus / 2;
      if (value < prev && !rolled) warnings.push(t("below", { prev }));
      const consumption = value >= prev ? value - prev : value + modulus - prev;
      const range = acc.expected_consumption;
      if (range && (value >= prev || rolled) && (consumption < range[0] || consumption > range[1])) {
        warnings.push(t("out_of_range", { c: consumption, lo: range[0], hi: range[1] }));
      }
    }
    return { value, warnings };
  }

  async function save(event) {
    event.preventDefault();
    const acc = state.route.accounts[state.index];
    const observation = $("observation").value;
    const result = check(acc, $("value").value, observation);
    if (result.error) {
      message(result.error, "error");
      $("value").focus();
      return;
    }
    if (result.warnings && result.warnings.length && !state.confirmed) {
      state.confirmed = true;
      message(result.warnings.join(" "), "warn");
      $("save").textContent = t("confirm");
      return;
    }
    const r = state.route;
    const item = {
      client_uuid: uuid(),
      period: r.period,
      route: r.route,
      account: acc.account_number,
      value: result.value,
      observation,
      observation_label: obsLabel(observation),
      read_at: new Date().toISOString(),
      saved_at: Date.now(),
      latitude: null,
      longitude: null,
      photo: state.photo,
      state: "pending",
    };
    if ($("gps").checked && state.fix && Date.now() - state.fix.at < FIX_MAX_AGE_MS) {
      item.latitude = Number(state.fix.lat.toFixed(6));
      item.longitude = Number(state.fix.lon.toFixed(6));
    }
    // a newer reading of the same account replaces one still waiting on the phone
    const older = state.queue
      .filter((q) => q.period === item.period && q.route === item.route && q.account === item.account)
      .map((q) => q.client_uuid);
    if (older.length) await queueDelete(older);
    await queuePut(item);
    state.local[localKey(item.period, item.route, item.account)] = {
      value: item.value,
      observation: item.observation,
      client_uuid: item.client_uuid,
      state: "queued",
    };
    await kvPut("local", state.local);
    await loadQueue();
    banner(online() ? t("saved") : t("saved_offline"), online() ? "ok" : "info");
    advance();
    sync();
  }

  function advance() {
    const accounts = state.route.accounts;
    const next = firstUnread(Math.min(state.index + 1, accounts.length - 1));
    const c = counts();
    if (c.done >= c.total) banner(t("route_done"), "ok");
    else if (next <= state.index) banner(t("route_end", { n: c.total - c.done }), "info");
    state.index = next;
    renderList();
    renderAccount();
    $("value").focus();
  }

  // ---- GPS and photo -------------------------------------------------------------------

  function startGps() {
    if (!navigator.geolocation || state.watch !== null) return;
    $("gps-state").textContent = t("gps_wait");
    state.watch = navigator.geolocation.watchPosition(
      (pos) => {
        state.fix = { lat: pos.coords.latitude, lon: pos.coords.longitude, at: Date.now() };
        $("gps-state").textContent = t("gps_ok", { m: Math.round(pos.coords.accuracy) });
      },
      () => ($("gps-state").textContent = t("gps_fail")),
      { enableHighAccuracy: true, maximumAge: 60000, timeout: 20000 }
    );
  }
  function stopGps() {
    if (state.watch !== null && navigator.geolocation) navigator.geolocation.clearWatch(state.watch);
    state.watch = null;
  }

  function resizePhoto(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, PHOTO_MAX / Math.max(img.width, img.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale);
        canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        resolve(canvas.toDataURL("image/jpeg", 0.7));
      };
      img.onerror = () => {
        URL.revokeObjectURL(url);
        reject(new Error("image"));
      };
      img.src = url;
    });
  }

  // ---- wiring ---------------------------------------------------------------------------

  function wire() {
    const select = $("observation");
    for (const o of config.observations) {
      const option = document.createElement("option");
      option.value = o.code;
      option.textContent = `${o.key} · ${o.label}`;
      select.append(option);
    }
    $("reading-form").addEventListener("submit", save);
    $("value").addEventListener("input", () => {
      state.confirmed = false;
      message(null);
      $("save").textContent = `${t("save")} ›`;
    });
    select.addEventListener("change", () => {
      state.confirmed = false;
      message(null);
    });
    $("prev").addEventListener("click", () => {
      state.index = Math.max(0, state.index - 1);
      renderAccount();
    });
    $("next").addEventListener("click", () => {
      state.index = Math.min(state.route.accounts.length - 1, state.index + 1);
      renderAccount();
    });
    $("back").addEventListener("click", () => {
      if (state.pushed) {
        history.back();
      } else {
        history.replaceState(null, "", location.pathname);
        showView("routes");
      }
    });
    window.addEventListener("popstate", () => {
      if (!location.hash) {
        state.pushed = false;
        showView("routes");
      }
    });
    $("toggle-list").addEventListener("click", () => {
      const list = $("account-list");
      list.hidden = !list.hidden;
      if (!list.hidden) renderList();
    });
    $("queue-button").addEventListener("click", () => {
      const panel = $("queue-panel");
      panel.hidden = !panel.hidden;
    });
    $("sync-now").addEventListener("click", () => sync());
    const gps = $("gps");
    gps.checked = localStorage.getItem("caudal-field-gps") === "1";
    gps.addEventListener("change", () => {
      localStorage.setItem("caudal-field-gps", gps.checked ? "1" : "0");
      if (gps.checked) startGps();
      else stopGps();
    });
    $("photo").addEventListener("change", async (event) => {
      const file = event.target.files && event.target.files[0];
      if (!file) return;
      try {
        state.photo = await resizePhoto(file);
        const preview = $("photo-preview");
        preview.src = state.photo;
        preview.hidden = false;
      } catch (_err) {
        state.photo = null;
      }
    });
    window.addEventListener("online", () => {
      showNet();
      sync();
      if (!state.routes.length) loadRoutes();
    });
    window.addEventListener("offline", showNet);
    setInterval(() => {
      if (state.queue.some((q) => q.state === "pending")) sync();
    }, RETRY_MS);
  }

  async function start() {
    wire();
    showNet();
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(config.sw_url).catch(() => {});
    }
    state.local = (await kvGet("local")) || {};
    await loadQueue();
    await loadRoutes();
    const hash = location.hash.slice(1);
    if (hash) {
      const [period, code] = hash.split("/");
      const route = state.routes.find((r) => r.period === period && r.route === code);
      if (route) await openRoute(route, true);
      else history.replaceState(null, "", location.pathname);
    }
    sync();
  }

  start();
})();
