// The current choice, what it allows, and making a decision.
import { API, GPC, LANG, PREVIEW, gpcRefuses, required } from './config.js';
import { deleteCookies } from '../utils/cookies.js';
import { emitChange } from '../utils/events.js';
import { isCurrent, loadChoice, saveChoice } from './storage.js';
import { consentUpdate } from './consent-mode.js';
import { releaseHeld } from '../utils/scripts.js';
import { bits, recordDecision } from './record.js';
import { hideBanner } from '../modals/banner.js';

export var state = { choice: PREVIEW ? null : loadChoice(), details: null };

export function current() { return isCurrent(state.choice) ? state.choice : null; }
export function categoryAllowed(key) {
  var ch = current();
  return required(key) || !!(ch && ch.c[key]);
}
export function vendorAllowed(key, category) {
  var ch = current();
  if (!ch) return false;
  if (key in ch.v) return !!ch.v[key];
  // Vendors not in the stored map (the answer had not come yet) follow their category.
  if (!category && state.details) {
    state.details.vendors.forEach(function (v) { if (v.key === key) category = v.category; });
  }
  return !!category && categoryAllowed(category);
}
export function heldAllowed(category, vendor) {
  return category.split(/[\s,]+/).every(function (c) { return !c || categoryAllowed(c); }) &&
    (!vendor || vendorAllowed(vendor, category.split(/[\s,]+/)[0]));
}

export function consentObject() {
  var ch = current();
  if (!ch) return null;
  var cats = {}, vendors = {};
  for (var c in ch.c) cats[c] = !!ch.c[c];
  for (var v in ch.v) vendors[v] = !!ch.v[v];
  return { consentId: ch.i || null, revision: ch.r, categories: cats, vendors: vendors,
    decidedAt: new Date(ch.t).toISOString() };
}

// categories: {key: bool} for optional ones; vendors: {key: bool} or null to follow categories.
export function decide(action, categories, vendors) {
  if (PREVIEW) return hideBanner();
  var before = current(), old = state.choice, cats = {};
  CFG.categories.forEach(function (c) {
    cats[c.key] = c.required ? 1 : gpcRefuses(c) ? 0 : categories[c.key] ? 1 : 0;
  });
  // Refusing everything optional after having accepted something is a withdrawal: say so.
  var optional = CFG.categories.filter(function (c) { return !c.required; });
  if (before && optional.every(function (c) { return !cats[c.key]; }) &&
      optional.some(function (c) { return before.c[c.key]; })) action = 'withdraw';
  var ch = { i: old && old.i || null, k: old && old.k || null, r: CFG.revision, c: cats,
    v: bits(vendors), t: Date.now(), g: GPC };
  state.choice = ch;
  saveChoice(ch);
  var body = { t: ch.t, revision: ch.r, action: action, categories: {}, language: LANG,
    page_url: location.origin + location.pathname, gpc: GPC };
  CFG.categories.forEach(function (c) { if (!c.required) body.categories[c.key] = !!cats[c.key]; });
  if (vendors) body.vendors = vendors;
  var posted = recordDecision(body);
  hideBanner();
  applyChoice();
  if (before) withdrawn(before, posted);
}

function applyChoice() {
  var ch = current();
  if (ch) consentUpdate(ch.c);
  releaseHeld(heldAllowed);
  emitChange(false);
}

// What was allowed before and is refused now: delete those vendors' cookies, or reload.
function withdrawn(before, posted) {
  var lost = Object.keys(before.c).some(function (k) { return before.c[k] && !categoryAllowed(k); }) ||
    Object.keys(before.v).some(function (k) { return before.v[k] && !vendorAllowed(k); });
  if (!lost) return;
  if (CFG.reload_on_withdrawal) {
    var reload = function () { location.reload(); };
    Promise.race([posted, new Promise(function (r) { setTimeout(r, 1500); })]).then(reload, reload);
    return;
  }
  loadDetails().then(function (details) {
    var names = [];
    details.vendors.forEach(function (v) {
      if (!vendorAllowed(v.key, v.category)) {
        (v.cookies || []).forEach(function (c) { names.push(c.name); });
      }
    });
    deleteCookies(names);
  }, function () {});
}

// Vendor details (names, recipients, cookies) are fetched only when first needed.
var detailsPromise = null;
export function loadDetails() {
  if (!detailsPromise) {
    detailsPromise = fetch(API + '/config', { credentials: 'omit' }).then(function (res) {
      if (!res.ok) throw new Error(res.status);
      return res.json();
    }).then(function (details) { state.details = details; return details; });
    detailsPromise.catch(function () { detailsPromise = null; });
  }
  return detailsPromise;
}
