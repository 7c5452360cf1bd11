// The current choice, what it allows, and making a decision.
import { API, GPC, LANG, PREVIEW, RUNS, gpcRefuses } from './config.js';
import { emitChange } from '../utils/events.js';
import { isCurrent, loadChoice, saveChoice } from './storage.js';
import { consentUpdate } from './consent-mode.js';
import { releaseHeld } from '../utils/scripts.js';
import { bits, recordDecision } from './record.js';
import { hideBanner } from '../modals/banner.js';
import { withPart } from './parts.js';

export var state = { choice: PREVIEW ? null : loadChoice(), details: null };

// A stored dismissal (`d`: the notice closed without choosing) is no choice: it only keeps the
// notice of an opt_out or notice regime from coming back (src/main.js).
export function current() { return isCurrent(state.choice) && !state.choice.d ? state.choice : null; }
// Without a choice, what the regime lets run: nothing optional in opt_in; in opt_out and notice
// every optional category but those that the browser's GPC refuses (and nothing in a preview).
export function categoryAllowed(key) {
  var ch = current();
  return CFG.categories.some(function (c) {
    return c.key === key && (c.required || (ch ? !!ch.c[key] : RUNS && !PREVIEW && !gpcRefuses(c)));
  });
}
export function allowedMap() {
  var map = {};
  CFG.categories.forEach(function (c) { map[c.key] = categoryAllowed(c.key); });
  return map;
}
export function vendorAllowed(key, category) {
  var ch = current();
  if (ch && key in ch.v) return !!ch.v[key];
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
// `dismiss` is stored as such (`d`) and recorded, but it is no choice (see current()).
export function decide(action, categories, vendors) {
  if (PREVIEW) return hideBanner();
  var before = current(), old = state.choice, was = { c: allowedMap(), v: before ? before.v : {} }, cats = {};
  CFG.categories.forEach(function (c) {
    cats[c.key] = c.required ? 1 : gpcRefuses(c) ? 0 : categories[c.key] ? 1 : 0;
  });
  // Refusing everything optional after having accepted something is a withdrawal: say so.
  var optional = CFG.categories.filter(function (c) { return !c.required; });
  if (before && optional.every(function (c) { return !cats[c.key]; }) &&
      optional.some(function (c) { return before.c[c.key]; })) action = 'withdraw';
  var ch = { i: old && old.i || null, k: old && old.k || null, r: CFG.revision, c: cats,
    v: bits(vendors), t: Date.now(), g: GPC, d: action === 'dismiss' ? 1 : 0 };
  state.choice = ch;
  saveChoice(ch);
  var body = { t: ch.t, revision: ch.r, action: action, categories: {}, language: LANG,
    page_url: location.origin + location.pathname, gpc: GPC };
  CFG.categories.forEach(function (c) { if (!c.required) body.categories[c.key] = !!cats[c.key]; });
  if (vendors) body.vendors = vendors;
  var posted = recordDecision(body);
  hideBanner();
  applyChoice();
  refused(was, posted);
}

function applyChoice() {
  var ch = current();
  if (ch) consentUpdate(ch.c);
  releaseHeld(heldAllowed);
  if (ch) emitChange(false);
}

// Something allowed before (chosen, or run by the regime) and refused now: the part deletes
// those vendors' cookies, or reloads the page (src/core/withdrawal.js).
function refused(was, posted) {
  var lost = Object.keys(was.c).some(function (k) { return was.c[k] && !categoryAllowed(k); }) ||
    Object.keys(was.v).some(function (k) { return was.v[k] && !vendorAllowed(k); });
  if (lost) withPart(function (p) { p.withdrawn(posted); });
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
