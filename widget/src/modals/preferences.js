// The preferences: a modal dialog with a switch per optional category and per vendor.
import { LANG, SERVER, gpcRefuses } from '../core/config.js';
import { T, local } from '../core/texts.js';
import { h } from '../utils/dom.js';
import { categoryAllowed, decide, loadDetails, state } from '../core/state.js';
import { addStyles, button, disclosureUrl, ui } from './root.js';
import { acceptAll, rejectAll } from '../core/api.js';
import { deepActiveElement, focusables, trapTab } from '../utils/focus-trap.js';
import { P } from './preferences-texts.js';
import { withdrawn } from '../core/withdrawal.js';
import '../../styles/preferences.css';

var prefs = null, prefsBody = null, returnFocus = null;

function openPreferences() {
  returnFocus = deepActiveElement();
  if (!prefs) {
    addStyles(PART_CSS);
    prefsBody = h('div', { class: 'pc-body' });
    prefs = h('dialog', { class: 'pc-prefs', lang: LANG, 'aria-labelledby': 'pc-prefs-title',
      onkeydown: function (e) { trapTab(prefs, e); }, onclose: restoreFocus }, [
      h('div', { class: 'pc-head' }, [
        h('h2', { id: 'pc-prefs-title', text: P.prefs }),
        button('×', function () { prefs.close(); }, 'pc-close', T.close)
      ]),
      prefsBody,
      h('div', { class: 'pc-actions' }, [
        button(T.accept, acceptAll), button(T.reject, rejectAll), button(P.save, saveChoices, 'pc-btn pc-alt')
      ])
    ]);
    ui().append(prefs);
  }
  prefsBody.replaceChildren(h('p', { class: 'pc-note', role: 'status', text: P.loading }));
  if (!prefs.open) prefs.showModal();
  loadDetails().then(renderPreferences, function () {
    prefsBody.replaceChildren(h('p', { class: 'pc-note', role: 'alert', text: T.failed }));
  });
}

function restoreFocus() {
  var el = returnFocus;
  returnFocus = null;
  if (el && el.isConnected && el.getClientRects().length && el.focus) el.focus();
}
function hidePreferences() { if (prefs && prefs.open) prefs.close(); }

function renderPreferences(details) {
  var ch = state.choice, kids = [];
  details.categories.forEach(function (c) { kids.push(categoryBlock(c, details, ch)); });
  if (ch && ch.i && ch.k) {
    kids.push(h('p', { class: 'pc-id' }, [
      P.id + ': ', h('code', { text: ch.i }), ' ',
      h('a', { href: SERVER + '/consents/' + encodeURIComponent(ch.i) + '#r=' + encodeURIComponent(ch.k),
        target: '_blank', rel: 'noopener', text: P.receipt })
    ]));
  }
  kids.push(h('p', { class: 'pc-id' }, [h('a', { href: disclosureUrl(), target: '_blank', rel: 'noopener', text: T.details })]));
  prefsBody.replaceChildren.apply(prefsBody, kids);
  var first = focusables(prefsBody)[0];
  if (first && !prefsBody.contains(prefs.getRootNode().activeElement)) first.focus();
}

function toggle(id, label, on, disabled, describedBy) {
  return h('label', { class: 'pc-switch' }, [
    h('input', { type: 'checkbox', role: 'switch', id: id, checked: on, disabled: disabled,
      'aria-describedby': describedBy }),
    h('span', { text: label })
  ]);
}

function categoryBlock(c, details, ch) {
  var fixed = c.required, gpcOff = !fixed && gpcRefuses(c);
  // As things are: the choice, else what the regime runs (nothing optional in opt_in).
  var on = fixed || (!gpcOff && categoryAllowed(c.key));
  var descId = 'pc-d-' + c.key;
  var vendors = details.vendors.filter(function (v) { return v.category === c.key; });
  var block = h('section', { class: 'pc-cat', 'data-category': c.key }, [
    h('div', { class: 'pc-cat-head' }, [
      h('h3', { text: local(c.name) }),
      fixed ? h('span', { class: 'pc-always', text: P.always }) :
        toggle('pc-c-' + c.key, local(c.name), on, gpcOff, descId)
    ]),
    h('p', { id: descId, text: local(c.description) }),
    gpcOff ? h('p', { class: 'pc-note', text: P.gpc }) : null
  ]);
  if (vendors.length) {
    block.append(h('details', {}, [
      h('summary', { text: P.vendors + ' (' + vendors.length + ')' }),
      h('ul', {}, vendors.map(function (v) { return vendorItem(v, c, on, fixed || gpcOff, ch); }))
    ]));
  }
  var catSwitch = block.querySelector('#pc-c-' + c.key);
  if (catSwitch) {
    catSwitch.addEventListener('change', function () {
      [].forEach.call(block.querySelectorAll('[data-vendor]'), function (s) { s.checked = catSwitch.checked; });
    });
  }
  return block;
}

function vendorItem(v, c, catOn, locked, ch) {
  var on = catOn && !(ch && v.key in ch.v && !ch.v[v.key]);
  if (c.required) on = true;
  var sw = toggle('pc-v-' + v.key, v.name, on, locked);
  sw.querySelector('input').setAttribute('data-vendor', v.key);
  sw.querySelector('input').addEventListener('change', function (e) {
    var cat = prefs.querySelector('#pc-c-' + c.key);
    if (e.target.checked && cat && !cat.checked) cat.checked = true;
  });
  return h('li', { class: 'pc-vendor' }, [
    sw,
    h('dl', {}, [
      h('dt', { text: P.recipient }), h('dd', { text: v.recipient + (v.country ? ' (' + v.country + ')' : '') }),
      h('dt', { text: P.data }), h('dd', { text: local(v.data_sent) }),
      h('dt', { text: P.purpose }), h('dd', { text: local(v.purpose) })
    ]),
    h('p', { class: 'pc-links' }, [
      h('a', { href: v.privacy_policy_url, target: '_blank', rel: 'noopener', text: P.policy + ': ' + v.name }),
      v.opt_out_url ? h('a', { href: v.opt_out_url, target: '_blank', rel: 'noopener', text: P.optout + ': ' + v.name }) : null
    ])
  ]);
}

function saveChoices() {
  var cats = {}, vendors = {};
  state.details.categories.forEach(function (c) {
    var s = prefs.querySelector('#pc-c-' + c.key);
    cats[c.key] = c.required || !!(s && s.checked);
  });
  state.details.vendors.forEach(function (v) {
    var s = prefs.querySelector('[data-vendor="' + v.key + '"]');
    vendors[v.key] = !!(cats[v.category] && s && s.checked);
  });
  // Vendors only matter once the server's categories are known to match the embedded ones.
  decide('custom', cats, state.details.revision === CFG.revision ? vendors : null);
  hidePreferences();
}

// What the first file gets back when this part has loaded (src/core/parts.js).
var PART = { open: openPreferences, close: hidePreferences, withdrawn: withdrawn };
