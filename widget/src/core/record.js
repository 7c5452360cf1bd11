// Posting decisions. Each is kept in localStorage until the server has it, and retried on the
// next page, so that a network fault never loses one. Its random `request_id`, made when it is
// queued and sent unchanged on every retry, lets the server answer a retry whose first answer
// was lost with that answer instead of recording the decision twice.
import { API, SITE } from './config.js';
import { emitChange } from '../utils/events.js';
import { saveChoice } from './storage.js';
import { state } from './state.js';

var PENDING = 'pc_pending_' + SITE;
var sending = Promise.resolve();

export function pendingList() {
  try { return JSON.parse(localStorage.getItem(PENDING)) || []; } catch (e) { return []; }
}
function setPending(list) {
  try {
    if (list.length) localStorage.setItem(PENDING, JSON.stringify(list));
    else localStorage.removeItem(PENDING);
  } catch (e) { /* storage may be off; the post is still tried once */ }
}
function requestId() {
  return [].map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) {
    return (b | 256).toString(16).slice(1);
  }).join('');
}
export function recordDecision(body) {
  var list = pendingList();
  body.request_id = requestId();
  list.push(body);
  setPending(list);
  return flushPending(body);
}
export function flushPending(extra) {
  sending = sending.then(function () { return sendNext(extra); });
  return sending;
}
function dropFirst(entry) {
  setPending(pendingList().filter(function (e) { return e.t !== entry.t; }));
}
function sendNext(extra) {
  var list = pendingList();
  var entry = list[0] || extra;
  if (!entry) return;
  var ch = state.choice, body = {};
  for (var k in entry) if (k !== 't') body[k] = entry[k];
  if (ch && ch.i && ch.k) { body.consent_id = ch.i; body.receipt = ch.k; }
  // text/plain keeps this a simple request: no preflight, and it survives leaving the page.
  return fetch(API + '/decisions', {
    method: 'POST', body: JSON.stringify(body), keepalive: true, credentials: 'omit',
    headers: { 'Content-Type': 'text/plain' }
  }).then(function (res) {
    // A server fault or a rate limit (429): kept for a later page.
    if (res.status >= 500 || res.status === 429) throw new Error('later');
    if (res.status === 403 && body.consent_id) {
      // The receipt is no longer accepted (e.g. the log was erased): start a new consent id.
      ch.i = ch.k = null;
      saveChoice(ch);
      return sendNext(extra);
    }
    if (!res.ok) { dropFirst(entry); return list.length > 1 ? sendNext() : null; }
    return res.json().then(function (answer) {
      dropFirst(entry);
      var cur = state.choice;
      if (cur) {
        cur.i = answer.consent_id;
        cur.k = answer.receipt;
        if (cur.t === entry.t) cur.v = bits(answer.vendors);
        saveChoice(cur);
        if (cur.t === entry.t && !cur.d) emitChange(true);
      }
      if (list.length > 1) return sendNext();
    });
  }).catch(function () { /* kept in localStorage for the next page */ });
}
export function bits(map) {
  var out = {};
  for (var k in map || {}) out[k] = map[k] ? 1 : 0;
  return out;
}
