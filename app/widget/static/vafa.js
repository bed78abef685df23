/* Vafa club widget: <vafa-club> (no dependencies). Persian and English, right to left in fa,
   Persian digits and Jalali dates through the browser's Intl. DESIGN.md "Storefront". */
(() => {
  "use strict";
  if (customElements.get("vafa-club")) return;

  const T = {
    en: {
      club: "Club", title: "Customer club", points: "points", available: "Available",
      pending: "Pending", held: "Set aside", tier: "Tier", next: "to reach",
      expiry: "expire on", rewards: "Rewards", earn: "Ways to earn", history: "History",
      redeem: "Redeem", short: "Not enough points yet", copy: "Copy code", copied: "Copied",
      refer: "Refer a friend", referLink: "Your referral link", copyLink: "Copy link",
      code: "Your code", signin: "Sign in to see your points and redeem rewards.",
      signinLink: "Sign in", close: "Close", lang: "فارسی", langLabel: "Show in Persian",
      none: "Nothing here yet.", error: "Something went wrong. Please try again.",
      pendingCode: "Your code is on its way; check back in a moment.", every: "every",
      failed: "The store could not make your code; your points were given back.",
      orders: "orders", first: "on your first order", signup: "for joining the club",
      birthday: "on your birthday", reward: "a reward", until: "until", friend: "for each friend you refer",
      spent: "spent", per: "per", times: "× points", by: "by",
      events: { review: "for a review", survey: "for a survey", profile_completed: "for completing your profile", social_follow: "for following us", social_share: "for sharing" },
    },
    fa: {
      club: "باشگاه", title: "باشگاه مشتریان", points: "امتیاز", available: "قابل استفاده",
      pending: "در انتظار", held: "کنار گذاشته", tier: "سطح", next: "تا رسیدن به",
      expiry: "منقضی می‌شود در", rewards: "جایزه‌ها", earn: "راه‌های کسب امتیاز", history: "تاریخچه",
      redeem: "دریافت", short: "هنوز امتیاز کافی ندارید", copy: "کپی کد", copied: "کپی شد",
      refer: "معرفی به دوستان", referLink: "پیوند معرفی شما", copyLink: "کپی پیوند",
      code: "کد شما", signin: "برای دیدن امتیازها و گرفتن جایزه وارد شوید.",
      signinLink: "ورود", close: "بستن", lang: "English", langLabel: "نمایش به انگلیسی",
      none: "هنوز چیزی نیست.", error: "مشکلی پیش آمد. دوباره تلاش کنید.",
      pendingCode: "کد شما در راه است؛ کمی بعد دوباره سر بزنید.", every: "هر",
      failed: "فروشگاه نتوانست کد شما را بسازد؛ امتیازهایتان برگشت.",
      orders: "خرید", first: "در اولین خرید", signup: "برای عضویت در باشگاه",
      birthday: "در روز تولد", reward: "یک جایزه", until: "تا", friend: "برای هر دوستی که معرفی کنید",
      spent: "خرید", per: "به ازای هر", times: "برابر امتیاز", by: "تا",
      events: { review: "برای ثبت نظر", survey: "برای شرکت در نظرسنجی", profile_completed: "برای تکمیل پروفایل", social_follow: "برای دنبال کردن ما", social_share: "برای اشتراک‌گذاری" },
    },
  };
  const CURRENCY = { IRR: { fa: "ریال", en: "Rial" }, IRT: { fa: "تومان", en: "Toman" } };

  const css = `
:host{all:initial;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Tahoma,sans-serif;color:#1b1b1b}
*{box-sizing:border-box}
button{font:inherit;cursor:pointer;border-radius:8px;border:1px solid transparent;padding:.45em .9em}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid #1a56db;outline-offset:2px}
.launcher{position:fixed;bottom:20px;inset-inline-end:20px;z-index:2147483000;background:var(--c);color:var(--fg);box-shadow:0 4px 14px #0004;border-radius:999px;padding:.7em 1.2em;font-weight:600}
.panel{background:#fff;color:#1b1b1b;border-radius:14px;box-shadow:0 8px 30px #0003;width:min(380px,calc(100vw - 24px));max-height:min(620px,calc(100vh - 100px));overflow:auto}
.float{position:fixed;bottom:80px;inset-inline-end:20px;z-index:2147483001}
header{background:var(--c);color:var(--fg);padding:14px 16px;border-radius:14px 14px 0 0;display:flex;gap:8px;align-items:center}
header h2{font-size:1.05em;margin:0;flex:1}
header button{background:transparent;color:inherit;border-color:currentColor;padding:.25em .6em}
.body{padding:14px 16px}
.balance{font-size:2em;font-weight:700;margin:0}
.muted{color:#4a4a4a;font-size:.9em;margin:.2em 0}
.bar{height:8px;background:#e5e5e5;border-radius:8px;overflow:hidden;margin:.4em 0}
.bar>i{display:block;height:100%;background:var(--c)}
[role=tablist]{display:flex;gap:4px;margin:14px 0 8px;border-bottom:1px solid #ddd}
[role=tab]{background:none;border-radius:8px 8px 0 0;color:#333;padding:.4em .7em}
[role=tab][aria-selected=true]{color:#000;font-weight:700;border-bottom:3px solid var(--c)}
ul{list-style:none;margin:0;padding:0}
li{padding:10px 0;border-bottom:1px solid #eee;display:flex;gap:8px;align-items:center;justify-content:space-between}
li:last-child{border-bottom:0}
.primary{background:var(--c);color:var(--fg)}
.primary[disabled]{background:#d6d6d6;color:#3d3d3d;cursor:not-allowed}
.code{display:flex;gap:6px;margin-top:8px}
.code input{flex:1;font:600 1em ui-monospace,monospace;padding:.4em;border:1px solid #888;border-radius:8px;direction:ltr}
.plus{color:#0b6b2b;font-weight:600}.minus{color:#a61b1b;font-weight:600}
a{color:#1a56db}`;

  // WCAG 2 relative luminance and contrast, to pick readable text on the shop's colour.
  const lum = (hex) => {
    const v = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
      .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  };
  const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const el = (tag, props = {}, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "text") n.textContent = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) n.setAttribute(k, v === true ? "" : v);
    }
    n.append(...kids.filter((k) => k !== null && k !== undefined));
    return n;
  };
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));

  class VafaClub extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      this.root = this.attachShadow({ mode: "open" });
      this.lang = this.dataset.locale === "fa" ? "fa" : "en";
      this.view = this.dataset.view || "launcher";
      this.tab = "rewards";
      this.data = null;
      this.entries = null;
      this.codes = {};
      this.recent = [];
      this.paint(this.dataset.colour);
      this.open = this.view !== "launcher";
      this.load();
    }

    // The shop's colour (the embed's, else the one set in Vafa's admin), with readable text.
    paint(wanted) {
      let colour = /^#[0-9a-f]{6}$/i.test(wanted || "") ? wanted : "#5b2a86";
      const fg = contrast(colour, "#ffffff") >= 4.5 ? "#ffffff" : "#000000";
      if (contrast(colour, fg) < 4.5) colour = "#5b2a86";
      this.style.setProperty("--c", colour);
      this.style.setProperty("--fg", fg);
    }

    get t() { return T[this.lang]; }
    num(n) { return new Intl.NumberFormat(this.lang === "fa" ? "fa-IR" : "en-US").format(n); }
    date(iso) {
      const locale = this.lang === "fa" ? "fa-IR-u-ca-persian-nu-arabext" : "en-GB";
      return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", timeZone: this.data && this.data.timezone || undefined }).format(new Date(iso));
    }
    money(minor) {
      const d = this.data || {};
      let cur = d.currency;
      if (!cur) return this.num(minor);
      let amount = minor / 10 ** (d.currency_exponent || 0);
      // The shop's Toman or Rial choice: 1 Toman = 10 Rial (12,345 Rial shows as 1,234.5 Toman).
      if (cur === "IRR" && d.currency_display === "toman") { cur = "IRT"; amount /= 10; }
      else if (cur === "IRT" && d.currency_display === "rial") { cur = "IRR"; amount *= 10; }
      if (CURRENCY[cur]) return `${this.num(amount)} ${CURRENCY[cur][this.lang]}`;
      return new Intl.NumberFormat(this.lang === "fa" ? "fa-IR" : "en-US", { style: "currency", currency: cur }).format(amount);
    }

    api(path, init = {}, retried = false) {
      const woo = this.dataset.platform === "woocommerce";
      const base = woo ? this.dataset.api : (this.dataset.api || "/apps/vafa");
      const headers = { Accept: "application/json", ...(init.body ? { "Content-Type": "application/json" } : {}) };
      if (woo && this.dataset.token) headers.Authorization = `Bearer ${this.dataset.token}`;
      return fetch(`${base}/${path}`, { credentials: "same-origin", ...init, headers }).then(async (r) => {
        // The plugin's token lives minutes; a page open longer asks the store for a new one.
        if (r.status === 401 && woo && !retried && this.dataset.tokenUrl && await this.refreshToken()) return this.api(path, init, true);
        const body = await r.json().catch(() => ({}));
        if (!r.ok) throw Object.assign(new Error((body.error && body.error.message) || r.statusText), { status: r.status, body });
        return body;
      });
    }

    async refreshToken() {
      try {
        const r = await fetch(this.dataset.tokenUrl, { credentials: "same-origin", headers: { Accept: "application/json", "X-WP-Nonce": this.dataset.nonce || "" } });
        const body = r.ok ? await r.json() : {};
        if (!body.token) return false;
        this.dataset.token = body.token;
        return true;
      } catch (_) { return false; }
    }

    async load() {
      try {
        this.data = await this.api("member");
        if (!this.dataset.colour && this.data.colour) this.paint(this.data.colour);
        // A shopper the shop holds out of the club (its lift report compares them): nothing shown.
        if (this.data.holdout) { this.hidden = true; this.root.replaceChildren(); return; }
        if (this.data.signed_in) {
          const [history, redeemed] = await Promise.all([this.api("entries"), this.api("redemptions")]);
          this.entries = history.entries;
          this.recent = redeemed.redemptions;
          this.codes = {};  // the newest open code of each reward, kept by Vafa across reloads
          for (const r of this.recent) if (r.status === "issued" && r.code && !this.codes[r.reward_id]) this.codes[r.reward_id] = r.code;
        }
        this.failure = null;
      } catch (e) { this.failure = e; }
      this.render();
    }

    // A 202: the store has not confirmed the code yet. Ask a few times, then leave it to the next visit.
    async settle(id) {
      for (let i = 0; i < 6; i++) {
        await new Promise((ok) => setTimeout(ok, 1500));
        const found = ((await this.api("redemptions").catch(() => ({}))).redemptions || []).find((r) => r.id === id);
        if (found && found.status !== "pending") return found;
      }
      return null;
    }

    async redeem(reward, button) {
      button.disabled = true;
      try {
        let r = await this.api("redemptions", { method: "POST", body: JSON.stringify({ reward_id: reward.id, idempotency_key: uuid() }) });
        if (r.status === "pending") { this.say(this.t.pendingCode); r = (await this.settle(r.id)) || r; }
        this.say(r.code ? `${this.t.code}: ${r.code}` : r.status === "failed" ? this.t.failed : this.t.pendingCode);
        await this.load();
      } catch (e) {
        this.say((e.body && e.body.error && e.body.error.message) || this.t.error);
        button.disabled = false;
      }
    }

    say(text) { if (this.live) this.live.textContent = text; }

    render() {
      const t = this.t;
      if (!this.live) {  // kept across renders, so that what it says is heard
        this.live = el("div", { role: "status", "aria-live": "polite", style: "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)" });
        this.main = el("div");
        this.root.append(el("style", { text: css }), this.live, this.main);
      }
      const host = el("div", { dir: this.lang === "fa" ? "rtl" : "ltr", lang: this.lang });
      this.main.replaceChildren(host);
      if (this.view === "launcher") {
        const d = this.data;
        const label = d && d.signed_in ? `${t.club} · ${this.num(d.member.points.available)}` : t.club;
        this.launcher = el("button", { class: "launcher", "aria-expanded": String(this.open), "aria-controls": "vafa-panel", onclick: () => this.toggle(), text: label });
        host.append(this.launcher);
      }
      if (this.view === "checkout") { host.append(this.checkout()); return; }
      if (this.open) host.append(this.panel());
    }

    toggle(force) {
      this.open = force === undefined ? !this.open : force;
      this.render();
      if (this.open) { const f = this.root.querySelector(".panel button, .panel a"); if (f) f.focus(); }
      else if (this.launcher) this.launcher.focus();
    }

    checkout() {
      const d = this.data, t = this.t;
      if (!d || !d.signed_in) return el("p", { class: "muted", text: t.signin });
      return el("p", { class: "muted", text: `${t.available}: ${this.num(d.member.points.available)} ${t.points}` });
    }

    panel() {
      const t = this.t, d = this.data;
      const floating = this.view === "launcher";
      const box = el("section", { id: "vafa-panel", class: "panel" + (floating ? " float" : ""), role: floating ? "dialog" : "region", "aria-modal": floating ? "true" : null, "aria-labelledby": "vafa-title", onkeydown: (e) => { if (e.key === "Escape" && floating) this.toggle(false); } });
      const head = el("header", {}, el("h2", { id: "vafa-title", text: t.title }),
        el("button", { "aria-label": t.langLabel, lang: this.lang === "fa" ? "en" : "fa", onclick: () => { this.lang = this.lang === "fa" ? "en" : "fa"; this.render(); this.root.querySelector("header button").focus(); }, text: t.lang }),
        floating ? el("button", { "aria-label": t.close, onclick: () => this.toggle(false), text: "×" }) : null);
      const body = el("div", { class: "body" });
      box.append(head, body);
      if (this.failure && !d) { body.append(el("p", { role: "alert", text: t.error })); return box; }
      if (!d) return box;
      if (d.signed_in) body.append(...this.summary(d));
      else body.append(el("p", {}, t.signin + " ", el("a", { href: this.dataset.platform === "woocommerce" ? "/my-account/" : "/account/login", text: t.signinLink })));
      const tabs = d.signed_in ? ["rewards", "earn", "history"] : ["rewards", "earn"];
      const list = el("div", { role: "tablist", "aria-label": t.title, onkeydown: (e) => this.arrows(e, tabs) });
      for (const key of tabs) {
        list.append(el("button", { role: "tab", id: `tab-${key}`, "aria-selected": String(this.tab === key), "aria-controls": "vafa-tabpanel", tabindex: this.tab === key ? "0" : "-1", onclick: () => { this.tab = key; this.render(); this.root.getElementById(`tab-${key}`).focus(); }, text: t[key] }));
      }
      const pane = el("div", { role: "tabpanel", id: "vafa-tabpanel", "aria-labelledby": `tab-${this.tab}`, tabindex: "0" });
      pane.append(this.tab === "earn" ? this.ways(d) : this.tab === "history" ? this.history() : this.rewards(d));
      body.append(list, pane);
      return box;
    }

    arrows(e, tabs) {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const dir = this.lang === "fa" ? -step : step;
      this.tab = tabs[(tabs.indexOf(this.tab) + dir + tabs.length) % tabs.length];
      this.render();
      this.root.getElementById(`tab-${this.tab}`).focus();
    }

    summary(d) {
      const t = this.t, p = d.member.points, out = [];
      out.push(el("p", { class: "balance", text: `${this.num(p.available)} ${t.points}` }));
      const extra = [];
      if (p.pending) extra.push(`${t.pending}: ${this.num(p.pending)}`);
      if (p.held) extra.push(`${t.held}: ${this.num(p.held)}`);
      if (extra.length) out.push(el("p", { class: "muted", text: extra.join(" · ") }));
      const tier = (d.tiers || []).find((x) => x.key === d.member.tier);
      if (tier) out.push(el("p", { class: "muted", text: `${t.tier}: ${tier.names[this.lang] || tier.names.en || tier.names.fa}` }));
      const prog = d.member.tier_progress;
      if (prog && prog.next_tier) {
        const next = (d.tiers || []).find((x) => x.key === prog.next_tier);
        const label = next ? next.names[this.lang] || next.names.en || next.names.fa || next.key : prog.next_tier;
        const target = next ? next.threshold : prog.qualifying + (prog.needed || 0);
        const pct = Math.max(0, Math.min(100, Math.round(100 * prog.qualifying / (target || 1))));
        const need = prog.basis === "amount_spent" ? this.money(prog.needed) : `${this.num(prog.needed)} ${t.points}`;
        out.push(el("div", { class: "bar", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(pct), "aria-label": `${t.next} ${label}` }, el("i", { style: `width:${pct}%` })));
        out.push(el("p", { class: "muted", text: `${need} ${t.next} ${label}${prog.window_ends_at ? ` (${t.by} ${this.date(prog.window_ends_at)})` : ""}` }));
      }
      const exp = d.member.next_expiry;
      if (exp) out.push(el("p", { class: "muted", text: `${this.num(exp.points)} ${t.points} ${t.expiry} ${this.date(exp.at)}` }));
      const ref = d.member.referral;
      if (ref && ref.link) {
        const input = el("input", { readonly: true, value: ref.link, "aria-label": t.referLink });
        const copy = el("button", { class: "primary", text: t.copyLink, onclick: async () => {
          try { await navigator.clipboard.writeText(ref.link); } catch (_) { input.select(); document.execCommand && document.execCommand("copy"); }
          copy.textContent = t.copied; this.say(t.copied);
        } });
        out.push(el("p", { class: "muted", text: t.refer }), el("div", { class: "code" }, input, copy));
      }
      return out;
    }

    rewards(d) {
      const t = this.t;
      if (!d.rewards.length) return el("p", { class: "muted", text: t.none });
      const ul = el("ul");
      for (const rw of d.rewards) {
        const cost = rw.min_points || rw.points_cost;
        const li = el("li", {}, el("div", {}, el("div", { text: rw.name }), el("div", { class: "muted", text: `${this.num(cost)} ${t.points}` })));
        if (d.signed_in) {
          const can = rw.affordable;
          const btn = el("button", { class: "primary", disabled: !can, "aria-label": `${t.redeem}: ${rw.name}`, title: can ? null : t.short, text: t.redeem });
          btn.addEventListener("click", () => this.redeem(rw, btn));
          li.append(btn);
        }
        const code = this.codes[rw.id];
        if (code) {
          const input = el("input", { readonly: true, value: code, "aria-label": t.code });
          const copy = el("button", { class: "primary", text: t.copy, onclick: async () => {
            try { await navigator.clipboard.writeText(code); } catch (_) { input.select(); document.execCommand && document.execCommand("copy"); }
            copy.textContent = t.copied; this.say(t.copied);
          } });
          ul.append(li, el("li", {}, el("div", { class: "code", style: "width:100%" }, input, copy)));
        } else ul.append(li);
      }
      return ul;
    }

    ways(d) {
      const t = this.t, ul = el("ul");
      for (const w of d.ways_to_earn) {
        const text = this.phrase(w);
        if (text) ul.append(el("li", { text }));
      }
      return ul.children.length ? ul : el("p", { class: "muted", text: t.none });
    }

    phrase(w) {
      const t = this.t, n = (x) => this.num(x);
      const pts = w.points ? `${n(w.points)} ${t.points}` : t.reward;
      const name = w.names && (w.names[this.lang] || w.names.en || w.names.fa);
      switch (w.type) {
        case "purchase": return `${pts} ${t.per} ${w.per_minor ? this.money(w.per_minor) : this.money(10 ** ((this.data || {}).currency_exponent || 0) * (w.per_units || 1))} ${t.spent}`;
        case "first_order": return `${pts} ${t.first}`;
        case "nth_order": return `${pts} ${t.every} ${n(w.every)} ${t.orders}`;
        case "signup": return `${pts} ${t.signup}`;
        case "birthday": return `${pts} ${t.birthday}`;
        case "event": return `${pts} ${t.events[w.event] || name || w.event}`;
        case "referral": return w.advocate_points ? `${n(w.advocate_points)} ${t.points} ${t.friend}` : `${t.reward} ${t.friend}`;
        case "campaign": return `${w.multiplier ? n(Number(w.multiplier)) + t.times : ""}${w.bonus ? ` +${n(w.bonus)} ${t.points}` : ""} ${t.until} ${this.date(w.ends_at)}`.trim();
        case "spend_goal": return `${pts}: ${this.money(w.amount_minor)} ${t.spent}`;
        case "badge": return name ? `${name}${w.points ? ` · ${pts}` : ""}` : null;
        default: return name || null;
      }
    }

    history() {
      const t = this.t;
      if (!this.entries || !this.entries.length) return el("p", { class: "muted", text: t.none });
      const ul = el("ul");
      for (const e of this.entries) {
        ul.append(el("li", {}, el("div", {}, el("div", { text: e.reason }), el("div", { class: "muted", text: this.date(e.created_at) })),
          el("span", { class: e.points < 0 ? "minus" : "plus", dir: "ltr", text: (e.points > 0 ? "+" : "") + this.num(e.points) })));
      }
      return ul;
    }
  }
  customElements.define("vafa-club", VafaClub);
})();
