// The visitor's choice in the `pc_consent` cookie, and whether it is still valid.
// Shape: {i: consent id, k: receipt, r: revision, c: {category: 1|0}, v: {vendor: 1|0}, t: ms, g: gpc,
// d: 1 for a dismissed notice (no choice, src/core/state.js)}
import { readCookie, writeCookie } from '../utils/cookies.js';

var COOKIE = 'pc_consent';
var MAX_AGE = CFG.consent_max_age_days * 86400;

export function loadChoice() {
  try {
    var ch = JSON.parse(decodeURIComponent(readCookie(COOKIE) || ''));
    if (ch && ch.c && ch.t + MAX_AGE * 1000 > Date.now()) return ch;
  } catch (e) { /* a damaged cookie counts as no choice */ }
  return null;
}
export function saveChoice(ch) {
  var left = Math.max(0, Math.round((ch.t + MAX_AGE * 1000 - Date.now()) / 1000));
  writeCookie(COOKIE, encodeURIComponent(JSON.stringify(ch)), left);
}
// A choice made before the latest revision that needs a new decision no longer counts.
export function isCurrent(ch) { return !!ch && ch.r >= CFG.consent_revision; }
