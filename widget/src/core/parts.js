// The preferences (and what a withdrawal does) come in a second file, fetched on the first "Customize" together with the
// vendor details. The build fills in PART_PATH (content-addressed, so cached for good) and
// PART_ARGS (the names of this file that the part uses, in the order it takes them).
import { NONCE, SERVER } from './config.js';
import { T } from './texts.js';
import { loadDetails } from './state.js';
import { showBanner } from '../modals/banner.js';

var part = null, loadedPart = null, partWanted = false;
function loadPart() {
  if (!part) {
    part = new Promise(function (ok, fail) {
      var s = document.createElement('script');
      // The part calls this from its own script (document.currentScript): no global name.
      s.pcPart = function (code, css) { ok(loadedPart = code(css, PART_ARGS)); };
      s.onerror = fail;
      if (NONCE) s.nonce = NONCE;
      s.src = SERVER + PART_PATH;
      document.head.append(s);
    });
    part.catch(function () { part = null; });  // the next click tries again
  }
  return part;
}
export function showPreferences() {
  partWanted = true;
  loadDetails().catch(function () {});  // in parallel; the preferences say if it failed
  loadPart().then(function (p) { if (partWanted) p.open(); }, function () { showBanner(T.failed); });
}
// Code that the part carries for the first file (src/core/withdrawal.js); nothing if it fails.
export function withPart(fn) { loadPart().then(fn, function () {}); }
export function closePreferences() {
  partWanted = false;
  if (loadedPart) loadedPart.close();
}
