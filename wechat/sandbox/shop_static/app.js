// The phone's shop: a small H5 shop built only on the mall's public API (/api/v1/, reached through
// the sandbox's wx.request at /sandbox/shop/api/), with the sandbox playing wx.login() and
// wx.requestPayment(). Plain JavaScript, no build step, nothing from a CDN.
"use strict";

const API = "/sandbox/shop/api/v1";
const app = document.getElementById("app");
let timers = [];

// --- plumbing ------------------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "html") el.innerHTML = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function yuan(fen) {
  const text = (fen / 100).toFixed(2);
  return "¥" + (text.endsWith(".00") ? text.slice(0, -3) : text);
}

function newKey() {
  const raw = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  return raw.replace(/[^!-~]/g, "").slice(0, 64);
}

function toast(text) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 1800);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `请求失败（${status}）`);
    this.status = status;
    this.code = body && body.code;
    this.detail = (body && body.detail) || {};
  }
}

async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  const token = localStorage.getItem("token");
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (options.key) headers["Idempotency-Key"] = options.key;
  const response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401) {
    localStorage.removeItem("token");
    go(`/login?next=${encodeURIComponent(location.hash.slice(1) || "/")}`);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function sandbox(path, body) {
  const response = await fetch(`/sandbox/${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.message || data.errmsg || "微信沙箱拒绝了请求");
  return data;
}

const loggedIn = () => Boolean(localStorage.getItem("token"));

function needLogin() {
  if (loggedIn()) return false;
  go(`/login?next=${encodeURIComponent(location.hash.slice(1) || "/")}`);
  return true;
}

function go(path) {
  if (location.hash.slice(1) === path) route();
  else location.hash = path;
}

function query() {
  const hash = location.hash.slice(1);
  const at = hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
}

function empty(text) { return h("p", { class: "empty" }, text); }

function productTiles(products) {
  if (!products.length) return empty("没有找到商品");
  return h("div", { class: "grid" }, products.map((p) => h("a", { class: "tile", href: `#/product/${p.id}` },
    h("img", { src: p.image_url || "", alt: p.name, loading: "lazy" }),
    h("div", {}, h("div", { class: "name" }, p.name),
      h("div", { class: "row between" }, h("span", { class: "price" }, yuan(p.price_fen)),
        h("span", { class: "muted" }, p.in_stock ? `已售 ${p.sales_count}` : "已售罄"))))));
}

// --- pages ---------------------------------------------------------------------------------------

async function login() {
  const next = query().get("next") || "/";
  const openid = localStorage.getItem("openid");
  async function signIn(asNew) {
    const issued = await sandbox("login_code", asNew || !openid ? {} : { openid });
    const answer = await api("POST", "/auth/wechat/login", { code: issued.code });
    localStorage.setItem("token", answer.token);
    localStorage.setItem("openid", issued.openid);
    toast(answer.is_new_member ? "欢迎新会员" : "登录成功");
    go(next);
  }
  return [h("div", { class: "card", style: "text-align:center;padding:32px 12px" },
    h("h2", {}, "小程序商城"), h("p", { class: "muted" }, "在微信沙箱的手机上，用 wx.login() 登录"),
    h("button", { id: "login", onclick: () => signIn(false) }, "微信一键登录"),
    openid ? h("p", {}, h("button", { class: "ghost small", onclick: () => signIn(true) }, "换一个新用户")) : null)];
}

// The home page is the decorated page the operators compose (GET /pages/home): each block is drawn
// by its kind's renderer, in the operators' order; a kind this page does not know is skipped, so
// the console may add kinds before the front end draws them.
async function home() {
  let page;
  try {
    page = await api("GET", "/pages/home");
  } catch (error) {
    if (error.status !== 404) throw error;
    return plainHome();  // no home page decorated (or it is switched off): categories and best sellers
  }
  return [searchEntry(), decorated(page)];
}

async function namedPage(key) {
  const page = await api("GET", `/pages/${encodeURIComponent(key)}`);
  document.getElementById("title").textContent = page.title;
  return decorated(page);
}

function decorated(page) {
  return page.blocks.map((block) => {
    const draw = BLOCKS[block.kind];
    const body = draw ? draw(block) : null;
    return body ? h("section", { class: `block block-${block.kind}`, "data-kind": block.kind }, body) : null;
  });
}

async function plainHome() {
  const [categories, products] = await Promise.all([
    api("GET", "/categories/"), api("GET", "/products/?ordering=-sales&page_size=20"),
  ]);
  return [
    searchEntry(),
    h("div", { class: "chips", style: "margin-bottom:10px" },
      categories.map((c) => h("a", { href: `#/search?category=${c.id}&name=${encodeURIComponent(c.name)}` }, c.name))),
    h("h3", {}, "热卖推荐"), productTiles(products.results),
  ];
}

// Where a block's link goes in this shop: the mini-program's link kinds as hash routes (null: nowhere).
const MINI_PATHS = [["/pages/member", "#/me"], ["/pages/cart", "#/cart"], ["/pages/order", "#/orders"],
  ["/pages/coupon", "#/coupons"], ["/pages/index", "#/"]];

// `name` labels a category's results (an icon's caption is its category's name; a banner's title is not).
function linkHref(link, name) {
  if (!link) return null;
  switch (link.kind) {
    case "product": return link.product_id ? `#/product/${link.product_id}` : null;
    case "category": return link.category_id ? `#/search?category=${link.category_id}${name ? `&name=${encodeURIComponent(name)}` : ""}` : null;
    case "page": return link.value ? (link.value === "home" ? "#/" : `#/page/${encodeURIComponent(link.value)}`) : null;
    case "coupon_centre": return "#/coupons";
    case "flash": return "#/flash";
    case "search": return `#/search?q=${encodeURIComponent(link.value || "")}`;
    case "path": {
      const found = MINI_PATHS.find(([prefix]) => (link.value || "").startsWith(prefix));
      return found ? found[1] : null;
    }
    default: return null;
  }
}

function linked(link, name, attrs, ...children) {
  const href = linkHref(link, name);
  return href ? h("a", { ...attrs, href }, ...children) : h("div", attrs, ...children);
}

function blockTitle(block, more) {
  return block.title ? h("div", { class: "row between block-title" }, h("b", {}, block.title), more || null) : null;
}

function banner(block) {
  if (!block.items.length) return null;
  const slides = h("div", { class: "slides" }, block.items.map((item) => linked(item.link, null, { class: "slide" },
    item.image_url ? h("img", { src: item.image_url, alt: item.title }) : h("span", { class: "slide-text" }, item.title))));
  const dots = h("div", { class: "dots" }, block.items.map((_, i) => h("i", { class: i === 0 ? "on" : "" })));
  let at = 0;
  const show = (index) => {
    at = (index + block.items.length) % block.items.length;
    slides.scrollTo({ left: at * slides.clientWidth, behavior: "smooth" });
  };
  slides.addEventListener("scroll", () => {
    const index = Math.round(slides.scrollLeft / Math.max(1, slides.clientWidth));
    [...dots.children].forEach((dot, i) => dot.classList.toggle("on", i === index));
    at = index;
  }, { passive: true });
  if (block.items.length > 1) timers.push(setInterval(() => show(at + 1), 4000));
  return [slides, block.items.length > 1 ? dots : null];
}

function iconNav(block) {
  if (!block.items.length) return null;
  return [blockTitle(block), h("div", { class: "icons" }, block.items.map((item) => linked(item.link, item.title, { class: "icon" },
    item.image_url ? h("img", { src: item.image_url, alt: "" }) : h("span", { class: "glyph" }, (item.title || "·").slice(0, 1)),
    h("span", {}, item.title))))];
}

function notice(block) {
  if (!block.text) return null;
  return linked(block.link, null, { class: "notice" }, h("span", { class: "speaker" }, "公告"),
    h("span", { class: "notice-text" }, block.text));
}

function couponStrip(block) {
  if (!block.coupons.length) return null;
  return [blockTitle(block, h("a", { href: "#/coupons", class: "muted" }, "更多 ›")),
    h("div", { class: "strip" }, block.coupons.map((c) => {
      const state = h("span", { class: "state" }, c.state === "claimable" ? "领取" : c.state_label);
      return h("button", { class: "mini-coupon", type: "button", onclick: async () => {
        if (needLogin()) return;
        try {
          await api("POST", `/coupons/center/${c.template_id}/claim`, undefined, { key: newKey() });
          toast("领取成功");
          state.textContent = "已领取";
        } catch (error) { toast(error.message); }
      } }, h("b", {}, c.benefit_text), h("span", {}, c.threshold_text), state);
    }))];
}

function flashBlock(block) {
  const session = block.session;
  if (!session || !session.items.length) return null;
  const running = session.state === "running";
  return h("div", { class: "flash" },
    h("div", { class: "row between" }, h("b", {}, `⚡ ${block.title || "今日秒杀"} · ${session.name}`),
      countdown(running ? session.ends_at : session.starts_at, running ? "距结束" : "距开始")),
    h("div", { class: "strip", style: "margin-top:8px" }, session.items.map((item) =>
      h("a", { class: "flash-item", href: `#/product/${item.product_id}` },
        h("img", { src: item.image_url || "", alt: item.name, loading: "lazy" }),
        h("div", { class: "name" }, item.name),
        h("div", {}, h("span", { class: "price" }, yuan(item.flash_price_fen)), h("span", { class: "strike" }, yuan(item.list_price_fen))),
        h("div", { class: "sold" }, h("i", { style: `width:${Math.min(100, Math.max(0, item.sold_percent))}%` })),
        h("div", { class: "muted" }, running ? `已抢 ${item.sold_percent}%` : session.state_label)))));
}

const STOCK_WORDS = { low_stock: "仅剩少量", sold_out: "已售罄" };

function productGroup(block) {
  if (!block.products.length) return null;
  return [blockTitle(block), h("div", { class: "grid" }, block.products.map((p) => h("a", { class: "tile", href: `#/product/${p.id}` },
    h("img", { src: p.image_url || "", alt: p.name, loading: "lazy" }),
    h("div", {}, h("div", { class: "name" }, p.name),
      h("div", { class: "row between" },
        h("span", { class: "price" }, yuan(p.flash_price_fen !== null ? p.flash_price_fen : p.price_fen),
          p.flash_price_fen !== null ? h("span", { class: "tag", style: "margin-left:4px" }, "秒杀") : null),
        h("span", { class: "muted" }, STOCK_WORDS[p.stock_state] || `已售 ${p.sales_count}`))))))];
}

function imageLinks(block) {
  const items = block.items.filter((item) => item.image_url);
  if (!items.length) return null;
  return [blockTitle(block), items.map((item) => linked(item.link, null, { class: "image-link" },
    h("img", { src: item.image_url, alt: item.title, loading: "lazy" })))];
}

const BLOCKS = {
  banner, icon_nav: iconNav, notice, coupons: couponStrip, flash: flashBlock, products: productGroup, image_link: imageLinks,
};

async function flashSessions() {
  const flash = await api("GET", "/flash-sales/sessions");
  const shown = flash.sessions.filter((s) => s.items.length);
  if (!shown.length) return [empty("今天没有秒杀场次")];
  return shown.map((s) => h("div", { class: "card" },
    h("div", { class: "row between" }, h("b", {}, `⚡ ${s.name}`),
      s.state === "running" ? countdown(s.ends_at, "距结束") : h("span", { class: "muted" }, s.state_label)),
    s.items.map((i) => h("a", { class: "line", href: `#/product/${i.product_id}`, style: "color:inherit;text-decoration:none" },
      h("div", { class: "grow" }, i.product_name), h("span", { class: "price" }, yuan(i.flash_price_fen))))));
}

function searchEntry() {
  return h("a", { class: "search search-entry", href: "#/search" }, h("i", { class: "lens" }), h("span", {}, "搜索商品，支持拼音"));
}

// The search page: with nothing typed, the member's recent searches (clearable) and the hot words;
// suggestions while typing; results ranked by the mall's search, the matched words highlighted
// (the API sends the names HTML-escaped with only <em> added, so they go in as HTML).
async function search() {
  const q = query();
  const words = q.get("q") || "";
  const input = h("input", { name: "q", placeholder: "搜索商品，支持拼音", value: words, type: "search", autocomplete: "off" });
  const suggestions = h("ul", { class: "suggestions", hidden: true });
  const submit = (text) => {
    const next = new URLSearchParams({ q: text.trim() });
    go(`/search?${next}`);
  };
  let typed = 0;
  input.addEventListener("input", () => {
    const asked = ++typed;
    const prefix = input.value.trim();
    clearTimeout(search.timer);
    if (!prefix) { suggestions.hidden = true; return; }
    search.timer = setTimeout(async () => {
      const answer = await api("GET", `/search/suggest?${new URLSearchParams({ q: prefix })}`).catch(() => null);
      if (asked !== typed || !answer) return;  // a later keystroke asked again
      suggestions.replaceChildren(...answer.suggestions.map((s) => h("li", { onclick: () => submit(s.text) },
        s.text, s.kind === "product" ? h("span", { class: "muted" }, " 商品") : null)));
      suggestions.hidden = !answer.suggestions.length;
    }, 150);
  });
  const form = h("form", { class: "search", onsubmit: (event) => { event.preventDefault(); submit(input.value); } },
    input, h("button", {}, "搜索"));
  const top = h("div", { class: "search-top" }, form, suggestions);
  if (!words && !q.get("category")) return [top, ...(await searchStart(submit))];

  const params = new URLSearchParams({ page_size: "20", sort: q.get("sort") || "relevance" });
  if (words) params.set("q", words);
  if (q.get("category")) params.set("category", q.get("category"));
  if (q.get("in_stock")) params.set("in_stock", "true");
  const found = await api("GET", `/search/products?${params}`);
  const base = new URLSearchParams(q);
  const sort = (value, label) => {
    const link = new URLSearchParams(base);
    link.set("sort", value);
    return h("a", { href: `#/search?${link}`, class: (q.get("sort") || "relevance") === value ? "on" : "" }, label);
  };
  const stockOnly = new URLSearchParams(base);
  if (q.get("in_stock")) stockOnly.delete("in_stock"); else stockOnly.set("in_stock", "1");
  const corrected = Object.entries(found.corrections || {});
  return [top,
    q.get("name") ? h("p", { class: "muted" }, `分类：${q.get("name")}`) : null,
    h("div", { class: "tabs2" }, sort("relevance", "综合"), sort("sales", "销量"), sort("price", "价格↑"),
      sort("-price", "价格↓"), sort("newest", "新品"), h("a", { href: `#/search?${stockOnly}`, class: q.get("in_stock") ? "on" : "" }, "有货")),
    corrected.length ? h("p", { class: "hint" }, `已为你搜索“${corrected.map(([, to]) => to.join(" ")).join(" ")}”`) : null,
    found.every_word === false && found.count ? h("p", { class: "hint" }, "没有完全符合的商品，以下商品包含部分关键词") : null,
    h("p", { class: "muted", id: "found-count" }, `共 ${found.count} 件`),
    found.results.length ? h("div", { class: "grid" }, found.results.map((p) => h("a", { class: "tile", href: `#/product/${p.id}` },
      h("img", { src: p.image_url || "", alt: p.name, loading: "lazy" }),
      h("div", {}, h("div", { class: "name", html: p.name_highlight }),
        p.subtitle_highlight ? h("div", { class: "muted sub", html: p.subtitle_highlight }) : null,
        h("div", { class: "row between" }, h("span", { class: "price" }, yuan(p.price_fen)),
          h("span", { class: "muted" }, p.in_stock ? `已售 ${p.sales_count}` : "已售罄"))))))
      : empty("没有找到商品，换个词试试")];
}

async function searchStart(submit) {
  const [hot, recent] = await Promise.all([api("GET", "/search/hot"),
    loggedIn() ? api("GET", "/search/recent").catch(() => ({ queries: [] })) : { queries: [] }]);
  const word = (text, cls) => h("a", { class: cls || "", href: `#/search?${new URLSearchParams({ q: text })}` }, text);
  const out = [];
  if (recent.queries.length) {
    out.push(h("div", { class: "card", id: "recent" }, h("div", { class: "row between" }, h("b", {}, "最近搜索"),
      h("button", { class: "ghost small", id: "clear-recent", onclick: async () => {
        await api("DELETE", "/search/recent");
        document.getElementById("recent").remove();
        toast("已清空最近搜索");
      } }, "清空")),
    h("div", { class: "words" }, recent.queries.map((text) => word(text)))));
  }
  out.push(h("div", { class: "card", id: "hot" }, h("b", {}, "热门搜索"),
    hot.words.length ? h("div", { class: "words" }, hot.words.map((w) => word(w.word, w.highlight ? "hot" : "")))
      : h("p", { class: "muted" }, "暂无热门搜索")));
  return out;
}

function countdown(endsAt, label) {
  const el = h("span", { class: "countdown" });
  const tick = () => {
    const left = Math.max(0, Math.floor((new Date(endsAt) - Date.now()) / 1000));
    const hh = String(Math.floor(left / 3600)).padStart(2, "0");
    const mm = String(Math.floor((left % 3600) / 60)).padStart(2, "0");
    const ss = String(left % 60).padStart(2, "0");
    el.textContent = `${label} ${hh}:${mm}:${ss}`;
  };
  tick();
  timers.push(setInterval(tick, 1000));
  return el;
}

async function product(id) {
  const [detail, offers] = await Promise.all([api("GET", `/products/${id}/`), api("GET", `/products/${id}/offers`)]);
  const chosen = {};
  const firstSku = detail.skus.find((s) => s.available > 0) || detail.skus[0];
  Object.assign(chosen, (firstSku && firstSku.specs) || {});
  let quantity = 1;
  const priceBox = h("div", {});
  const skuBox = h("div", {});
  const skuNow = () => detail.skus.find((s) => Object.entries(chosen).every(([k, v]) => s.specs[k] === v));
  const offerFor = (sku) => offers.skus.find((o) => o.sku_id === (sku && sku.id));

  function drawPrice() {
    const sku = skuNow();
    const offer = offerFor(sku);
    priceBox.replaceChildren(offer ? h("div", {},
      h("div", {}, h("span", { class: "price" }, "到手价 ", h("big", { id: "final-price" }, yuan(offer.final_price_fen))),
        offer.final_price_fen < offer.list_price_fen ? h("span", { class: "strike" }, yuan(offer.list_price_fen)) : null),
      offer.member_price_label ? h("span", { class: "tag green" }, offer.member_price_label) : null,
      offer.flash_item_id ? h("span", { class: "tag" }, "秒杀价") : null,
      offer.coupon_id ? h("span", { class: "tag" }, `已含券 ${yuan(offer.price_fen - offer.final_price_fen)}`) : null,
      h("div", { class: "muted" }, sku ? (sku.stock_state === "low_stock" ? `仅剩 ${sku.available} 件` : `库存 ${sku.available}`) : ""))
      : h("span", { class: "muted" }, "该规格暂不可售"));
  }

  function drawSkus() {
    skuBox.replaceChildren(...Object.entries(detail.spec_options).map(([name, values]) => h("div", {},
      h("span", { class: "muted" }, name),
      h("div", { class: "sku" }, values.map((value) => h("button", {
        class: chosen[name] === value ? "on" : "", type: "button",
        onclick: () => { chosen[name] = value; drawSkus(); drawPrice(); },
      }, value))))),
    h("div", { class: "row" }, h("span", { class: "muted" }, "数量"), h("div", { class: "qty" },
      h("button", { type: "button", onclick: () => { quantity = Math.max(1, quantity - 1); drawSkus(); } }, "−"),
      h("span", { id: "quantity" }, quantity),
      h("button", { type: "button", onclick: () => { quantity += 1; drawSkus(); } }, "+"))));
  }

  async function addToCart() {
    if (needLogin()) return;
    const sku = skuNow();
    try {
      await api("POST", "/cart/items/", { sku_id: sku.id, quantity });
      toast("已加入购物车");
    } catch (error) { toast(error.message); }
  }

  function buyNow() {
    if (needLogin()) return;
    const sku = skuNow();
    const offer = offerFor(sku);
    sessionStorage.setItem("buyNow", JSON.stringify([{ sku_id: sku.id, quantity, flash_item_id: offer && offer.flash_item_id }]));
    go("/checkout?now=1");
  }

  async function toggleFavourite() {
    if (needLogin()) return;
    if (offers.favourite_id) {
      await api("DELETE", `/me/favourites/${offers.favourite_id}`);
      offers.favourite_id = null;
      toast("已取消收藏");
    } else {
      offers.favourite_id = (await api("POST", "/me/favourites/", { product_id: detail.id })).id;
      toast("已收藏");
    }
    favourite.textContent = offers.favourite_id ? "★ 已收藏" : "☆ 收藏";
  }

  async function share() {
    if (needLogin()) return;
    const card = await api("GET", `/products/${detail.id}/share`);
    document.body.append(h("div", { class: "overlay", onclick: (event) => event.currentTarget.remove() },
      h("div", { style: "text-align:center;color:#fff" }, h("img", { src: card.poster_url, alt: "分享海报" }),
        h("p", {}, card.title), h("p", { class: "muted" }, "长按保存海报，点任意处关闭"))));
  }

  async function claim(templateId) {
    if (needLogin()) return;
    try {
      await api("POST", `/coupons/center/${templateId}/claim`, undefined, { key: newKey() });
      toast("领取成功");
      route();
    } catch (error) { toast(error.message); }
  }

  const favourite = h("button", { class: "ghost small", onclick: toggleFavourite }, offers.favourite_id ? "★ 已收藏" : "☆ 收藏");
  drawPrice();
  drawSkus();
  return [
    h("img", { class: "hero", src: detail.image_url || "", alt: detail.name }),
    h("div", { class: "card" },
      offers.flash ? h("div", { class: "flash", style: "margin:0 0 8px" },
        h("div", { class: "row between" }, h("b", {}, "⚡ 限时秒杀"), countdown(offers.flash.ends_at, "距结束"))) : null,
      priceBox,
      h("h2", { style: "font-size:17px;margin:6px 0" }, detail.name),
      h("p", { class: "muted", style: "margin:0" }, detail.subtitle),
      h("div", { class: "row between", style: "margin-top:6px" },
        h("span", { class: "muted" }, `已售 ${detail.sales_count} · 评价 ${detail.rating.count}`),
        h("span", {}, favourite, " ", h("button", { class: "ghost small", onclick: share }, "分享")))),
    offers.full_reductions.length || offers.coupons.length ? h("div", { class: "card" },
      offers.full_reductions.map((r) => h("div", {}, h("span", { class: "tag" }, "满减"), `${r.name}：${r.text}`)),
      offers.coupons.map((c) => h("div", { class: "row between" },
        h("span", {}, h("span", { class: "tag" }, "券"), `${c.benefit_text}（${c.threshold_text}）`),
        c.state === "claimable" ? h("button", { class: "small red", onclick: () => claim(c.template_id) }, "领取")
          : h("span", { class: "muted" }, c.state_label)))) : null,
    h("div", { class: "card" }, skuBox),
    detail.description ? h("div", { class: "card" }, h("b", {}, "商品详情"), h("p", {}, detail.description)) : null,
    (detail.image_urls || []).map((src) => h("img", { class: "hero", src, alt: "", style: "margin-bottom:8px" })),
    h("div", { class: "footer" }, h("a", { href: "#/cart", class: "muted" }, "购物车"),
      h("span", {}, h("button", { class: "ghost", onclick: addToCart }, "加入购物车"), " ",
        h("button", { class: "red", onclick: buyNow }, "立即购买"))),
  ];
}

async function cart() {
  if (needLogin()) return [];
  const [body, hints] = await Promise.all([api("GET", "/cart/items/"), api("GET", "/cart/hints")]);
  const patch = async (id, change) => { await api("PATCH", `/cart/items/${id}/`, change); route(); };
  if (!body.items.length) return [empty("购物车是空的"), h("p", { style: "text-align:center" }, h("a", { href: "#/" }, "去逛逛"))];
  return [
    hints.hints.map((hint) => h("div", { class: "hint" }, hint.text)),
    h("div", { class: "card with-footer" }, body.items.map((line) => h("div", { class: "line" },
      h("label", { class: "check" }, h("input", {
        type: "checkbox", checked: line.selected, disabled: !line.purchasable,
        onchange: (event) => patch(line.id, { selected: event.target.checked }),
      })),
      h("img", { src: line.image_url || "", alt: "" }),
      h("div", { class: "grow" }, h("div", {}, line.product_name), h("div", { class: "muted" }, line.spec_text),
        line.reason ? h("div", { class: "status" }, line.reason) : null,
        h("div", { class: "row between" }, h("span", { class: "price" }, yuan(line.price_fen)),
          h("div", { class: "qty" },
            h("button", { onclick: () => line.quantity > 1 ? patch(line.id, { quantity: line.quantity - 1 }) : null }, "−"),
            h("span", {}, line.quantity),
            h("button", { onclick: () => patch(line.id, { quantity: line.quantity + 1 }) }, "+"),
            h("button", { class: "ghost small", onclick: async () => { await api("DELETE", `/cart/items/${line.id}/`); route(); } },
              "删除"))))))),
    h("div", { class: "footer" }, h("span", {}, `已选 ${body.selected_count} 件 `, h("span", { class: "price" }, yuan(body.selected_total_fen))),
      h("button", { id: "to-checkout", class: "red", disabled: !body.selected_count, onclick: () => go("/checkout") }, "去结算")),
  ];
}

async function checkout() {
  if (needLogin()) return [];
  const now = query().get("now") === "1";
  const items = now ? JSON.parse(sessionStorage.getItem("buyNow") || "[]") : undefined;
  const choice = checkout.choice && checkout.choice.now === now ? checkout.choice : { now, coupon_ids: null, points: 0 };
  checkout.choice = choice;
  const input = () => ({ ...(items ? { items } : {}), coupon_ids: choice.coupon_ids, points: choice.points });
  let preview;
  try {
    preview = await api("POST", "/checkout/preview", input());
  } catch (error) {
    return [h("div", { class: "card" }, h("p", { class: "status" }, error.message), h("a", { href: "#/cart" }, "返回购物车"))];
  }
  const addressBox = preview.address ? h("div", { class: "card" }, h("b", {}, `${preview.address.receiver_name} ${preview.address.phone}`),
    h("div", { class: "muted" }, `${preview.address.province}${preview.address.city}${preview.address.district}${preview.address.detail}`))
    : addressForm();
  const coupons = h("select", { id: "coupon", onchange: (event) => {
    const value = event.target.value;
    choice.coupon_ids = value === "auto" ? null : value === "none" ? [] : [Number(value)];
    route();
  } }, h("option", { value: "auto" }, "自动选择最优"), h("option", { value: "none" }, "不使用优惠券"),
  preview.coupons.usable.map((c) => h("option", { value: c.id }, `${c.name}（省 ${yuan(c.discount_fen)}）`)));
  coupons.value = choice.coupon_ids === null ? "auto" : choice.coupon_ids.length ? String(choice.coupon_ids[0]) : "none";
  const points = preview.points.max_points > 0 ? h("label", { class: "check" }, h("input", {
    id: "use-points", type: "checkbox", checked: choice.points > 0,
    onchange: (event) => { choice.points = event.target.checked ? preview.points.max_points : 0; route(); },
  }), `使用 ${preview.points.max_points} 积分抵 ${yuan(preview.points.max_value_fen)}（共 ${preview.points.balance}）`)
    : h("span", { class: "muted" }, `积分 ${preview.points.balance}，本单不可用`);

  async function submit(event) {
    event.target.disabled = true;
    try {
      const order = await api("POST", "/orders/", { ...input(), expected_payable_fen: preview.payable_fen }, { key: newKey() });
      if (now) sessionStorage.removeItem("buyNow");
      checkout.choice = null;
      await pay(order.order_no);
    } catch (error) {
      toast(error.message);
      event.target.disabled = false;
    }
  }

  return [addressBox,
    h("div", { class: "card" }, preview.lines.map((line) => h("div", { class: "line" },
      h("img", { src: line.image_url || "", alt: "" }),
      h("div", { class: "grow" }, h("div", {}, line.product_name), h("div", { class: "muted" }, `${line.spec_text} ×${line.quantity}`),
        line.adjustments.map((a) => h("span", { class: "tag" }, `${a.label} ${yuan(-a.amount_fen)}`))),
      h("span", { class: "price" }, yuan(line.payable_fen))))),
    h("div", { class: "card" },
      h("div", { class: "row between" }, h("span", {}, "优惠券"), h("span", { style: "width:60%" }, coupons)),
      h("div", { style: "margin-top:8px" }, points)),
    h("div", { class: "card with-footer" },
      h("div", { class: "row between" }, h("span", {}, "商品金额"), h("span", {}, yuan(preview.goods_total_fen))),
      preview.stages.filter((s) => s.stage !== "freight").map((s) => h("div", { class: "row between" },
        h("span", { class: "muted" }, s.label), h("span", { class: "price" }, yuan(s.amount_fen).replace("¥-", "-¥")))),
      h("div", { class: "row between" }, h("span", {}, "运费"), h("span", {}, yuan(preview.freight_fen)))),
    h("div", { class: "footer" }, h("span", {}, "实付 ", h("span", { class: "price", id: "payable" }, h("big", {}, yuan(preview.payable_fen)))),
      h("button", { id: "submit-order", class: "red", disabled: !preview.address, onclick: submit }, "提交订单")),
  ];
}

function addressForm() {
  const fields = [["receiver_name", "收货人"], ["phone", "手机号"], ["province", "省份"], ["city", "城市"],
    ["district", "区县"], ["detail", "详细地址"]];
  const inputs = Object.fromEntries(fields.map(([name, label]) => [name, h("input", { name, placeholder: label })]));
  return h("form", { class: "card", id: "address-form", onsubmit: async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(Object.entries(inputs).map(([name, el]) => [name, el.value.trim()]));
    try {
      await api("POST", "/addresses/", { ...body, is_default: true });
      route();
    } catch (error) { toast(error.message); }
  } }, h("b", {}, "新增收货地址"), fields.map(([name]) => h("div", { style: "margin-top:6px" }, inputs[name])),
  h("p", {}, h("button", {}, "保存地址")));
}

async function pay(orderNo) {
  const params = await api("POST", `/orders/${orderNo}/pay`, undefined, { key: newKey() });
  await sandbox("request_payment", { params });  // wx.requestPayment: the sandbox pays and notifies the mall
  for (let i = 0; i < 20; i += 1) {
    const order = await api("GET", `/orders/${orderNo}/`);
    if (order.status !== "pending_payment") break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  toast("支付成功");
  go(`/orders/${orderNo}`);
}

const ORDER_TABS = [["", "全部"], ["pending_payment", "待付款"], ["paid", "待发货"], ["shipped", "待收货"], ["received", "已完成"]];

async function orders() {
  if (needLogin()) return [];
  const status = query().get("status") || "";
  const [list, counts] = await Promise.all([api("GET", `/orders/?page_size=20${status ? `&status=${status}` : ""}`),
    api("GET", "/orders/counts")]);
  return [h("div", { class: "tabs2" }, ORDER_TABS.map(([value, label]) => h("a", {
    href: `#/orders?status=${value}`, class: value === status ? "on" : "",
  }, label, counts[value] ? h("span", { class: "badge" }, counts[value]) : null))),
  list.results.length ? list.results.map((o) => h("a", { class: "card", href: `#/orders/${o.order_no}`, style: "display:block;color:inherit;text-decoration:none" },
    h("div", { class: "row between" }, h("span", { class: "muted" }, o.order_no), h("span", { class: "status" }, o.status_label)),
    o.lines.map((line) => h("div", { class: "line" }, h("img", { src: line.image_url || "", alt: "" }),
      h("div", { class: "grow" }, line.product_name, h("div", { class: "muted" }, `${line.spec_text} ×${line.quantity}`)))),
    h("div", { style: "text-align:right" }, `实付 `, h("span", { class: "price" }, yuan(o.payable_fen)))))
    : empty("还没有订单")];
}

async function orderDetail(orderNo) {
  if (needLogin()) return [];
  const o = await api("GET", `/orders/${orderNo}/`);
  const act = (label, run, cls = "ghost") => h("button", { class: cls, onclick: async () => {
    try { await run(); } catch (error) { toast(error.message); }
  } }, label);
  const buttons = [];
  if (o.status === "pending_payment") {
    buttons.push(act("取消订单", async () => { await api("POST", `/orders/${orderNo}/cancel`, { reason: "买家取消" }, { key: newKey() }); route(); }));
    buttons.push(act("去支付", () => pay(orderNo), "red"));
  }
  if (o.status === "shipped") buttons.push(act("确认收货", async () => { await api("POST", `/orders/${orderNo}/confirm-receipt`); route(); }, "red"));
  if (["paid", "shipped", "received"].includes(o.status)) buttons.push(h("a", { class: "btn ghost", href: `#/orders/${orderNo}/after-sale` }, "申请售后"));
  buttons.push(act("再次购买", async () => {
    const answer = await api("POST", `/orders/${orderNo}/buy-again`);
    toast(answer.skipped.length ? `${answer.skipped.length} 件商品无法加入` : "已加入购物车");
    go("/cart");
  }));
  return [
    h("div", { class: "card" }, h("div", { class: "status", id: "order-status" }, o.status_label),
      h("div", { class: "muted" }, `订单号 ${o.order_no}`),
      o.refund_state !== "none" ? h("div", { class: "muted" }, `${o.refund_state_label} ${yuan(o.refunded_fen)}`) : null),
    h("div", { class: "card" }, h("b", {}, `${o.receiver_name} ${o.receiver_phone}`),
      h("div", { class: "muted" }, `${o.province}${o.city}${o.district}${o.address_detail}`)),
    h("div", { class: "card" }, o.lines.map((line) => h("div", { class: "line" }, h("img", { src: line.image_url || "", alt: "" }),
      h("div", { class: "grow" }, line.product_name, h("div", { class: "muted" }, `${line.spec_text} ×${line.quantity}`)),
      h("span", { class: "price" }, yuan(line.payable_fen))))),
    h("div", { class: "card" },
      h("div", { class: "row between" }, h("span", {}, "商品金额"), h("span", {}, yuan(o.goods_total_fen))),
      h("div", { class: "row between" }, h("span", {}, "优惠"), h("span", { class: "price" }, `-${yuan(o.discount_fen)}`)),
      h("div", { class: "row between" }, h("span", {}, "运费"), h("span", {}, yuan(o.freight_fen - o.freight_discount_fen))),
      h("div", { class: "row between" }, h("b", {}, "实付"), h("b", { class: "price" }, yuan(o.payable_fen)))),
    h("div", { class: "row", style: "justify-content:flex-end;flex-wrap:wrap" }, buttons),
  ];
}

async function afterSaleNew(orderNo) {
  if (needLogin()) return [];
  const [options, reasons] = await Promise.all([api("GET", `/orders/${orderNo}/after-sale-options`), api("GET", "/after-sales/reasons")]);
  if (!options.open) return [h("div", { class: "card" }, h("p", {}, options.reason), h("a", { href: `#/orders/${orderNo}` }, "返回订单"))];
  const lines = options.lines.filter((l) => l.unshipped_left + l.shipped_left > 0);
  const shipped = lines.some((l) => l.shipped_left > 0);
  const kind = h("select", { name: "kind" }, h("option", { value: "refund_only" }, "仅退款"),
    shipped ? h("option", { value: "return_refund" }, "退货退款") : null);
  const reason = h("select", { name: "reason" }, reasons.map((r) => h("option", { value: r.value }, r.label)));
  const description = h("textarea", { name: "description", placeholder: "补充说明（选填）" });
  const quantities = lines.map((l) => h("input", { type: "number", min: 0, max: l.unshipped_left + l.shipped_left, value: l.unshipped_left + l.shipped_left }));
  return [h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    const chosen = lines.map((l, i) => ({ order_line_id: l.order_line_id, quantity: Number(quantities[i].value) })).filter((x) => x.quantity > 0);
    try {
      const created = await api("POST", "/after-sales/", { order_no: orderNo, kind: kind.value, reason: reason.value,
        description: description.value, lines: chosen });
      toast("已提交售后申请");
      go(`/after-sales/${created.after_sale_no}`);
    } catch (error) { toast(error.message); }
  } }, lines.map((l, i) => h("div", { class: "line" }, h("img", { src: l.image_url || "", alt: "" }),
    h("div", { class: "grow" }, l.product_name, h("div", { class: "muted" }, `可退 ${yuan(l.amount_all_fen)}`)),
    h("span", { style: "width:70px" }, quantities[i]))),
  h("p", {}, "类型", kind), h("p", {}, "原因", reason), description, h("p", {}, h("button", { class: "red" }, "提交申请")))];
}

async function afterSales() {
  if (needLogin()) return [];
  const list = await api("GET", "/after-sales/?page_size=20");
  return list.results.length ? list.results.map((a) => h("a", { class: "card", href: `#/after-sales/${a.after_sale_no}`, style: "display:block;color:inherit;text-decoration:none" },
    h("div", { class: "row between" }, h("span", {}, `${a.kind_label} · ${a.reason_label}`), h("span", { class: "status" }, a.status_label)),
    h("div", { class: "muted" }, `售后单 ${a.after_sale_no} · 订单 ${a.order_no}`), h("div", { class: "price" }, yuan(a.amount_fen))))
    : [empty("没有售后申请")];
}

async function afterSaleDetail(number) {
  if (needLogin()) return [];
  const a = await api("GET", `/after-sales/${number}/`);
  return [h("div", { class: "card" }, h("div", { class: "status" }, a.status_label),
    h("div", {}, `${a.kind_label} · ${a.reason_label} · ${yuan(a.amount_fen)}`),
    a.refund ? h("div", { class: "muted" }, `退款 ${a.refund.status_label}`) : null),
  h("div", { class: "card" }, h("b", {}, "进度"), a.progress.map((p) => h("div", { class: "muted" },
    `${new Date(p.created_at).toLocaleString("zh-CN")} ${p.label} ${p.note || ""}`))),
  ["requested", "awaiting_second_approval"].includes(a.status) ? h("button", { class: "ghost", onclick: async () => {
    await api("POST", `/after-sales/${number}/withdraw`); route();
  } }, "撤销申请") : null];
}

async function coupons() {
  const tab = query().get("tab") || "centre";
  const tabs = h("div", { class: "tabs2" }, h("a", { href: "#/coupons?tab=centre", class: tab === "centre" ? "on" : "" }, "领券中心"),
    h("a", { href: "#/coupons?tab=mine", class: tab === "mine" ? "on" : "" }, "我的优惠券"));
  const face = (t) => h("div", { class: "face" }, h("b", {}, t.kind === "discount" ? `${(t.pay_percent / 10)}折` : yuan(t.amount_fen)), t.threshold_text);
  if (tab === "mine") {
    if (needLogin()) return [];
    const mine = await api("GET", "/coupons/mine?page_size=50");
    return [tabs, mine.results.length ? mine.results.map((c) => h("div", { class: "coupon" }, face(c.template),
      h("div", { class: "body" }, h("b", {}, c.template.name), h("div", { class: "muted" }, c.template.benefit_text),
        h("div", { class: "muted" }, `有效期至 ${new Date(c.valid_until).toLocaleDateString("zh-CN")} · ${c.status_label}`))))
      : empty("还没有优惠券")];
  }
  const centre = await api("GET", "/coupons/center?page_size=50");
  return [tabs, centre.results.length ? centre.results.map((c) => h("div", { class: "coupon" },
    face(c),
    h("div", { class: "body" }, h("b", {}, c.name), h("div", { class: "muted" }, `${c.benefit_text} · ${c.validity_text}`),
      h("div", { style: "text-align:right" }, c.state === "claimable" ? h("button", { class: "small red", onclick: async () => {
        if (needLogin()) return;
        try { await api("POST", `/coupons/center/${c.template_id}/claim`, undefined, { key: newKey() }); toast("领取成功"); route(); } catch (error) { toast(error.message); }
      } }, "立即领取") : h("span", { class: "muted" }, c.state_label))))) : empty("暂无可领的券")];
}

async function me() {
  if (needLogin()) return [];
  const [member, tier, points, counts] = await Promise.all([api("GET", "/me"), api("GET", "/me/tier"), api("GET", "/me/points"),
    api("GET", "/orders/counts")]);
  const badge = (href, n, label) => h("a", { href }, h("b", {}, n), label);
  return [
    h("div", { class: "card", style: "background:linear-gradient(90deg,#07c160,#3ad17c);color:#fff" },
      h("h2", { style: "margin:0" }, member.nickname || "微信用户"),
      h("div", {}, `${tier.tier ? tier.tier.name : "普通会员"} · 成长值 ${tier.growth}`,
        tier.growth_to_next !== null ? ` · 距${tier.next_tier.name}还差 ${tier.growth_to_next}` : ""),
      h("div", {}, `积分 ${points.balance}`)),
    h("div", { class: "card" }, h("div", { class: "row between" }, h("b", {}, "我的订单"), h("a", { href: "#/orders", class: "muted" }, "全部 ›")),
      h("div", { class: "badges", style: "margin-top:8px" },
        badge("#/orders?status=pending_payment", counts.pending_payment, "待付款"), badge("#/orders?status=paid", counts.paid, "待发货"),
        badge("#/orders?status=shipped", counts.shipped, "待收货"), badge("#/orders?status=received", counts.to_review, "待评价"),
        badge("#/after-sales", counts.after_sales_open, "退款/售后"))),
    h("div", { class: "card menu" }, h("a", { href: "#/favourites" }, "我的收藏", h("span", {}, "›")),
      h("a", { href: "#/footprints" }, "浏览足迹", h("span", {}, "›")),
      h("a", { href: "#/coupons?tab=mine" }, "我的优惠券", h("span", {}, "›")),
      h("a", { href: "#/after-sales" }, "退款/售后", h("span", {}, "›"))),
    h("p", { style: "text-align:center" }, h("button", { class: "ghost", onclick: async () => {
      await api("POST", "/auth/logout").catch(() => null);
      localStorage.removeItem("token");
      go("/");
    } }, "退出登录")),
  ];
}

async function browsed(path, stamp) {
  if (needLogin()) return [];
  const list = await api("GET", `${path}?page_size=50`);
  return list.results.length ? [productTiles(list.results.map((row) => ({ ...row.product, sales_count: 0,
    name: row.product.on_shelf ? row.product.name : `【已下架】${row.product.name}` }))),
  h("p", { class: "muted", style: "text-align:center" }, stamp)] : [empty("这里还是空的")];
}

const favourites = () => browsed("/me/favourites/", "最新收藏在前");
const footprints = () => browsed("/me/footprints/", "最近浏览在前");

// --- routing -------------------------------------------------------------------------------------

const ROUTES = [
  [/^\/$/, home, "小程序商城", "home"],
  [/^\/login$/, login, "登录", ""],
  [/^\/search$/, search, "搜索", "home"],
  [/^\/page\/([\w-]+)$/, namedPage, "小程序商城", "home"],
  [/^\/flash$/, flashSessions, "限时秒杀", "home"],
  [/^\/product\/(\d+)$/, product, "商品详情", ""],
  [/^\/cart$/, cart, "购物车", "cart"],
  [/^\/checkout$/, checkout, "确认订单", ""],
  [/^\/orders$/, orders, "我的订单", "me"],
  [/^\/orders\/([\w-]+)$/, orderDetail, "订单详情", "me"],
  [/^\/orders\/([\w-]+)\/after-sale$/, afterSaleNew, "申请售后", "me"],
  [/^\/after-sales$/, afterSales, "退款/售后", "me"],
  [/^\/after-sales\/([\w-]+)$/, afterSaleDetail, "售后详情", "me"],
  [/^\/coupons$/, coupons, "领券中心", "coupons"],
  [/^\/me$/, me, "我的", "me"],
  [/^\/favourites$/, favourites, "我的收藏", "me"],
  [/^\/footprints$/, footprints, "浏览足迹", "me"],
];

let routing = 0;

async function route() {
  const mine = ++routing;  // a page that finishes loading after a newer one started is dropped
  timers.forEach(clearInterval);
  timers = [];
  const path = (location.hash.slice(1) || "/").split("?")[0];
  const found = ROUTES.map(([pattern, page, title, tab]) => [path.match(pattern), page, title, tab]).find(([m]) => m);
  const [match, page, title, tab] = found || [[], () => [empty("页面不存在")], "小程序商城", ""];
  document.getElementById("title").textContent = title;
  document.getElementById("back").style.visibility = tab && path.split("/").length <= 2 ? "hidden" : "visible";
  document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("on", a.dataset.tab === tab));
  app.dataset.page = page.name;
  try {
    const nodes = await page(...match.slice(1));
    if (mine !== routing) return;
    app.replaceChildren(...[nodes].flat(Infinity).filter(Boolean));
  } catch (error) {
    if (mine !== routing) return;
    app.replaceChildren(h("div", { class: "card" }, h("p", { class: "status" }, error.message)));
  }
  app.dataset.ready = location.hash || "#/";
  window.scrollTo(0, 0);
}

document.getElementById("back").addEventListener("click", () => history.back());
window.addEventListener("hashchange", route);
route();
