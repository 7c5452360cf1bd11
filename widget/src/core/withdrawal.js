// After a withdrawal: the page reloaded (the site's `reload_on_withdrawal`, once the decision is
// posted or after 1.5 s), else the refused vendors' cookies deleted. Only a visitor who takes
// back what was allowed needs this, so it comes with the preferences' part (src/core/parts.js).
import { loadDetails, vendorAllowed } from './state.js';
import { deleteCookies } from '../utils/delete-cookies.js';

export function withdrawn(posted) {
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
