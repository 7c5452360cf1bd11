// The open shadow root that holds both layers, so that page CSS and widget CSS never meet.
import { LANG, LOOK, SERVER, SITE } from '../core/config.js';
import { h } from '../utils/dom.js';
import '../../styles/base.css';

var shadow = null;
export function ui() {
  if (shadow) return shadow;
  var host = document.createElement('privacy-center-widget');
  shadow = host.attachShadow({ mode: 'open' });
  // The site's colours, validated as #rgb/#rrggbb by the registry, override the defaults.
  var css = CSS + ':host{', colors = LOOK.colors || {};
  for (var k in colors) css += '--pc-' + k + ':' + colors[k] + ';';
  addStyles(css + '}');
  // First in the page, so that keyboard users reach it first.
  if (document.body) document.body.prepend(host);
  else document.documentElement.append(host);
  return shadow;
}
// Constructed stylesheets are allowed by a CSP without 'unsafe-inline'; the preferences add theirs.
export function addStyles(css) {
  var root = ui();
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = root.adoptedStyleSheets.concat(sheet);
  } catch (e) {
    root.append(h('style', { text: css }));
  }
}
// `name`: the accessible name of a button whose label is a symbol (×).
export function button(label, onclick, cls, name) {
  return h('button', { type: 'button', class: cls || 'pc-btn', onclick: onclick, text: label, 'aria-label': name });
}
export function disclosureUrl() {
  return SERVER + '/sites/' + encodeURIComponent(SITE) + '/disclosure?lang=' + LANG;
}
