// Held scripts and iframes: released in document order once their category (and vendor) is accepted.
import { NONCE } from '../core/config.js';

var HELD = 'script[type="text/plain"][data-category],iframe[data-category][data-src]';
var releasing = Promise.resolve();

export function releaseHeld(allowed) {
  [].forEach.call(document.querySelectorAll(HELD), function (el) {
    function ok() { return allowed(el.getAttribute('data-category'), el.getAttribute('data-vendor')); }
    if (el.pcQueued || !ok()) return;
    el.pcQueued = true;
    // Asked again when its turn comes: a refusal meanwhile (Reject all in an opt_out or notice
    // regime, while an earlier script loads) keeps it held.
    releasing = releasing.then(function () {
      if (ok()) return runHeld(el);
      el.pcQueued = false;
    });
  });
}

function runHeld(el) {
  if (el.tagName === 'IFRAME') {
    el.src = el.getAttribute('data-src');
    return;
  }
  return new Promise(function (done) {
    var s = document.createElement('script'), src = el.getAttribute('data-src') || el.getAttribute('src');
    [].forEach.call(el.attributes, function (a) {
      if (['type', 'src', 'data-src', 'data-type', 'nonce'].indexOf(a.name) < 0) s.setAttribute(a.name, a.value);
    });
    if (el.getAttribute('data-type')) s.type = el.getAttribute('data-type');
    if (NONCE) s.nonce = NONCE;
    if (src) {
      // Wait for each external script, so that later held scripts run after it, as written.
      s.async = false;
      s.onload = s.onerror = function () { done(); };
      s.src = src;
    } else {
      s.text = el.text;
    }
    if (el.parentNode) el.parentNode.replaceChild(s, el);
    else document.head.append(s);
    if (!src) done();
  });
}

// Held elements that the parser or the page adds later are handled as they arrive.
export function watchHeld(allowed) {
  new MutationObserver(function (records) {
    var found = records.some(function (r) {
      return [].some.call(r.addedNodes, function (n) {
        return n.nodeType === 1 && (n.matches(HELD) || !!n.querySelector(HELD));
      });
    });
    if (found) releaseHeld(allowed);
  }).observe(document.documentElement, { childList: true, subtree: true });
}
